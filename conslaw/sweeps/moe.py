"""The certificate over every gate × expert pair of a Mixture of Experts.

Top-k gates are evaluated away from ties. Two kinds of tie could matter. A tie of
the gate's *parameters* (two rows ``[W_e b_e]`` equal) makes two experts
indistinguishable to the gate for every input; it is a set of measure zero, and
:func:`away_from_ties` redraws the rare point closer to it than
:data:`TIE_MARGIN`. A tie of the *logits* at one input (the k-th and (k+1)-th equal)
happens on a union of hyperplanes of inputs, again of measure zero: a Gaussian
input lands on one with probability zero, and at any other input the chosen set
is locally constant in the parameters, so the fields and brackets there are exact
derivatives of one smooth branch. Generic points and inputs are therefore tie-free,
and the laws of gradient flow are those of the smooth branches together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch

from ..certificate import certify, generic_point
from ..laws.moe import paper_claimed_count
from ..models.moe import EXPERTS, GATES, TOPK_GATES, MoE

# a top-k point whose closest pair of gate rows [W_e b_e] is nearer than this is
# redrawn; standard-normal rows are about sqrt(2d) apart, so this almost never fires
TIE_MARGIN = 1e-3

# redraws tried before giving up on a tie-free point
MAX_TIE_REDRAWS = 100


class Size(NamedTuple):
    """Sizes of one sweep entry: input ``d``, expert hidden ``m``, output ``o``,
    ``experts`` and the ``top_k`` used by the top-k gates."""

    d: int
    m: int
    o: int
    experts: int
    top_k: int

    def label(self, top_k: bool = True) -> str:
        """``d=4 m=2 o=4 E=2 k=1``; without the ``k`` for a dense gate."""
        k = f" k={self.top_k}" if top_k else ""
        return f"d={self.d} m={self.m} o={self.o} E={self.experts}{k}"


# the DESIGN's dense example (d = 4, width 2, two experts; k = 1 is the top-1
# degeneracy), then a 3-expert top-2 layer with room for a proper top-k
DEFAULT_SIZES = (Size(4, 2, 4, 2, 1), Size(3, 2, 2, 3, 2))


@dataclass
class MoERow:
    """One certified gate × expert pair (``top_k`` is None for a dense gate)."""

    gate: str
    expert: str
    sizes: str
    d: int
    m: int
    o: int
    experts: int
    top_k: int | None
    gate_bias: bool
    D: int
    predicted: int
    paper: int
    certified: int
    gap: float | None
    status: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def tie_margin(model: MoE, params) -> float:
    """Smallest distance between two gate rows ``[W_e b_e]`` (``inf`` for ``E = 1``)."""
    rows = params["W"]
    if model.gate_bias:
        rows = torch.cat([rows, params["b"][:, None]], dim=1)
    if len(rows) < 2:
        return float("inf")
    dist = torch.cdist(rows, rows)
    dist = dist + torch.diag(torch.full((len(rows),), float("inf"), dtype=dist.dtype))
    return dist.min().item()


def away_from_ties(model: MoE, seed: int = 0):
    """A generic point (every kinked unit switching) whose gate rows are at least
    :data:`TIE_MARGIN` apart. Returns the parameters and the seed that gave them."""
    for t in range(MAX_TIE_REDRAWS):
        s = seed + t * 1_000_003
        params, _ = generic_point(model, s)
        if tie_margin(model, params) >= TIE_MARGIN:
            return params, s
    raise RuntimeError(
        f"no point of {model.describe()} in {MAX_TIE_REDRAWS} draws had its gate "
        f"rows {TIE_MARGIN} apart; lower TIE_MARGIN or pass params explicitly"
    )


def certify_moe(model: MoE, seed: int = 0):
    """:func:`~conslaw.certificate.certify` at a point away from ties."""
    if model.top_k is None:
        return certify(model, seed=seed)
    params, s = away_from_ties(model, seed)
    return certify(model, params, seed=s)


def moe_sweep(
    sizes: Sequence[Size] = DEFAULT_SIZES,
    gates: Sequence[str] = tuple(GATES),
    experts: Sequence[str] = tuple(EXPERTS),
    *,
    gate_bias: bool = False,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[MoERow]:
    """Certify every ``gate × expert`` pair at every size.

    Args:
        sizes: :class:`Size` entries; top-k gates use each entry's ``top_k``, the
            dense gates ignore it.
        gates, experts: names from ``GATES`` and ``EXPERTS``.
        gate_bias: give every gate a bias.
        seed: seed of the points and the sampled fields.
        log: called with one fixed-format line per row (``print``, say).

    Returns:
        one :class:`MoERow` per size, gate and expert, in that order.
    """
    bad = [g for g in gates if g not in GATES] + [
        e for e in experts if e not in EXPERTS
    ]
    if bad:
        raise ValueError(
            f"unknown gate or expert names {bad}: gates are {', '.join(GATES)}; "
            f"experts are {', '.join(EXPERTS)}"
        )
    rows = []
    for size in sizes:
        size = Size(*size)
        for gate in gates:
            for expert in experts:
                model = MoE(
                    [size.d, size.m, size.o],
                    size.experts,
                    gate,
                    expert,
                    top_k=size.top_k if gate in TOPK_GATES else None,
                    gate_bias=gate_bias,
                )
                start = time.perf_counter()
                cert = certify_moe(model, seed)
                row = MoERow(
                    gate=gate,
                    expert=expert,
                    sizes=size.label(gate in TOPK_GATES),
                    d=size.d,
                    m=size.m,
                    o=size.o,
                    experts=size.experts,
                    top_k=model.top_k,
                    gate_bias=gate_bias,
                    D=cert.parameters,
                    predicted=cert.predicted,
                    paper=paper_claimed_count(model),
                    certified=cert.certified,
                    gap=cert.gap,
                    status=cert.status,
                    seconds=time.perf_counter() - start,
                )
                rows.append(row)
                if log is not None:
                    log(format_row(row))
    return rows


def moe_grid(
    sizes: Sequence[Sequence[int]],
    edge_sizes: Sequence[Sequence[int]] = (),
    gate_biases: Sequence[bool] = (False,),
    *,
    edge_experts: Sequence[str] = ("swiglu",),
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """The chapter's certificate: every gate × expert pair at each of ``sizes``,
    and every gate with the ``edge_experts`` at each of ``edge_sizes``, once per
    entry of ``gate_biases``.

    Sizes are ``(d, m, o, experts, top_k)`` (see :class:`Size`). Returns one dict
    per row (:class:`MoERow`'s fields and ``edge``, True for the edge sizes).
    """
    for value in gate_biases:
        if not isinstance(value, bool):
            raise TypeError(
                f"gate_biases holds booleans (False: no gate bias), got {value!r}"
            )
    for size in [*sizes, *edge_sizes]:
        if len(size) != len(Size._fields) or not all(
            isinstance(v, int) and v >= 1 for v in size
        ):
            raise ValueError(
                f"a size is five positive integers (d, m, o, experts, top_k), "
                f"got {size!r}"
            )
    rows = []
    for bias in gate_biases:
        for group, experts, edge in (
            (sizes, tuple(EXPERTS), False),
            (edge_sizes, tuple(edge_experts), True),
        ):
            found = moe_sweep(
                [Size(*s) for s in group],
                experts=experts,
                gate_bias=bias,
                seed=seed,
                log=log,
            )
            rows += [{**r.to_dict(), "edge": edge} for r in found]
    return rows


def format_row(row: MoERow) -> str:
    """One fixed-width line (the seconds last, so that reruns diff on one field)."""
    gap = "      -" if row.gap is None else f"{row.gap:7.1e}"
    return (
        f"{row.gate:<23} {row.expert:<6} {row.sizes:<24} D={row.D:<4d} "
        f"predicted={row.predicted:<3d} paper={row.paper:<3d} "
        f"certified={row.certified:<3d} gap={gap} {row.status} ({row.seconds:.1f} s)"
    )


__all__ = [
    "DEFAULT_SIZES",
    "MAX_TIE_REDRAWS",
    "TIE_MARGIN",
    "MoERow",
    "Size",
    "away_from_ties",
    "certify_moe",
    "format_row",
    "moe_grid",
    "moe_sweep",
    "tie_margin",
]
