"""Losses, averaged over the examples."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of logits ``out (n, classes)`` against ``y (n,)``."""
    return F.cross_entropy(out, y)


def square(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half the squared error, summed over outputs, averaged over examples."""
    return 0.5 * ((out - y) ** 2).reshape(len(out), -1).sum(1).mean()


def token_cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of logits ``out (batch, T, vocab)`` against
    targets ``y (batch, T)``, averaged over every position."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


LOSSES = {
    "cross-entropy": cross_entropy,
    "square": square,
    "token-cross-entropy": token_cross_entropy,
}


def loss_fn(loss: str | Callable) -> Callable:
    """The loss ``(out, y) -> scalar`` named ``loss`` (a key of :data:`LOSSES`);
    a function is returned as it is."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown loss {loss!r}: expected one of {', '.join(LOSSES)} or a "
            "function (out, y) -> loss"
        ) from None
