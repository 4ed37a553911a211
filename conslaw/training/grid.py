"""A grid of training runs: its record (:class:`GridResult`) and its mini-batches,
drawn per run from a generator seeded by the run's seed alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .tracking import relative_deviation


def draw_batch(data, idx: torch.Tensor):
    """Examples ``idx (..., B)`` of ``data``: a Dataset (``x``, ``y``) or any
    object with a ``batch(idx)`` method (token windows)."""
    if hasattr(data, "batch"):
        return data.batch(idx)
    return data.x[idx], data.y[idx]


class BatchSampler:
    """One generator per run, seeded by the run's seed only: the same seed draws
    the same mini-batches whatever the learning rate or the other runs."""

    def __init__(self, seeds: Sequence[int], n: int, batch_size: int):
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.n, self.batch_size = n, batch_size

    def __call__(self) -> torch.Tensor:
        """Indices ``(runs, batch_size)`` for the next step."""
        return torch.stack(
            [torch.randint(self.n, (self.batch_size,), generator=g) for g in self.gens]
        )


@dataclass
class GridResult:
    """A trained grid: run ``r`` has learning rate ``lrs[r]`` and seed ``seeds[r]``.

    ``steps (S,)``: the recorded steps (0 first). ``loss (R, S)``: the mean
    mini-batch loss over the steps since the previous record (at step 0, the loss
    of the first mini-batch at the start). ``tracked[group][law] (R, S, ...)``: each
    law block's values.
    """

    lrs: list[float]
    seeds: list[int]
    steps: torch.Tensor
    loss: torch.Tensor
    tracked: dict[str, dict[str, torch.Tensor]]
    seconds: float
    device: str
    dtype: str
    optimizer: str
    settings: dict = field(default_factory=dict)

    def deviation(self, group: str) -> torch.Tensor:
        """The paper's Eq. 10 for one group, every run: shape ``(R, S)``."""
        if group not in self.tracked:
            raise ValueError(
                f"unknown law group {group!r}: expected one of {sorted(self.tracked)}"
            )
        values = self.tracked[group]
        return torch.stack(
            [
                relative_deviation({k: v[r] for k, v in values.items()})
                for r in range(len(self.lrs))
            ]
        )

    def select(self, lr: float) -> list[int]:
        """Indices of the runs with learning rate ``lr``."""
        return [r for r, v in enumerate(self.lrs) if math.isclose(v, lr)]

    def to_dict(self) -> dict:
        """Settings and curves (loss and ε per group, every run), JSON-ready."""
        return {
            "settings": dict(self.settings),
            "lrs": list(self.lrs),
            "seeds": list(self.seeds),
            "steps": self.steps.tolist(),
            "loss": self.loss.tolist(),
            "deviation": {g: self.deviation(g).tolist() for g in self.tracked},
            "seconds": self.seconds,
            "device": self.device,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
        }


__all__ = ["BatchSampler", "GridResult", "draw_batch"]
