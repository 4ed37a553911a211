"""Generic parameter points and inputs that reach every region of a piecewise model.

For a model with kinks (ReLU units) the characterization quantifies over inputs in
every linear region, and some regions are tiny: in a 3-3-4-2 ReLU net a region met
by two inputs in 200,000 can carry a field that no other region gives. So the
certificate probes many inputs, keeps a representative of every activation pattern
it meets, and puts those representatives in every sampled field.
"""

from __future__ import annotations

import torch

from ..models.base import FunctionalModel, Params

# inputs drawn to find the activation patterns a point realizes (and to decide
# whether a unit switches); more probes find smaller regions
PROBE_INPUTS = 1 << 16

# representatives kept per activation pattern, and at most this many in all
PER_PATTERN = 2
MAX_POOL = 2048


def kinked_units(model: FunctionalModel, params: Params, x: torch.Tensor):
    """Pre-activations ``(batch, units)`` of every unit with a kink (ReLU units).

    Empty when the model has no piecewise-linear unit.
    """
    hook = getattr(model, "kink_preactivations", None)
    return [] if hook is None else hook(params, x)


def _probe(model, scales, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(int(seed))
    return model.sample_inputs(PROBE_INPUTS, gen, scales, dtype=dtype)


def has_kinks(model: FunctionalModel, params: Params) -> bool:
    """Whether ``model`` has piecewise-linear units, asked on a single input."""
    if getattr(model, "kink_preactivations", None) is None:
        return False
    x = model.sample_inputs(1, torch.Generator().manual_seed(0))
    return len(kinked_units(model, params, x)) > 0


def _stuck(model, params, x) -> int:
    bad = 0
    for z in kinked_units(model, params, x):
        on = (z > 0).any(0)
        off = (z < 0).any(0)
        bad += int((~(on & off)).sum())
    return bad


def dead_or_linear_units(model, params, scales, seed: int = 0) -> int:
    """How many kinked units never switch on the probe inputs: always active
    (they act linearly) or never active (their weights are trivially conserved)."""
    if not has_kinks(model, params):
        return 0
    return _stuck(model, params, _probe(model, scales, seed))


def _pattern_keys(pattern: torch.Tensor) -> torch.Tensor:
    """Boolean patterns ``(n, units)`` packed into int64 words ``(n, words)``
    whose lexicographic order is that of the boolean rows (63 bits a word, the
    first unit the most significant bit), so that ``unique`` sorts them alike."""
    n, units = pattern.shape
    words = max(1, -(-units // 63))
    padded = torch.zeros((n, words * 63), dtype=torch.int64)
    padded[:, :units] = pattern.to(torch.int64)
    weights = 2 ** torch.arange(62, -1, -1, dtype=torch.int64)  # (63,)
    return (padded.reshape(n, words, 63) * weights).sum(-1)


def pattern_groups(model, params, x: torch.Tensor) -> torch.Tensor | None:
    """The activation pattern of each input ``x (n, *in_shape)`` as a group index
    ``(n,)`` (equal indices, equal patterns); None when the model has no kinks."""
    zs = kinked_units(model, params, x)
    if not zs:
        return None
    pattern = torch.cat([(z > 0).reshape(len(x), -1) for z in zs], 1)
    keys = _pattern_keys(pattern)
    if keys.shape[1] == 1:  # one word: the much faster 1-D unique
        return torch.unique(keys[:, 0], return_inverse=True)[1]
    return torch.unique(keys, dim=0, return_inverse=True)[1]


def probe_inputs(model: FunctionalModel, scales, seed: int = 0) -> torch.Tensor:
    """The inputs the certificate probes activation patterns with at ``seed``."""
    return _probe(model, scales, seed)


def region_pool(model, params, scales, seed: int = 0) -> torch.Tensor:
    """Representative inputs of every activation pattern met by the probe.

    Returns ``(n, *in_shape)``, empty when the model has no kinks.
    """
    if not has_kinks(model, params):
        return model.sample_inputs(0, torch.Generator().manual_seed(int(seed)))
    x = _probe(model, scales, seed)
    inverse = pattern_groups(model, params, x)
    # the first PER_PATTERN probes of each pattern, in probe order
    order = torch.argsort(inverse, stable=True)
    sorted_inv = inverse[order]
    rank_in_group = torch.arange(len(order)) - torch.searchsorted(
        sorted_inv, sorted_inv
    )
    mask = rank_in_group < PER_PATTERN
    # first representatives of all patterns before second ones, then the cap
    keep = order[mask][torch.argsort(rank_in_group[mask], stable=True)]
    return x[keep[:MAX_POOL]]


def generic_point(
    model: FunctionalModel,
    seed: int = 0,
    *,
    scales: tuple[float, ...] = (0.3, 1.0, 3.0),
    max_tries: int = 1000,
) -> tuple[Params, int]:
    """A standard-normal point at which every kinked unit switches.

    Returns the parameters and the number of draws it took. Draw ``t`` uses seed
    ``seed * max_tries + t`` so that different seeds never share draws.
    """
    probe = None
    for t in range(max_tries):
        params = model.init(seed * max_tries + t)
        if t == 0 and not has_kinks(model, params):
            return params, 1
        if probe is None:
            probe = _probe(model, scales, seed)  # the same inputs for every draw
        if _stuck(model, params, probe) == 0:
            return params, t + 1
    raise RuntimeError(
        f"no draw of {model.describe()} in {max_tries} had every unit switching; "
        "pass params= explicitly, or widen the input scales"
    )
