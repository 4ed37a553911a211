"""Choosing the torch device: ``cuda`` when present unless the caller says otherwise."""

from __future__ import annotations

import warnings

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str | torch.device = "auto") -> torch.device:
    """``"auto"`` gives ``cuda`` when available, else ``cpu``.

    Asking for ``cuda`` on a machine without it falls back to ``cpu`` with a
    warning, so that a chapter run with ``-p device cuda`` still completes.
    """
    name = str(requested)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            warnings.warn(
                f"device {name!r} was requested but CUDA is not available; "
                "running on the CPU",
                RuntimeWarning,
                stacklevel=2,
            )
            return torch.device("cpu")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(
        f"unknown device {name!r}: expected one of {', '.join(DEVICES)} (or cuda:N)"
    )
