"""Offline data: scikit-learn's handwritten digits and teacher–student sets.

Nothing here downloads: the digits (1,797 images of 8×8 pixels) ship inside
scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .models.base import FunctionalModel


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x (n, *in)``, targets ``y`` (class indices ``(n,)`` or values)."""

    x: torch.Tensor
    y: torch.Tensor
    name: str

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device, dtype: torch.dtype | None = None) -> Dataset:
        """The data on ``device``; floating inputs also cast to ``dtype`` (if
        given)."""
        x = self.x.to(device)
        if dtype is not None and x.is_floating_point():
            x = x.to(dtype)
        return Dataset(x, self.y.to(device), self.name)


def digits(
    n: int | None = None,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    as_tokens: bool = False,
) -> Dataset:
    """scikit-learn's digits, each pixel standardized over the whole set.

    Args:
        n: how many images to keep (a seeded random subset); all 1,797 by default.
        seed: seeds the subset.
        dtype: of the inputs.
        as_tokens: return images as sequences of 8 rows of 8 pixels,
            ``x (n, 8, 8)``, for attention models; otherwise ``x (n, 64)``.

    Returns:
        a Dataset whose ``y (n,)`` holds the digit 0–9.

    Pixels that are constant over the set (the corners) standardize to 0.
    """
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = torch.tensor(raw.data, dtype=torch.float64)  # (1797, 64)
    y = torch.tensor(raw.target, dtype=torch.long)
    std = x.std(0)
    x = (x - x.mean(0)) / torch.where(std > 0, std, torch.ones_like(std))
    if n is not None:
        if not 1 <= n <= len(x):
            raise ValueError(
                f"expected 1 <= n <= {len(x)} digits, got n={n}; pass n=None for all"
            )
        gen = torch.Generator().manual_seed(int(seed))
        keep = torch.randperm(len(x), generator=gen)[:n]
        x, y = x[keep], y[keep]
    if as_tokens:
        x = x.reshape(-1, 8, 8)
    return Dataset(x.to(dtype), y, "digits")


def teacher_student(
    teacher: FunctionalModel,
    n: int,
    *,
    seed: int = 0,
    noise: float = 0.0,
    scales: tuple[float, ...] = (1.0,),
) -> tuple[Dataset, dict]:
    """Gaussian inputs labelled by a random teacher network.

    Returns the data set (``y = teacher(x) + noise · ε``, shape ``(n, *out)``) and
    the teacher's parameters.
    """
    gen = torch.Generator().manual_seed(int(seed))
    params = teacher.init(seed, scale="fan_in")
    x = teacher.sample_inputs(n, gen, scales)
    with torch.no_grad():
        y = teacher(params, x)
        if noise:
            y = y + noise * torch.randn(y.shape, generator=gen, dtype=y.dtype)
    return Dataset(x, y, "teacher-student"), params
