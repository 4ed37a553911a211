"""Laws of feedforward and gated networks (DESIGN §4, Theorems 4.1 and 4.2)."""

from __future__ import annotations

import torch

from ..models.ffn import FFN
from ..models.glu import GLU
from .base import LawSet, balance_rank, entries_law, predicted_laws, symmetric_law


def _incoming(params, model: FFN, layer: int):
    """``[W_l b_l]``: the weights into the neurons of hidden layer ``layer``."""
    w = params[f"W{layer}"]
    if model.bias:
        w = torch.cat([w, params[f"b{layer}"][:, None]], dim=1)
    return w


def neuron_balances(model: FFN) -> LawSet:
    """Per hidden neuron, ``‖W_l[j,:]‖² + b_l[j]² − ‖W_{l+1}[:,j]‖²``.

    Conserved when the activation is positively homogeneous (ReLU, linear); for GELU
    and SiLU the same quantities are the would-be laws that drift.
    """
    laws = []
    for layer in range(1, model.depth):

        def fn(p, layer=layer):
            w_in = _incoming(p, model, layer)
            return (w_in**2).sum(1) - (p[f"W{layer + 1}"] ** 2).sum(0)

        bias = f" + b{layer}[j]²" if model.bias else ""
        name = f"‖W{layer}[j,:]‖²{bias} − ‖W{layer + 1}[:,j]‖²"
        labels = [name.replace("j", str(j)) for j in range(model.widths[layer])]
        laws.append(entries_law(name, fn, labels))
    return LawSet(tuple(laws), "neuron rescaling")


def linear_laws(model: FFN) -> LawSet:
    """Per hidden layer, ``[W_l b_l][W_l b_l]ᵀ − W_{l+1}ᵀ W_{l+1}`` (symmetric).

    A layer wider than its two neighbours together has fewer independent entries
    than ``m (m + 1) / 2``: see :func:`balance_rank`.
    """
    laws = []
    for layer in range(1, model.depth):

        def fn(p, layer=layer):
            w_in = _incoming(p, model, layer)
            w_out = p[f"W{layer + 1}"]
            return w_in @ w_in.T - w_out.T @ w_out

        inc = f"[W{layer} b{layer}]" if model.bias else f"W{layer}"
        name = f"{inc}{inc}ᵀ − W{layer + 1}ᵀW{layer + 1}"
        entry = f"({name})[{{i}},{{j}}]"
        fan_in = model.widths[layer - 1] + int(model.bias)
        n = model.widths[layer]
        independent = balance_rank(n, fan_in, model.widths[layer + 1])
        laws.append(symmetric_law(name, fn, n, entry, independent))
    return LawSet(tuple(laws), "linear change of basis")


def balance_rates(model: FFN, data, loss: str = "cross-entropy"):
    """The closed-form rate of change of :func:`neuron_balances` under gradient flow.

    For a one-hidden-layer net ``A act(B x + b) + c`` and ``h_j`` the balance of
    neuron ``j`` (incoming minus outgoing squared norms),

        dh_j/dt = 2 Σ_x (r_xᵀ A[:, j]) (act(z_j) − z_j act′(z_j)),

    with ``r_x = ∂L/∂f(x)`` and ``z_j = B[j,:]·x + b_j``. It vanishes for ReLU and
    linear units; for GELU ``act − z act′ = −z² φ(z)``, for SiLU
    ``−z² s(z)(1 − s(z))`` (:data:`~conslaw.models.activations.NONHOMOGENEITY`).

    Returns:
        ``params -> (m,)`` rates, for ``data`` and ``loss``.
    """
    from torch.func import grad

    from ..models.activations import NONHOMOGENEITY
    from ..training.losses import loss_fn

    if model.depth != 2:
        raise ValueError(
            f"balance_rates needs one hidden layer, got widths {model.widths}"
        )
    if model.activation_name not in NONHOMOGENEITY:
        raise ValueError(
            f"no closed form for activation {model.activation_name!r}: expected "
            f"one of {', '.join(NONHOMOGENEITY)}"
        )
    gap = NONHOMOGENEITY[model.activation_name]
    fn = loss_fn(loss)
    residual = grad(lambda out: fn(out, data.y))

    def rates(p):
        z = model.preactivations(p, data.x)[0]  # (n, m)
        r = residual(model.forward(p, data.x))  # (n, o)
        return 2 * ((r @ p["W2"]) * gap(z)).sum(0)

    return rates


@predicted_laws.register
def _(model: FFN) -> LawSet:
    if model.activation_name == "linear":
        return linear_laws(model)
    if model.activation_name == "relu":
        return neuron_balances(model)
    return LawSet((), "none (Theorem 4.1)")


def glu_balances(model: GLU, weight: str = "C") -> LawSet:
    """Per unit, ``‖weight[j,:]‖² − ‖A[:,j]‖²`` for ``weight`` in ``B`` or ``C``."""
    if weight not in ("B", "C"):
        raise ValueError(f"expected weight 'B' or 'C', got {weight!r}")

    def fn(p):
        return (p[weight] ** 2).sum(1) - (p["A"] ** 2).sum(0)

    name = f"‖{weight}[j,:]‖² − ‖A[:,j]‖²"
    labels = [name.replace("j", str(j)) for j in range(model.widths[1])]
    return LawSet((entries_law(name, fn, labels),), f"rescaling of {weight}")


@predicted_laws.register
def _(model: GLU) -> LawSet:
    laws = glu_balances(model, "C")
    if model.activation_name in ("relu", "linear"):
        laws = laws + glu_balances(model, "B")
    return laws
