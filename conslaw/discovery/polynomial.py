"""Discover every conservation law that is a polynomial of degree ≤ 2.

Write ``h(θ) = Σ_i c_i θ_i + Σ_{i≤j} c_ij θ_i θ_j`` (a constant is trivially
conserved and left out). By the characterization (DESIGN §4) ``h`` is conserved
iff ``⟨∇h(θ), V(θ)⟩ = 0`` for every generator field ``V = ∇_θ <u, f(θ, X)>`` at
every point ``θ``: brackets follow, so the generators suffice, but at *every*
point, not one. Each sampled pair ``(θ, V)`` gives one linear equation in the
unknown coefficients,

    Σ_i c_i V_i + Σ_{i≤j} c_ij (V_i θ_j + V_j θ_i) = 0,

and the null space of the stacked equations (one SVD, with its singular gap) is the
space of laws. Its reduced row echelon form, with cross terms visited first, makes
each law as sparse as the basis allows; coefficients are then read as small
rationals where they are exact, and products of linear laws (which are laws too)
are set apart.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch.func import vmap

from ..certificate import generator_field
from ..certificate.rank import (
    normalized_rows,
    numerical_rank,
    rank_from_singular_values,
)
from ..models.base import FunctionalModel
from .adapter import (
    Adapted,
    Frozen,
    Sampler,
    _select,
    adapt,
    flat_names,
    transformable,
)
from .readable import PolynomialLaw, readable_laws

# The quadratic unknowns grow as D²/2 and the SVD as their cube: above this many
# unknowns discovery asks for a restriction (blocks=, parameters=, degree=1).
MAX_UNKNOWNS = 2500

# equations drawn per unknown, plus a few: the system's rank is at most the
# number of unknowns, so oversampling is what makes the smallest genuine
# singular value stand clear of round-off
ROW_FACTOR = 1.5
ROW_EXTRA = 32


@dataclass
class DiscoveredLaws:
    """Result of :func:`discover_laws`.

    ``dimension`` is the dimension of the space of laws of degree ≤ 2 (constants
    left out). It counts the ``products`` of pairs of linear laws, which are laws
    too; ``laws`` lists the linear laws and the quadratic ones that are not such
    products (``dimension = len(laws) + products``). ``independent`` is how many
    of ``laws`` are functionally independent at a random point (their gradient
    rank, with ``independent_gap``): the number to compare with
    :func:`~conslaw.discovery.count_laws`.
    """

    model: str
    parameters: int
    unknowns: int
    equations: int
    rank: int
    gap: float | None
    kept: float
    dropped: float | None
    dimension: int
    products: int
    laws: list[PolynomialLaw]
    independent: int
    independent_gap: float | None
    residual: float
    restriction: str
    seconds: float
    singular_values: torch.Tensor = field(repr=False)
    basis: torch.Tensor = field(repr=False)
    monomials: list[tuple[int, ...]] = field(repr=False)
    model_ref: Adapted = field(repr=False)
    law_matrix: torch.Tensor = field(repr=False)
    # seconds of each phase: "equations" (sampling the system), "svd", "readable"
    # (echelon form, rationals, grouping) and "independence" (gradient rank)
    phases: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def exact(self) -> bool:
        """True when every printed law has small rational coefficients."""
        return all(law.exact for law in self.laws)

    @property
    def clear(self) -> bool:
        """True when the null space is separated from the rest by ``MIN_GAP``."""
        return rank_from_singular_values(self.singular_values).clear

    def lines(self) -> list[str]:
        """The laws, one per line."""
        return [law.text for law in self.laws]

    def summary(self) -> str:
        gap = "none dropped" if self.gap is None else f"{self.gap:.1e}"
        linear = sum(law.degree == 1 for law in self.laws)
        lines = [
            f"{self.model}: D = {self.parameters}, {self.unknowns} unknowns "
            f"({self.restriction}), {self.equations} equations",
            f"  laws of degree ≤ 2: a space of dimension {self.dimension} (singular "
            f"gap {gap}); {linear} linear, {len(self.laws) - linear} quadratic, "
            f"{self.products} products of linear laws",
            f"  functionally independent: {self.independent}; exact rationals: "
            f"{self.exact}; residual {self.residual:.1e}  ({self.seconds:.2f} s)",
        ]
        return "\n".join(lines + [f"    {t}" for t in self.lines()])

    def __str__(self) -> str:
        return self.summary()

    def values(self, params) -> torch.Tensor:
        """The printed laws at ``params`` (a dict of the trainable parameters, or a
        flat ``θ (D,)``): a tensor ``(len(laws),)``."""
        model = self.model_ref
        theta = params if isinstance(params, torch.Tensor) else model.flatten(params)
        theta = theta.detach().cpu().to(self.law_matrix.dtype)
        return (_monomials(theta[None], self.monomials) @ self.law_matrix)[0]

    def gradients(self, theta: torch.Tensor) -> torch.Tensor:
        """Gradients of the printed laws at ``θ (D,)``: ``(len(laws), D)``."""
        return _gradients(self.law_matrix, self.monomials, theta)

    def outside(self, count) -> float:
        """How far the laws' gradients at a :class:`~conslaw.discovery.LawCount`'s
        point stick out of its basis: the norm of the part outside, relative to
        the gradient's norm, largest over the laws. Round-off when every
        discovered law is among the laws the count found."""
        if not self.laws:
            return 0.0
        grads = self.gradients(count.theta)
        basis = count.basis
        rest = grads - (grads @ basis) @ basis.T if basis.numel() else grads
        return (rest.norm(dim=1) / grads.norm(dim=1).clamp_min(1e-300)).max().item()

    def polynomials(self, thetas: torch.Tensor) -> torch.Tensor:
        """Every basis law of the whole space at points ``thetas (P, D)``:
        ``(P, dimension)`` (the products of linear laws included)."""
        return _monomials(thetas, self.monomials) @ self.basis

    def contains(self, fn, points: int | None = None, seed: int = 0) -> float:
        """How far ``fn`` is from the space of discovered laws (plus constants).

        ``fn`` maps a parameter dict to a tensor of laws (e.g.
        ``LawSet.vector``). It is evaluated at random points and fitted by the
        discovered polynomials; returns the largest residual relative to the
        spread of each entry: round-off (about 1e-13) when every entry of ``fn``
        is a discovered law.
        """
        model = self.model_ref
        P = points or 2 * (self.dimension + 1) + 16
        gen = torch.Generator().manual_seed(int(seed) + 77)
        thetas = torch.randn(
            P, model.num_parameters, generator=gen, dtype=torch.float64
        )
        values = torch.stack(
            [fn({**model.constants, **model.unflatten(t)}).reshape(-1) for t in thetas]
        )  # (P, m)
        design = torch.cat([thetas.new_ones(P, 1), self.polynomials(thetas)], 1)
        coef = torch.linalg.lstsq(design, values).solution
        fit = values - design @ coef
        spread = (values - values.mean(0)).norm(dim=0).clamp_min(1e-300)
        return (fit.norm(dim=0) / spread).max().item() if values.numel() else 0.0


def _monomials(thetas: torch.Tensor, monomials) -> torch.Tensor:
    """Values of the monomials at points ``thetas (P, D)``: ``(P, n)``."""
    cols = []
    for m in monomials:
        cols.append(
            thetas[:, m[0]] if len(m) == 1 else thetas[:, m[0]] * thetas[:, m[1]]
        )
    return torch.stack(cols, 1)


def _unknowns(model: Adapted, parameters, blocks, degree: int):
    """Monomials ``(i,)`` and ``(i, j)`` and a description of the restriction."""
    names = list(model.shapes)
    slices = model.slices()
    chosen = _select(names, parameters, "parameters") if parameters else set(names)
    if not chosen:
        raise ValueError(f"parameters selects no parameter: expected some of {names}")
    index = sorted(i for n in chosen for i in range(*slices[n].indices(10**12)))
    monomials = [(i,) for i in index]
    notes = [] if parameters is None else [f"parameters {sorted(chosen)}"]
    if degree == 1:
        return monomials, ", ".join(notes + ["degree 1"])
    if blocks is None:
        groups = [index]
        notes.append("all pairs")
    else:
        if isinstance(blocks, str | bytes) or not all(
            isinstance(b, list | tuple | set | frozenset) for b in blocks
        ):
            raise TypeError(
                "blocks must be a list of groups of parameter names, e.g. "
                f"[('Q', 'K'), ('V', 'O')]; got {blocks!r:.60}"
            )
        groups = []
        for group in blocks:
            picked = _select(names, list(group), "blocks")
            outside = sorted(picked - chosen)
            if outside:
                raise ValueError(
                    f"blocks names {outside} are not among the selected parameters "
                    f"{sorted(chosen)}: add them to parameters= or drop them"
                )
            groups.append(
                sorted(i for n in picked for i in range(*slices[n].indices(10**12)))
            )
        groups_text = " | ".join("+".join(b) for b in map(list, blocks))
        if len(groups_text) > 60:
            sizes = ", ".join(str(len(list(b))) for b in blocks)
            groups_text = f"{len(groups)} groups of {sizes} parameter tensors"
        notes.append(f"pairs within {groups_text}")
    pairs = sorted({(a, b) for g in groups for k, a in enumerate(g) for b in g[k:]})
    return monomials + pairs, ", ".join(notes)


def _equations(model, monomials, rows, gen, scales, batch, point_scale, chunk_size):
    """``rows`` equations ``(rows, n)``: random fields at random points."""
    D = model.num_parameters
    thetas = point_scale * torch.randn(rows, D, generator=gen, dtype=torch.float64)
    xs = model.sample_inputs(rows * batch, gen, scales).reshape(
        rows, batch, *model.in_shape
    )
    us = torch.randn(
        (rows, batch, *model.out_shape), generator=gen, dtype=torch.float64
    )
    fields = vmap(generator_field(model), chunk_size=chunk_size)(thetas, xs, us)
    lin = [m[0] for m in monomials if len(m) == 1]
    quad = [m for m in monomials if len(m) == 2]
    cols = [fields[:, lin]]
    if quad:
        i = torch.tensor([m[0] for m in quad])
        j = torch.tensor([m[1] for m in quad])
        # ∂(θ_i θ_j)·V = V_i θ_j + V_j θ_i  (2 V_i θ_i on the diagonal)
        cols.append(fields[:, i] * thetas[:, j] + fields[:, j] * thetas[:, i])
    return torch.cat(cols, 1)


def discover_laws(
    model: torch.nn.Module | FunctionalModel | object,
    sample_inputs: Sampler = None,
    *,
    params=None,
    frozen: Frozen = None,
    parameters=None,
    blocks=None,
    degree: int = 2,
    seed: int = 0,
    scales: tuple[float, ...] = (0.3, 1.0, 3.0),
    batch: int = 4,
    point_scale: float = 1.0,
    max_unknowns: int = MAX_UNKNOWNS,
    chunk_size: int | None = 512,
) -> DiscoveredLaws:
    """Every conservation law of gradient flow that is a polynomial of degree ≤ 2.

    Args:
        model, sample_inputs, params, frozen: as for
            :func:`~conslaw.discovery.count_laws`; ``params`` matters only through
            the frozen parameters, which keep their values at every point.
        parameters: restrict the laws to these parameter names (or a predicate):
            the unknowns are monomials of them only. The fields still move every
            trainable parameter.
        blocks: groups of parameter names; quadratic monomials pair only
            parameters of one group (parameters in no group enter linearly).
            ``None``: all pairs.
        degree: 1 (linear laws only) or 2.
        seed: seeds the points, inputs and output weights.
        scales: input scales.
        batch: inputs combined in one sampled field.
        point_scale: standard deviation of the sampled parameter points.
        max_unknowns: refuse larger systems (their SVD costs the cube).
        chunk_size: passed to ``vmap`` to bound memory.

    Returns:
        a :class:`DiscoveredLaws` (printing it lists the laws).
    """
    start = time.perf_counter()
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree!r}")
    if batch < 1 or not point_scale > 0:
        raise ValueError(
            f"expected batch >= 1 and point_scale > 0, got batch={batch}, "
            f"point_scale={point_scale}"
        )
    adapted = adapt(model, sample_inputs, params=params, frozen=frozen)
    monomials, restriction = _unknowns(adapted, parameters, blocks, degree)
    n = len(monomials)
    if n > max_unknowns:
        raise ValueError(
            f"{adapted.describe()} with D = {adapted.num_parameters} gives {n} "
            f"unknowns ({restriction}), above max_unknowns={max_unknowns}: pass "
            "blocks= to pair only parameters within groups, parameters= to "
            "restrict the laws, degree=1, or raise max_unknowns"
        )

    # the linear system over random points, inputs and output weights
    gen = torch.Generator().manual_seed(20_011 * int(seed) + 3)
    rows = math.ceil(ROW_FACTOR * n) + ROW_EXTRA
    phases, mark = {}, time.perf_counter()
    with transformable(adapted):
        equations = _equations(
            adapted, monomials, rows, gen, scales, batch, point_scale, chunk_size
        )
    system = normalized_rows(equations)
    phases["equations"], mark = time.perf_counter() - mark, time.perf_counter()
    _, s, vh = torch.linalg.svd(system, full_matrices=False)
    phases["svd"], mark = time.perf_counter() - mark, time.perf_counter()
    rank = rank_from_singular_values(s)
    null = vh[rank.rank :].T.contiguous()  # (n, dimension)

    # readable basis: RREF with cross terms, then squares, then linear visited
    dim = null.shape[1]
    laws, products, kept = readable_laws(
        null, monomials, flat_names(adapted), adapted.shapes
    )
    residual = 0.0
    if kept.shape[1]:
        residual = ((system @ kept).norm(dim=0) / kept.norm(dim=0)).max().item()
    phases["readable"], mark = time.perf_counter() - mark, time.perf_counter()
    independent, ind_gap = _independence(kept, monomials, adapted, seed)
    phases["independence"] = time.perf_counter() - mark
    return DiscoveredLaws(
        model=adapted.describe(),
        parameters=adapted.num_parameters,
        unknowns=n,
        equations=rows,
        rank=rank.rank,
        gap=rank.gap,
        kept=rank.kept,
        dropped=rank.dropped,
        dimension=dim,
        products=products,
        laws=laws,
        independent=independent,
        independent_gap=ind_gap,
        residual=residual,
        restriction=restriction,
        seconds=time.perf_counter() - start,
        singular_values=rank.singular_values,
        basis=null,
        monomials=monomials,
        model_ref=adapted,
        law_matrix=kept,
        phases=phases,
    )


def _independence(kept: torch.Tensor, monomials, model: Adapted, seed: int):
    """Gradient rank of the kept laws at a random point, and its gap."""
    if kept.shape[1] == 0:
        return 0, None
    gen = torch.Generator().manual_seed(int(seed) + 101)
    theta = torch.randn(model.num_parameters, generator=gen, dtype=torch.float64)
    r = numerical_rank(_gradients(kept, monomials, theta))
    return r.rank, r.gap


def _gradients(kept: torch.Tensor, monomials, theta: torch.Tensor) -> torch.Tensor:
    """Gradients ``(l, D)`` at ``θ`` of the laws whose coefficients over the
    monomials are the columns of ``kept (n, l)``."""
    theta = theta.to(kept.dtype)
    grads = torch.zeros(kept.shape[1], len(theta), dtype=kept.dtype)
    for c, m in enumerate(monomials):
        if len(m) == 1:
            grads[:, m[0]] += kept[c]
        else:
            grads[:, m[0]] += kept[c] * theta[m[1]]
            grads[:, m[1]] += kept[c] * theta[m[0]]
    return grads
