"""What the discovery chapter runs: the paper's blocks and four blocks it does not
treat, each discovered (polynomial laws of degree ≤ 2) and counted (Lie rank)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import Dataset
from ..discovery import adapt, count_laws, discover_laws
from ..discovery.blocks import LinearNorm, PreNormBlock, ResidualMLP
from ..discovery.polynomial import MAX_UNKNOWNS
from ..laws import predicted_laws
from ..models import FFN, GLU, MoE, MultiHeadAttention
from ..training import gradient_flow, relative_deviation

# the attention and MLP halves of the pre-norm block, for pairs="halves"
PRENORM_HALVES = [
    ("norm1.weight", "norm1.bias", "attn.q.weight", "attn.k.weight")
    + ("attn.v.weight", "attn.o.weight"),
    ("norm2.weight", "norm2.bias", "fc1.weight", "fc1.bias")
    + ("fc2.weight", "fc2.bias"),
]


@dataclass
class Case:
    """One block: a model (functional or ``nn.Module``), its input shape (``None``
    for a functional model), and the quadratic pairs discovery searches."""

    name: str
    model: object
    shape: tuple[int, ...] | None = None
    blocks: list | None = None
    theorem: str = ""
    max_unknowns: int = MAX_UNKNOWNS
    found: object = field(default=None, repr=False)
    count: object = field(default=None, repr=False)

    def run(self, seed: int = 0) -> dict:
        """Discover and count; returns the table row."""
        start = time.perf_counter()
        self.found = discover_laws(
            self.model,
            self.shape,
            blocks=self.blocks,
            seed=seed,
            max_unknowns=self.max_unknowns,
        )
        self.count = count_laws(self.model, self.shape, params="generic", seed=seed)
        found, count = self.found, self.count
        return {
            "block": self.name,
            "D": found.parameters,
            "unknowns": found.unknowns,
            "space": found.dimension,
            "products": found.products,
            "laws": len(found.laws),
            "independent": found.independent,
            "certified": count.count,
            "status": count.status,
            "outside": found.outside(count),
            "exact": found.exact,
            "gap": found.gap,
            "count gap": count.gap,
            "discovery s": found.seconds,
            "seconds": time.perf_counter() - start,
        }


def theorem_cases(width: int = 3) -> list[Case]:
    """The paper's blocks at small sizes (hidden width ``width``)."""
    halves = [("Q", "K"), ("V", "O")]
    return [
        Case("ReLU FFN", FFN([2, width, 2], "relu"), theorem="2-layer ReLU"),
        Case("SwiGLU", GLU([2, width, 2], "silu"), theorem="Theorem 4.2"),
        Case(
            "MHA",
            MultiHeadAttention(width, 2, 2, 2, seq_len=3),
            blocks=halves,
            theorem="Theorem 4.3",
        ),
        Case(
            "MHA, RoPE",
            MultiHeadAttention(width, 1, 4, 2, seq_len=3, pe="rope"),
            blocks=halves,
            theorem="Theorem 4.4",
        ),
        Case(
            "MoE, softmax gate",
            MoE([2, 1, 2], 2, gate="softmax", expert="swiglu", gate_bias=True),
            theorem="Theorems 4.5, 4.6",
        ),
    ]


def predicted_check(case: Case) -> dict:
    """The theorem's predicted count and how far its laws are from the
    discovered space (round-off when they lie in it)."""
    laws = predicted_laws(case.model)
    return {
        "block": case.name,
        "theorem": case.theorem,
        "predicted": laws.count,
        "discovered": case.found.independent,
        "distance": case.found.contains(laws.vector),
    }


def extension_cases(
    width: int = 3, hidden: int = 3, tokens: int = 3, pairs: str = "halves", seed=0
) -> dict[str, Case]:
    """The four blocks the paper does not treat, by key; modules are seeded."""
    if pairs not in ("halves", "all"):
        raise ValueError(f"pairs must be 'halves' or 'all', got {pairs!r}")
    torch.manual_seed(seed)
    return {
        "layernorm": Case("Linear → LayerNorm", LinearNorm(width, hidden), (width,)),
        "rmsnorm": Case("Linear → RMSNorm", LinearNorm(width, hidden, "rms"), (width,)),
        "residual": Case("x + ReLU MLP(x)", ResidualMLP(width, hidden), (width,)),
        "prenorm": Case(
            "pre-norm transformer block",
            PreNormBlock(width, 1, 2, hidden, activation="gelu"),
            (tokens, width),
            blocks=PRENORM_HALVES if pairs == "halves" else None,
            max_unknowns=20_000,
        ),
    }


def derived_count(key: str, width: int, hidden: int, d_k: int = 2) -> int:
    """The number of laws the chapter derives for an extension block: LayerNorm
    ``d + 2`` (``d`` translations of the columns, one of the bias, the scale),
    RMSNorm 1 (the scale), the residual ReLU block one per hidden unit, the
    pre-norm block (one head, ``d_v = d_k``) the attention laws plus one gain law
    per coordinate of each LayerNorm."""
    counts = {
        "layernorm": width + 2,
        "rmsnorm": 1,
        "residual": hidden,
        "prenorm": d_k * (d_k + 1) + 2 * width,
    }
    if key not in counts:
        raise ValueError(f"unknown block {key!r}: expected one of {list(counts)}")
    return counts[key]


