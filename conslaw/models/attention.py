"""Multi-head self-attention ``Σ_i softmax(X̃ Q_i K_iᵀ X̃ᵀ / √d_k) X̃ V_i O_i``.

Conventions, fixed here once for the book:

- ``X̃ = X + P`` is the input with its absolute positional encoding (none, fixed
  sinusoidal, or a learned parameter ``P``); RoPE acts on queries and keys instead.
- RoPE pairs the coordinates ``(2i, 2i + 1)`` of each query and key (interleaved
  pairs) and rotates the pair at position ``t`` by the angle ``t θ_i``, with
  ``θ_i = base^(−2i/d_k)``. With ``q_t = R_t Q_iᵀ x̃_t`` and ``k_s = R_s K_iᵀ x̃_s``
  the score is ``x̃_tᵀ Q_i R_{s−t} K_iᵀ x̃_s``: it depends on relative positions only.
- Grouped-query attention with ``G`` key–value groups: head ``h`` uses the keys
  and values of group ``h // (H / G)`` (consecutive heads share a group). ``G = H``
  is plain multi-head attention, ``G = 1`` multi-query attention.
- The residual connection adds the block's input ``X̃`` (encoding included), as a
  transformer layer adds the embeddings it was given.
"""

from __future__ import annotations

import math
import warnings

import torch

from .base import FunctionalModel

POSITIONAL_ENCODINGS = ("none", "sinusoidal", "learned", "rope")

# base of the fixed sinusoidal encoding (Vaswani et al.); RoPE has its own base
SINUSOIDAL_BASE = 10_000.0

