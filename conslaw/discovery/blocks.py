"""Small ``torch.nn`` blocks the paper does not treat, for the discovery chapter.

They are ordinary modules, built from ``nn.Linear``, ``nn.LayerNorm`` and
``nn.RMSNorm``, so that the chapter runs :func:`~conslaw.discovery.count_laws` and
:func:`~conslaw.discovery.discover_laws` on them exactly as a reader would on a
module of their own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("layer", "rms")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


def _norm(kind: str, width: int, eps: float) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}: expected one of {', '.join(NORMS)}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    return nn.LayerNorm(width, eps=eps) if kind == "layer" else nn.RMSNorm(width, eps)


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}: expected one of {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]()


class LinearNorm(nn.Module):
    """``norm(W x + b)``: a linear layer followed by LayerNorm or RMSNorm (both with
    their elementwise gain, LayerNorm with its shift). Inputs ``(batch, d)``,
    outputs ``(batch, m)``. ``eps`` is the norm's ε (0 makes it exactly
    scale-invariant; PyTorch's default is 1e-5)."""

    def __init__(self, d: int, m: int, norm: str = "layer", eps: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(d, m)
        self.norm = _norm(norm, m, eps)

    def forward(self, x):
        return self.norm(self.linear(x))


class ResidualMLP(nn.Module):
    """``x + W2 act(W1 x + b1) + b2``: a two-layer block with a skip connection.
    Inputs and outputs ``(batch, d)``."""

    def __init__(self, d: int, m: int, activation: str = "relu"):
        super().__init__()
        self.fc1 = nn.Linear(d, m)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(m, d)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention without biases, as in most current language
    models: ``Σ_h softmax(X q_h k_hᵀ Xᵀ / √d_k) X v_h o_h``, with the heads'
    projections stacked in ``q, k (H d_k, d)``, ``v (H d_v, d)``, ``o (d, H d_v)``
    (``nn.Linear`` layout). Inputs and outputs ``(batch, seq, d)``."""

    def __init__(self, d: int, heads: int, d_k: int, d_v: int | None = None):
        super().__init__()
        d_v = d_k if d_v is None else d_v
        self.heads, self.d_k, self.d_v = heads, d_k, d_v
        self.q = nn.Linear(d, heads * d_k, bias=False)
        self.k = nn.Linear(d, heads * d_k, bias=False)
        self.v = nn.Linear(d, heads * d_v, bias=False)
        self.o = nn.Linear(heads * d_v, d, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q(x).reshape(b, t, self.heads, self.d_k).transpose(1, 2)
        k = self.k(x).reshape(b, t, self.heads, self.d_k).transpose(1, 2)
        v = self.v(x).reshape(b, t, self.heads, self.d_v).transpose(1, 2)
        # (batch, heads, seq, seq)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.d_k), dim=-1)
        heads = (a @ v).transpose(1, 2).reshape(b, t, -1)  # (batch, seq, H d_v)
        return self.o(heads)


class PreNormBlock(nn.Module):
    """A pre-norm transformer block: ``h = x + attn(norm1(x))``, then
    ``y = h + mlp(norm2(h))`` with ``mlp = fc2 ∘ act ∘ fc1`` (biases on).
    Inputs and outputs ``(batch, seq, d)``."""

    def __init__(
        self,
        d: int,
        heads: int,
        d_k: int,
        hidden: int,
        *,
        d_v: int | None = None,
        activation: str = "gelu",
        norm: str = "layer",
        eps: float = 1e-5,
    ):
        super().__init__()
        self.norm1 = _norm(norm, d, eps)
        self.attn = SelfAttention(d, heads, d_k, d_v)
        self.norm2 = _norm(norm, d, eps)
        self.fc1 = nn.Linear(d, hidden)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        h = x + self.attn(self.norm1(x))
        return h + self.fc2(self.act(self.fc1(self.norm2(h))))
