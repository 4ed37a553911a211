"""Full-batch gradient descent with law tracking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import grad

from ..data import Dataset
from ..models.base import FunctionalModel, Params
from .flow import along_trajectory, full_batch_start
from .tracking import Tracked


@dataclass
class DescentResult:
    """Gradient descent sampled at ``steps (S,)``: ``loss (S,)``,
    ``tracked[name] (S, ...)`` and the parameters ``thetas (S, D)``."""

    steps: torch.Tensor
    loss: torch.Tensor
    tracked: dict[str, torch.Tensor]
    thetas: torch.Tensor


def gradient_descent(
    model: FunctionalModel,
    params: Params,
    data: Dataset,
    *,
    loss: str | Callable = "cross-entropy",
    lr: float | Callable[[int], float] = 0.1,
    steps: int = 100,
    every: int = 1,
    track: Tracked | None = None,
    device: str = "auto",
) -> DescentResult:
    """``θ_{k+1} = θ_k − τ_k ∇L(θ_k)``, with ``τ_k = lr`` or ``lr(k)``.

    Quantities are recorded every ``every`` steps and at the last step.
    """
    if steps < 1 or every < 1:
        raise ValueError(
            f"expected steps >= 1 and every >= 1, got steps={steps}, every={every}"
        )
    _, data, theta, objective = full_batch_start(model, params, data, loss, device)
    gradient = grad(objective)
    schedule = lr if callable(lr) else (lambda k: lr)

    recorded, thetas = [0], [theta]
    with torch.no_grad():
        for k in range(steps):
            theta = theta - schedule(k) * gradient(theta)
            if (k + 1) % every == 0 or k + 1 == steps:
                recorded.append(k + 1)
                thetas.append(theta)
    losses, tracked = along_trajectory(model, objective, thetas, track)
    return DescentResult(torch.tensor(recorded), losses, tracked, torch.stack(thetas))
