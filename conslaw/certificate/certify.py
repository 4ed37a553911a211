"""The numerical certificate of completeness (DESIGN §4).

At a generic point ``θ₀`` the rank ``r`` of sampled fields and their brackets is a
lower bound on ``dim Lie(W)(θ₀)``, so ``D − r`` bounds the number of conservation
laws from above. The predicted laws, once checked to be independent and orthogonal
to every sampled field, bound it from below. Equal bounds certify the list complete.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import torch
from torch.func import jacrev

from ..device import resolve_device
from ..laws.base import LawSet, predicted_laws
from ..models.base import FunctionalModel, Params
from .levels import CANCELLATION_TOL, OVERSAMPLE, Level, sample_levels
from .points import generic_point, region_pool
from .rank import MIN_GAP, Rank, RowSpace, normalized_rows, numerical_rank

# A predicted law counts as orthogonal to the fields when the cosine between its
# gradient and every sampled field is below this: round-off of the nested
# derivatives is near 1e-13, a law that does not hold shows cosines of order 1e-2.
ORTHOGONALITY_TOL = 1e-8

# Claiming laws beyond the predicted ones rests on calling the dropped singular
# values zero, so it needs a wider gap than completeness does (whose rank is capped
# by the checked laws). Genuine extra laws (dead or linear ReLU units, scalar
# inputs) show gaps of 1e12 and more with dropped values near 1e-16; causal RoPE
# on two positions at base 1e4 showed spurious ones with gaps near 1e3.
EXTRA_LAWS_GAP = 1e6

# how the rank is decided: "stack" takes one SVD of all fields so far after each
# level (the exact spectrum of the stack, for the figures); "incremental" factors
# level 0 once and then only each level's residual off the span found so far.
# "auto" stacks up to this many parameters, where an SVD costs milliseconds.
RANK_METHODS = ("auto", "stack", "incremental")
STACK_UP_TO = 1024


@dataclass
class Certificate:
    """Result of :func:`certify`. ``certified = parameters − rank`` is an upper bound
    on the number of laws; it equals the true count when ``complete`` is True."""

    model: str
    parameters: int
    predicted: int
    certified: int
    rank: int
    complete: bool
    status: str
    gap: float | None
    kept: float
    dropped: float | None
    law_rank: int
    law_gap: float | None
    law_residual: float
    levels: list[Level] = field(default_factory=list)
    draws: int = 1
    seed: int = 0
    seconds: float = 0.0
    method: str = "stack"
    device: str = "cpu"
    # wall time of the lower bound's check (law gradients against the fields)
    law_seconds: float = 0.0
    # normalized singular values of the stacked fields after each level; left out
    # of to_dict (they have up to D entries)
    # with method "incremental", each level's residual off the earlier levels
    spectra: list[list[float]] = field(default_factory=list, repr=False)

    @property
    def extra(self) -> int:
        """Laws beyond the predicted ones that the certificate could not exclude."""
        return self.certified - self.predicted

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("spectra")
        out["extra"] = self.extra
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def summary(self) -> str:
        """A few human-readable lines."""
        gap = "none dropped" if self.gap is None else f"{self.gap:.1e}"
        ranks = ", ".join(f"{lv.rank}" for lv in self.levels)
        lines = [
            f"{self.model}: D = {self.parameters} parameters",
            f"  predicted laws  {self.predicted}",
            f"  certified laws  {self.certified}  (D − Lie rank {self.rank}; "
            f"rank by level {ranks})",
            f"  singular gap    {gap}  (last kept {self.kept:.1e}, first dropped "
            f"{'-' if self.dropped is None else f'{self.dropped:.1e}'})",
            f"  verdict         {self.status}  ({self.seconds:.2f} s)",
        ]
        return "\n".join(lines)


def _law_check(laws: LawSet, model, theta, blocks):
    """Rank of the law gradients and their largest cosine with the fields.

    The gradients are taken on the CPU (the laws are small functions; their code
    need not be device-aware) and compared with the fields where those live.
    """
    if laws.count == 0:
        return Rank(0, 0.0, None, theta.new_zeros(0).cpu()), 0.0
    cpu = theta.detach().cpu()
    grads = jacrev(lambda th: laws.vector(model.unflatten(th)))(cpu)  # (N, D)
    law_rank = numerical_rank(grads)
    unit = normalized_rows(grads).to(theta.device)
    cos = max(
        ((unit @ normalized_rows(b).T).abs().max().item() for b in blocks if len(b)),
        default=0.0,
    )
    return law_rank, cos


def _verdict(rank, target, stalled, law_rank, n_laws, residual) -> str:
    if law_rank.rank < n_laws or not law_rank.clear:
        return "predicted laws are not independent"
    if residual > ORTHOGONALITY_TOL:
        return "predicted laws are violated"
    if not rank.clear:
        return "inconclusive: singular gap too small"
    if rank.rank == target:
        return "complete"
    if rank.rank > target:
        return "inconsistent: rank above D minus predicted"
    if stalled and (rank.gap is None or rank.gap >= EXTRA_LAWS_GAP):
        return "extra laws"
    if stalled:
        return "inconclusive: rank deficiency not separated from round-off"
    return "inconclusive: rank still growing at the last level"


def certificate_device(
    model: FunctionalModel, device: str | torch.device = "auto"
) -> torch.device:
    """Where :func:`certify` computes for ``device``: ``"auto"`` is the GPU when
    one is present and the model has more than :data:`STACK_UP_TO` parameters
    (below, kernel launches cost more than they save), else the CPU."""
    if str(device) == "auto":
        return resolve_device("auto" if model.num_parameters > STACK_UP_TO else "cpu")
    return resolve_device(device)


def certify(
    model: FunctionalModel,
    params: Params | None = None,
    *,
    predicted: LawSet | None = None,
    seed: int = 0,
    max_level: int = 6,
    batch: int = 4,
    scales: tuple[float, ...] = (0.3, 1.0, 3.0),
    stop_at_bound: bool = True,
    inputs: torch.Tensor | None = None,
    chunk_size: int | None = None,
    device: str | torch.device = "auto",
    method: str = "auto",
) -> Certificate:
    """Certify the number of conservation laws of ``model`` at a generic point.

    Args:
        model: a functional model.
        params: the point ``θ₀``; by default :func:`generic_point` at ``seed``.
        predicted: the laws to certify; by default ``predicted_laws(model)``.
        seed: seeds the point and the sampled inputs and output weights.
        max_level: deepest bracket level tried.
        batch: fresh inputs combined in one generator field, beside one
            representative of every activation region of a piecewise model.
        scales: input scales (see ``FunctionalModel.sample_inputs``).
        stop_at_bound: stop as soon as the rank reaches ``D − predicted``.
        inputs: extra inputs ``(n, *in_shape)`` put into every sampled field, beside
            the representatives the probe finds (e.g. a dense grid).
        chunk_size: passed to ``vmap`` to bound memory.
        device: where the fields and the rank are computed: ``"cpu"``,
            ``"cuda"``, or ``"auto"`` (see :func:`certificate_device`). Points,
            inputs and output weights are drawn on the CPU, so a seed gives the
            same draws on every device.
        method: ``"stack"``, ``"incremental"`` or ``"auto"`` (see
            :data:`RANK_METHODS`); both give the same rank, with its gap.

    Returns:
        a :class:`Certificate`. Its ``complete`` is True only when the rank reaches
        ``D − predicted`` with a clear singular gap and the predicted laws are
        independent and orthogonal to every sampled field.
    """
    if method not in RANK_METHODS:
        raise ValueError(
            f"unknown rank method {method!r}: expected one of {', '.join(RANK_METHODS)}"
        )
    start = time.perf_counter()
    D = model.num_parameters
    where = certificate_device(model, device)
    draws = 1
    if params is None:
        params, draws = generic_point(model, seed, scales=scales)
    theta = model.flatten(params).detach().to(dtype=torch.float64, device=where)
    laws = predicted_laws(model) if predicted is None else predicted
    n_laws = laws.count
    target = D - n_laws
    if method == "auto":
        method = "stack" if D <= STACK_UP_TO else "incremental"

    # sample fields level by level until the bound is met or the rank stalls
    cpu_params = {k: v.detach().cpu() for k, v in params.items()}
    pool = region_pool(model, cpu_params, scales, seed=seed)
    if inputs is not None:
        pool = torch.cat([pool, inputs.detach().cpu().to(pool.dtype)])
    stack = sample_levels(
        model,
        theta,
        pool,
        seed=seed,
        target=target,
        max_level=max_level,
        batch=batch,
        scales=scales,
        chunk_size=chunk_size,
        space=RowSpace(D) if method == "incremental" else None,
        stop_at_target=stop_at_bound,
    )
    rank = stack.rank

    # the lower bound: predicted laws independent and orthogonal to every field
    law_start = time.perf_counter()
    law_rank, residual = _law_check(laws, model, theta, stack.blocks)
    law_seconds = time.perf_counter() - law_start
    status = _verdict(rank, target, stack.stalled, law_rank, n_laws, residual)
    return Certificate(
        model=model.describe(),
        parameters=D,
        predicted=n_laws,
        certified=D - rank.rank,
        rank=rank.rank,
        complete=status == "complete",
        status=status,
        gap=rank.gap,
        kept=rank.kept,
        dropped=rank.dropped,
        law_rank=law_rank.rank,
        law_gap=law_rank.gap,
        law_residual=residual,
        levels=stack.levels,
        draws=draws,
        seed=int(seed),
        seconds=time.perf_counter() - start,
        method=method,
        device=str(where),
        law_seconds=law_seconds,
        spectra=stack.spectra,
    )


__all__ = [
    "CANCELLATION_TOL",
    "MIN_GAP",
    "OVERSAMPLE",
    "RANK_METHODS",
    "Certificate",
    "Level",
    "certificate_device",
    "certify",
]
