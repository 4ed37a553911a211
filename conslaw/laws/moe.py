"""Laws of Mixture-of-Experts layers (DESIGN §4, Theorems 4.5–4.7).

Every MoE keeps each expert's own laws: the symmetries of an expert's block leave
its output, hence ``g_e(x) E_e(x)``, unchanged. The gate adds:

- softmax, top-k softmax (``k > 1``) and softmax-then-top-k (any ``k``): the
  translation ``W_e ↦ W_e + c`` for every ``e`` shifts all logits by ``c·x``, which
  neither the softmax nor the choice of the k largest sees, so ``Σ_e W_e`` (``d``
  laws) and, with a gate bias, ``Σ_e b_e`` are conserved;
- a normalized gate over one expert (renormalized top-1, softmax or normalized
  sigmoid, or ``E = 1``): the weight is the constant 1, the gate gets no gradient,
  every gate parameter is conserved. Softmax then top-1 *without* renormalizing is
  not degenerate: its weight ``max_e softmax(z)_e`` sees every logit, and only the
  translation laws remain. A top-k gate with ``k = E`` is the dense gate;
- normalized sigmoid, dense or top-k (``k > 1``), and plain sigmoid: nothing. The
  paper's Theorem 4.7 states the softmax laws for the normalized sigmoid; the
  translation is not a symmetry of ``σ(z_e) / Σ_p σ(z_p)`` and the certificate finds
  only the experts' laws (see :mod:`conslaw.symbolic.moe` for the exact rate);
- cosine router: ``W_e ↦ λ W_e`` leaves ``cos(W_e, x)`` unchanged, so ``‖W_e‖²`` is
  conserved per expert; its gate bias is added to the logits before the softmax and
  so has the translation law ``Σ_e b_e``;
- linear gate ``g_e = W_e·x + b_e``: ``(W_e, b_e) ↦ λ (W_e, b_e)`` against
  ``expert output layer ↦ output layer / λ`` leaves ``g_e E_e`` unchanged, giving
  ``‖W_e‖² + b_e² − ‖A_e‖²`` per expert (``A_e`` the output weights, and the
  output bias of an FFN expert that has one).
"""

from __future__ import annotations

import torch

from ..models.moe import CenteredSigmoidMoE, MoE
from .base import Law, LawSet, entries_law, predicted_laws


def expert_laws(model: MoE) -> LawSet:
    """Each expert's own laws, renamed ``E{e}: ...`` and read from its prefix."""
    block_laws = predicted_laws(model.block)
    laws = []
    for e in range(model.num_experts):
        tag = f"E{e}: "
        for law in block_laws.laws:

            def fn(p, law=law, e=e):
                return law.fn(model.expert_params(p, e))

            labels = tuple(tag + lab for lab in law.labels)
            laws.append(Law(tag + law.name, fn, law.kind, labels, law.independent))
    source = f"{model.num_experts} × ({block_laws.source or 'no laws'})"
    return LawSet(tuple(laws), source)


def _bias_sum() -> Law:
    return entries_law("Σ_e b[e]", lambda p: p["b"].sum(0, keepdim=True), ["Σ_e b[e]"])


def translation_laws(model: MoE) -> LawSet:
    """``Σ_e W[e, :]`` (shape ``(d,)``), and ``Σ_e b_e`` with a gate bias."""
    labels = [f"Σ_e W[e,{i}]" for i in range(model.widths[0])]
    laws = [entries_law("Σ_e W[e,:]", lambda p: p["W"].sum(0), labels)]
    if model.gate_bias:
        laws.append(_bias_sum())
    return LawSet(tuple(laws), "logit translation")


def frozen_gate_laws(model: MoE) -> LawSet:
    """Every gate parameter: ``W`` entry by entry (``E·d``), and ``b`` (``E``)."""
    E, d = model.num_experts, model.widths[0]
    labels = [f"W[{e},{i}]" for e in range(E) for i in range(d)]
    laws = [entries_law("W", lambda p: p["W"], labels)]
    if model.gate_bias:
        laws.append(entries_law("b", lambda p: p["b"], [f"b[{e}]" for e in range(E)]))
    return LawSet(tuple(laws), "constant gate: no gradient")


def cosine_laws(model: MoE) -> LawSet:
    """``‖W[e,:]‖²`` per expert, and ``Σ_e b_e`` with a gate bias."""
    labels = [f"‖W[{e},:]‖²" for e in range(model.num_experts)]
    laws = [entries_law("‖W[e,:]‖²", lambda p: (p["W"] ** 2).sum(1), labels)]
    if model.gate_bias:
        laws.append(_bias_sum())
    return LawSet(tuple(laws), "scale of each gate row")


