"""Gated linear units in the paper's form ``A (act(B x) ⊙ C x)``."""

from __future__ import annotations

from collections.abc import Sequence

from .activations import activation
from .base import FunctionalModel
from .ffn import check_widths

# the gated unit of each name, and the activation it gates with
GLU_VARIANTS = {
    "silu": "SwiGLU",
    "gelu": "GeGLU",
    "relu": "ReGLU",
    "linear": "bilinear",
}


class GLU(FunctionalModel):
    """Gated feedforward block ``f(x) = A (act(B x) ⊙ C x)``, no biases.

    ``widths = [d, m, o]``: ``B`` and ``C`` have shape ``(m, d)``, ``A`` has shape
    ``(o, m)``. ``activation_name="silu"`` is SwiGLU, ``"gelu"`` GeGLU, ``"relu"``
    ReGLU and ``"linear"`` the bilinear GLU. Inputs ``(batch, d)``, outputs
    ``(batch, o)``.
    """

    def __init__(self, widths: Sequence[int], activation_name: str = "silu"):
        if activation_name not in GLU_VARIANTS:
            raise ValueError(
                f"unknown GLU activation {activation_name!r}: expected one of "
                f"{', '.join(GLU_VARIANTS)}"
            )
        self.widths = check_widths(widths, exactly=3)
        self.activation_name = activation_name
        self.act = activation(activation_name)
        d, m, o = self.widths
        self.shapes = {"B": (m, d), "C": (m, d), "A": (o, m)}
        self.in_shape = (d,)
        self.out_shape = (o,)

    @property
    def variant(self) -> str:
        """``SwiGLU``, ``GeGLU``, ``ReGLU`` or ``bilinear``."""
        return GLU_VARIANTS[self.activation_name]

    def kink_preactivations(self, params, x):
        """The gate pre-activations ``B x`` of a ReGLU; nothing for smooth gates."""
        return [x @ params["B"].T] if self.activation_name == "relu" else []

    def forward(self, params, x):
        gate = self.act(x @ params["B"].T)  # (batch, m)
        value = x @ params["C"].T  # (batch, m)
        return (gate * value) @ params["A"].T

    def describe(self) -> str:
        return f"{self.variant} {'-'.join(map(str, self.widths))}"
