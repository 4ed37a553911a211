"""Marcotte, Gribonval and Peyré's published check, redone with the certificate.

They drew random linear networks (2 to 4 weight layers, widths 2 to 5) and random
ReLU networks (2 to 4 weight layers, widths 2 to 9, biases half of the time) and
found, with an exact SageMath computation, that each has exactly the known number
of laws. Their ReLU fields are the gradients of all path products, i.e. every
activation pattern counts as realizable; :class:`~conslaw.models.MaskedFFN` is that
setting. :func:`relu_realizable_row` asks the sharper question of a ReLU net on
inputs in ``R^d`` at one generic point, where some patterns cannot occur.
"""

from __future__ import annotations

import random
import time

from ..certificate import certify, dead_or_linear_units
from ..models import FFN, MaskedFFN

# their ranges
LINEAR_DEPTHS, LINEAR_WIDTHS = (2, 4), (2, 5)
RELU_DEPTHS, RELU_WIDTHS = (2, 4), (2, 9)


def random_architectures(kind: str, count: int = 50, seed: int = 0):
    """``count`` random ``(widths, bias)`` pairs in their ranges, reproducibly."""
    if kind not in ("linear", "relu"):
        raise ValueError(f"expected kind 'linear' or 'relu', got {kind!r}")
    rng = random.Random(f"{kind}-{seed}")
    depths, widths = (
        (LINEAR_DEPTHS, LINEAR_WIDTHS)
        if kind == "linear"
        else (RELU_DEPTHS, RELU_WIDTHS)
    )
    out = []
    for _ in range(count):
        depth = rng.randint(*depths)
        w = [rng.randint(*widths) for _ in range(depth + 1)]
        bias = kind == "relu" and rng.random() < 0.5
        out.append((w, bias))
    return out


def _row(kind, widths, bias, cert) -> dict:
    return {
        "kind": kind,
        "widths": "-".join(map(str, widths)),
        "bias": bias,
        "D": cert.parameters,
        "predicted": cert.predicted,
        "certified": cert.certified,
        "complete": cert.complete,
        "status": cert.status,
        "gap": cert.gap,
        "levels": len(cert.levels) - 1,
        "seconds": cert.seconds,
    }


def marcotte_sweep(count: int = 50, seed: int = 0) -> list[dict]:
    """Certify ``count`` random linear and ``count`` random ReLU architectures.

    ReLU networks are certified in the path-lifting setting of the original check
    (every activation pattern realizable). Returns one row per architecture.
    """
    rows = []
    for kind in ("linear", "relu"):
        for i, (widths, bias) in enumerate(random_architectures(kind, count, seed)):
            model = (
                FFN(widths, "linear", bias=False)
                if kind == "linear"
                else MaskedFFN(widths, bias=bias)
            )
            rows.append(_row(kind, widths, bias, certify(model, seed=seed + i)))
    return rows


def relu_realizable_row(widths, bias, seed: int = 0, max_tries: int = 200) -> dict:
    """Certify a ReLU net on inputs in ``R^d`` at a point where every unit switches.

    When no such point turns up in ``max_tries`` draws, the row says so
    (``status = "no switching point"``) instead of certifying a degenerate point.
    """
    from ..certificate import generic_point

    model = FFN(widths, "relu", bias=bias)
    start = time.perf_counter()
    try:
        params, _ = generic_point(model, seed, max_tries=max_tries)
    except RuntimeError:
        return {
            "kind": "relu on R^d",
            "widths": "-".join(map(str, widths)),
            "bias": bias,
            "D": model.num_parameters,
            "predicted": None,
            "certified": None,
            "complete": False,
            "status": "no switching point",
            "gap": None,
            "levels": None,
            "seconds": time.perf_counter() - start,
        }
    row = _row("relu on R^d", widths, bias, certify(model, params, seed=seed))
    row["seconds"] = time.perf_counter() - start
    return row


def raw_point_counts(widths, bias: bool, seeds) -> list[dict]:
    """Laws certified at raw standard-normal points, beside the units that never
    switch there (DESIGN §4: a 3-3-4-2 ReLU net shows 7, 8, 10 or 17)."""
    model = FFN(widths, "relu", bias=bias)
    rows = []
    for s in seeds:
        params = model.init(s)
        cert = certify(model, params, seed=s)
        rows.append(
            {
                "seed": s,
                "stuck units": dead_or_linear_units(model, params, (0.3, 1.0, 3.0)),
                "certified": cert.certified,
                "predicted": cert.predicted,
                "status": cert.status,
            }
        )
    return rows
