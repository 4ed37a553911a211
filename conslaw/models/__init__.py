"""Functional models whose conservation laws the book studies."""

from .activations import ACTIVATIONS, HOMOGENEOUS, activation
from .base import FunctionalModel, Params
from .ffn import FFN, MaskedFFN
from .glu import GLU, GLU_VARIANTS

__all__ = [
    "ACTIVATIONS",
    "FFN",
    "MaskedFFN",
    "GLU",
    "GLU_VARIANTS",
    "HOMOGENEOUS",
    "FunctionalModel",
    "Params",
    "activation",
]
