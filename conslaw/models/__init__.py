"""Functional models whose conservation laws the book studies."""

from .activations import ACTIVATIONS, HOMOGENEOUS, activation
from .base import FunctionalModel, Params
from .ffn import FFN, MaskedFFN
from .glu import GLU, GLU_VARIANTS
from .moe import EXPERTS as MOE_EXPERTS
from .moe import GATES as MOE_GATES
from .moe import TOPK_GATES, MoE

__all__ = [
    "ACTIVATIONS",
    "FFN",
    "MaskedFFN",
    "GLU",
    "GLU_VARIANTS",
    "HOMOGENEOUS",
    "MOE_EXPERTS",
    "MOE_GATES",
    "TOPK_GATES",
    "MoE",
    "FunctionalModel",
    "Params",
    "activation",
]
