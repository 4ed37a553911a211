"""Functional models whose conservation laws the book studies."""

from .activations import ACTIVATIONS, HOMOGENEOUS, activation
from .attention import (
    POSITIONAL_ENCODINGS,
    MultiHeadAttention,
    rope_frequencies,
    sinusoidal_encoding,
)
from .base import FunctionalModel, Params, WithUnused
from .ffn import FFN, MaskedFFN
from .glu import GLU, GLU_VARIANTS
from .moe import EXPERTS as MOE_EXPERTS
from .moe import GATES as MOE_GATES
from .moe import TOPK_GATES, MoE

__all__ = [
    "ACTIVATIONS",
    "FFN",
    "MaskedFFN",
    "MultiHeadAttention",
    "POSITIONAL_ENCODINGS",
    "rope_frequencies",
    "sinusoidal_encoding",
    "GLU",
    "GLU_VARIANTS",
    "HOMOGENEOUS",
    "MOE_EXPERTS",
    "MOE_GATES",
    "TOPK_GATES",
    "MoE",
    "FunctionalModel",
    "Params",
    "WithUnused",
    "activation",
]
