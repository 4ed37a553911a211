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


def grid_representatives(
    model, params, radii=(0.1, 1.0, 10.0, 100.0, 1000.0), resolution: int = 600
):
    """One input per activation pattern met on dense grids of a 2-D input space.

    The grid ``[-R, R]²`` at ``resolution²`` points for each radius ``R`` meets
    every region larger than the grid spacing, near the origin and far out.
    Returns ``(patterns, inputs)``.
    """
    import torch

    if model.in_shape != (2,):
        raise ValueError(
            f"a dense grid needs 2-D inputs, got in_shape {model.in_shape}"
        )
    reps, seen = [], set()
    for radius in radii:
        axis = torch.linspace(-radius, radius, resolution, dtype=torch.float64)
        x = torch.cartesian_prod(axis, axis)
        pattern = torch.cat([(z > 0) for z in model.kink_preactivations(params, x)], 1)
        unique, inverse = torch.unique(pattern, dim=0, return_inverse=True)
        first = torch.full((len(unique),), len(x), dtype=torch.long)
        first = first.scatter_reduce(0, inverse, torch.arange(len(x)), "amin")
        for row, i in zip(unique.tolist(), first.tolist()):
            key = tuple(row)
            if key not in seen:
                seen.add(key)
                reps.append(x[i])
    return len(seen), torch.stack(reps)


def dense_grid_row(widths, bias: bool, seed: int = 0, resolution: int = 600) -> dict:
    """Certify a ReLU net with 2-D inputs twice at the same switching point: with
    the probe's region representatives, then adding one input of every region
    that dense grids meet. Equal counts mean the excess is not a sampling gap."""
    from ..certificate import generic_point

    model = FFN(widths, "relu", bias=bias)
    params, _ = generic_point(model, seed)
    probe = certify(model, params, seed=seed)
    patterns, inputs = grid_representatives(model, params, resolution=resolution)
    grid = certify(model, params, seed=seed, inputs=inputs)
    return {
        "widths": "-".join(map(str, widths)),
        "bias": bias,
        "D": model.num_parameters,
        "predicted": probe.predicted,
        "certified (probe)": probe.certified,
        "grid patterns": patterns,
        "certified (probe + grid)": grid.certified,
        "status": grid.status,
    }
