"""Where a computation runs: the torch device (``cuda`` when present unless the
caller says otherwise), the floating dtype and the CPU threads."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


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


def resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """``"float64"`` or ``"float32"`` (or the torch dtype) to a torch dtype; float32
    warns that the laws are then checked in float32."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(
                f"unknown dtype {dtype!r}: expected one of {', '.join(DTYPES)}"
            )
        dtype = DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise TypeError(f"expected torch.float64 or torch.float32, got {dtype!r}")
    if dtype == torch.float32:
        warnings.warn(
            f"training in float32 on {device}: the laws are checked in float32, "
            "where round-off alone moves them by ~1e-7 per step; use float64 to "
            "see deviations below that",
            RuntimeWarning,
            stacklevel=3,
        )
    return dtype


@contextmanager
def cpu_threads(n: int | None):
    """Run the block with ``n`` intra-op CPU threads (unchanged for ``None``).

    Tiny models gain nothing from intra-op threads, and on a loaded machine the
    threads' synchronization can cost more than the work (a 32×16 matmul took
    25× longer on 2 busy cores with 2 threads than with 1).
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


__all__ = ["DEVICES", "DTYPES", "cpu_threads", "resolve_device", "resolve_dtype"]
