"""Certify many attention configurations: the sweep of the attention chapter.

Each case is a name and the keyword arguments of
:class:`~conslaw.models.attention.MultiHeadAttention`. :data:`SWEEP` holds the
book's cases: the paper's settings (Theorems 4.3 and 4.4, grouped queries) and the
edges where a formula could change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from ..certificate import certify
from ..laws.attention import attention_laws, paper_law_count
from ..models.attention import MultiHeadAttention

# RoPE bases at which, for d_k = 4, the second frequency θ₁ = base^(−1/2) meets the
# first (θ₀ = 1) modulo 2π, is its opposite, or is a half or a full turn
BASE_EQUAL = (1 + 2 * math.pi) ** -2
BASE_OPPOSITE = (2 * math.pi - 1) ** -2
BASE_HALF_TURN = math.pi**-2
BASE_FULL_TURN = (2 * math.pi) ** -2


def _c(d, heads, d_k, d_v, seq_len, **kw) -> dict:
    return dict(d=d, heads=heads, d_k=d_k, d_v=d_v, seq_len=seq_len, **kw)


SWEEP: list[tuple[str, dict]] = [
    # Theorem 4.3: no or absolute positional encoding
    ("plain", _c(3, 1, 2, 2, 3)),
    ("plain, 2 heads", _c(4, 2, 2, 2, 4)),
    ("plain, d_k odd", _c(4, 2, 3, 2, 3)),
    ("plain, d_v > d_k", _c(2, 2, 2, 3, 3)),
    ("sinusoidal", _c(4, 2, 2, 2, 4, pe="sinusoidal")),
    ("learned PE", _c(3, 2, 2, 2, 3, pe="learned")),
    ("causal", _c(3, 2, 2, 2, 3, causal=True)),
    ("residual", _c(3, 2, 2, 2, 3, residual=True)),
    (
        "causal, residual, sinusoidal",
        _c(3, 2, 2, 2, 3, pe="sinusoidal", causal=True, residual=True),
    ),
    ("causal, T = 2", _c(3, 1, 2, 2, 2, causal=True)),
    # Theorem 4.4: RoPE
    ("rope", _c(4, 2, 2, 2, 4, pe="rope")),
    ("rope, 2 pairs", _c(3, 1, 4, 2, 3, pe="rope")),
    ("rope, causal", _c(2, 2, 4, 2, 3, pe="rope", causal=True)),
    ("rope, residual", _c(3, 1, 4, 2, 3, pe="rope", residual=True)),
    ("rope, 3 pairs, base 100", _c(4, 1, 6, 2, 4, pe="rope", rope_base=100.0)),
    ("rope, 3 pairs, base 10000", _c(4, 1, 6, 2, 4, pe="rope")),
    # d_k or d_v larger than d (and than 2d)
    ("d_k > d", _c(2, 1, 4, 2, 3)),
    ("d_k > 2d", _c(1, 1, 4, 2, 3)),
    ("d_v > 2d", _c(1, 1, 2, 4, 3)),
    ("rope, d_k > 2d", _c(1, 1, 4, 2, 3, pe="rope")),
    ("rope, d_k > d", _c(2, 1, 6, 2, 3, pe="rope", rope_base=100.0)),
    # sequence length 1: the softmax is constant
    ("T = 1", _c(3, 2, 2, 2, 1)),
    ("T = 1, rope", _c(3, 2, 2, 2, 1, pe="rope")),
    ("T = 1, learned PE", _c(4, 1, 2, 2, 1, pe="learned")),
    ("T = 1, sinusoidal, residual", _c(3, 1, 2, 2, 1, pe="sinusoidal", residual=True)),
    ("T = 1, MQA", _c(3, 2, 2, 2, 1, kv_groups=1)),
    ("T = 1, GQA", _c(2, 4, 2, 1, 1, kv_groups=2)),
    # RoPE bases at which frequencies coincide
    ("rope, base 1", _c(3, 1, 4, 2, 3, pe="rope", rope_base=1.0)),
    ("rope, θ₁ ≡ θ₀", _c(3, 1, 4, 2, 3, pe="rope", rope_base=BASE_EQUAL)),
    ("rope, θ₁ ≡ −θ₀", _c(3, 1, 4, 2, 3, pe="rope", rope_base=BASE_OPPOSITE)),
    ("rope, θ₁ = π", _c(3, 1, 4, 2, 3, pe="rope", rope_base=BASE_HALF_TURN)),
    ("rope, θ₁ = 2π", _c(2, 1, 4, 1, 3, pe="rope", rope_base=BASE_FULL_TURN)),
    ("rope, base 1, d = 1", _c(1, 1, 4, 2, 3, pe="rope", rope_base=1.0)),
    ("rope, base 1, 3 pairs, d = 1", _c(1, 1, 6, 1, 3, pe="rope", rope_base=1.0)),
    ("rope, base 1, 4 pairs, d = 2", _c(2, 1, 8, 1, 3, pe="rope", rope_base=1.0)),
    # grouped-query and multi-query attention
    ("GQA", _c(2, 4, 2, 2, 3, kv_groups=2)),
    ("GQA, rope", _c(2, 4, 2, 2, 3, pe="rope", kv_groups=2)),
    ("GQA, causal", _c(2, 4, 2, 2, 3, causal=True, kv_groups=2)),
    ("MQA", _c(3, 2, 2, 2, 3, kv_groups=1)),
    ("MQA, 3 heads", _c(2, 3, 2, 2, 3, kv_groups=1)),
    ("MQA, rope", _c(2, 3, 4, 2, 3, pe="rope", kv_groups=1)),
    (
        "MQA, rope, base 1, d = 1",
        _c(1, 2, 6, 1, 3, pe="rope", rope_base=1.0, kv_groups=1),
    ),
]

# The case the float64 certificate cannot decide, kept out of SWEEP to show the
# limit. With two positions and a causal mask the scores see only R_0 = I and
# R_{−1}, and at base 10000 the lowest frequencies turn by 0.01 and 0.001 rad: the
# brackets that tell their pairs apart have singular values between 1e-14 and
# 1e-10, straddling the cut at RANK_RTOL = 1e-11 while round-off sits near 1e-16.
# Depending on the seed the certificate reports "inconclusive" or, when the weak
# directions all fall below the cut with a gap of 1e3, "extra laws" that are not
# there (seed 3).
HARD: list[tuple[str, dict]] = [
    ("rope, 4 pairs, causal, T = 2", _c(2, 1, 8, 1, 2, pe="rope", causal=True)),
]

# Beside HARD, at fixed seeds (a third entry): at base 1000 seed 0 reports three
# extra laws with a gap of exactly 1e3 and seed 2 certifies the 5 predicted ones,
# so the first verdict is wrong; a third position, or both offsets ±1 (no mask),
# give brackets well above the cut and the certificate decides at once.
HARD_CONTROLS: list[tuple[str, dict, int]] = [
    (
        "the same at base 1000",
        _c(2, 1, 8, 1, 2, pe="rope", causal=True, rope_base=1000.0),
        0,
    ),
    (
        "the same at base 1000",
        _c(2, 1, 8, 1, 2, pe="rope", causal=True, rope_base=1000.0),
        2,
    ),
    ("the same at T = 3", _c(2, 1, 8, 1, 3, pe="rope", causal=True), 0),
    ("the same without the mask", _c(2, 1, 8, 1, 2, pe="rope"), 0),
]


def certify_attention_sweep(
    cases: Iterable[tuple] | None = None,
    *,
    seed: int = 0,
    progress=None,
    **certify_kwargs,
) -> list[dict]:
    """Certify every case; one row per case.

    Args:
        cases: ``(name, config)`` pairs, ``config`` the keyword arguments of
            ``MultiHeadAttention``, or ``(name, config, seed)`` triples whose
            seed replaces ``seed``; :data:`SWEEP` by default.
        seed: seed of the certificate (point, inputs, output weights).
        progress: called with each row as it is made (``print`` shows them).
        **certify_kwargs: passed to :func:`conslaw.certificate.certify`.

    Returns:
        dicts with ``name, config, model, seed, D, predicted, paper, certified,
        gap, kept, dropped, law cosine, status, seconds, source, spectrum``
        (``kept``, ``dropped``: the last kept and first dropped normalized
        singular values; ``law cosine``: the largest cosine between a predicted
        law's gradient and a sampled field): ``predicted`` is the count of
        :func:`~conslaw.laws.attention.attention_laws`, ``paper`` the formula of
        :func:`~conslaw.laws.attention.paper_law_count`, ``spectrum`` the
        normalized singular values after the last bracket level.
    """
    rows = []
    for case in SWEEP if cases is None else cases:
        if len(case) not in (2, 3):
            raise ValueError(
                f"expected cases (name, config) or (name, config, seed), got {case!r}"
            )
        name, config, case_seed = (*case, seed)[:3]
        model = MultiHeadAttention(**config)
        start = time.perf_counter()
        cert = certify(model, seed=case_seed, **certify_kwargs)
        row = {
            "name": name,
            "config": dict(config),
            "model": model.describe(),
            "seed": case_seed,
            "D": cert.parameters,
            "predicted": cert.predicted,
            "paper": paper_law_count(model),
            "certified": cert.certified,
            "gap": cert.gap,
            "kept": cert.kept,
            "dropped": cert.dropped,
            "law cosine": cert.law_residual,
            "status": cert.status,
            "seconds": time.perf_counter() - start,
            "source": attention_laws(model).source,
            "spectrum": cert.spectra[-1] if cert.spectra else [],
        }
        rows.append(row)
        if progress is not None:
            progress(format_row(row))
    return rows


def size_range(rows: Iterable[Mapping]) -> str:
    """The range of each size over sweep rows, e.g. ``"d 1–4, H 1–4, d_k 2–8,
    d_v 1–4, T 1–4"``, for a verdict's ``sizes``."""
    configs = [r["config"] for r in rows]
    if not configs:
        raise ValueError("expected at least one sweep row, got none")
    parts = []
    for key, label in (
        ("d", "d"),
        ("heads", "H"),
        ("d_k", "d_k"),
        ("d_v", "d_v"),
        ("seq_len", "T"),
    ):
        values = [c[key] for c in configs]
        low, high = min(values), max(values)
        parts.append(f"{label} {low}" if low == high else f"{label} {low}–{high}")
    return ", ".join(parts)


HEADER = (
    f"{'case':<32} {'D':>4} {'paper':>5} {'pred':>5} {'cert':>5} "
    f"{'gap':>8} {'s':>5}  status"
)


def format_row(row: Mapping) -> str:
    """One fixed-format line of :data:`HEADER`'s columns."""
    gap = "-" if row["gap"] is None else f"{row['gap']:.1e}"
    return (
        f"{row['name']:<32} {row['D']:>4} {row['paper']:>5} {row['predicted']:>5} "
        f"{row['certified']:>5} {gap:>8} {row['seconds']:>5.1f}  {row['status']}"
    )


def format_table(rows: Iterable[Mapping]) -> str:
    """The rows under :data:`HEADER`, one line each."""
    return "\n".join([HEADER, *map(format_row, rows)])


__all__ = [
    "BASE_EQUAL",
    "BASE_FULL_TURN",
    "BASE_HALF_TURN",
    "BASE_OPPOSITE",
    "HARD",
    "HARD_CONTROLS",
    "HEADER",
    "SWEEP",
    "certify_attention_sweep",
    "format_row",
    "format_table",
    "size_range",
]