# RoPE's usual base (Su et al.), the default of every model here
ROPE_BASE = 10_000.0


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def sinusoidal_encoding(seq_len: int, d: int, base: float = SINUSOIDAL_BASE):
    """Fixed encoding ``(seq_len, d)``, float64: ``sin`` on even and ``cos`` on odd
    columns, column pair ``(2i, 2i + 1)`` at frequency ``base^(−2i/d)``."""
    t = torch.arange(seq_len, dtype=torch.float64)[:, None]  # (seq, 1)
    i = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d / 2),)
    angle = t * base ** (-i / d)  # (seq, ceil(d / 2))
    pe = torch.zeros(seq_len, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d // 2])
    return pe


def rope_frequencies(d_k: int, base: float = ROPE_BASE) -> torch.Tensor:
    """``θ_i = base^(−2i/d_k)`` for the ``d_k / 2`` pairs, shape ``(d_k / 2,)``."""
    i = torch.arange(d_k // 2, dtype=torch.float64)
    return torch.as_tensor(base, dtype=torch.float64) ** (-2 * i / d_k)


def rope_rotate(z: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate the interleaved pairs of ``z (..., seq, d_k)`` by the angles whose
    cosines and sines are ``cos, sin (seq, d_k / 2)``."""
    even, odd = z[..., 0::2], z[..., 1::2]  # (..., seq, d_k / 2)
    rot_even = even * cos - odd * sin
    rot_odd = even * sin + odd * cos
    return torch.stack([rot_even, rot_odd], dim=-1).flatten(-2)  # (..., seq, d_k)


class MultiHeadAttention(FunctionalModel):
    """Multi-head self-attention with optional encoding, mask, residual and GQA.

    Parameters (stacked per head or group): ``Q (H, d, d_k)``, ``K (G, d, d_k)``,
    ``V (G, d, d_v)``, ``O (H, d_v, d)`` and, with ``pe="learned"``, ``P (seq, d)``.
    Inputs ``(batch, seq, d)``, outputs ``(batch, seq, d)``.

    Args:
        d: model width.
        heads: number of query heads ``H``.
        d_k: query and key width (even for RoPE).
        d_v: value width; ``d_k`` by default.
        seq_len: sequence length ``T``.
        pe: ``"none"``, ``"sinusoidal"``, ``"learned"`` or ``"rope"``.
        causal: mask the keys after each query.
        residual: add the (encoded) input to the output.
        kv_groups: key–value groups ``G`` (``H`` by default; must divide ``H``).
        rope_base: base of the RoPE frequencies.
    """

    def __init__(
        self,
        d: int,
        heads: int,
        d_k: int,
        d_v: int | None = None,
        seq_len: int = 4,
        *,
        pe: str = "none",
        causal: bool = False,
        residual: bool = False,
        kv_groups: int | None = None,
        rope_base: float = ROPE_BASE,
    ):
        self.d = _positive_int("d", d)
        self.heads = _positive_int("heads", heads)
        self.d_k = _positive_int("d_k", d_k)
        self.d_v = self.d_k if d_v is None else _positive_int("d_v", d_v)
        self.seq_len = _positive_int("seq_len", seq_len)
        if pe not in POSITIONAL_ENCODINGS:
            raise ValueError(
                f"unknown positional encoding {pe!r}: expected one of "
                f"{', '.join(POSITIONAL_ENCODINGS)}"
            )
        self.pe = pe
        if pe == "rope" and self.d_k % 2:
            raise ValueError(
                f"RoPE rotates pairs of query/key coordinates, so d_k must be even; "
                f"got d_k={self.d_k} (use d_k={self.d_k + 1} or another encoding)"
            )
        for name, flag in (("causal", causal), ("residual", residual)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.causal, self.residual = causal, residual
        groups = self.heads if kv_groups is None else kv_groups
        self.kv_groups = _positive_int("kv_groups", groups)
        if self.heads % self.kv_groups:
            raise ValueError(
                f"kv_groups must divide heads: got heads={self.heads}, "
                f"kv_groups={self.kv_groups} (divisors of {self.heads}: "
                f"{[g for g in range(1, self.heads + 1) if self.heads % g == 0]})"
            )
        base = float(rope_base)
        if not math.isfinite(base) or base <= 0:
            raise ValueError(
                f"rope_base must be positive and finite, got {rope_base!r}"
            )
        if pe != "rope" and base != ROPE_BASE:
            warnings.warn(
                f"rope_base={rope_base!r} is ignored with pe={pe!r}: only RoPE has "
                "frequencies (pass pe='rope' or leave rope_base at its default)",
                stacklevel=2,
            )
        self.rope_base = base

        H, G, T = self.heads, self.kv_groups, self.seq_len
        self.shapes = {
            "Q": (H, self.d, self.d_k),
            "K": (G, self.d, self.d_k),
            "V": (G, self.d, self.d_v),
            "O": (H, self.d_v, self.d),
        }
        if pe == "learned":
            self.shapes["P"] = (T, self.d)
        self.in_shape = (T, self.d)
        self.out_shape = (T, self.d)

        # fixed tensors, float64; cast to the input's dtype in forward
        self._sinusoid = sinusoidal_encoding(T, self.d) if pe == "sinusoidal" else None
        angles = torch.arange(T, dtype=torch.float64)[:, None] * self.frequencies
        self._cos, self._sin = torch.cos(angles), torch.sin(angles)  # (T, d_k / 2)
        self._mask = torch.ones(T, T, dtype=torch.bool).tril()  # key s ≤ query t

    # ---------------------------------------------------------------- sizes
    @property
    def heads_per_group(self) -> int:
        """``H / G``."""
        return self.heads // self.kv_groups

    def group_of(self, head: int) -> int:
        """The key–value group of query head ``head``."""
        return head // self.heads_per_group

    @property
    def frequencies(self) -> torch.Tensor:
        """RoPE frequencies ``θ_i (d_k / 2,)``; empty without RoPE."""
        if self.pe != "rope":
            return torch.zeros(0, dtype=torch.float64)
        return rope_frequencies(self.d_k, self.rope_base)

    def fan_in(self, name: str) -> int:
        """``d`` for ``Q, K, V`` and ``P``, ``d_v`` for ``O``."""
        return self.d_v if name == "O" else self.d

    # -------------------------------------------------------------- forward
    def encode(self, params, x: torch.Tensor) -> torch.Tensor:
        """``X̃``: the input ``(batch, seq, d)`` plus its absolute encoding."""
        if self.pe == "sinusoidal":
            return x + self._sinusoid.to(dtype=x.dtype, device=x.device)
        if self.pe == "learned":
            return x + params["P"]
        return x

    def scores(self, params, x: torch.Tensor) -> torch.Tensor:
        """Scaled scores ``(batch, H, seq, seq)`` before the mask and the softmax."""
        h = self.encode(params, x)
        q = torch.einsum("bsd,hdk->bhsk", h, params["Q"])  # (batch, H, seq, d_k)
        k = torch.einsum("bsd,gdk->bgsk", h, params["K"])  # (batch, G, seq, d_k)
        if self.pe == "rope":
            cos = self._cos.to(dtype=x.dtype, device=x.device)
            sin = self._sin.to(dtype=x.dtype, device=x.device)
            q, k = rope_rotate(q, cos, sin), rope_rotate(k, cos, sin)
        k = k.repeat_interleave(self.heads_per_group, dim=1)  # (batch, H, seq, d_k)
        return q @ k.transpose(-1, -2) / math.sqrt(self.d_k)

    def attention(self, params, x: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(batch, H, seq, seq)``, rows summing to one."""
        s = self.scores(params, x)
        if self.causal:
            mask = self._mask.to(device=x.device)
            s = torch.where(mask, s, torch.full_like(s, -math.inf))
        return torch.softmax(s, dim=-1)

    def forward(self, params, x):
        h = self.encode(params, x)
        a = self.attention(params, x)  # (batch, H, seq, seq)
        v = torch.einsum("bsd,gdv->bgsv", h, params["V"])  # (batch, G, seq, d_v)
        v = v.repeat_interleave(self.heads_per_group, dim=1)  # (batch, H, seq, d_v)
        heads = a @ v  # (batch, H, seq, d_v)
        out = torch.einsum("bhsv,hvd->bsd", heads, params["O"])  # (batch, seq, d)
        return out + h if self.residual else out

    def describe(self) -> str:
        parts = [f"MHA d={self.d}, H={self.heads}"]
        if self.kv_groups != self.heads:
            parts.append("MQA" if self.kv_groups == 1 else f"G={self.kv_groups}")
        parts.append(f"d_k={self.d_k}, d_v={self.d_v}, T={self.seq_len}")
        pe = self.pe
        if pe == "rope" and self.rope_base != ROPE_BASE:
            pe = f"rope base {self.rope_base:g}"
        parts.append(f"pe {pe}")
        parts += [flag for flag in ("causal", "residual") if getattr(self, flag)]
        return ", ".join(parts)
