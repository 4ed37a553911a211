"""The symbolic method of Marcotte, Gribonval and Peyré (2023), as a measured peer.

Their count of conservation laws works with polynomials. A linear network
``W_L ⋯ W_1 x`` is a linear function of the entries of the product
``φ(θ) = W_L ⋯ W_1``; a ReLU network is, in each activation region, a linear
function of its *path products* (the product of the weights along a path from an
input, or from a bias, to an output), and when every activation pattern can
occur the fields of all regions together span the gradients of every path
product. So ``W_θ = span{∇φ_p(θ)}`` is spanned by polynomial vector fields, their
Lie brackets are polynomial again and can be computed exactly, and the count is
``D − dim Lie(W)(θ₀)`` at a random rational point ``θ₀``.

This module does that with sympy's sparse polynomials over the rationals:

1. the generators ``∇φ_p``, reduced to a basis of their span as functions;
2. right-nested brackets ``[g, h]`` of a generator ``g`` with a field ``h`` new at
   the previous level, exact, each kept when it is independent, as a function, of
   every field kept so far;
3. after each level, the exact rank of the kept fields at ``θ₀`` (random non-zero
   integers), by Gaussian elimination over the rationals;

stopping, like the numerical certificate, when the rank reaches a known bound or
stops growing. It is here to be timed against the certificate on the same
architectures; DESIGN §4 quotes their SageMath runs at 34 min (50 linear) and
1 h 53 min (50 ReLU architectures) on 64 cores.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sympy import QQ
from sympy.polys.rings import ring

from ..models.ffn import check_widths

KINDS = ("linear", "relu")


class Echelon:
    """Incremental row echelon form over the rationals, rows as sparse dicts.

    :meth:`add` reduces a row against the pivots kept so far and keeps it when a
    non-zero remainder is left; the number of kept rows is the exact rank.
    """

    def __init__(self):
        self.pivots: dict = {}  # pivot key -> row (dict) with 1 at the pivot

    @property
    def rank(self) -> int:
        return len(self.pivots)

    def add(self, row: dict) -> bool:
        """Reduce ``row`` (key -> number); keep it and return True if it is
        independent of the rows kept so far."""
        row = {k: QQ.convert(v) for k, v in row.items() if v != 0}
        while row:
            key = min(row)
            pivot = self.pivots.get(key)
            if pivot is None:
                scale = row[key]
                self.pivots[key] = {k: v / scale for k, v in row.items()}
                return True
            factor = row[key]
            for k, v in pivot.items():
                value = row.get(k, 0) - factor * v
                if value:
                    row[k] = value
                else:
                    row.pop(k, None)
        return False


@dataclass(frozen=True)
class PolynomialNet:
    """A linear or ReLU network's parameters as generators of a polynomial ring,
    in the order of :class:`conslaw.models.FFN`'s flat view, and its lifting
    ``φ`` (the product matrix, or every path product)."""

    kind: str
    widths: tuple[int, ...]
    bias: bool
    ring: object = field(repr=False)
    variables: tuple = field(repr=False)
    lifting: tuple = field(repr=False)

    @property
    def num_parameters(self) -> int:
        return len(self.variables)


def polynomial_net(kind: str, widths: Sequence[int], bias: bool = False):
    """The :class:`PolynomialNet` of a ``kind`` (``"linear"`` or ``"relu"``)
    network with layer widths ``[d, m_1, ..., o]``.

    Linear networks take no biases here (the setting of the published check).
    """
    if kind not in KINDS:
        raise ValueError(f"expected kind 'linear' or 'relu', got {kind!r}")
    widths = tuple(check_widths(widths))
    if kind == "linear" and bias:
        raise ValueError(
            "the symbolic peer lifts linear networks without biases (the "
            "published setting); pass bias=False or kind='relu'"
        )
    names, shapes = [], []
    for layer, (n_in, n_out) in enumerate(zip(widths, widths[1:]), 1):
        names += [f"W{layer}_{i}_{j}" for i in range(n_out) for j in range(n_in)]
        shapes.append(("W", layer, n_out, n_in))
        if bias:
            names += [f"b{layer}_{i}" for i in range(n_out)]
            shapes.append(("b", layer, n_out, None))
    R, *gens = ring(",".join(names), QQ)
    weights, biases, k = {}, {}, 0
    for what, layer, n_out, n_in in shapes:
        if what == "W":
            weights[layer] = [
                [gens[k + i * n_in + j] for j in range(n_in)] for i in range(n_out)
            ]
            k += n_out * n_in
        else:
            biases[layer] = gens[k : k + n_out]
            k += n_out
    if kind == "linear":
        lifting = _product_entries(weights, len(widths) - 1, R)
    else:
        lifting = _path_products(weights, biases, widths, R)
    return PolynomialNet(kind, widths, bias, R, tuple(gens), tuple(lifting))


def _product_entries(weights, depth, R):
    """Entries of ``W_L ⋯ W_1``."""
    prod = weights[1]
    for layer in range(2, depth + 1):
        w = weights[layer]
        prod = [
            [
                sum((w[i][m] * prod[m][j] for m in range(len(prod))), R.zero)
                for j in range(len(prod[0]))
            ]
            for i in range(len(w))
        ]
    return [p for row in prod for p in row]


def _path_products(weights, biases, widths, R):
    """Every path product: from each input, or from each bias of each layer,
    through one unit per later layer, to each output."""
    depth = len(widths) - 1
    out = []
    starts = [(1, i, None) for i in range(widths[0])]
    starts += [(layer, None, j) for layer in biases for j in range(widths[layer])]
    for first, i, j0 in starts:
        # units visited from layer `first` (or from the bias unit j0 of it) on
        if j0 is None:
            ranges = [range(w) for w in widths[first:]]
        else:
            ranges = [range(j0, j0 + 1)] + [range(w) for w in widths[first + 1 :]]
        for units in itertools.product(*ranges):
            p = R.one if j0 is None else biases[first][j0]
            prev = i
            for offset, unit in enumerate(units):
                layer = first + offset
                if not (j0 is not None and offset == 0):
                    p = p * weights[layer][unit][prev]
                prev = unit
            assert len(units) == depth - first + 1
            out.append(p)
    return out


def _gradient(p, variables):
    return tuple(p.diff(v) for v in variables)


def _jacobian(x, variables):
    """``DX``: rows ``∂X_i/∂θ_j``, the non-zero entries only, per component."""
    return tuple(
        tuple((j, d) for j, v in enumerate(variables) if (d := xi.diff(v))) for xi in x
    )


def _bracket(x, jx, y, jy):
    """``[X, Y] = DY·X − DX·Y`` of polynomial vector fields, given their
    Jacobians."""
    zero = x[0].ring.zero
    out = []
    for row_y, row_x in zip(jy, jx):
        value = zero
        for j, d in row_y:
            if x[j]:
                value += d * x[j]
        for j, d in row_x:
            if y[j]:
                value -= d * y[j]
        out.append(value)
    return tuple(out)


def _coefficients(vector) -> dict:
    return {(i, m): c for i, p in enumerate(vector) for m, c in p.terms()}


def _at(vector, point) -> dict:
    return {i: p(*point) if p else 0 for i, p in enumerate(vector)}


@dataclass
class SymbolicCount:
    """Result of :func:`symbolic_count`: ``laws = parameters − rank``."""

    kind: str
    widths: tuple[int, ...]
    bias: bool
    parameters: int
    rank: int
    laws: int
    ranks: list[int]
    fields: int
    stopped: str
    seconds: float


def symbolic_count(
    kind: str,
    widths: Sequence[int],
    bias: bool = False,
    *,
    bound: int | None = None,
    max_level: int = 6,
    seed: int = 0,
) -> SymbolicCount:
    """Count the conservation laws of a linear or ReLU network exactly.

    Args:
        kind: ``"linear"`` or ``"relu"`` (every activation pattern realizable,
            the path-lifting setting of Marcotte et al.).
        widths: layer widths ``[d, m_1, ..., o]``.
        bias: ReLU networks only.
        bound: stop as soon as the rank reaches it (``D − N`` known laws), as the
            numerical certificate does; ``None`` stops only when a level adds
            nothing at the point.
        max_level: deepest bracket level.
        seed: draws the rational point (non-zero integers in ``[-9, 9]``).

    Returns:
        a :class:`SymbolicCount`, with the rank after each level.
    """
    start = time.perf_counter()
    net = polynomial_net(kind, widths, bias)
    rng = random.Random(f"symbolic-{seed}")
    point = [rng.choice([-1, 1]) * rng.randint(1, 9) for _ in net.variables]
    functions, values = Echelon(), Echelon()

    def keep(candidates):
        # fields independent, as functions, of all kept so far, with Jacobians
        kept = []
        for vector in candidates:
            if any(vector) and functions.add(_coefficients(vector)):
                values.add(_at(vector, point))
                kept.append((vector, _jacobian(vector, net.variables)))
        return kept

    generators = keep(_gradient(p, net.variables) for p in net.lifting)
    ranks, frontier, stopped = [values.rank], generators, "max level"
    total = len(generators)
    for _ in range(max_level):
        if bound is not None and values.rank >= bound:
            stopped = "bound"
            break
        previous = values.rank
        frontier = keep(
            _bracket(g, jg, h, jh) for g, jg in generators for h, jh in frontier
        )
        total += len(frontier)
        ranks.append(values.rank)
        if values.rank == previous:
            stopped = "stalled"
            break
    else:
        if bound is not None and values.rank >= bound:
            stopped = "bound"
    D = net.num_parameters
    return SymbolicCount(
        kind=kind,
        widths=net.widths,
        bias=bias,
        parameters=D,
        rank=values.rank,
        laws=D - values.rank,
        ranks=ranks,
        fields=total,
        stopped=stopped,
        seconds=time.perf_counter() - start,
    )


__all__ = [
    "Echelon",
    "PolynomialNet",
    "SymbolicCount",
    "polynomial_net",
    "symbolic_count",
]
