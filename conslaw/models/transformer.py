"""The transformers of the paper's App. D, built from this package's blocks.

Both models are pre-norm residual stacks whose attention, feedforward and
Mixture-of-Experts blocks are the :class:`~conslaw.models.MultiHeadAttention`,
:class:`~conslaw.models.GLU` and :class:`~conslaw.models.MoE` of the block
chapters, called on their own parameters (stored under a prefix such as
``L0.attn.``). A block's parameters therefore enter the network exactly as in its
theorem, composed with maps (norms, residual sums, embeddings, the head) that do
not depend on them, so every symmetry of the block is a symmetry of the network
and the block's laws stay conserved (:func:`conslaw.laws.transformer.law_orthogonality`
checks it numerically). The networks have more laws than their blocks (the norms
add scale invariances), which the book does not try to list.

- :class:`ViT`: patch embedding with a bias, learned absolute positions, ``L``
  blocks ``h += MHA(LN(h)); h += SwiGLU(LN(h))``, a final LayerNorm, mean pooling
  and a linear head.
- :class:`LanguageModel`: Qwen-3 style, decoder-only: token embedding, ``L``
  blocks ``h += MHA_rope,causal(RMS(h)); h += MoE(RMS(h))`` with SwiGLU experts
  under a softmax or normalized-sigmoid gate, a final RMSNorm and a tied or
  untied output head. Qwen-3 also normalizes each head's queries and keys
  (QK-norm), which makes them scale-invariant and so changes which query–key
  quantities are conserved; it is left out here, and its laws are not studied.
"""

from __future__ import annotations

import torch

from .attention import MultiHeadAttention
from .base import FunctionalModel, Params
from .glu import GLU
from .moe import MoE

# added to the mean square under the square root of the norms (the usual value;
# float64 and float32 runs both stay far above it)
NORM_EPS = 1e-6


def rms_norm(x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """``x / rms(x) ⊙ gain`` over the last axis; ``x (..., d)``, ``gain (d,)``."""
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + NORM_EPS) * gain


def layer_norm(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor):
    """LayerNorm over the last axis of ``x (..., d)`` with ``gain, bias (d,)``."""
    centred = x - x.mean(-1, keepdim=True)
    return rms_norm(centred, gain) + bias


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _head_width(width: int, heads: int) -> int:
    if width % heads:
        raise ValueError(
            f"the width must be a multiple of the number of heads: got width={width}"
            f", heads={heads} (try width={heads * max(1, round(width / heads))})"
        )
    return width // heads


class _Stack(FunctionalModel):
    """Shared plumbing: prefixed block parameters and the training init."""

    # parameter name suffixes that start at one (norm gains) or zero (biases)
    # in a training initialization
    _ones: tuple[str, ...] = ()
    _zeros: tuple[str, ...] = ()

    def block_params(self, params, prefix: str, block: FunctionalModel) -> Params:
        """The parameters of ``block`` stored under ``prefix``, by their own names."""
        return {name: params[prefix + name] for name in block.shapes}

    def fan_in(self, name: str) -> int:
        """Input width of weight ``name``: ``d`` for queries, keys and values."""
        if name.endswith((".Q", ".K", ".V")):
            return self.width
        return self.shapes[name][-1]

    def init(self, seed=0, *, dtype=torch.float64, device="cpu", scale="normal"):
        """Random parameters (see :meth:`FunctionalModel.init`).

        With ``scale="fan_in"`` (training) the norm gains start at one and the
        norm and head biases at zero, as in the usual initialization; with
        ``scale="normal"`` (a generic point) every entry is random.
        """
        params = super().init(seed, dtype=dtype, device=device, scale=scale)
        if scale == "fan_in":
            for name in params:
                if name.endswith(self._ones):
                    params[name] = torch.ones_like(params[name])
                elif name.endswith(self._zeros):
                    params[name] = torch.zeros_like(params[name])
        return params


