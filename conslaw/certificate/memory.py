"""How much memory a certificate needs, estimated before it runs.

The fields of level 0 alone are about ``D`` rows of ``D`` float64 values, and the
rank keeps a basis (or an SVD) of the same size, so a certificate's peak memory
grows like ``D²``: a 90,400-parameter network needs hundreds of gigabytes.
:func:`check_certificate_memory` refuses such a model in one line before any
work; :func:`~conslaw.certificate.certify` itself never refuses (a library call
runs what it is asked), the ``conslaw certify`` command calls the check first.
"""

from __future__ import annotations

import math
import os
import warnings

from ..models.base import FunctionalModel
from .certify import OVERSAMPLE, certificate_device
from .points import MAX_POOL, has_kinks

# Peak resident memory of certify() above the interpreter's (torch loaded, model
# built), in float64 values of D², measured with ru_maxrss on GELU networks:
# D = 2,480: 347 MB (7.1 D²), D = 4,910: 960 MB (5.0 D²), D = 7,330: 2,127 MB
# (4.9 D²), i.e. about 137 MB + 4.6 D² values. 5 D² plus FIXED_BYTES covers all
# three. The level-0 fields (D x D), their normalized copy and the basis of the
# rank (D x D) make up most of it.
FIELD_FACTOR = 5.0
FIXED_BYTES = 256 * 2**20

# Piecewise-linear models add the output weights of every field over the pool of
# activation-region representatives (at most MAX_POOL inputs): fields x (pool +
# batch) x outputs float64 values at level 0. Measured: ReLU 30-80-30 (D = 4,910,
# pool 2,048): 3,517 MB, estimated 3,640 MB.
BATCH = 4


def certificate_memory(model: FunctionalModel) -> int:
    """An estimate of the peak memory, in bytes, that ``certify(model)`` needs
    above an interpreter with torch loaded (a little above what was measured).

    Args:
        model: the model to certify; only its size, output shape and whether
            it has kinks are read (nothing is computed at its size).

    Returns:
        bytes: ``FIELD_FACTOR · 8 D² + FIXED_BYTES``, plus ``8 (D + OVERSAMPLE)
        (MAX_POOL + batch) · outputs`` for a piecewise-linear model.
    """
    D = int(model.num_parameters)
    total = FIELD_FACTOR * 8 * D * D + FIXED_BYTES
    if has_kinks(model, model.init(0)):
        outputs = math.prod(model.out_shape)
        total += 8 * (D + OVERSAMPLE) * (MAX_POOL + BATCH) * outputs
    return int(total)


def available_memory(device: str = "cpu") -> int | None:
    """Bytes free now: the GPU's free memory for a ``cuda`` device, else the
    machine's available physical pages (``SC_AVPHYS_PAGES``); None where the
    system does not say."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        return None
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    if pages < 0 or size < 0:
        return None
    return int(pages) * int(size)


def check_certificate_memory(
    model: FunctionalModel,
    *,
    limit_gb: float | None = None,
    device: str = "auto",
    fix: str = "pass a larger limit_gb",
) -> int:
    """Refuse a model whose certificate would not fit in memory.

    Args:
        model: the model to certify.
        limit_gb: the memory allowed, in GB (1e9 bytes); by default what
            :func:`available_memory` reports for the device ``certify`` would
            use (no check where that is unknown).
        device: as for ``certify``.
        fix: how to override, the end of the message (the command line says
            ``--max-memory-gb``).

    Returns:
        the estimate of :func:`certificate_memory`, in bytes.

    Raises:
        MemoryError: one line naming D, the estimate, the limit and the fix.
    """
    need = certificate_memory(model)
    with warnings.catch_warnings():  # the fallback warns again when certify runs
        warnings.simplefilter("ignore")
        where = str(certificate_device(model, device))
    if limit_gb is not None:
        limit = limit_gb * 1e9
        than = f"the limit of {limit_gb:.3g} GB given"
    else:
        limit = available_memory(where)
        than = f"the {(limit or 0) / 1e9:.3g} GB available on {where}"
    if limit is not None and need > limit:
        raise MemoryError(
            f"{model.describe()} has D = {model.num_parameters:,} parameters: its "
            f"certificate needs about {need / 1e9:.3g} GB (growing like D²), more "
            f"than {than}; certify smaller widths, or {fix}"
        )
    return need


__all__ = [
    "FIELD_FACTOR",
    "FIXED_BYTES",
    "available_memory",
    "certificate_memory",
    "check_certificate_memory",
]
