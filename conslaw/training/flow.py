"""Gradient flow ``θ' = −∇L(θ)`` with an adaptive float64 solver (torchdiffeq)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.func import grad
from torchdiffeq import odeint

from ..data import Dataset
from ..device import resolve_device
from ..models.base import FunctionalModel, Params
from .losses import loss_fn
from .tracking import Tracked, stack_tracked

# torchdiffeq's adaptive Runge–Kutta methods, which accept a step limit
ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


@dataclass
class FlowResult:
    """A solved gradient flow, sampled at ``t (T,)``.

    ``loss (T,)``; ``tracked[name] (T, ...)`` for every tracked quantity;
    ``integrals[name] (T, ...)`` for every rate integrated beside the flow.
    """

    t: torch.Tensor
    loss: torch.Tensor
    tracked: dict[str, torch.Tensor]
    integrals: dict[str, torch.Tensor]
    thetas: torch.Tensor
    evaluations: int


def full_batch_loss(model: FunctionalModel, data: Dataset, loss: str | Callable):
    """``θ ↦ L(θ)`` on the whole data set (flat parameters)."""
    fn = loss_fn(loss)

    def objective(theta):
        return fn(model.apply_flat(theta, data.x), data.y)

    return objective


def full_batch_start(
    model: FunctionalModel,
    params: Params,
    data: Dataset,
    loss: str | Callable,
    device: str = "auto",
) -> tuple[torch.device, Dataset, torch.Tensor, Callable]:
    """The set-up of a float64 full-batch trajectory.

    Returns:
        the device, the data on it (floating inputs in float64), the flat start
        ``θ₀ (D,)`` (float64) and the full-batch loss ``θ ↦ L(θ)``.
    """
    dev = resolve_device(device)
    data = data.to(dev, torch.float64)
    theta0 = model.flatten(params).detach().to(dev, torch.float64)
    return dev, data, theta0, full_batch_loss(model, data, loss)


def along_trajectory(
    model: FunctionalModel,
    objective: Callable,
    thetas,
    track: Tracked | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss and the tracked quantities at the points of a trajectory.

    Args:
        model: the network; objective: ``θ ↦ L(θ)``.
        thetas: the points, a ``(S, D)`` tensor or a list of ``(D,)`` tensors.
        track: ``params -> {name: tensor}``, or None.

    Returns:
        ``loss (S,)`` and ``{name: (S, ...)}`` (empty without ``track``).
    """
    with torch.no_grad():
        losses = torch.stack([objective(th) for th in thetas])
        tracked = (
            stack_tracked([track(model.unflatten(th)) for th in thetas])
            if track
            else {}
        )
    return losses, tracked


def gradient_flow(
    model: FunctionalModel,
    params: Params,
    data: Dataset,
    *,
    loss: str | Callable = "cross-entropy",
    t_final: float = 10.0,
    points: int = 50,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    method: str = "dopri5",
    track: Tracked | None = None,
    rates: Mapping[str, Callable[[Params], torch.Tensor]] | None = None,
    max_steps: int = 200_000,
    weight_decay: float = 0.0,
    device: str = "auto",
) -> FlowResult:
    """Integrate gradient flow from ``params`` in float64 and follow quantities.

    Args:
        model, params, data: the network, its start and the full-batch data.
        loss: ``"cross-entropy"``, ``"square"`` or a function ``(out, y) -> loss``.
        t_final, points: solve on ``[0, t_final]``, report at ``points`` times.
        rtol, atol: the adaptive solver's tolerances; a conserved quantity moves by
            about this much relative to its size.
        track: ``params -> {name: tensor}`` evaluated at the reported times.
        rates: ``{name: params -> tensor}`` integrated in time beside the flow
            (``I' = rate(θ)``), so that a predicted rate of change can be compared
            with the change itself at the solver's accuracy.
        max_steps: the solver gives up after this many steps (between two
            reported times) with a RuntimeError. Adaptive solvers crawl across the
            kinks of ReLU units, so a ReLU net may need a looser ``rtol`` or
            gradient descent instead.
        weight_decay: ``λ`` of the flow ``θ' = −∇L(θ) − λθ``, the continuous
            limit of gradient descent with weight decay (0: plain gradient flow).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
    """
    if not weight_decay >= 0:
        raise ValueError(f"expected weight_decay >= 0, got {weight_decay!r}")
    dev, data, theta0, objective = full_batch_start(model, params, data, loss, device)
    gradient = grad(objective)
    rates = dict(rates or {})
    D = theta0.numel()

    # the state is θ followed by the integrals of the rates, flattened
    sizes = {k: r(model.unflatten(theta0)).numel() for k, r in rates.items()}
    calls = [0]

    def dynamics(t, state):
        calls[0] += 1
        theta = state[:D]
        velocity = -gradient(theta)
        if weight_decay:
            velocity = velocity - weight_decay * theta
        parts = [velocity]
        p = model.unflatten(theta)
        parts += [rates[k](p).reshape(-1) for k in rates]
        return torch.cat(parts)

    state0 = torch.cat([theta0, theta0.new_zeros(sum(sizes.values()))])
    t = torch.linspace(0.0, t_final, points, dtype=torch.float64, device=dev)
    options = {"max_num_steps": max_steps} if method in ADAPTIVE else None
    try:
        states = odeint(
            dynamics, state0, t, rtol=rtol, atol=atol, method=method, options=options
        )
    except AssertionError as err:  # torchdiffeq reports a step limit this way
        raise RuntimeError(
            f"gradient flow of {model.describe()} stopped: {err}; loosen rtol "
            f"(now {rtol:g}), shorten t_final (now {t_final:g}) or raise max_steps"
        ) from None

    # read off the trajectory
    thetas = states[:, :D]
    integrals, start = {}, D
    for k, size in sizes.items():
        shape = rates[k](model.unflatten(theta0)).shape
        integrals[k] = states[:, start : start + size].reshape(points, *shape)
        start += size
    losses, tracked = along_trajectory(model, objective, thetas, track)
    return FlowResult(t, losses, tracked, integrals, thetas, calls[0])
