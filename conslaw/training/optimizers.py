"""Discrete optimizers on a flat float64 parameter vector, and a trainer.

The update rules are written out here rather than taken from ``torch.optim`` so
that each line of the book's derivations has its line of code; the tests check
them against hand-computed steps and against ``torch.optim`` itself.

Conventions (those of ``torch.optim``):

- ``sgd``: ``θ ← θ − τ_k g`` (mini-batch or full-batch ``g``);
- ``momentum`` (heavy ball): ``v ← β v + g``, ``θ ← θ − τ_k v``, ``v₀ = 0``;
- ``adam``: ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``,
  ``θ ← θ − τ_k m̂ / (√v̂ + ε)`` with ``m̂ = m / (1 − β₁^k)``,
  ``v̂ = v / (1 − β₂^k)`` at step ``k = 1, 2, ...``.

Weight decay ``λ`` is *coupled* (``g ← g + λ θ`` before the rule, as the
``weight_decay`` argument of ``torch.optim.SGD`` and ``Adam``) or *decoupled*
(``θ ← (1 − τ_k λ) θ`` before the rule, as ``torch.optim.AdamW``). For plain SGD the
two coincide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..data import Dataset
from ..models.base import FunctionalModel, Params
from .flow import FlowResult, along_trajectory, full_batch_start, gradient_flow
from .losses import loss_fn
from .tracking import Tracked

OPTIMIZERS = ("sgd", "momentum", "adam")


# ----------------------------------------------------------------- update rules
def sgd_step(
    theta: torch.Tensor,
    g: torch.Tensor,
    lr: float,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> torch.Tensor:
    """One step of (stochastic) gradient descent.

    Args:
        theta: parameters ``(D,)``; g: the gradient at ``theta`` ``(D,)``.
        lr: the step ``τ``; weight_decay: ``λ``.
        decoupled: shrink ``θ`` by ``1 − τλ`` instead of adding ``λθ`` to ``g``
            (the same step in exact arithmetic).

    Returns:
        the new parameters ``(D,)``, same dtype.
    """
    if decoupled:
        return theta * (1 - lr * weight_decay) - lr * g
    return theta - lr * (g + weight_decay * theta)


def momentum_step(
    theta: torch.Tensor,
    velocity: torch.Tensor,
    g: torch.Tensor,
    lr: float,
    beta: float,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One heavy-ball step: ``v ← β v + g (+ λθ)``, ``θ ← θ − τ v``.

    ``decoupled=True`` keeps ``λ`` out of the velocity and shrinks ``θ`` by
    ``1 − τλ`` instead. Shapes ``(D,)``; returns ``(θ, v)``.
    """
    if decoupled:
        velocity = beta * velocity + g
        return theta * (1 - lr * weight_decay) - lr * velocity, velocity
    velocity = beta * velocity + (g + weight_decay * theta)
    return theta - lr * velocity, velocity


