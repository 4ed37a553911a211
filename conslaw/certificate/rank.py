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
    s = torch.linalg.svdvals(normalized_rows(rows))
    top = s[0].item()
    if top == 0.0:
        return Rank(0, 0.0, 0.0, s)
    rel = (s / top).cpu()
    r = int((rel > rtol).sum())
    kept = rel[r - 1].item() if r > 0 else 0.0
    dropped = rel[r].item() if r < len(rel) else None
    return Rank(r, kept, dropped, rel)
