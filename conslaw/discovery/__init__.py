"""Any module's conservation laws: count them, and discover the polynomial ones."""

from .adapter import Adapted, adapt
from .count import LawCount, count_laws
from .polynomial import DiscoveredLaws, PolynomialLaw, discover_laws

__all__ = [
    "Adapted",
    "DiscoveredLaws",
    "LawCount",
    "PolynomialLaw",
    "adapt",
    "count_laws",
    "discover_laws",
]
