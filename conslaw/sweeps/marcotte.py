"""Marcotte, Gribonval and Peyré's published check, redone with the certificate.

They drew random linear networks (2 to 4 weight layers, widths 2 to 5) and random
ReLU networks (2 to 4 weight layers, widths 2 to 9, biases half of the time) and
found, with an exact SageMath computation, that each has exactly the known number
of laws. Their ReLU fields are the gradients of all path products, i.e. every
activation pattern counts as realizable; :class:`~conslaw.models.MaskedFFN` is that
setting. :func:`relu_realizable_row` asks the sharper question of a ReLU net on
inputs in ``R^d`` at one generic point, where some patterns cannot occur.

Where a ReLU net on ``R^d`` keeps more laws than the rescaling ones,
:func:`excess_accounting` names the reasons it can see: units that never switch,
and *idle parameters*, whose gradient vanishes on every input the probe met (each
is trivially conserved).
"""

from __future__ import annotations

import random
import time

import torch
from torch.func import jacrev, vmap

from ..certificate import certify, points
from ..certificate.points import kinked_units, pattern_groups
from ..models import FFN, MaskedFFN

# their ranges
LINEAR_DEPTHS, LINEAR_WIDTHS = (2, 4), (2, 5)
RELU_DEPTHS, RELU_WIDTHS = (2, 4), (2, 9)

# the certificate's default input scales, for the probes here to match its own
SCALES = (0.3, 1.0, 3.0)

# inputs per Jacobian in idle_parameters (inputs x outputs x D doubles each)
IDLE_CHUNK = 512

# a second look at an unexplained excess: a probe 16 times the certificate's, at
# wider scales, of which at most WIDE_EXTRA region representatives are added to
# every sampled field (each one costs a Jacobian row per field)
WIDE_PROBE = 1 << 20
WIDE_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
WIDE_EXTRA = 4096


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
    A row that is not complete also counts its idle parameters (``idle``, see
    :func:`idle_parameters`, on the certificate's probe); ``None`` otherwise.
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
            "idle": None,
            "seed": seed,
            "seconds": time.perf_counter() - start,
        }
    row = _row("relu on R^d", widths, bias, certify(model, params, seed=seed))
    row["idle"], row["seed"] = None, seed
    if not row["complete"]:  # only an excess needs accounting for
        reps = one_per_pattern(model, params, probe_inputs(model, seed))
        row["idle"] = int(idle_parameters(model, params, reps).sum())
    row["seconds"] = time.perf_counter() - start
    return row


def wider_probe_row(widths, bias, seed: int = 0, max_tries: int = 200) -> dict:
    """Certify the point of :func:`relu_realizable_row` again, adding
    representatives of the activation patterns met by a wider probe
    (``WIDE_PROBE`` inputs at ``WIDE_SCALES``, at most ``WIDE_EXTRA`` of them).

    A count that drops tells a probe that missed small regions from laws the
    network keeps.
    """
    from ..certificate import generic_point

    model = FFN(widths, "relu", bias=bias)
    params, _ = generic_point(model, seed, max_tries=max_tries)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    wide = model.sample_inputs(WIDE_PROBE, gen, WIDE_SCALES)
    reps = one_per_pattern(model, params, wide)
    cert = certify(model, params, seed=seed, inputs=reps[:WIDE_EXTRA])
    return {
        "widths": "-".join(map(str, widths)),
        "bias": bias,
        "patterns (probe)": len(
            one_per_pattern(model, params, probe_inputs(model, seed))
        ),
        "patterns (wider)": len(reps),
        "predicted": cert.predicted,
        "certified (wider)": cert.certified,
        "gap": cert.gap,
        "status": cert.status,
    }


def idle_parameters(model, params, inputs: torch.Tensor) -> torch.Tensor:
    """Which parameters no output depends on at any of ``inputs``.

    A parameter whose gradient ``∂f_k(θ, x)/∂θ_i`` is exactly zero for every
    output ``k`` and every input ``x`` given is trivially conserved as long as no
    other input reaches it. In a ReLU net the test depends only on the
    activation patterns, so one representative per pattern (``region_pool``)
    decides it for every input of that pattern (see :func:`one_per_pattern`).

    Args:
        model: a functional model.
        params: the point ``θ``.
        inputs: ``(n, *in_shape)`` inputs, float64.

    Returns:
        a boolean tensor ``(D,)``, True for an idle parameter.
    """
    if len(inputs) == 0:
        raise ValueError(
            "expected at least one input to test parameters against, got none"
        )
    theta = model.flatten(params).detach().to(torch.float64)

    def output(th, x):
        return model.apply_flat(th, x[None]).reshape(-1)

    jac = vmap(jacrev(output), (None, 0))
    peak = torch.zeros_like(theta)
    for chunk in inputs.split(IDLE_CHUNK):
        peak = torch.maximum(peak, jac(theta, chunk).abs().amax((0, 1)))
    # exact zeros: a ReLU's zero derivative multiplies to an exact 0.0
    return peak == 0


