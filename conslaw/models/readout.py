"""An attention block with a linear read-out: the classifier the attention chapter
trains on token sequences.

``f(X) = pool(MHA(X)) Wᵀ + b``, where ``pool`` averages the block's outputs over
the tokens (``"mean"``) or keeps the last token (``"last"``). The block's own
parameters keep their names (``Q, K, V, O`` and ``P``), so the laws of
:mod:`conslaw.laws.attention` evaluate on the classifier's parameters unchanged.
"""

from __future__ import annotations

from .attention import MultiHeadAttention
from .base import FunctionalModel

POOLINGS = ("mean", "last")


class AttentionClassifier(FunctionalModel):
    """Multi-head self-attention, pooling over tokens, then a linear read-out.

    Parameters: those of ``attention`` (``Q (H, d, d_k)``, ``K (G, d, d_k)``,
    ``V (G, d, d_v)``, ``O (H, d_v, d)``, and ``P (T, d)`` with a learned
    encoding), then ``W (classes, d)`` and ``b (classes,)``. Inputs
    ``(batch, T, d)`` float64, outputs the logits ``(batch, classes)``.

    Args:
        attention: the attention block.
        classes: number of outputs of the read-out.
        pool: ``"mean"`` (average over tokens) or ``"last"`` (the last token).
    """

    def __init__(self, attention: MultiHeadAttention, classes: int, *, pool="mean"):
        if not isinstance(attention, MultiHeadAttention):
            raise TypeError(
                "expected a conslaw.models.MultiHeadAttention as the block, got "
                f"{type(attention).__name__}"
            )
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise ValueError(
                f"classes must be a positive integer, got {classes!r} (10 for digits)"
            )
        if pool not in POOLINGS:
            raise ValueError(
                f"unknown pooling {pool!r}: expected one of {', '.join(POOLINGS)}"
            )
        clash = {"W", "b"} & set(attention.shapes)
        assert not clash, f"read-out names {clash} collide with the block's"
        self.attention = attention
        self.classes = classes
        self.pool = pool
        self.shapes = {
            **attention.shapes,
            "W": (classes, attention.d),
            "b": (classes,),
        }
        self.in_shape = attention.in_shape
        self.out_shape = (classes,)

    def fan_in(self, name: str) -> int:
        """``d`` for the read-out ``W``; the block's fan-in for its own weights."""
        return self.attention.d if name == "W" else self.attention.fan_in(name)

    def features(self, params, x):
        """The pooled block output ``(batch, d)``."""
        h = self.attention(params, x)  # (batch, T, d)
        return h.mean(1) if self.pool == "mean" else h[:, -1]

    def forward(self, params, x):
        return self.features(params, x) @ params["W"].T + params["b"]

    def describe(self) -> str:
        return (
            f"{self.attention.describe()}; {self.pool} pooling, "
            f"linear read-out to {self.classes}"
        )


__all__ = ["POOLINGS", "AttentionClassifier"]
