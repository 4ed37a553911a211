"""Full-batch gradient descent with law tracking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import grad

from ..data import Dataset
from ..device import resolve_device
from ..models.base import FunctionalModel, Params
from .flow import full_batch_loss
from .tracking import Tracked, stack_tracked


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
    dev = resolve_device(device)
    data = data.to(dev)
    theta = model.flatten(params).detach().to(dev, torch.float64)
    objective = full_batch_loss(model, data, loss)
    gradient = grad(objective)
    schedule = lr if callable(lr) else (lambda k: lr)

    recorded, thetas, rows, losses = [], [], [], []

    def record(k, th):
        recorded.append(k)
        thetas.append(th)
        losses.append(objective(th))
        if track:
            rows.append(track(model.unflatten(th)))

    with torch.no_grad():
        record(0, theta)
        for k in range(steps):
            theta = theta - schedule(k) * gradient(theta)
            if (k + 1) % every == 0 or k + 1 == steps:
                record(k + 1, theta)
    return DescentResult(
        torch.tensor(recorded),
        torch.stack(losses),
        stack_tracked(rows) if rows else {},
        torch.stack(thetas),
    )