def adam_step(
    theta: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    k: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Adam step, with bias correction; ``decoupled=True`` is AdamW.

    Args:
        theta, m, v, g: parameters, first and second moments, gradient ``(D,)``.
        k: the step number, starting at 1 (the bias correction uses it).
        lr, betas, eps: ``τ``, ``(β₁, β₂)`` and ``ε`` as in ``torch.optim.Adam``.
        weight_decay, decoupled: ``λ``, coupled (Adam) or decoupled (AdamW).

    Returns:
        ``(θ, m, v)``, each ``(D,)``.
    """
    if k < 1:
        raise ValueError(f"Adam's step number starts at 1, got k={k}")
    b1, b2 = betas
    if decoupled:
        theta = theta * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * theta
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1**k)
    v_hat = v / (1 - b2**k)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


# ------------------------------------------------------------------ optimizer
def _check_unit(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(
            f"expected 0 <= {name} < 1, got {name}={value!r}: it is a decay rate"
        )


@dataclass(frozen=True)
class Optimizer:
    """An update rule with its hyper-parameters.

    ``name`` is one of :data:`OPTIMIZERS`; ``lr`` a number or a schedule
    ``k -> τ_k`` (``k = 0, 1, ...``); ``beta`` the heavy ball's momentum; ``betas``
    and ``eps`` Adam's; ``weight_decay`` ``λ``, ``decoupled`` as in the module
    docstring.
    """

    name: str = "sgd"
    lr: float | Callable[[int], float] = 0.1
    beta: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled: bool = False

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.name!r}: expected one of "
                f"{', '.join(OPTIMIZERS)}"
            )
        if not callable(self.lr) and not self.lr > 0:
            raise ValueError(
                f"expected a positive learning rate or a schedule k -> lr, "
                f"got lr={self.lr!r}"
            )
        _check_unit("beta", self.beta)
        _check_unit("betas[0]", self.betas[0])
        _check_unit("betas[1]", self.betas[1])
        if self.eps < 0 or self.weight_decay < 0:
            raise ValueError(
                f"expected eps >= 0 and weight_decay >= 0, got eps={self.eps!r}, "
                f"weight_decay={self.weight_decay!r}"
            )

    def lr_at(self, k: int) -> float:
        """The step ``τ_k`` of step ``k`` (from 0)."""
        return float(self.lr(k)) if callable(self.lr) else float(self.lr)

    def init(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The optimizer's state at the start: zero velocity or moments."""
        if self.name == "momentum":
            return {"velocity": torch.zeros_like(theta)}
        if self.name == "adam":
            return {"m": torch.zeros_like(theta), "v": torch.zeros_like(theta)}
        return {}

    def step(self, theta, g, state, k: int):
        """Apply step ``k`` (from 0): returns ``(θ, state)``."""
        lr, wd, dec = self.lr_at(k), self.weight_decay, self.decoupled
        if self.name == "sgd":
            return sgd_step(theta, g, lr, wd, dec), state
        if self.name == "momentum":
            theta, vel = momentum_step(
                theta, state["velocity"], g, lr, self.beta, wd, dec
            )
            return theta, {"velocity": vel}
        theta, m, v = adam_step(
            theta, state["m"], state["v"], g, k + 1, lr, self.betas, self.eps, wd, dec
        )
        return theta, {"m": m, "v": v}

    def describe(self) -> str:
        """One line naming the rule and its hyper-parameters."""
        lr = "schedule" if callable(self.lr) else f"{self.lr:g}"
        extra = {"momentum": f", β={self.beta:g}", "adam": f", β={self.betas}"}
        wd = ""
        if self.weight_decay:
            kind = "decoupled" if self.decoupled else "coupled"
            wd = f", λ={self.weight_decay:g} ({kind})"
        return f"{self.name}, lr={lr}{extra.get(self.name, '')}{wd}"


# -------------------------------------------------------------------- trainer
def _gradient(objective, theta: torch.Tensor) -> torch.Tensor:
    """``∇objective(θ)`` by reverse mode; plain autograd, which on small CPU
    networks costs a fraction of ``torch.func.grad``'s per-call overhead."""
    with torch.enable_grad():
        leaf = theta.detach().requires_grad_(True)
        (out,) = torch.autograd.grad(objective(leaf), leaf)
    return out


@dataclass
class TrainResult:
    """A discrete run sampled at ``steps (S,)``.

    ``loss (S,)`` on the full data set, ``tracked[name] (S, ...)``, the parameters
    ``thetas (S, D)``, the steps ``lrs (K,)`` used, and with
    ``keep_gradients=True`` the (mini-batch) gradients ``grads (K, D)`` of every
    step, without weight decay.
    """

    steps: torch.Tensor
    loss: torch.Tensor
    tracked: dict[str, torch.Tensor]
    thetas: torch.Tensor
    lrs: torch.Tensor
    grads: torch.Tensor | None = None
    optimizer: str = ""
    batch_size: int | None = field(default=None)


def train(
    model: FunctionalModel,
    params: Params,
    data: Dataset,
    optimizer: Optimizer,
    *,
    steps: int = 100,
    loss: str | Callable = "cross-entropy",
    batch_size: int | None = None,
    seed: int = 0,
    every: int = 1,
    track: Tracked | None = None,
    keep_gradients: bool = False,
    device: str = "auto",
) -> TrainResult:
    """Run ``optimizer`` for ``steps`` steps in float64 and follow quantities.

    The run happens on ``device``; the returned record is on the CPU.

    Args:
        model, params, data: the network, its start and the data.
        optimizer: the update rule (:class:`Optimizer`).
        steps: number of updates ``K``.
        loss: ``"cross-entropy"``, ``"square"`` or ``(out, y) -> loss``.
        batch_size: ``None`` for the full batch; otherwise each step draws this
            many examples without replacement, from a generator seeded by ``seed``.
        every: record every ``every`` steps (and the last one).
        track: ``params -> {name: tensor}`` at the recorded steps.
        keep_gradients: keep every step's gradient (needs ``every=1``).
        device: ``auto``, ``cpu`` or ``cuda``.
    """
    if steps < 1 or every < 1:
        raise ValueError(
            f"expected steps >= 1 and every >= 1, got steps={steps}, every={every}"
        )
    if keep_gradients and every != 1:
        raise ValueError(
            f"keep_gradients=True records every step: pass every=1, not {every}"
        )
    n = len(data)
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ValueError(
            f"expected 1 <= batch_size <= {n} (the data set's size), got "
            f"{batch_size}; pass batch_size=None for full-batch steps"
        )
    dev, data, theta, objective = full_batch_start(model, params, data, loss, device)
    fn = loss_fn(loss)

    def batch_grad(th, x, y):
        return _gradient(lambda t: fn(model.apply_flat(t, x), y), th)

    gen = torch.Generator().manual_seed(int(seed))
    state = optimizer.init(theta)

    recorded, thetas, grads, lrs = [0], [theta], [], []
    with torch.no_grad():
        for k in range(steps):
            # the step's batch: all of it, or a fresh draw without replacement
            if batch_size is None:
                x, y = data.x, data.y
            else:
                pick = torch.randperm(n, generator=gen)[:batch_size].to(dev)
                x, y = data.x[pick], data.y[pick]
            g = batch_grad(theta, x, y)
            if keep_gradients:
                grads.append(g)
            lrs.append(optimizer.lr_at(k))
            theta, state = optimizer.step(theta, g, state, k)
            if (k + 1) % every == 0 or k + 1 == steps:
                recorded.append(k + 1)
                thetas.append(theta)
    losses, tracked = along_trajectory(model, objective, thetas, track)
    # the record is small: hand it back on the CPU, wherever it was computed
    return TrainResult(
        torch.tensor(recorded),
        losses.cpu(),
        {k: v.cpu() for k, v in tracked.items()},
        torch.stack(thetas).cpu(),
        torch.tensor(lrs, dtype=torch.float64),
        torch.stack(grads).cpu() if keep_gradients else None,
        optimizer.describe(),
        batch_size,
    )


# ------------------------------------------------- gradient flow, weight decay
def gradient_flow_with_decay(
    model: FunctionalModel,
    params: Params,
    data: Dataset,
    weight_decay: float,
    *,
    loss: str | Callable = "cross-entropy",
    t_final: float = 10.0,
    points: int = 50,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    track: Tracked | None = None,
    device: str = "auto",
) -> FlowResult:
    """Solve ``θ' = −∇L(θ) − λ θ`` in float64 with dopri5 (torchdiffeq).

    The continuous limit of gradient descent with weight decay ``λ``: the
    ``weight_decay`` of :func:`~conslaw.training.gradient_flow`, whose other
    arguments these are; returns a ``FlowResult`` without integrals, on the CPU.
    """
    flow = gradient_flow(
        model,
        params,
        data,
        loss=loss,
        t_final=t_final,
        points=points,
        rtol=rtol,
        atol=atol,
        track=track,
        weight_decay=weight_decay,
        device=device,
    )
    tracked = {k: v.cpu() for k, v in flow.tracked.items()}
    return FlowResult(
        flow.t.cpu(), flow.loss.cpu(), tracked, {}, flow.thetas.cpu(), flow.evaluations
    )


__all__ = [
    "OPTIMIZERS",
    "Optimizer",
    "TrainResult",
    "adam_step",
    "gradient_flow_with_decay",
    "momentum_step",
    "sgd_step",
    "train",
]
