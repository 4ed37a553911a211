"""Polynomial laws in readable form: exact coefficients and grouped terms.

A law is a map from monomials to coefficients: ``(i,)`` is ``θ_i``, ``(i, j)`` with
``i <= j`` is ``θ_i θ_j``. The terms are grouped by parameter tensor and
coefficient, and each group is printed over boxes of indices in slice notation:
squares as ``‖W[0,:]‖²``, products of two slices that differ in one axis as
``⟨Q[0,:,0], Q[0,:,1]⟩``, linear terms as ``Σ W[:,0]``.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

# A coefficient is taken for the rational p/q (q <= MAX_DENOMINATOR) when it is
# this close: the null space of the law system is accurate to about 1e-12 on
# this book's blocks (round-off over the smallest kept singular value), and a
# wrong rational would be off by at least 1 / MAX_DENOMINATOR² ≈ 2e-3.
RATIONAL_TOL = 1e-8
MAX_DENOMINATOR = 24

# coefficients below this (after scaling the pivot to one) are round-off zeros
ZERO_TOL = 1e-9

# laws with more terms than this are cut with "…" when printed
MAX_TERMS = 12

# A candidate law is a new one (not a combination of the products of linear laws
# and of the laws already kept) when its distance to their span is above this,
# relative to its norm; combinations come out at round-off, about 1e-14.
SPAN_TOL = 1e-8

Index = tuple[int, ...]
Monomial = tuple[int, ...]


def rref(rows: np.ndarray, order: Sequence[int], tol: float = ZERO_TOL):
    """Reduced row echelon form of ``rows (k, n)`` with columns visited in ``order``.

    Returns the reduced rows ``(r, n)`` (pivots equal to one, columns in their
    original order) and the pivot column of each row.
    """
    a = np.array(rows, dtype=np.float64)[:, list(order)]
    k, n = a.shape
    pivots, r = [], 0
    for c in range(n):
        if r == k:
            break
        p = r + int(np.argmax(np.abs(a[r:, c])))
        if abs(a[p, c]) <= tol:
            continue
        a[[r, p]] = a[[p, r]]
        a[r] /= a[r, c]
        others = np.arange(k) != r
        a[others] -= np.outer(a[others, c], a[r])
        pivots.append(c)
        r += 1
    out = np.zeros_like(a[:r])
    out[:, list(order)] = a[:r]
    return out, [order[c] for c in pivots]


def sparsify(rows: np.ndarray, helpers: np.ndarray, passes: int = 4) -> np.ndarray:
    """Fewer terms per row: add multiples of the other rows (and of ``helpers``)
    whenever that cancels more entries than it creates.

    The rows keep spanning, together with ``helpers``, the same space. Greedy:
    for each row and each other vector sharing a nonzero entry, eliminate that
    entry if the support shrinks; repeat until nothing changes.
    """
    rows = np.array(rows, dtype=np.float64)
    rows[np.abs(rows) <= ZERO_TOL] = 0.0
    helpers = np.array(helpers, dtype=np.float64).reshape(-1, rows.shape[1])
    helpers[np.abs(helpers) <= ZERO_TOL] = 0.0
    for _ in range(passes):
        changed = False
        for i in range(len(rows)):
            others = np.vstack([np.delete(rows, i, 0), helpers])
            for other in others:
                row = rows[i]
                shared = np.flatnonzero(
                    (np.abs(row) > ZERO_TOL) & (np.abs(other) > ZERO_TOL)
                )
                for c in shared:
                    candidate = row - row[c] / other[c] * other
                    candidate[np.abs(candidate) <= ZERO_TOL] = 0.0
                    if np.count_nonzero(candidate) < np.count_nonzero(row):
                        row, changed = candidate, True
                rows[i] = row
        if not changed:
            break
    return rows


def rationalize(values: np.ndarray) -> tuple[list[Fraction | float], bool]:
    """Each coefficient as a small rational when it is one to ``RATIONAL_TOL``.

    Returns the coefficients (Fractions, or floats where no rational fits) and
    whether all of them are exact.
    """
    out, exact = [], True
    for v in values.tolist():
        if abs(v) <= ZERO_TOL:
            out.append(Fraction(0))
            continue
        q = Fraction(v).limit_denominator(MAX_DENOMINATOR)
        if abs(float(q) - v) <= RATIONAL_TOL:
            out.append(q)
        else:
            out.append(v)
            exact = False
    return out, exact


def boxes(points: set[Index], ndim: int) -> list[tuple[tuple[int, int], ...]]:
    """Cover a set of indices with disjoint boxes of ``(start, stop)`` ranges."""
    if ndim == 0:
        return [()] if points else []
    by_first: dict[int, set[Index]] = defaultdict(set)
    for p in points:
        by_first[p[0]].add(p[1:])
    runs: list[list] = []
    for v in sorted(by_first):
        rest = frozenset(by_first[v])
        if runs and runs[-1][1] == v and runs[-1][2] == rest:
            runs[-1][1] = v + 1
        else:
            runs.append([v, v + 1, rest])
    out = []
    for start, stop, rest in runs:
        for sub in boxes(set(rest), ndim - 1):
            out.append(((start, stop), *sub))
    return out


def _slice(box, shape) -> str:
    """``name[...]`` suffix of a box, ``""`` when it covers the whole tensor."""
    if all(b == (0, s) for b, s in zip(box, shape)) and any(s > 1 for s in shape):
        return ""
    parts = []
    for (a, b), s in zip(box, shape):
        if b - a == 1:
            parts.append(str(a))
        elif (a, b) == (0, s):
            parts.append(":")
        else:
            parts.append(f"{a}:{b}")
    return f"[{','.join(parts)}]" if parts else ""


def _single(box) -> bool:
    return all(b - a == 1 for a, b in box)


def _coef(c) -> str:
    c = abs(c)
    if isinstance(c, numbers.Rational):
        return "" if c == 1 else f"{Fraction(c)} "
    return f"{c:.4g} "


def format_law(
    coefficients: Mapping[Monomial, Fraction | float],
    names: Sequence[tuple[str, Index]],
    shapes: Mapping[str, tuple[int, ...]],
) -> str:
    """One law as text, e.g. ``‖W1[0,:]‖² + b1[0]² − ‖W2[:,0]‖²``.

    Args:
        coefficients: monomial ``(i,)`` or ``(i, j)`` (flat indices, ``i <= j``)
            to its coefficient; zeros are skipped.
        names: ``(name, index)`` of every flat index.
        shapes: parameter name to shape.
    """
    squares, inner, linear, other = (defaultdict(set) for _ in range(4))
    first: dict[tuple, int] = {}
    for mono, c in coefficients.items():
        if c == 0:
            continue
        (ni, pi), (nj, pj) = names[mono[0]], names[mono[-1]]
        if len(mono) == 1:
            key, item = ("lin", ni, c), pi
            linear[key].add(item)
        elif mono[0] == mono[1]:
            key, item = ("sq", ni, c), pi
            squares[key].add(item)
        else:
            diff = [k for k, (a, b) in enumerate(zip(pi, pj)) if a != b]
            if ni == nj and len(diff) == 1:
                k = diff[0]
                rest = pi[:k] + pi[k + 1 :]
                key, item = ("in", ni, k, pi[k], pj[k], c), rest
                inner[key].add(item)
            else:
                key, item = ("x", ni, nj, c), (pi, pj)
                other[key].add(item)
        first[key] = min(first.get(key, mono), mono)

    terms: list[tuple[int, object, str]] = []
    for key, pts in squares.items():
        _, name, c = key
        shape = shapes[name]
        for box in boxes(pts, len(shape)):
            text = f"{name}{_slice(box, shape)}"
            body = f"{text}²" if _single(box) else f"‖{text}‖²"
            terms.append((first[key], c, body))
    for key, pts in linear.items():
        _, name, c = key
        shape = shapes[name]
        for box in boxes(pts, len(shape)):
            text = f"{name}{_slice(box, shape)}"
            terms.append((first[key], c, text if _single(box) else f"Σ {text}"))
    for key, pts in inner.items():
        _, name, k, a, b, c = key
        shape = shapes[name]
        rest_shape = shape[:k] + shape[k + 1 :]
        for box in boxes(pts, len(rest_shape)):
            left = box[:k] + ((a, a + 1),) + box[k:]
            right = box[:k] + ((b, b + 1),) + box[k:]
            if _single(box):
                body = f"{name}{_slice(left, shape)}·{name}{_slice(right, shape)}"
            else:
                body = f"⟨{name}{_slice(left, shape)}, {name}{_slice(right, shape)}⟩"
            terms.append((first[key], c, body))
    for key, pts in other.items():
        _, ni, nj, c = key
        for pi, pj in sorted(pts):
            box_i, box_j = tuple((v, v + 1) for v in pi), tuple((v, v + 1) for v in pj)
            body = f"{ni}{_slice(box_i, shapes[ni])}·{nj}{_slice(box_j, shapes[nj])}"
            terms.append((first[key], c, body))

    terms.sort(key=lambda t: t[0])
    if not terms:
        return "0"
    out = []
    for n, (_, c, body) in enumerate(terms[:MAX_TERMS]):
        sign = "−" if c < 0 else "+"
        lead = ("−" if c < 0 else "") if n == 0 else f" {sign} "
        out.append(f"{lead}{_coef(c)}{body}")
    if len(terms) > MAX_TERMS:
        out.append(f" … ({len(terms) - MAX_TERMS} more terms)")
    return "".join(out)


@dataclass
class PolynomialLaw:
    """One discovered law: ``coefficients`` maps ``(i,)`` and ``(i, j)`` (flat
    indices, ``i <= j``) to exact Fractions, or floats where no small rational
    fits (``exact`` is then False); ``text`` is the readable form."""

    coefficients: dict[tuple[int, ...], Fraction | float]
    degree: int
    exact: bool
    text: str

    def __str__(self) -> str:
        return self.text


def readable_laws(null: torch.Tensor, monomials, names, shapes):
    """Readable laws from a null basis ``(n, k)``: the printed laws, the number of
    products of linear laws set apart, and the kept coefficient vectors ``(n, l)``."""
    n, k = null.shape
    if k == 0:
        return [], 0, null.new_zeros(n, 0)
    cross = [c for c, m in enumerate(monomials) if len(m) == 2 and m[0] != m[1]]
    square = [c for c, m in enumerate(monomials) if len(m) == 2 and m[0] == m[1]]
    linear = [c for c, m in enumerate(monomials) if len(m) == 1]
    visit = cross + square + linear
    reduced, pivots = rref(null.T.numpy(), visit)
    position = {c: p for p, c in enumerate(visit)}
    is_linear = [position[p] >= len(cross) + len(square) for p in pivots]

    # the products of pairs of linear laws, as vectors over the monomials
    where = {m: c for c, m in enumerate(monomials)}
    lin_rows = [r for r, flag in zip(reduced, is_linear) if flag]
    prods = []
    for a, ra in enumerate(lin_rows):
        for rb in lin_rows[a:]:
            v = np.zeros(n)
            for ci in linear:
                for cj in linear:
                    i, j = monomials[ci][0], monomials[cj][0]
                    m = (min(i, j), max(i, j))
                    if m in where and ra[ci] * rb[cj] != 0:
                        v[where[m]] += ra[ci] * rb[cj]
            prods.append(v)
    # simplest rows first (linear, then pure squares, then cross terms); keep a
    # row when it is not in the span of the products and of the rows kept
    order = sorted(
        range(len(reduced)), key=lambda r: (not is_linear[r], -position[pivots[r]])
    )
    span = _orthonormal(np.array(prods).reshape(-1, n))
    chosen = []
    for r in order:
        v = reduced[r] / np.linalg.norm(reduced[r])
        rest = v - span.T @ (span @ v) if len(span) else v
        if np.linalg.norm(rest) > SPAN_TOL:
            chosen.append(r)
            span = (
                np.vstack([span, rest / np.linalg.norm(rest)])
                if len(span)
                else rest[None]
            )
    products = k - len(chosen)

    # fewer terms, then the first coefficient in the parameters' order set to one
    rows = sparsify(reduced[chosen], np.array(prods).reshape(-1, n))
    laws = []
    for row in sorted(rows, key=lambda row: _first_monomial(row, monomials)):
        lead = min(np.flatnonzero(np.abs(row) > ZERO_TOL), key=lambda c: monomials[c])
        coefs, exact = rationalize(row / row[lead])
        mapping = {monomials[c]: q for c, q in enumerate(coefs) if q != 0}
        degree = max(len(m) for m in mapping)
        laws.append(
            PolynomialLaw(mapping, degree, exact, format_law(mapping, names, shapes))
        )
    laws.sort(key=lambda law: law.degree)
    kept = torch.tensor(
        np.array(
            [[float(law.coefficients.get(m, 0)) for m in monomials] for law in laws]
        ).T
    ).reshape(n, len(laws))
    return laws, products, kept


def _first_monomial(row, monomials):
    nz = np.flatnonzero(np.abs(row) > ZERO_TOL)
    return min(monomials[c] for c in nz)


def _orthonormal(rows: np.ndarray) -> np.ndarray:
    if not len(rows):
        return rows
    u, s, vt = np.linalg.svd(rows, full_matrices=False)
    r = int((s > SPAN_TOL * max(s[0], 1e-300)).sum())
    return vt[:r]
