"""Feedforward networks ``W_L act(... act(W_1 x + b_1) ...) + b_L``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .activations import activation
from .base import FunctionalModel


def check_widths(widths: Sequence[int], *, exactly: int | None = None) -> list[int]:
    """Validate a list of layer widths ``[d, m_1, ..., o]``."""
    widths = list(widths)
    if exactly is not None and len(widths) != exactly:
        raise ValueError(
            f"expected {exactly} widths (input, hidden, output), got {widths}"
        )
    if len(widths) < 2:
        raise ValueError(
            f"expected at least two widths (input, ..., output), got {widths}"
        )
    bad = [w for w in widths if not isinstance(w, int) or w < 1]
    if bad:
        raise ValueError(f"widths must be positive integers, got {widths}")
    return widths


class FFN(FunctionalModel):
    """Fully connected network of any depth.

    Parameters are ``W1, b1, ..., WL, bL`` with ``Wl`` of shape
    ``(widths[l], widths[l-1])``; the activation acts after every layer but the last.
    With ``bias=False`` the ``bl`` are absent. Inputs ``(batch, d)``, outputs
    ``(batch, o)``.
    """

    def __init__(
        self, widths: Sequence[int], activation_name: str = "relu", *, bias: bool = True
    ):
        self.widths = check_widths(widths)
        self.activation_name = activation_name
        self.act = activation(activation_name)
        self.bias = bool(bias)
        self.shapes = {}
        for layer, (n_in, n_out) in enumerate(zip(self.widths, self.widths[1:]), 1):
            self.shapes[f"W{layer}"] = (n_out, n_in)
            if self.bias:
                self.shapes[f"b{layer}"] = (n_out,)
        self.in_shape = (self.widths[0],)
        self.out_shape = (self.widths[-1],)

    @property
    def depth(self) -> int:
        """Number of weight layers."""
        return len(self.widths) - 1

    def preactivations(self, params: Mapping[str, torch.Tensor], x: torch.Tensor):
        """Hidden pre-activations, one ``(batch, m_l)`` tensor per hidden layer."""
        out, h = [], x
        for layer in range(1, self.depth):
            z = h @ params[f"W{layer}"].T
            if self.bias:
                z = z + params[f"b{layer}"]
            out.append(z)
            h = self.act(z)
        return out

    def kink_preactivations(self, params, x):
        """Pre-activations of the units with a kink: every hidden unit of a ReLU net."""
        return self.preactivations(params, x) if self.activation_name == "relu" else []

    def forward(self, params, x):
        h = x
        for layer in range(1, self.depth + 1):
            h = h @ params[f"W{layer}"].T
            if self.bias:
                h = h + params[f"b{layer}"]
            if layer < self.depth:
                h = self.act(h)
        return h

    def describe(self) -> str:
        widths = "-".join(map(str, self.widths))
        bias = "" if self.bias else ", no bias"
        return f"FFN {widths}, {self.activation_name}{bias}"


class MaskedFFN(FFN):
    """A ReLU network whose activation pattern is an input: the path-lifting view.

    Each input is ``[x, mask]`` with ``mask`` in ``{0, 1}`` for every hidden unit;
    the unit's ReLU is replaced by multiplication with its mask bit. Drawing masks
    independently realizes every activation pattern, which is the setting of
    Marcotte, Gribonval and Peyré's published count for ReLU networks (their fields
    are the gradients of all path products). A ReLU net on inputs in ``R^d`` may
    realize fewer patterns, and then it can have more laws.
    """

    def __init__(self, widths: Sequence[int], *, bias: bool = True):
        super().__init__(widths, "relu", bias=bias)
        self.hidden_units = sum(self.widths[1:-1])
        self.in_shape = (self.widths[0] + self.hidden_units,)

    def forward(self, params, x):
        d = self.widths[0]
        h, masks = x[..., :d], x[..., d:]
        start = 0
        for layer in range(1, self.depth + 1):
            h = h @ params[f"W{layer}"].T
            if self.bias:
                h = h + params[f"b{layer}"]
            if layer < self.depth:
                width = self.widths[layer]
                h = h * masks[..., start : start + width]
                start += width
        return h

    def kink_preactivations(self, params, x):
        return []

    def sample_inputs(self, n, generator, scales=(0.3, 1.0, 3.0), dtype=None):
        dtype = torch.float64 if dtype is None else dtype
        d = self.widths[0]
        x = torch.randn((n, d), generator=generator, dtype=dtype)
        pick = torch.randint(len(scales), (n,), generator=generator)
        x = x * torch.tensor(scales, dtype=dtype)[pick][:, None]
        masks = torch.randint(2, (n, self.hidden_units), generator=generator)
        return torch.cat([x, masks.to(dtype)], dim=1)

    def describe(self) -> str:
        return super().describe().replace("relu", "relu, every pattern")
