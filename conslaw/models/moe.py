"""Mixture-of-Experts layers ``f(x) = Σ_e g_e(x) E_e(x)`` (DESIGN §4).

The gate logits are ``z = W x (+ b)`` with ``W`` of shape ``(E, d)``; the gate turns
them into weights ``g (batch, E)``; each expert is a two-layer block whose forward
pass is the one of :class:`~conslaw.models.GLU` or :class:`~conslaw.models.FFN`, on
parameters stored under a prefix (``E0.A``, ``E1.W1``, ...) so that the laws of a
lone expert apply to it unchanged.

Top-k gates select with comparisons against the k-th largest logit: no Python
branch depends on the data, so ``torch.func.grad``, ``jvp`` and ``vmap`` go through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .base import FunctionalModel, Params
from .ffn import FFN, check_widths
from .glu import GLU

# gate name to a short description (the order is the one of the command line)
GATES = {
    "softmax": "dense softmax",
    "topk": "top-k softmax, renormalized over the chosen k",
    "softmax-topk": "softmax, then top-k without renormalizing",
    "normalized-sigmoid": "normalized sigmoid σ(z_e) / Σ_p σ(z_p)",
    "normalized-sigmoid-topk": "normalized sigmoid over the chosen k",
    "sigmoid": "plain sigmoid σ(z_e)",
    "cosine": "cosine router: softmax of cos(W_e, x) / temperature",
    "linear": "linear, unnormalized: g = z",
}

# gates that keep only the k largest logits
TOPK_GATES = frozenset({"topk", "softmax-topk", "normalized-sigmoid-topk"})

# gates whose weights sum to one over the experts they use: with one expert in use
# (E = 1, or a renormalized top-1) the weight is the constant 1
NORMALIZED_GATES = frozenset(
    {"softmax", "topk", "normalized-sigmoid", "normalized-sigmoid-topk", "cosine"}
)

# expert name to (block, activation); every expert is 2-layer: d -> m -> o
EXPERTS = {
    "swiglu": ("glu", "silu"),
    "relu": ("ffn", "relu"),
    "gelu": ("ffn", "gelu"),
    "linear": ("ffn", "linear"),
}

EXPERT_NAMES = {"swiglu": "SwiGLU", "relu": "ReLU", "gelu": "GELU", "linear": "linear"}


def _choice(kind: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(
            f"unknown {kind} {value!r}: expected one of {', '.join(choices)}"
        )
    return value


class MoE(FunctionalModel):
    """Mixture of ``num_experts`` two-layer experts under one gate.

    ``widths = [d, m, o]``: input, expert hidden width, output. Parameters: the gate
    ``W (E, d)`` and, with ``gate_bias=True``, ``b (E,)``; then for each expert
    ``e`` its block's parameters under the prefix ``E{e}.``: ``B, C (m, d)`` and
    ``A (o, m)`` for SwiGLU, ``W1 (m, d)`` and ``W2 (o, m)`` (with ``b1, b2`` when
    ``expert_bias=True``) for the ReLU, GELU and linear FFNs. Inputs ``(batch, d)``,
    outputs ``(batch, o)``.

    ``top_k`` is required by (and only accepted for) the top-k gates; ``temperature``
    divides the cosine router's logits.
    """

    def __init__(
        self,
        widths: Sequence[int],
        num_experts: int,
        gate: str = "softmax",
        expert: str = "swiglu",
        *,
        top_k: int | None = None,
        gate_bias: bool = False,
        expert_bias: bool = False,
        temperature: float = 1.0,
    ):
        self.widths = check_widths(widths, exactly=3)
        if not isinstance(num_experts, int) or num_experts < 1:
            raise ValueError(
                f"num_experts must be a positive integer, got {num_experts!r}"
            )
        self.num_experts = num_experts
        self.gate = _choice("gate", gate, GATES)
        self.expert = _choice("expert", expert, EXPERTS)
        self.top_k = self._check_top_k(top_k)
        self.gate_bias = bool(gate_bias)
        self.expert_bias = bool(expert_bias)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = float(temperature)

        block, act = EXPERTS[expert]
        if block == "glu":
            if expert_bias:
                raise ValueError(
                    "SwiGLU experts have no biases (the paper's A (SiLU(Bx) ⊙ Cx)): "
                    "drop expert_bias=True or pick a relu, gelu or linear expert"
                )
            self.block = GLU(self.widths, act)
        else:
            self.block = FFN(self.widths, act, bias=self.expert_bias)

        d, _, o = self.widths
        self.shapes = {"W": (num_experts, d)}
        if self.gate_bias:
            self.shapes["b"] = (num_experts,)
        for e in range(num_experts):
            for name, shape in self.block.shapes.items():
                self.shapes[f"{self.prefix(e)}{name}"] = shape
        self.in_shape = (d,)
        self.out_shape = (o,)

    def _check_top_k(self, top_k):
        if self.gate not in TOPK_GATES:
            if top_k is not None:
                raise ValueError(
                    f"top_k={top_k} was given for the dense gate {self.gate!r}: pass "
                    f"top_k only with one of {', '.join(sorted(TOPK_GATES))}"
                )
            return None
        if top_k is None:
            raise ValueError(
                f"the gate {self.gate!r} needs top_k, an integer from 1 to "
                f"num_experts={self.num_experts}"
            )
        if not isinstance(top_k, int) or not 1 <= top_k <= self.num_experts:
            raise ValueError(
                f"top_k must be an integer from 1 to num_experts={self.num_experts}, "
                f"got {top_k!r}: a top-k gate cannot choose more experts than exist"
            )
        return top_k

    # ---------------------------------------------------------------- structure
    @staticmethod
    def prefix(e: int) -> str:
        """Name prefix of expert ``e``'s parameters: ``E{e}.``."""
        return f"E{e}."

    def expert_params(self, params: Mapping[str, torch.Tensor], e: int) -> Params:
        """Expert ``e``'s parameters under their block's own names (``A``, ``W1``)."""
        p = self.prefix(e)
        return {name: params[p + name] for name in self.block.shapes}

    @property
    def constant_gate(self) -> bool:
        """True when the gate weight of the expert in use is always 1: a normalized
        gate over one expert (``E = 1``, or a renormalized top-1)."""
        if self.gate not in NORMALIZED_GATES:
            return False
        return self.num_experts == 1 or self.top_k == 1

    # -------------------------------------------------------------------- gate
    def logits(self, params: Mapping[str, torch.Tensor], x: torch.Tensor):
        """Gate logits ``(batch, E)``; the cosine router's are ``cos(W_e, x) / τ``
        (undefined at ``x = 0`` or a zero gate row, which have no direction)."""
        w = params["W"]  # (E, d)
        if self.gate == "cosine":
            w = w / w.norm(dim=1, keepdim=True)
            x = x / x.norm(dim=-1, keepdim=True)
            z = (x @ w.T) / self.temperature
        else:
            z = x @ w.T
        if self.gate_bias:
            z = z + params["b"]
        return z

    def selected(self, z: torch.Tensor) -> torch.Tensor:
        """Boolean mask ``(batch, E)`` of the experts a top-k gate keeps (all for a
        dense gate). Ties at the k-th logit keep every tied expert; they have
        probability zero at a generic point."""
        if self.top_k is None or self.top_k == self.num_experts:
            return torch.ones_like(z, dtype=torch.bool)
        kth = torch.topk(z, self.top_k, dim=-1).values[..., -1:]  # (batch, 1)
        return z >= kth

    def gates(self, params: Mapping[str, torch.Tensor], x: torch.Tensor):
        """Gate weights ``g (batch, E)`` for inputs ``x (batch, d)``."""
        z = self.logits(params, x)
        gate = self.gate
        if gate in ("softmax", "cosine"):
            return torch.softmax(z, dim=-1)
        if gate == "sigmoid":
            return torch.sigmoid(z)
        if gate == "linear":
            return z
        if gate == "normalized-sigmoid":
            s = torch.sigmoid(z)
            return s / s.sum(-1, keepdim=True)
        mask = self.selected(z)
        if gate == "topk":
            # -inf logits give exactly zero weight and zero derivative
            return torch.softmax(z.masked_fill(~mask, -torch.inf), dim=-1)
        if gate == "softmax-topk":
            return torch.softmax(z, dim=-1) * mask
        s = torch.sigmoid(z) * mask  # normalized-sigmoid-topk
        return s / s.sum(-1, keepdim=True)

    # ----------------------------------------------------------------- experts
    def expert_outputs(self, params: Mapping[str, torch.Tensor], x: torch.Tensor):
        """Every expert's output, ``(batch, E, o)``."""
        outs = [
            self.block.forward(self.expert_params(params, e), x)
            for e in range(self.num_experts)
        ]
        return torch.stack(outs, dim=1)

    def forward(self, params, x):
        g = self.gates(params, x)  # (batch, E)
        y = self.expert_outputs(params, x)  # (batch, E, o)
        return (g.unsqueeze(-1) * y).sum(1)

    # ------------------------------------------------------------------- kinks
    def kink_preactivations(self, params, x):
        """Signs that identify the piecewise region of ``x``.

        For a top-k gate with ``k < E``: each logit minus the midpoint between the
        k-th and (k+1)-th largest, ``(batch, E)``, positive exactly on the chosen
        experts. For ReLU experts: each expert's hidden pre-activations, ``(batch,
        m)``, multiplied by 1 where the gate uses that expert and by 0 elsewhere,
        so that a unit counts as switching only when it switches inside the region
        where its expert contributes.
        """
        out = []
        use = x.new_ones((x.shape[0], self.num_experts))
        if self.top_k is not None and self.top_k < self.num_experts:
            z = self.logits(params, x)
            top = torch.topk(z, self.top_k + 1, dim=-1).values  # (batch, k + 1)
            mid = (top[..., -2] + top[..., -1]) / 2
            out.append(z - mid[..., None])
            use = self.selected(z).to(x.dtype)
        for e in range(self.num_experts):
            for pre in self.block.kink_preactivations(self.expert_params(params, e), x):
                out.append(pre * use[:, e : e + 1])
        return out

    def describe(self) -> str:
        widths = "-".join(map(str, self.widths))
        gate = self.gate if self.top_k is None else f"{self.gate}, k={self.top_k}"
        extras = [gate + " gate"]
        if self.gate_bias:
            extras.append("gate bias")
        if self.expert_bias:
            extras.append("expert biases")
        if self.gate == "cosine" and self.temperature != 1.0:
            extras.append(f"temperature {self.temperature:g}")
        name = EXPERT_NAMES[self.expert]
        return f"MoE {self.num_experts}×{name} {widths}, {', '.join(extras)}"


