"""Pointwise activations by name, shared by the FFN, GLU and expert models."""

from __future__ import annotations

import math
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


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)


# act(z) − z act'(z) in closed form (DESIGN §4); zero exactly for the homogeneous
# activations. conslaw.symbolic derives these and the tests compare the two.
NONHOMOGENEITY: dict[str, Activation] = {
    "linear": torch.zeros_like,
    "relu": torch.zeros_like,
    "gelu": lambda z: -(z**2) * _normal_pdf(z),
    "silu": lambda z: -(z**2) * torch.sigmoid(z) * (1 - torch.sigmoid(z)),
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
