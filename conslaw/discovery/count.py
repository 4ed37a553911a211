"""How many conservation laws does a model have? ``count_laws`` for any module.

The count is ``D − dim Lie(W)(θ₀)`` (DESIGN §4): the fields of the
characterization and their brackets are sampled at the point with the
certificate's machinery (:func:`~conslaw.certificate.sample_fields`) and stacked
level by level until the rank stops growing; the rank comes with its singular
gap. Without predicted laws there is no upper bound to stop at, so the count is
exact only when the rank has stopped growing with a clear gap: ``status``
``"final"``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import torch

from ..certificate import generic_point
from ..certificate.levels import Level, sample_levels
from ..certificate.points import dead_or_linear_units, region_pool
from ..certificate.rank import normalized_rows
from ..models.base import FunctionalModel
from .adapter import Adapted, Frozen, Sampler, adapt, flat_names, transformable

STATUSES = ("final", "still growing", "unclear gap")

# what each status means, printed by LawCount.summary
STATUS_TEXT = {
    "final": "the Lie rank stopped growing, with a clear gap",
    "still growing": "the last level still added rank: an upper bound",
    "unclear gap": "the rank decision hinges on the tolerance",
}


@dataclass
class LawCount:
    """Result of :func:`count_laws`.

    ``count = parameters − rank`` laws near the point ``theta (D,)``;
    ``basis (D, count)`` is an orthonormal basis of the directions orthogonal to
    every sampled field and bracket: at the point, the gradient of every law lies
    in its span. ``status`` is ``"final"`` when the rank stopped growing with a
    clear gap (the count is then exact up to sampling), ``"still growing"`` when
    the last level still added rank (the count is an upper bound), ``"unclear
    gap"`` when the rank decision hinges on the tolerance.
    """

    model: str
    parameters: int
    count: int
    rank: int
    gap: float | None
    kept: float
    dropped: float | None
    status: str
    levels: list[Level]
    basis: torch.Tensor = field(repr=False)
    theta: torch.Tensor = field(repr=False)
    names: list[tuple[str, tuple[int, ...]]] = field(repr=False)
    frozen: list[str] = field(default_factory=list)
    unswitched_units: int = 0
    seconds: float = 0.0

    @property
    def conclusive(self) -> bool:
        """True when the count is exact at this point (up to sampling)."""
        return self.status == "final"

    def by_parameter(self, tol: float = 1e-8) -> dict[str, float]:
        """Share of the basis' squared norm on each named parameter, largest first;
        parameters below ``tol`` are left out (no law involves them)."""
        share: dict[str, float] = {}
        if self.count == 0:
            return share
        weight = (self.basis**2).sum(1) / self.count  # (D,)
        for (name, _), w in zip(self.names, weight.tolist()):
            share[name] = share.get(name, 0.0) + w
        return dict(
            sorted(((n, w) for n, w in share.items() if w > tol), key=lambda kv: -kv[1])
        )

    def summary(self) -> str:
        """A few human-readable lines."""
        gap = "none dropped" if self.gap is None else f"{self.gap:.1e}"
        ranks = ", ".join(str(lv.rank) for lv in self.levels)
        frozen = f" ({len(self.frozen)} frozen)" if self.frozen else ""
        lines = [
            f"{self.model}: D = {self.parameters} trainable parameters{frozen}",
            f"  laws            {self.count}  (D − Lie rank {self.rank}; rank by "
            f"level {ranks})",
            f"  singular gap    {gap}",
            f"  status          {self.status}: {STATUS_TEXT[self.status]} "
            f"({self.seconds:.2f} s)",
        ]
        if self.unswitched_units:
            lines.append(
                f"  warning         {self.unswitched_units} kinked unit(s) never "
                "switch at this point: expect extra laws"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The scalars, for tables and JSON."""
        keys = ("model", "parameters", "count", "rank", "gap", "kept", "dropped")
        out = {k: getattr(self, k) for k in keys}
        out.update(status=self.status, seconds=self.seconds)
        return out


