"""The laws the paper's protocol tracks in its transformers, and their controls.

Each block of :class:`~conslaw.models.ViT` and :class:`~conslaw.models.LanguageModel`
keeps the laws of its own theorem: they are read from the block chapters' law
functions on the block's prefixed parameters. Beside each group of laws sits a
*control*, a quantity of the same block and of the same kind that the theory says
is not conserved, so that a figure can show the difference:

============  ==========================================  ============================
block          laws (conserved)                            control (not conserved)
============  ==========================================  ============================
MHA            ``Q_hᵀQ_h − K_hᵀK_h``, ``V_hᵀV_h − O_hO_hᵀ``  ``Q_hᵀQ_h`` alone
RoPE MHA       per pair ``‖Q_h[:,p]‖² − ‖K_h[:,p]‖²``, VO    full ``Q_hᵀQ_h − K_hᵀK_h``
SwiGLU FFN     ``‖C[j,:]‖² − ‖A[:,j]‖²``                    ``‖B[j,:]‖² − ‖A[:,j]‖²``
MoE gate       softmax: ``Σ_e W_e``                         ``‖W_e‖²`` per expert
SwiGLU experts each expert's C-balances                     each expert's B-balances
============  ==========================================  ============================

Under the normalized-sigmoid gate the gate sum ``Σ_e W_e`` is what the paper's
Theorem 4.7 states as conserved; our prediction is that it is not
(:mod:`conslaw.laws.moe`), and :func:`law_groups` marks it so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import torch
from torch.func import grad, jacrev, vmap

from ..certificate.certify import ORTHOGONALITY_TOL
from ..certificate.rank import normalized_rows
from ..models.attention import MultiHeadAttention
from ..models.base import FunctionalModel, Params
from ..models.transformer import LanguageModel, ViT
from .attention import query_key_laws, value_output_laws
from .base import Law, LawSet, symmetric_law
from .ffn import glu_balances
from .moe import cosine_laws, expert_laws, translation_laws


@dataclass(frozen=True)
class LawGroup:
    """Quantities of one kind of block, over all layers.

    ``conserved`` is our prediction; ``paper`` what the paper states (they differ
    only for the normalized-sigmoid gate sum). ``laws.blocks(params)`` gives the
    tensors ``h_i`` of the paper's Eq. 10. ``degree``: every quantity of the group
    is a homogeneous polynomial of this degree (1 or 2) in the parameters.
    """

    block: str
    role: str
    text: str
    laws: LawSet
    conserved: bool
    paper: bool
    degree: int = 2


def prefixed(laws: LawSet, prefix: str, names, tag: str) -> LawSet:
    """``laws`` of a block read from parameters stored under ``prefix``.

    Args:
        laws: the block's laws, on its own parameter names.
        prefix: where the block sits in the network (``"L0.attn."``).
        names: the block's parameter names.
        tag: put before every law name and label (``"L0 "``).
    """
    out = []
    for law in laws.laws:

        def fn(p, law=law):
            return law.fn({n: p[prefix + n] for n in names})

        labels = tuple(tag + lab for lab in law.labels)
        out.append(Law(tag + law.name, fn, law.kind, labels, law.independent))
    return LawSet(tuple(out), laws.source)


def query_grams(model: MultiHeadAttention) -> LawSet:
    """``Q_hᵀQ_h`` per head: the MHA control (not conserved)."""
    laws = []
    for h in range(model.heads):
        name = f"Q{h}ᵀQ{h}"
        laws.append(
            symmetric_law(
                name,
                lambda p, h=h: p["Q"][h].T @ p["Q"][h],
                model.d_k,
                f"({name})[{{i}},{{j}}]",
            )
        )
    return LawSet(tuple(laws), "query Gram alone")


def expert_b_balances(model) -> LawSet:
    """Each SwiGLU expert's ``‖B[j,:]‖² − ‖A[:,j]‖²``: the experts' control."""
    ctrl = glu_balances(model.block, "B")
    return LawSet(
        tuple(
            Law(
                f"E{e}: {law.name}",
                lambda p, law=law, e=e: law.fn(model.expert_params(p, e)),
                law.kind,
                tuple(f"E{e}: {lab}" for lab in law.labels),
            )
            for e in range(model.num_experts)
            for law in ctrl.laws
        ),
        "B-balances of the experts",
    )


def _over_layers(model, part: str, block, laws: LawSet) -> LawSet:
    total = LawSet()
    for layer in range(model.layers):
        prefix = f"L{layer}.{part}."
        total = total + prefixed(laws, prefix, block.shapes, f"L{layer} ")
    return total


@singledispatch
def law_groups(model: FunctionalModel) -> dict[str, LawGroup]:
    """The law groups (and controls) the protocol tracks in ``model``, by key."""
    raise TypeError(
        f"no protocol law groups for {type(model).__name__}: expected a ViT or a "
        "LanguageModel"
    )


@law_groups.register
def _(model: ViT) -> dict[str, LawGroup]:
    attn, ffn = model.attn, model.ffn
    mha = query_key_laws(attn) + value_output_laws(attn)
    return {
        "mha": LawGroup(
            "MHA",
            "law",
            "Q_hᵀQ_h − K_hᵀK_h and V_hᵀV_h − O_hO_hᵀ per head",
            _over_layers(model, "attn", attn, mha),
            True,
            True,
        ),
        "mha-control": LawGroup(
            "MHA",
            "control",
            "Q_hᵀQ_h alone",
            _over_layers(model, "attn", attn, query_grams(attn)),
            False,
            False,
        ),
        "swiglu": LawGroup(
            "SwiGLU FFN",
            "law",
            "‖C[j,:]‖² − ‖A[:,j]‖² per unit",
            _over_layers(model, "ffn", ffn, glu_balances(ffn, "C")),
            True,
            True,
        ),
        "swiglu-control": LawGroup(
            "SwiGLU FFN",
            "control",
            "‖B[j,:]‖² − ‖A[:,j]‖² per unit",
            _over_layers(model, "ffn", ffn, glu_balances(ffn, "B")),
            False,
            False,
        ),
    }


@law_groups.register
def _(model: LanguageModel) -> dict[str, LawGroup]:
    attn, moe = model.attn, model.moe
    plain = MultiHeadAttention(attn.d, attn.heads, attn.d_k, attn.d_v, attn.seq_len)
    rope = query_key_laws(attn) + value_output_laws(attn)
    softmax = model.gate == "softmax"
    return {
        "rope": LawGroup(
            "RoPE MHA",
            "law",
            "‖Q_h[:,pair]‖² − ‖K_h[:,pair]‖² per pair, V_hᵀV_h − O_hO_hᵀ",
            _over_layers(model, "attn", attn, rope),
            True,
            True,
        ),
        "rope-control": LawGroup(
            "RoPE MHA",
            "control",
            "full Q_hᵀQ_h − K_hᵀK_h (a law without RoPE)",
            _over_layers(model, "attn", attn, query_key_laws(plain)),
            False,
            False,
        ),
        "gate": LawGroup(
            "MoE gate",
            "law" if softmax else "claimed",
            f"Σ_e W_e under the {model.gate} gate",
            _over_layers(model, "moe", moe, translation_laws(moe)),
            softmax,
            True,
            degree=1,
        ),
        "gate-control": LawGroup(
            "MoE gate",
            "control",
            "‖W_e‖² per expert",
            _over_layers(model, "moe", moe, cosine_laws(moe)),
            False,
            False,
        ),
        "experts": LawGroup(
            "SwiGLU experts",
            "law",
            "‖C[j,:]‖² − ‖A[:,j]‖² per unit of every expert",
            _over_layers(model, "moe", moe, expert_laws(moe)),
            True,
            True,
        ),
        "experts-control": LawGroup(
            "SwiGLU experts",
            "control",
            "‖B[j,:]‖² − ‖A[:,j]‖² per unit of every expert",
            _over_layers(model, "moe", moe, expert_b_balances(moe)),
            False,
            False,
        ),
    }


def network_fields(
    model: FunctionalModel,
    params: Params,
    inputs: torch.Tensor,
    *,
    fields: int = 16,
    seed: int = 0,
) -> torch.Tensor:
    """``fields`` sampled fields ``∇θ <u, f(θ, x)>`` of the whole network on
    ``inputs (n, *in_shape)``, random output weights ``u``: shape ``(fields, D)``."""
    theta = model.flatten(params).detach()
    gen = torch.Generator().manual_seed(int(seed))
    out = model.apply_flat(theta, inputs)
    us = torch.randn((fields, *out.shape), generator=gen, dtype=theta.dtype)
    us = us.to(theta.device)

    def field(u):
        return grad(lambda th: (model.apply_flat(th, inputs) * u).sum())(theta)

    return vmap(field)(us)


def law_orthogonality(
    model: FunctionalModel,
    laws: LawSet,
    params: Params,
    inputs: torch.Tensor | None = None,
    *,
    fields: int = 16,
    seed: int = 0,
    rows: torch.Tensor | None = None,
    combos: int | None = None,
) -> float:
    """The characterization check of ``laws`` in the whole network, at one point.

    A function ``h`` is conserved for every loss and data set iff ``∇h(θ)`` is
    orthogonal to every field ``∇θ <u, f(θ, x)>`` (DESIGN §4). This takes the
    fields ``rows (fields, D)`` (or samples them with :func:`network_fields` on
    ``inputs``) and returns the largest ``|cos|`` between a law's gradient and a
    field: round-off (below :data:`ORTHOGONALITY_TOL`) for a law, of order 1e-3 to
    1e-1 for a quantity that is not conserved. It shows that laws hold, not that
    the list is complete. Use float64 ``params``.

    With ``combos`` the check is on that many random combinations ``Σ_i w_i h_i``
    of the law entries instead of on every entry (the Jacobian then has ``combos``
    rows rather than one per law, for the large profiles). A combination of laws
    is a law; a random combination involving a quantity that is not conserved is
    almost surely not conserved.
    """
    if rows is None:
        if inputs is None:
            raise ValueError("pass the inputs to sample fields on, or the fields")
        rows = network_fields(model, params, inputs, fields=fields, seed=seed)
    theta = model.flatten(params).detach()

    def values(th):
        return laws.vector(model.unflatten(th))

    if combos is not None:
        n = values(theta).numel()
        gen = torch.Generator().manual_seed(int(seed) + 1)
        w = torch.randn((combos, n), generator=gen, dtype=theta.dtype)
        w = w.to(theta.device)

        def values(th, entries=values):
            return w @ entries(th)

    jac = jacrev(values)(theta)  # (N or combos, D)
    return (normalized_rows(jac) @ normalized_rows(rows).T).abs().max().item()


def one_step_change(model, group: LawGroup, params: Params, x, y, lr: float, loss):
    """One gradient step on the batch ``(x, y)``: the change of the group's
    quantities against what a conserved law must do.

    A law's gradient is orthogonal to every mini-batch gradient ``g``, so a step
    ``θ − τ g`` changes a homogeneous quadratic law by exactly ``τ² h(g)`` (``h``
    evaluated at the gradient) and a linear one by ``−τ h(g) = 0``. A quantity that
    is not conserved has a first-order term ``−τ ⟨∇h, g⟩`` on top.

    Returns:
        ``{"change": ‖Δh‖ / ‖h‖, "mismatch": ‖Δh − prediction‖ / ‖h‖}`` (floats),
        over all the group's entries, relative to their size ``‖h(θ)‖``.
    """
    g = grad(lambda p: loss(model.forward(p, x), y))(params)
    new = {n: params[n] - lr * g[n] for n in params}
    before = group.laws.vector(params)
    measured = group.laws.vector(new) - before
    if group.degree == 2:
        predicted = lr**2 * group.laws.vector(g)
    else:
        predicted = torch.zeros_like(measured)
    size = before.norm()
    return {
        "change": (measured.norm() / size).item(),
        "mismatch": ((measured - predicted).norm() / size).item(),
    }


__all__ = [
    "ORTHOGONALITY_TOL",
    "one_step_change",
    "LawGroup",
    "expert_b_balances",
    "law_groups",
    "law_orthogonality",
    "network_fields",
    "prefixed",
    "query_grams",
]
