"""Following laws along a trajectory, and the paper's relative deviation."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

Tracked = Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]


def relative_deviation(
    values: Mapping[str, torch.Tensor], floor: float = 1e-12
) -> torch.Tensor:
    """The paper's Eq. 10: ``ε(k) = (1/N) Σ_i ‖h_i(θ_k) − h_i(θ_0)‖ / ‖h_i(θ_0)‖``.

    Args:
        values: per law block ``i``, its values along the trajectory, shape
            ``(steps, ...)`` with step 0 the start.
        floor: lower bound on ``‖h_i(θ_0)‖``, so that a block that starts at 0
            (a balanced initialization) does not divide by zero.

    Returns:
        ``ε`` at every step, shape ``(steps,)``.
    """
    if not values:
        raise ValueError("expected at least one law block, got none")
    terms = []
    for v in values.values():
        flat = v.reshape(len(v), -1)
        ref = flat[0].norm().clamp_min(floor)
        terms.append((flat - flat[0]).norm(dim=1) / ref)
    return torch.stack(terms).mean(0)


def stack_tracked(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``[{name: value}, ...]`` along a trajectory to ``{name: (steps, ...)}``."""
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
