"""conslaw: conservation laws of gradient flow for modern neural architectures."""

from .certificate import Certificate, certify, generic_point, numerical_rank
from .discovery import count_laws, discover_laws
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
    "count_laws",
    "discover_laws",
    "generic_point",
    "numerical_rank",
    "predicted_laws",
    "settings",
]
