"""Training: gradient flow, gradient descent, law tracking."""

from .descent import DescentResult, gradient_descent
from .flow import FlowResult, full_batch_loss, gradient_flow
from .losses import LOSSES, cross_entropy, loss_fn, square
from .tracking import relative_deviation, stack_tracked

__all__ = [
    "LOSSES",
    "DescentResult",
    "FlowResult",
    "cross_entropy",
    "full_batch_loss",
    "gradient_descent",
    "gradient_flow",
    "loss_fn",
    "relative_deviation",
    "square",
    "stack_tracked",
]