class ViT(_Stack):
    """A small vision transformer (App. D), functional.

    Args:
        image_shape: ``(channels, height, width)`` of one image; ``(1, 8, 8)`` for
            the digits, ``(3, 32, 32)`` for CIFAR-10.
        patch: side of the square patches (divides height and width).
        width: model width ``d``.
        heads: attention heads ``H`` (``d_k = d_v = d / H``).
        layers: number of blocks ``L``.
        mlp: hidden width ``m`` of the SwiGLU feedforward blocks.
        classes: outputs of the head.

    Inputs ``(batch, C, H, W)`` (or ``(batch, H, W)`` or ``(batch, H·W)`` when
    ``C = 1``), outputs ``(batch, classes)`` logits.
    """

    _ones = ("ln1.g", "ln2.g", "ln.g")
    _zeros = ("ln1.b", "ln2.b", "ln.b", "head.b", "embed.b")

    def __init__(
        self,
        image_shape=(1, 8, 8),
        patch: int = 4,
        width: int = 16,
        heads: int = 2,
        layers: int = 2,
        mlp: int = 32,
        classes: int = 10,
    ):
        c, hgt, wid = (_positive("image_shape entries", v) for v in image_shape)
        self.image_shape = (c, hgt, wid)
        self.patch = _positive("patch", patch)
        if hgt % patch or wid % patch:
            raise ValueError(
                f"patch={patch} must divide the image height and width "
                f"{hgt}×{wid}: try one of "
                f"{[p for p in range(1, min(hgt, wid) + 1) if hgt % p == wid % p == 0]}"
            )
        self.width = _positive("width", width)
        self.heads = _positive("heads", heads)
        self.layers = _positive("layers", layers)
        self.mlp = _positive("mlp", mlp)
        self.classes = _positive("classes", classes)
        self.tokens = (hgt // patch) * (wid // patch)
        d, dk = self.width, _head_width(width, heads)
        self.attn = MultiHeadAttention(d, heads, dk, dk, self.tokens)
        self.ffn = GLU([d, self.mlp, d], "silu")

        self.shapes = {
            "embed.W": (d, c * patch * patch),
            "embed.b": (d,),
            "pos": (self.tokens, d),
        }
        for layer in range(self.layers):
            p = f"L{layer}."
            self.shapes |= {p + "ln1.g": (d,), p + "ln1.b": (d,)}
            self.shapes |= {f"{p}attn.{n}": s for n, s in self.attn.shapes.items()}
            self.shapes |= {p + "ln2.g": (d,), p + "ln2.b": (d,)}
            self.shapes |= {f"{p}ffn.{n}": s for n, s in self.ffn.shapes.items()}
        self.shapes |= {
            "ln.g": (d,),
            "ln.b": (d,),
            "head.W": (self.classes, d),
            "head.b": (self.classes,),
        }
        self.in_shape = self.image_shape
        self.out_shape = (self.classes,)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(batch, C, H, W)`` to patch vectors ``(batch, T, C·p·p)``."""
        c, hgt, wid = self.image_shape
        p = self.patch
        x = x.reshape(-1, c, hgt // p, p, wid // p, p)
        x = x.permute(0, 2, 4, 1, 3, 5)  # (batch, H/p, W/p, C, p, p)
        return x.reshape(x.shape[0], self.tokens, c * p * p)

    def forward(self, params, x):
        h = self.patches(x) @ params["embed.W"].T + params["embed.b"]
        h = h + params["pos"]  # (batch, T, d)
        for layer in range(self.layers):
            p = f"L{layer}."
            z = layer_norm(h, params[p + "ln1.g"], params[p + "ln1.b"])
            h = h + self.attn.forward(
                self.block_params(params, p + "attn.", self.attn), z
            )
            z = layer_norm(h, params[p + "ln2.g"], params[p + "ln2.b"])
            h = h + self.ffn.forward(self.block_params(params, p + "ffn.", self.ffn), z)
        h = layer_norm(h, params["ln.g"], params["ln.b"]).mean(1)  # (batch, d)
        return h @ params["head.W"].T + params["head.b"]

    def describe(self) -> str:
        c, hgt, wid = self.image_shape
        return (
            f"ViT {c}×{hgt}×{wid}, patch {self.patch} ({self.tokens} tokens), "
            f"d={self.width}, H={self.heads}, L={self.layers}, SwiGLU m={self.mlp}"
        )


class LanguageModel(_Stack):
    """A Qwen-3-style decoder-only language model with MoE (App. D), functional.

    Args:
        vocab: vocabulary size (256 for bytes).
        seq_len: context length ``T``.
        width: model width ``d``.
        heads: attention heads ``H`` (``d_k = d_v = d / H``, even for RoPE).
        layers: number of blocks ``L``.
        mlp: hidden width ``m`` of each SwiGLU expert.
        experts: experts per MoE layer ``E``.
        gate: ``"softmax"`` or ``"normalized-sigmoid"`` (dense).
        tied: the output head is the token embedding (transposed).

    Inputs: token ids ``(batch, T)`` (integers); outputs: next-token logits
    ``(batch, T, vocab)``.
    """

    GATES = ("softmax", "normalized-sigmoid")
    _ones = ("rms1.g", "rms2.g", "rms.g")

    def __init__(
        self,
        vocab: int = 256,
        seq_len: int = 16,
        width: int = 16,
        heads: int = 2,
        layers: int = 2,
        mlp: int = 16,
        experts: int = 4,
        gate: str = "softmax",
        *,
        tied: bool = True,
    ):
        self.vocab = _positive("vocab", vocab)
        self.seq_len = _positive("seq_len", seq_len)
        self.width = _positive("width", width)
        self.heads = _positive("heads", heads)
        self.layers = _positive("layers", layers)
        self.mlp = _positive("mlp", mlp)
        self.experts = _positive("experts", experts)
        if gate not in self.GATES:
            raise ValueError(
                f"unknown gate {gate!r} for the language model: expected one of "
                f"{', '.join(self.GATES)}"
            )
        if not isinstance(tied, bool):
            raise TypeError(f"tied must be True or False, got {tied!r}")
        self.gate, self.tied = gate, tied
        d, dk = self.width, _head_width(width, heads)
        if dk % 2:
            raise ValueError(
                f"RoPE needs an even head width d/H, got {d}/{heads} = {dk}: "
                "change width or heads"
            )
        self.attn = MultiHeadAttention(
            d, heads, dk, dk, seq_len, pe="rope", causal=True
        )
        self.moe = MoE([d, self.mlp, d], self.experts, gate, "swiglu")

        self.shapes = {"embed": (self.vocab, d)}
        for layer in range(self.layers):
            p = f"L{layer}."
            self.shapes[p + "rms1.g"] = (d,)
            self.shapes |= {f"{p}attn.{n}": s for n, s in self.attn.shapes.items()}
            self.shapes[p + "rms2.g"] = (d,)
            self.shapes |= {f"{p}moe.{n}": s for n, s in self.moe.shapes.items()}
        self.shapes["rms.g"] = (d,)
        if not tied:
            self.shapes["head"] = (self.vocab, d)
        self.in_shape = (self.seq_len,)
        self.out_shape = (self.seq_len, self.vocab)

    def sample_inputs(self, n, generator, scales=(1.0,), dtype=None):
        """``n`` random token sequences ``(n, T)`` (int64); ``scales`` and
        ``dtype`` are ignored: tokens have neither."""
        return torch.randint(self.vocab, (n, self.seq_len), generator=generator)

    def forward(self, params, x):
        batch, seq = x.shape
        h = params["embed"][x]  # (batch, T, d)
        for layer in range(self.layers):
            p = f"L{layer}."
            z = rms_norm(h, params[p + "rms1.g"])
            h = h + self.attn.forward(
                self.block_params(params, p + "attn.", self.attn), z
            )
            z = rms_norm(h, params[p + "rms2.g"]).reshape(batch * seq, self.width)
            y = self.moe.forward(self.block_params(params, p + "moe.", self.moe), z)
            h = h + y.reshape(batch, seq, self.width)
        h = rms_norm(h, params["rms.g"])
        head = params["embed"] if self.tied else params["head"]
        return h @ head.T  # (batch, T, vocab)

    def describe(self) -> str:
        head = "tied" if self.tied else "untied"
        return (
            f"LM vocab {self.vocab}, T={self.seq_len}, d={self.width}, H={self.heads}, "
            f"L={self.layers}, MoE {self.experts}×SwiGLU m={self.mlp}, {self.gate} "
            f"gate, {head} head"
        )


__all__ = ["LanguageModel", "NORM_EPS", "ViT", "layer_norm", "rms_norm"]
