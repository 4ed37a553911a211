"""Predicted conservation laws of each architecture."""

from .attention import attention_laws, frequency_classes, paper_law_count, paper_laws
from .base import (
    Law,
    LawSet,
    balance_rank,
    entries_law,
    predicted_laws,
    symmetric_law,
)
from .ffn import balance_rates, glu_balances, linear_laws, neuron_balances
from .moe import expert_laws, gate_laws, paper_claimed_count, translation_laws

__all__ = [
    "Law",
    "attention_laws",
    "balance_rank",
    "frequency_classes",
    "paper_law_count",
    "paper_laws",
    "balance_rates",
    "LawSet",
    "entries_law",
    "expert_laws",
    "gate_laws",
    "paper_claimed_count",
    "translation_laws",
    "glu_balances",
    "linear_laws",
    "neuron_balances",
    "predicted_laws",
    "symmetric_law",
]
