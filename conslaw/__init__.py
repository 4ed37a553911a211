"""conslaw: conservation laws of gradient flow for modern neural architectures."""

from .certificate import Certificate, certify, generic_point, numerical_rank
from .laws import LawSet, predicted_laws
from .models import FFN, GLU, FunctionalModel, MaskedFFN, MoE, MultiHeadAttention
from .profiles import settings

__version__ = "0.1.0"

__all__ = [
    "FFN",
    "GLU",
    "Certificate",
    "FunctionalModel",
    "MaskedFFN",
    "MoE",
    "MultiHeadAttention",
    "LawSet",
    "certify",
    "generic_point",
    "numerical_rank",
    "predicted_laws",
    "settings",
]