def timing_sweep(widths, seed: int = 0) -> list[dict]:
    """Discovery time of ReLU networks ``[2, m, 2]`` with all quadratic pairs,
    with the time of its SVD inside the same run
    (:attr:`~conslaw.discovery.polynomial.DiscoveredLaws.phases`) and that
    SVD's share of the whole."""
    # one untimed run first: the first call of torch.func pays one-time costs
    discover_laws(FFN([2, min(widths), 2], "relu"), seed=seed, max_unknowns=10**5)
    rows = []
    for m in widths:
        found = discover_laws(FFN([2, m, 2], "relu"), seed=seed, max_unknowns=10**5)
        svd = found.phases["svd"]
        rows.append(
            {
                "hidden": m,
                "D": found.parameters,
                "unknowns": found.unknowns,
                "equations": found.equations,
                "laws": found.independent,
                "seconds": found.seconds,
                "svd seconds": svd,
                "svd share": svd / found.seconds,
            }
        )
    return rows


def time_slopes(rows, key: str = "seconds") -> dict[str, float]:
    """Slopes of ``log rows[key]`` against ``log unknowns``: the least-squares
    fit over every row (``"fit"``) and the last segment, between the two
    largest systems (``"last"``). A cost growing as the cube gives 3."""
    if len(rows) < 2:
        raise ValueError(f"expected at least two timed sizes, got {len(rows)}")
    n = np.log([r["unknowns"] for r in rows])
    t = np.log([r[key] for r in rows])
    return {
        "fit": float(np.polyfit(n, t, 1)[0]),
        "last": float((t[-1] - t[-2]) / (n[-1] - n[-2])),
    }


def mlp_balances(p) -> torch.Tensor:
    """``‖fc1.weight[j,:]‖² + fc1.bias[j]² − ‖fc2.weight[:,j]‖²`` per hidden unit:
    the ReLU law, which a GELU MLP does not keep (the control)."""
    w1, b1, w2 = p["fc1.weight"], p["fc1.bias"], p["fc2.weight"]
    return (w1**2).sum(1) + b1**2 - (w2**2).sum(0)


def prenorm_flow(
    case: Case,
    samples: int,
    flow_time: float,
    rtol: float,
    seed: int = 0,
    device: str = "auto",
):
    """Gradient flow of the pre-norm block on teacher–student data (square loss),
    from the module's own initialization, tracking the discovered laws and the
    control. Returns the flow result and the relative deviations (the paper's
    Eq. 10, each scalar law one block) of the laws and of the control."""
    model = adapt(case.model, case.shape)
    gen = torch.Generator().manual_seed(int(seed) + 5)
    x = torch.randn((samples, *case.shape), generator=gen, dtype=torch.float64)
    torch.manual_seed(int(seed) + 1)
    teacher = PreNormBlock(case.shape[-1], 1, 2, case.model.fc1.out_features)
    with torch.no_grad():
        y = teacher.double()(x)
    found = case.found

    def track(p):
        return {"laws": found.values(p), "control": mlp_balances(p).cpu()}

    result = gradient_flow(
        model,
        model.point,
        Dataset(x, y, "teacher-student"),
        loss="square",
        t_final=flow_time,
        points=61,
        rtol=rtol,
        atol=rtol,
        track=track,
        device=device,
    )

    def eps(values):
        return relative_deviation(
            {str(i): values[:, i] for i in range(values.shape[1])}
        )

    return result, eps(result.tracked["laws"]), eps(result.tracked["control"])


def verdict_fields(case: Case, derived: int, anchor: str, drift: str = "–") -> dict:
    """The fields of ``record_verdict`` for one extension block, from its computed
    discovery and count: confirmed when the derived, discovered and certified
    counts agree and the count is conclusive."""
    found, count = case.found, case.count
    laws = "; ".join(found.lines())
    agree = derived == found.independent == count.count and count.conclusive
    sizes = ", ".join(f"{n} {tuple(s)}" for n, s in found.model_ref.shapes.items())
    return {
        "theorem": f"{case.name} (extension)",
        "block": case.name,
        "laws": laws if len(laws) <= 160 else laws[:157] + "…",
        "predicted": f"{derived} (derived here)",
        "certified": f"{count.count} "
        + ("law" if count.count == 1 else "laws")
        + f" (count {count.status})",
        "sizes": sizes if len(sizes) <= 120 else f"D = {found.parameters}",
        "gap": count.gap,
        "symbolic": f"{found.independent} polynomial "
        + ("law" if found.independent == 1 else "laws")
        + " discovered, "
        + ("exact" if found.exact else "not all rational"),
        "drift": drift,
        "verdict": "confirmed" if agree else "disputed",
        "reason": "" if agree else "derived, discovered and certified counts differ",
        "anchor": anchor,
    }