def one_per_pattern(model, params, inputs: torch.Tensor) -> torch.Tensor:
    """The first of ``inputs`` in each activation pattern they meet, uncapped
    (``region_pool`` keeps at most ``MAX_POOL``). ``(patterns, *in_shape)``;
    all of ``inputs`` when the model has no kinks."""
    inverse = pattern_groups(model, params, inputs)
    if inverse is None:
        return inputs
    first = torch.full((int(inverse.max()) + 1,), len(inputs), dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(len(inputs)), "amin")
    return inputs[first.sort().values]


def probe_inputs(model, seed: int = 0) -> torch.Tensor:
    """The certificate's probe inputs for ``seed`` (``PROBE_INPUTS`` of them, at
    its default scales)."""
    return points.probe_inputs(model, SCALES, seed)


def unit_states(model, params, inputs: torch.Tensor) -> list[dict]:
    """Per hidden layer, how many kinked units never switch on ``inputs``:
    ``never`` active (dead: every parameter of the unit is idle) or ``always``
    active (the unit acts linearly)."""
    out = []
    for z in kinked_units(model, params, inputs):
        z = z.reshape(len(inputs), -1)
        out.append(
            {
                "never": int((~(z > 0).any(0)).sum()),
                "always": int((~(z < 0).any(0)).sum()),
            }
        )
    return out


def excess_accounting(model, params, seed: int = 0) -> dict:
    """The laws a ReLU net keeps beyond its rescaling laws, as far as simple
    degeneracies explain them.

    Three rules, each an exhibited symmetry: an idle parameter (see
    :func:`idle_parameters`) is one law; a dead unit's rescaling law is a function
    of its idle parameters, so it counts once, not twice; ``k`` always-active
    units of one layer act as a linear layer of width ``k``, whose ``k(k + 1)/2``
    laws ``W Wᵀ − AᵀA`` replace their ``k`` rescaling laws.

    Returns:
        ``never``, ``always`` (units, summed over layers), ``idle`` (parameters),
        all on the certificate's probe inputs for ``seed``, and ``beyond``, the
        laws these rules add to the rescaling ones.
    """
    probe = probe_inputs(model, seed)
    states = unit_states(model, params, probe)
    idle = int(
        idle_parameters(model, params, one_per_pattern(model, params, probe)).sum()
    )
    never = sum(s["never"] for s in states)
    always = sum(s["always"] for s in states)
    pairs = sum(s["always"] * (s["always"] - 1) // 2 for s in states)
    return {
        "never": never,
        "always": always,
        "idle": idle,
        "beyond": idle - never + pairs,
    }


def raw_point_counts(widths, bias: bool, seeds) -> list[dict]:
    """Laws certified at raw standard-normal points, beside what
    :func:`excess_accounting` explains (DESIGN §4: a 3-3-4-2 ReLU net shows 7,
    8, 10 or 17)."""
    model = FFN(widths, "relu", bias=bias)
    rows = []
    for s in seeds:
        params = model.init(s)
        cert = certify(model, params, seed=s)
        acc = excess_accounting(model, params, seed=s)
        rows.append(
            {
                "seed": s,
                "never active": acc["never"],
                "always active": acc["always"],
                "idle parameters": acc["idle"],
                "predicted": cert.predicted,
                "accounted": cert.predicted + acc["beyond"],
                "certified": cert.certified,
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
    that dense grids meet. Equal counts mean the excess is not a sampling gap.
    ``idle (probe + grid)`` counts the parameters that no input of either
    reaches (see :func:`idle_parameters`)."""
    from ..certificate import generic_point

    model = FFN(widths, "relu", bias=bias)
    params, _ = generic_point(model, seed)
    probe = certify(model, params, seed=seed)
    patterns, inputs = grid_representatives(model, params, resolution=resolution)
    grid = certify(model, params, seed=seed, inputs=inputs)
    reps = one_per_pattern(model, params, probe_inputs(model, seed))
    idle = int(idle_parameters(model, params, torch.cat([reps, inputs])).sum())
    return {
        "widths": "-".join(map(str, widths)),
        "bias": bias,
        "D": model.num_parameters,
        "predicted": probe.predicted,
        "certified (probe)": probe.certified,
        "grid patterns": patterns,
        "certified (probe + grid)": grid.certified,
        "idle (probe + grid)": idle,
        "status": grid.status,
    }