class CenteredSigmoidMoE(MoE):
    """A normalized-sigmoid MoE whose gate first centres the logits:
    ``g_e = σ(z_e − z̄) / Σ_p σ(z_p − z̄)`` with ``z̄`` the mean logit.

    Not one of :data:`GATES`: it is the variant that would reconcile the
    paper's Theorem 4.7 with our finding, since centring makes the gate invariant
    under a common shift of the logits, and with it ``Σ_e W_e`` a law. Dense only;
    the arguments are those of :class:`MoE` without ``gate`` and ``top_k``.
    """

    def __init__(self, widths, num_experts, expert="swiglu", **kwargs):
        for name in ("gate", "top_k"):
            if name in kwargs:
                raise TypeError(
                    f"CenteredSigmoidMoE has a fixed dense gate: drop {name}="
                    f"{kwargs[name]!r}"
                )
        super().__init__(widths, num_experts, "normalized-sigmoid", expert, **kwargs)

    def gates(self, params, x):
        z = self.logits(params, x)
        s = torch.sigmoid(z - z.mean(-1, keepdim=True))
        return s / s.sum(-1, keepdim=True)

    def describe(self) -> str:
        return (
            super()
            .describe()
            .replace("normalized-sigmoid gate", "centred normalized-sigmoid gate")
        )


__all__ = [
    "EXPERTS",
    "GATES",
    "CenteredSigmoidMoE",
    "MoE",
    "NORMALIZED_GATES",
    "TOPK_GATES",
]
