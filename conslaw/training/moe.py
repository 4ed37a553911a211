"""Gradient flow of a Mixture of Experts, following its gate and expert laws.

One run integrates the flow of an MoE with SwiGLU experts on a classification
set and follows three things: the translation quantity ``Σ_e W[e, :]`` (a law
of the softmax gates, not of the normalized sigmoid), the time integral of its
closed-form rate (:func:`~conslaw.laws.moe.translation_rates`) integrated beside
the flow, and the experts' own laws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Dataset
from ..device import resolve_device
from ..laws.moe import expert_laws, translation_laws, translation_rates
from ..models.moe import MoE
from .flow import gradient_flow
from .tracking import relative_deviation


@dataclass
class GateFlow:
    """One solved flow, on the CPU, sampled at ``t (T,)``.

    ``translation (T, d)``: ``Σ_e W[e, :]`` along the flow; ``integral (T, d)``:
    the time integral of its closed-form rate, so that ``translation −
    translation[0]`` and ``integral`` agree when the closed form is right;
    ``eps_translation (T,)`` and ``eps_experts (T,)``: the paper's relative
    deviation (its Eq. 10) of ``Σ_e W_e`` and of the experts' laws (one block per
    expert); ``loss (T,)``.
    """

    gate: str
    seed: int
    parameters: int
    t: torch.Tensor
    loss: torch.Tensor
    translation: torch.Tensor
    integral: torch.Tensor
    eps_translation: torch.Tensor
    eps_experts: torch.Tensor
    evaluations: int


def moe_gate_flow(
    gate: str,
    data: Dataset,
    *,
    experts: int,
    hidden: int,
    seed: int = 0,
    t_final: float = 10.0,
    rtol: float = 1e-9,
    points: int = 81,
    device: str = "auto",
) -> GateFlow:
    """Gradient flow (cross-entropy) of ``experts`` SwiGLU experts under ``gate``.

    Args:
        gate: a dense gate with a closed-form translation rate, e.g. ``softmax``
            or ``normalized-sigmoid``.
        data: inputs ``(n, d)`` and class labels ``(n,)``.
        experts, hidden: number of experts and each one's hidden width.
        seed: seeds the fan-in initialization.
        t_final, rtol, points: solve on ``[0, t_final]`` with the adaptive
            solver's tolerances ``rtol = atol``, report at ``points`` times.
        device: ``auto``, ``cpu`` or ``cuda``.
    """
    if data.x.ndim != 2 or data.y.ndim != 1 or data.y.is_floating_point():
        raise ValueError(
            f"expected inputs (n, d) and integer labels (n,), got x of shape "
            f"{tuple(data.x.shape)} and y of shape {tuple(data.y.shape)}, dtype "
            f"{data.y.dtype}: pass a classification set such as digits()"
        )
    dev = resolve_device(device)
    data = Dataset(data.x.to(dev, torch.float64), data.y.to(dev), data.name)
    classes = int(data.y.max()) + 1
    model = MoE([data.x.shape[1], hidden, classes], experts, gate, "swiglu")
    gate_law, own = translation_laws(model), expert_laws(model)

    def track(p):
        return {"translation": gate_law.vector(p), **own.blocks(p)}

    run = gradient_flow(
        model,
        model.init(seed, scale="fan_in"),
        data,
        t_final=t_final,
        points=points,
        rtol=rtol,
        atol=rtol,
        track=track,
        rates={"translation": translation_rates(model, data)},
        device=device,
    )
    tracked = {k: v.cpu() for k, v in run.tracked.items()}
    translation = tracked.pop("translation")  # (T, d)
    return GateFlow(
        gate=gate,
        seed=seed,
        parameters=model.num_parameters,
        t=run.t.cpu(),
        loss=run.loss.cpu(),
        translation=translation,
        integral=run.integrals["translation"].cpu(),
        eps_translation=relative_deviation({"translation": translation}),
        eps_experts=relative_deviation(tracked),
        evaluations=run.evaluations,
    )


__all__ = ["GateFlow", "moe_gate_flow"]
