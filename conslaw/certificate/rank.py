"""Numerical rank with the singular-value gap that justifies it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# A singular value counts when it exceeds RANK_RTOL times the largest. Rows are
# normalized first; the round-off of float64 through up to seven nested derivatives
# measured on this book's models stays below 1e-14, while a new bracket direction
# can be as weak as 1e-9 (deep bottleneck nets at level 5), hence a cut in between.
RANK_RTOL = 1e-11

# The rank decision is called unambiguous when the last kept singular value is at
# least this many times the first dropped one.
MIN_GAP = 1e3


@dataclass(frozen=True)
class Rank:
    """Rank of a stack of row vectors.

    ``kept`` and ``dropped`` are the last kept and first dropped singular values,
    relative to the largest; ``dropped`` is ``None`` when nothing was dropped.
    """

    rank: int
    kept: float
    dropped: float | None
    singular_values: torch.Tensor

    @property
    def gap(self) -> float | None:
        """``kept / dropped``: how clearly the rank is separated from round-off."""
        if self.dropped is None:
            return None
        return self.kept / self.dropped if self.dropped > 0 else math.inf

    @property
    def clear(self) -> bool:
        """True when the decision does not hinge on the tolerance."""
        return self.rank == 0 or self.gap is None or self.gap >= MIN_GAP


def normalized_rows(rows: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit norm; zero rows stay zero."""
    norms = rows.norm(dim=1, keepdim=True)
    return rows / torch.where(norms > 0, norms, torch.ones_like(norms))


def numerical_rank(rows: torch.Tensor, rtol: float = RANK_RTOL) -> Rank:
    """Rank of the row space of ``rows (n, D)`` from one SVD of the normalized rows."""
    if rows.numel() == 0:
        return Rank(0, 0.0, None, rows.new_zeros(0))
    return rank_from_singular_values(torch.linalg.svdvals(normalized_rows(rows)), rtol)


def rank_from_singular_values(s: torch.Tensor, rtol: float = RANK_RTOL) -> Rank:
    """The rank rule on singular values ``s`` in decreasing order: those above
    ``rtol`` times the largest count (for a caller that needs the SVD's vectors
    too and factors the matrix itself)."""
    if len(s) == 0:
        return Rank(0, 0.0, None, s)
    top = s[0].item()
    if top == 0.0:
        return Rank(0, 0.0, 0.0, s)
    rel = (s / top).cpu()
    r = int((rel > rtol).sum())
    kept = rel[r - 1].item() if r > 0 else 0.0
    dropped = rel[r].item() if r < len(rel) else None
    return Rank(r, kept, dropped, rel)


# rows factorized at a time by RowSpace: the projections are matrix products and
# the SVDs stay small; 256 measured fastest on 2 cores for D of a few thousand
BLOCK = 256


class RowSpace:
    """The row space of fields added block by block: the incremental rank.

    Each block's rows are unit-normalized, projected onto the orthogonal complement
    of the directions kept so far (twice, so the basis stays orthonormal to round-
    off), and only that residual is factorized: one small SVD per block instead of
    an SVD of the whole stack. A residual singular value counts as a new direction
    when it exceeds ``rtol`` times the largest singular value of the first block.

    The two ways of deciding agree in exact arithmetic. Numerically, the
    incremental ``kept`` of a block is the weakest *new* direction it adds (its
    distance from the span of the earlier blocks), and ``dropped`` the strongest
    residual it leaves out; a stacked SVD reports the smallest singular value of
    the whole stack instead, which mixes the blocks' weakest directions together.

    Args:
        dim: ``D``, the length of a row.
        rtol: relative threshold of a kept singular value.
        block: rows factorized at a time; a larger :meth:`add` is split into
            blocks, so the work is mostly matrix products (block Gram-Schmidt)
            and SVDs of ``block`` rows.
    """

    def __init__(self, dim: int, rtol: float = RANK_RTOL, block: int = BLOCK):
        self.dim = int(dim)
        self.rtol = rtol
        self.block = int(block)
        self.basis: torch.Tensor | None = None  # (rank, D), orthonormal rows
        self.scale: float | None = None
        self._kept, self._dropped = math.inf, None

    @property
    def rank(self) -> int:
        """Directions kept so far."""
        return 0 if self.basis is None else len(self.basis)

    def residual(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows (n, D)`` normalized, minus their projection on the basis."""
        u = normalized_rows(rows)
        if self.rank:
            # classical Gram-Schmidt twice ("twice is enough")
            for _ in range(2):
                u = u - (u @ self.basis.T) @ self.basis
        return u

    def add(self, rows: torch.Tensor) -> Rank:
        """Add a block ``rows (n, D)``.

        Returns the :class:`Rank` of the stack so far: ``rank`` counts every kept
        direction, ``kept`` is the weakest direction kept in any block and
        ``dropped`` the strongest residual left out of any block, both relative to
        the first block's largest singular value; ``singular_values`` are this
        block's residual ones.
        """
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(
                f"expected rows of shape (n, {self.dim}), got {tuple(rows.shape)}"
            )
        if self.basis is None:
            self.basis = rows.new_zeros((0, self.dim))
        if len(rows) == 0:
            return self._so_far(rows.new_zeros(0).cpu())
        spectrum = [self._add_block(b) for b in rows.split(self.block)]
        rel = torch.cat(spectrum).sort(descending=True).values
        if self.scale is None:  # nothing but zero rows yet
            return Rank(0, 0.0, 0.0, rel)
        return self._so_far(rel)

    def _add_block(self, rows: torch.Tensor) -> torch.Tensor:
        _, s, vh = torch.linalg.svd(self.residual(rows), full_matrices=False)
        if self.scale is None and s[0].item() > 0.0:
            self.scale = s[0].item()
        if self.scale is None:
            return s.cpu()
        rel = (s / self.scale).cpu()
        new = int((rel > self.rtol).sum())
        self.basis = torch.cat([self.basis, vh[:new]])
        if new > 0:
            self._kept = min(self._kept, rel[new - 1].item())
        if new < len(rel):
            self._dropped = max(self._dropped or 0.0, rel[new].item())
        return rel

    def _so_far(self, singular_values: torch.Tensor) -> Rank:
        kept = self._kept if self.rank else 0.0
        return Rank(self.rank, kept, self._dropped, singular_values)
