"""Fields and brackets sampled level by level, with the rank after each level.

Shared by :func:`~conslaw.certificate.certify` (which stops at the rank
``D − predicted``) and :func:`~conslaw.discovery.count_laws` (which stops at
``D``): both stop early when a bracket level adds no rank.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from ..models.base import FunctionalModel
from .fields import sample_fields
from .rank import Rank, RowSpace, numerical_rank

# A sampled bracket whose cancellation ratio (see fields.py) is below this is
# round-off of a bracket that vanishes identically, and is left out of the rank.
CANCELLATION_TOL = 1e-10

# extra fields drawn at every level beyond the rank still missing, so that the
# stacked matrix always has dropped singular values to show the gap with
OVERSAMPLE = 8


@dataclass
class Level:
    """What one bracket level added."""

    level: int
    fields: int
    vanished: int
    rank: int
    kept: float
    dropped: float | None
    # wall time of the level: sampling its fields and deciding the rank
    seconds: float = 0.0


@dataclass
class Levels:
    """Result of :func:`sample_levels`.

    ``blocks`` holds each level's kept fields ``(n_l, D)``; ``spectra`` the
    normalized singular values after each level (of the whole stack, or with a
    :class:`RowSpace` of each level's residual); ``rank`` the rank after the
    last level. ``reached`` is True when the loop stopped at the target rank,
    ``stalled`` when a bracket level added no rank.
    """

    blocks: list[torch.Tensor]
    levels: list[Level]
    spectra: list[list[float]]
    rank: Rank
    reached: bool = False
    stalled: bool = False


def sample_levels(
    model: FunctionalModel,
    theta: torch.Tensor,
    pool: torch.Tensor,
    *,
    seed: int,
    target: int,
    max_level: int,
    batch: int,
    scales: tuple[float, ...],
    chunk_size: int | None = None,
    space: RowSpace | None = None,
    stop_at_target: bool = True,
    context: Callable[[], AbstractContextManager] = contextlib.nullcontext,
) -> Levels:
    """Sample fields and brackets level by level until the rank stops growing.

    Level ``l`` draws ``max(target − rank, 0) + OVERSAMPLE`` fields of bracket
    depth ``l`` (:func:`~conslaw.certificate.sample_fields`), drops those whose
    cancellation ratio is below :data:`CANCELLATION_TOL`, and updates the rank.

    Args:
        model: a functional model.
        theta: the point ``(D,)`` (float64, on the device of the fields).
        pool: representatives of the activation regions ``(m, *in_shape)``.
        seed: seeds the sampled inputs and output weights (drawn on the CPU).
        target: the rank to stop at (``D − predicted``, or ``D``).
        max_level: deepest bracket level tried.
        batch: fresh inputs combined in one field.
        scales: input scales.
        chunk_size: passed to ``vmap`` to bound memory.
        space: with a :class:`RowSpace`, each level's fields are added to it
            (incremental rank); without, one SVD of the whole stack per level.
        stop_at_target: stop as soon as the rank reaches ``target``.
        context: a context manager factory entered around every sampling call
            (e.g. :func:`~conslaw.discovery.adapter.transformable`).

    Returns:
        a :class:`Levels`.

    Raises:
        ValueError: when ``max_level`` is negative.
    """
    if max_level < 0:
        raise ValueError(f"expected max_level >= 0, got {max_level}")
    gen = torch.Generator().manual_seed(10_007 * int(seed) + 1)
    blocks, levels, spectra = [], [], []
    rank: Rank | None = None
    reached = stalled = False
    for level in range(max_level + 1):
        level_start = time.perf_counter()
        previous = rank.rank if rank else 0
        n = max(target - previous, 0) + OVERSAMPLE
        with context():
            values, ratios = sample_fields(
                model,
                theta,
                level,
                n,
                gen,
                batch=batch,
                scales=scales,
                pool=pool,
                chunk_size=chunk_size,
            )
        alive = ratios > CANCELLATION_TOL
        blocks.append(values[alive])
        rank = (
            numerical_rank(torch.cat(blocks))
            if space is None
            else space.add(blocks[-1])
        )
        spectra.append(rank.singular_values.tolist())
        levels.append(
            Level(
                level,
                n,
                int((~alive).sum()),
                rank.rank,
                rank.kept,
                rank.dropped,
                time.perf_counter() - level_start,
            )
        )
        if stop_at_target and rank.rank >= target:
            reached = True
            break
        if level > 0 and rank.rank == previous:
            stalled = True
            break
    return Levels(blocks, levels, spectra, rank, reached=reached, stalled=stalled)


__all__ = [
    "CANCELLATION_TOL",
    "OVERSAMPLE",
    "Level",
    "Levels",
    "sample_levels",
]
