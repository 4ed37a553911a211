"""Predicted conservation laws of each architecture."""

from .base import Law, LawSet, entries_law, predicted_laws, symmetric_law
from .ffn import glu_balances, linear_laws, neuron_balances

__all__ = [
    "Law",
    "LawSet",
    "entries_law",
    "glu_balances",
    "linear_laws",
    "neuron_balances",
    "predicted_laws",
    "symmetric_law",
]