def output_layer(model: MoE) -> list[str]:
    """Names, inside one expert, of its output weights (and bias)."""
    if model.expert == "swiglu":
        return ["A"]
    return ["W2", "b2"] if model.expert_bias else ["W2"]


def linear_gate_laws(model: MoE) -> LawSet:
    """Per expert, ``‖W[e,:]‖² (+ b_e²) − ‖output layer of E_e‖²``."""
    E = model.num_experts
    outputs = output_layer(model)

    def fn(p):
        gate = (p["W"] ** 2).sum(1)  # (E,)
        if model.gate_bias:
            gate = gate + p["b"] ** 2
        out = torch.stack(
            [
                sum((model.expert_params(p, e)[n] ** 2).sum() for n in outputs)
                for e in range(E)
            ]
        )
        return gate - out

    bias = " + b[e]²" if model.gate_bias else ""
    out_name = " + ".join(f"‖E_e.{n}‖²" for n in outputs)
    name = f"‖W[e,:]‖²{bias} − ({out_name})"
    labels = [name.replace("[e", f"[{e}").replace("E_e", f"E{e}") for e in range(E)]
    return LawSet((entries_law(name, fn, labels),), "gate row against output layer")


def gate_laws(model: MoE) -> LawSet:
    """The laws the gate adds to the experts' own (see the module docstring)."""
    if model.constant_gate:
        return frozen_gate_laws(model)
    if model.gate in ("softmax", "topk", "softmax-topk"):
        return translation_laws(model)
    if model.gate == "cosine":
        return cosine_laws(model)
    if model.gate == "linear":
        return linear_gate_laws(model)
    # normalized sigmoid, dense or top-k with k > 1, and plain sigmoid
    return LawSet((), "none from the gate")


@predicted_laws.register
def _(model: MoE) -> LawSet:
    return gate_laws(model) + expert_laws(model)


@predicted_laws.register
def _(model: CenteredSigmoidMoE) -> LawSet:
    # centring makes the gate shift-invariant: the softmax's laws (one expert:
    # the constant gate, as for any normalized gate)
    gate = frozen_gate_laws(model) if model.constant_gate else translation_laws(model)
    return gate + expert_laws(model)


def _dense_normalized_sigmoid(model: MoE) -> bool:
    """A normalized-sigmoid gate over more than one expert that is dense (a top-k
    gate with ``k = E`` is the dense gate)."""
    if model.constant_gate:
        return False
    if model.gate == "normalized-sigmoid":
        return True
    return model.gate == "normalized-sigmoid-topk" and model.top_k == model.num_experts


def paper_claimed_count(model: MoE) -> int:
    """How many laws the paper's theorems give for ``model``, as we read them.

    Equal to our prediction except for the dense normalized-sigmoid gate with
    ``E > 1`` (also as a top-k gate with ``k = E``, which is the same gate), to
    which Theorem 4.7 (as secondary sources give it) assigns the softmax laws:
    ``d`` more, ``d + 1`` with a gate bias. Whether the paper also covers a top-k
    normalized sigmoid with ``k < E`` is not known to us, so none is claimed there.
    """
    ours = predicted_laws(model).count
    if isinstance(model, CenteredSigmoidMoE):
        return ours
    if _dense_normalized_sigmoid(model):
        return ours + model.widths[0] + int(model.gate_bias)
    return ours


def paper_claim_note(model: MoE) -> str | None:
    """One line setting the paper's count beside ours, for normalized-sigmoid
    gates (``None`` for the other gates, where the two agree)."""
    if isinstance(model, CenteredSigmoidMoE) or model.gate not in (
        "normalized-sigmoid",
        "normalized-sigmoid-topk",
    ):
        return None
    ours, claimed = predicted_laws(model).count, paper_claimed_count(model)
    if claimed != ours:
        return (
            f"{claimed}  (Theorem 4.7 as we read it: the softmax laws, Σ_e W_e "
            f"{'and Σ_e b_e ' if model.gate_bias else ''}added to the experts'; "
            f"ours, {ours}: no gate law, see the book's MoE chapter)"
        )
    if model.constant_gate:
        return f"{claimed}  (the same: over one expert the gate is the constant 1)"
    return "–  (Theorem 4.7 as we read it covers the dense gate, not top-k with k < E)"