def count_laws(
    model: torch.nn.Module | FunctionalModel | object,
    sample_inputs: Sampler = None,
    *,
    params=None,
    frozen: Frozen = None,
    seed: int = 0,
    scales: tuple[float, ...] = (0.3, 1.0, 3.0),
    batch: int = 4,
    max_level: int = 6,
    chunk_size: int | None = None,
    fused_norms: bool = False,
) -> LawCount:
    """Count the conservation laws of gradient flow of ``model`` near a point.

    Args:
        model: a ``torch.nn.Module``, a function ``f(params, x)`` of a dict of
            tensors, or a :class:`~conslaw.models.FunctionalModel`; see
            :func:`~conslaw.discovery.adapt`.
        sample_inputs: the inputs (a tensor of examples ``(n, *in)``, the shape
            of one input, or a callable ``(n, generator) -> (n, *in)``).
        params: the point ``θ₀``: the module's current values by default, with
            the named entries of ``params`` replaced; for a function, all of
            them. ``"generic"`` (the default for a functional model): a
            standard-normal draw at ``seed`` at which every kinked unit
            switches (:func:`~conslaw.certificate.generic_point`).
        frozen: parameter names that do not train, or a predicate on names.
        seed: seeds the sampled inputs and output weights.
        scales: input scales of the sampled inputs.
        batch: inputs combined in one sampled field.
        max_level: deepest bracket level tried.
        chunk_size: passed to ``vmap`` to bound memory.
        fused_norms: keep torch's fused ``layer_norm``, whose third derivatives
            are wrong (see :class:`~conslaw.discovery.norms.CompositeNorms`);
            only to show the difference.

    Returns:
        a :class:`LawCount`; its ``basis (D, count)`` (float64) spans the
        orthogonal complement of the sampled Lie algebra at the point.
    """
    start = time.perf_counter()
    generic = params == "generic" or (
        params is None and isinstance(model, FunctionalModel)
    )
    if isinstance(params, str) and params != "generic":
        raise ValueError(
            f"params must be a dict of tensors, None or 'generic', got {params!r}"
        )
    adapted = adapt(
        model,
        sample_inputs,
        params=None if isinstance(params, str) else params,
        frozen=frozen,
        fused_norms=fused_norms,
    )
    if generic:
        point, _ = generic_point(adapted, seed, scales=scales)
        adapted.point = {n: point[n] for n in adapted.shapes}
    if max_level < 0 or batch < 1:
        raise ValueError(
            f"expected max_level >= 0 and batch >= 1, got max_level={max_level}, "
            f"batch={batch}"
        )
    theta = adapted.flatten(adapted.point)
    D = adapted.num_parameters
    unswitched = _unswitched(adapted, scales, seed)

    # stack fields level by level until the rank stops growing
    pool = region_pool(adapted, adapted.point, scales, seed=seed)
    stack = sample_levels(
        adapted,
        theta,
        pool,
        seed=seed,
        target=D,
        max_level=max_level,
        batch=batch,
        scales=scales,
        chunk_size=chunk_size,
        context=lambda: transformable(adapted),
    )
    rank = stack.rank
    if not rank.clear:
        status = "unclear gap"
    elif stack.reached or stack.stalled:
        status = "final"
    else:
        status = "still growing"

    # the directions orthogonal to every stacked field
    _, _, vh = torch.linalg.svd(
        normalized_rows(torch.cat(stack.blocks)), full_matrices=True
    )
    basis = vh[rank.rank :].T.contiguous()  # (D, D - rank)
    return LawCount(
        model=adapted.describe(),
        parameters=D,
        count=D - rank.rank,
        rank=rank.rank,
        gap=rank.gap,
        kept=rank.kept,
        dropped=rank.dropped,
        status=status,
        levels=stack.levels,
        basis=basis,
        theta=theta,
        names=flat_names(adapted),
        frozen=adapted.frozen,
        unswitched_units=unswitched,
        seconds=time.perf_counter() - start,
    )


def _unswitched(adapted: Adapted, scales, seed) -> int:
    """Kinked units that never switch at the point, with a warning."""
    bad = dead_or_linear_units(adapted, adapted.point, scales, seed=seed)
    if bad:
        warnings.warn(
            f"{bad} kinked unit(s) of {adapted.describe()} never switch on the probe "
            "inputs at this point (always or never active): they bring extra laws; "
            "pass another params= or widen the input scales",
            stacklevel=3,
        )
    return bad
