"""The Lie-algebra rank certificate of completeness."""

from .certify import ORTHOGONALITY_TOL, Certificate, Level, certify
from .fields import bracket_field, generator_field, sample_fields
from .memory import available_memory, certificate_memory, check_certificate_memory
from .points import dead_or_linear_units, generic_point
from .rank import MIN_GAP, RANK_RTOL, Rank, numerical_rank

__all__ = [
    "MIN_GAP",
    "ORTHOGONALITY_TOL",
    "RANK_RTOL",
    "Certificate",
    "Level",
    "Rank",
    "available_memory",
    "bracket_field",
    "certificate_memory",
    "check_certificate_memory",
    "certify",
    "dead_or_linear_units",
    "generator_field",
    "generic_point",
    "numerical_rank",
    "sample_fields",
]