# the gates whose translation rate has a closed form, by what Σ_e ∂g_p/∂z_e is
TRANSLATION_RATE_GATES = (
    "softmax",
    "topk",
    "softmax-topk",
    "normalized-sigmoid",
    "normalized-sigmoid-topk",
    "sigmoid",
    "linear",
)


def _check_rate_gate(model: MoE) -> None:
    if model.gate not in TRANSLATION_RATE_GATES:
        raise ValueError(
            f"no closed-form translation rate for the {model.gate!r} gate: expected "
            f"one of {', '.join(TRANSLATION_RATE_GATES)} (the cosine router's "
            "logits are not W x)"
        )


def translation_derivative(model: MoE, z: torch.Tensor) -> torch.Tensor:
    """``Σ_e ∂g_p/∂z_e`` for every ``p``: the gate's derivative when every logit
    moves by the same amount, from its closed form, ``(batch, E)``.

    Zero for the softmax gates (dense, top-k, softmax then top-k) and the
    centred normalized sigmoid (:class:`~conslaw.models.moe.CenteredSigmoidMoE`);
    for the normalized sigmoid over the chosen experts ``c``, with ``s = σ(z)``,
    ``g_p (Σ_c s_c² / Σ_c s_c − s_p)``; ``σ_p (1 − σ_p)`` for the plain sigmoid
    and ``1`` for the linear gate. The cosine router's logits are not ``W x``, so it
    has no such rate.
    """
    _check_rate_gate(model)
    if isinstance(model, CenteredSigmoidMoE) or model.gate in (
        "softmax",
        "topk",
        "softmax-topk",
    ):
        return torch.zeros_like(z)
    if model.gate == "linear":
        return torch.ones_like(z)
    s = torch.sigmoid(z)
    if model.gate == "sigmoid":
        return s * (1 - s)
    s = s * model.selected(z)  # (batch, E), zero off the chosen experts
    total = s.sum(-1, keepdim=True)
    g = s / total
    return g * ((s**2).sum(-1, keepdim=True) / total - s)


def translation_rates(model: MoE, data, loss="cross-entropy"):
    """The closed-form rate of ``Σ_e W[e, :]`` (and ``Σ_e b_e``) under gradient flow.

    With ``r_x = ∂L/∂f(x)`` and ``T_p(x)`` from :func:`translation_derivative`,

        d/dt Σ_e W_e = −Σ_x (Σ_p (r_xᵀ E_p(x)) T_p(x)) x,

    and the same without the factor ``x`` for ``Σ_e b_e``. It is zero for the
    softmax gates and, for the normalized sigmoid, the drift the paper's
    Theorem 4.7 would forbid.

    Args:
        model: an MoE whose gate is in :data:`TRANSLATION_RATE_GATES`.
        data: a :class:`~conslaw.data.Dataset` with inputs ``(n, d)``.
        loss: a loss name or function ``(out, y) -> loss``.

    Returns:
        ``params -> (d,)`` rates (``(d + 1,)`` with a gate bias, the bias last).
    """
    from torch.func import grad

    from ..training.losses import loss_fn

    _check_rate_gate(model)
    fn = loss_fn(loss)
    residual = grad(lambda out: fn(out, data.y))

    def rates(p):
        z = model.logits(p, data.x)  # (n, E)
        experts = model.expert_outputs(p, data.x)  # (n, E, o)
        r = residual(model.forward(p, data.x))  # (n, o)
        weight = (
            (experts @ r[..., None])[..., 0] * translation_derivative(model, z)
        ).sum(-1)  # (n,)
        out = -(weight @ data.x)  # (d,)
        if model.gate_bias:
            out = torch.cat([out, -weight.sum()[None]])
        return out

    return rates


def gate_gradient(model: MoE, params, data, loss="cross-entropy") -> torch.Tensor:
    """``∂L/∂W``, shape ``(E, d)``, on ``data`` at ``params``: exactly zero for a
    constant gate (renormalized top-1), whose weights never move."""
    from torch.func import grad

    from ..training.losses import loss_fn

    fn = loss_fn(loss)

    def objective(w):
        return fn(model.forward({**params, "W": w}, data.x), data.y)

    return grad(objective)(params["W"])


__all__ = [
    "cosine_laws",
    "expert_laws",
    "frozen_gate_laws",
    "gate_gradient",
    "gate_laws",
    "linear_gate_laws",
    "paper_claim_note",
    "paper_claimed_count",
    "TRANSLATION_RATE_GATES",
    "translation_derivative",
    "translation_laws",
    "translation_rates",
]
