"""Images for the ViT: the digits (offline) and CIFAR-10 from a local folder.

CIFAR-10 is read in its "python version" format (``cifar-10-python.tar.gz``,
Krizhevsky 2009) unpacked under the data folder: ``cifar-10-batches-py/`` with the
pickled batches ``data_batch_1`` … ``data_batch_5`` and ``test_batch``, each a
dict with ``b"data"`` (10000 × 3072 uint8, channel-major) and ``b"labels"``.
Nothing is downloaded.
"""

from __future__ import annotations

import pickle

import torch

from .data import Dataset, digits
from .data_text import data_root, missing_data

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = ("test_batch",)
IMAGE_SETS = ("digits", "cifar10")


def cifar10(
    split: str = "train",
    *,
    data_dir=None,
    n: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """CIFAR-10 from ``data_root(data_dir)/cifar-10-batches-py``.

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        data_dir: the folder holding ``cifar-10-batches-py`` (default:
            ``$CONSLAW_DATA``, else the repository's ``data/``; see
            :func:`conslaw.data_text.data_root`).
        n: keep the first ``n`` images.
        dtype: of the inputs.

    Returns:
        ``x (n, 3, 32, 32)`` standardized per channel, ``y (n,)`` the class 0–9.

    Raises:
        FileNotFoundError: one line naming the missing file and how to get it.
    """
    names = {"train": CIFAR_TRAIN, "test": CIFAR_TEST}
    if split not in names:
        raise ValueError(f"unknown split {split!r}: expected 'train' or 'test'")
    folder = data_root(data_dir) / CIFAR_DIR
    xs, ys = [], []
    for name in names[split]:
        path = folder / name
        if not path.is_file():
            raise missing_data(
                "CIFAR-10",
                path,
                f"unpack cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/"
                f"cifar.html) into {folder.parent}",
            )
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        xs.append(torch.as_tensor(batch[b"data"], dtype=torch.uint8))
        ys.append(torch.as_tensor(batch[b"labels"], dtype=torch.long))
    x = torch.cat(xs).reshape(-1, 3, 32, 32).to(torch.float64) / 255
    y = torch.cat(ys)
    if n is not None:
        x, y = x[:n], y[:n]
    mean = x.mean((0, 2, 3), keepdim=True)
    std = x.std((0, 2, 3), keepdim=True).clamp_min(1e-12)
    return Dataset(((x - mean) / std).to(dtype), y, "cifar10")


def image_data(name: str = "digits", *, data_dir=None, dtype=torch.float64) -> Dataset:
    """Images ``(n, C, H, W)`` for the ViT: ``"digits"`` (1×8×8, offline) or
    ``"cifar10"`` (3×32×32, the training split, from disk)."""
    if name == "digits":
        d = digits(dtype=dtype)
        return Dataset(d.x.reshape(-1, 1, 8, 8), d.y, d.name)
    if name == "cifar10":
        return cifar10("train", data_dir=data_dir, dtype=dtype)
    raise ValueError(
        f"unknown image data {name!r}: expected one of {', '.join(IMAGE_SETS)}"
    )


__all__ = ["CIFAR_DIR", "IMAGE_SETS", "cifar10", "image_data"]
