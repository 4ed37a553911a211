"""Pointwise activations by name, shared by the FFN, GLU and expert models."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z


def _gelu_tanh(z: torch.Tensor) -> torch.Tensor:
    return F.gelu(z, approximate="tanh")


ACTIVATIONS: dict[str, Activation] = {
    "linear": _identity,
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu-tanh": _gelu_tanh,
    "silu": F.silu,
}

# positively homogeneous activations: act(λz) = λ act(z) for λ > 0, which is what
# makes the rescaling laws of a neuron exist (DESIGN §4)
HOMOGENEOUS = frozenset({"linear", "relu"})


def activation(name: str) -> Activation:
    """Return the activation called ``name``; raise a ValueError listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        choices = ", ".join(ACTIVATIONS)
        raise ValueError(
            f"unknown activation {name!r}: expected one of {choices}"
        ) from None
