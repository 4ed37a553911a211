"""conslaw: conservation laws of gradient flow for modern neural architectures."""

# ruff: noqa: E402 (the imports follow the OpenMP setting below)
import os

# OpenMP threads that spin while waiting lose their time slices when other
# processes share the cores: measured on 2 shared cores, an SVD ran 10x and the
# 100-architecture sweep 2.6x slower than with passive waiting. Set before torch
# loads its OpenMP runtime (importing torch first keeps the runtime's default);
# an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
