"""Symbolic feedforward and gated networks, their laws, and proofs of the laws.

A function ``h(θ)`` is conserved for every loss and data set iff
``⟨∇_θ h, ∇_θ f_k(θ, x)⟩ = 0`` for every input ``x`` and output ``k`` (DESIGN §4).
Here that pairing is computed exactly, on networks of a few neurons whose
parameters and inputs are real sympy symbols, and reduced to zero or to a closed
form.

Positively homogeneous activations (ReLU, and any other with ``σ(λz) = λσ(z)``
for ``λ > 0``) enter as the undefined function ``sigma``; its derivative is the
undefined ``dsigma``, and the proofs use ``sigma(u) = u·dsigma(u)``, which holds
almost everywhere for ReLU. A linear network uses the identity itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import UndefinedFunction

from ..models.ffn import check_widths
from ..models.glu import GLU_VARIANTS
from .activations import (
    HOMOGENEITY,
    SIGMA,
    expand_outside_functions,
    nonhomogeneity,
    reduce_residual,
    relu_numeric,
    sympy_activation,
    vanishes,
    z,
)

# a residual whose value at a rational point exceeds this is certainly non-zero:
# values are computed with 30 significant digits
WITNESS_THRESHOLD = 1e-12


@dataclass(frozen=True)
class SymbolicNet:
    """A network with symbolic parameters, named and shaped as in conslaw.models.

    ``params`` maps ``W1, b1, ...`` (or ``B, C, A``) to matrices of real symbols,
    biases as ``(n, 1)`` columns; ``x`` is the ``(d, 1)`` input, ``out`` the
    ``(o, 1)`` output. ``activation`` is a name of ``ACTIVATIONS`` or ``"sigma"``.
    """

    kind: str
    widths: tuple[int, ...]
    activation: str
    bias: bool
    params: dict[str, sp.Matrix] = field(repr=False)
    x: sp.Matrix = field(repr=False)
    out: sp.Matrix = field(repr=False)

    @property
    def theta(self) -> list[sp.Symbol]:
        """The ``D`` parameter symbols, in the order of ``FunctionalModel.flatten``."""
        return [s for m in self.params.values() for s in m]

    def substitution(self, values: Mapping[str, Any]) -> dict[sp.Symbol, sp.Float]:
        """Symbols to numbers, from arrays (tensors) named and shaped as ``params``."""
        out = {}
        for name, m in self.params.items():
            if name not in values:
                raise ValueError(
                    f"no value for parameter {name!r}: expected {list(self.params)}"
                )
            a = np.asarray(values[name], dtype=float).reshape(m.shape)
            out.update({s: sp.Float(v) for s, v in zip(m, a.reshape(-1))})
        return out


@dataclass(frozen=True)
class LawProof:
    """The verdict on one candidate law ``h``.

    ``residuals[k]`` is ``⟨∇h, ∇f_k⟩`` reduced; ``holds`` is True when every one is
    proved zero. When not, ``witness`` gives a rational point where a residual is
    non-zero (σ taken as ReLU), which proves that ``h`` is not conserved.
    ``closed_form`` is the expression the residuals were proved equal to, if any.
    """

    label: str
    residuals: tuple[sp.Expr, ...]
    holds: bool
    activation: str
    witness: dict | None = None
    closed_form: tuple[sp.Expr, ...] | None = None
    matches_closed_form: bool | None = None


def _matrix(name: str, rows: int, cols: int | None = None) -> sp.Matrix:
    if cols is None:
        return sp.Matrix(rows, 1, lambda i, _: sp.Symbol(f"{name}_{i}", real=True))
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def _activation(activation) -> tuple[str, Any]:
    """The label and the callable of a name or an undefined sympy function."""
    if isinstance(activation, str):
        sympy_activation(activation, z)  # raises on a bad name
        return activation, lambda u: sympy_activation(activation, u)
    if isinstance(activation, UndefinedFunction):
        return activation.__name__, activation
    raise TypeError(
        "expected an activation name or an undefined sympy.Function such as "
        f"conslaw.symbolic.SIGMA, got {activation!r} of type {type(activation)}"
    )


def symbolic_ffn(widths: Sequence[int], activation="relu", *, bias=True) -> SymbolicNet:
    """``W_L act(... act(W_1 x + b_1) ...) + b_L``, ``W_l`` of shape ``(w_l, w_{l-1})``.

    >>> net = symbolic_ffn([2, 1, 1], "linear")
    >>> net.out
    Matrix([[W2_0_0*(W1_0_0*x_0 + W1_0_1*x_1 + b1_0) + b2_0]])
    """
    widths = check_widths(widths)
    label, act = _activation(activation)
    x = _matrix("x", widths[0])
    params, h = {}, x
    depth = len(widths) - 1
    for layer in range(1, depth + 1):
        w = _matrix(f"W{layer}", widths[layer], widths[layer - 1])
        params[f"W{layer}"] = w
        h = w * h
        if bias:
            params[f"b{layer}"] = _matrix(f"b{layer}", widths[layer])
            h = h + params[f"b{layer}"]
        if layer < depth:
            h = h.applyfunc(act)
    return SymbolicNet("ffn", tuple(widths), label, bool(bias), params, x, h)


def symbolic_glu(widths: Sequence[int], activation="silu") -> SymbolicNet:
    """``A (act(B x) ⊙ C x)`` with ``B, C (m, d)`` and ``A (o, m)``, no biases.

    >>> symbolic_glu([1, 1, 1], "linear").out
    Matrix([[A_0_0*B_0_0*C_0_0*x_0**2]])
    """
    d, m, o = check_widths(widths, exactly=3)
    label, act = _activation(activation)
    if label not in GLU_VARIANTS and label != SIGMA.__name__:
        raise ValueError(
            f"unknown GLU activation {label!r}: expected one of "
            f"{', '.join(GLU_VARIANTS)} or SIGMA"
        )
    x = _matrix("x", d)
    params = {"B": _matrix("B", m, d), "C": _matrix("C", m, d), "A": _matrix("A", o, m)}
    gate = (params["B"] * x).applyfunc(act)  # (m, 1)
    out = params["A"] * gate.multiply_elementwise(params["C"] * x)
    return SymbolicNet("glu", (d, m, o), label, False, params, x, out)


def _sq(m: sp.Matrix) -> sp.Expr:
    """The squared Frobenius norm of ``m``."""
    return sum(s**2 for s in m)


def _expect(net: SymbolicNet, kind: str) -> None:
    if net.kind != kind:
        raise ValueError(f"expected a {kind} network, got a {net.kind} network")


def neuron_balance_laws(net: SymbolicNet) -> list[tuple[str, sp.Expr]]:
    """``‖W_l[j,:]‖² + b_l[j]² − ‖W_{l+1}[:,j]‖²`` per hidden neuron, torch's labels."""
    _expect(net, "ffn")
    laws = []
    for layer in range(1, len(net.widths) - 1):
        w_in, w_out = net.params[f"W{layer}"], net.params[f"W{layer + 1}"]
        bias = f" + b{layer}[j]²" if net.bias else ""
        name = f"‖W{layer}[j,:]‖²{bias} − ‖W{layer + 1}[:,j]‖²"
        for j in range(net.widths[layer]):
            h = _sq(w_in[j, :]) - _sq(w_out[:, j])
            if net.bias:
                h += net.params[f"b{layer}"][j] ** 2
            laws.append((name.replace("j", str(j)), h))
    return laws


def linear_block_laws(net: SymbolicNet) -> list[tuple[str, sp.Expr]]:
    """Upper-triangle entries of ``[W_l b_l][W_l b_l]ᵀ − W_{l+1}ᵀW_{l+1}``."""
    _expect(net, "ffn")
    laws = []
    for layer in range(1, len(net.widths) - 1):
        w_in, w_out = net.params[f"W{layer}"], net.params[f"W{layer + 1}"]
        if net.bias:
            w_in = w_in.row_join(net.params[f"b{layer}"])
        block = w_in * w_in.T - w_out.T * w_out
        inc = f"[W{layer} b{layer}]" if net.bias else f"W{layer}"
        name = f"{inc}{inc}ᵀ − W{layer + 1}ᵀW{layer + 1}"
        n = net.widths[layer]
        laws += [
            (f"({name})[{i},{j}]", block[i, j]) for i in range(n) for j in range(i, n)
        ]
    return laws


def glu_balance_laws(net: SymbolicNet, weight: str = "C") -> list[tuple[str, sp.Expr]]:
    """``‖weight[j,:]‖² − ‖A[:,j]‖²`` per unit, for ``weight`` ``B`` or ``C``."""
    _expect(net, "glu")
    if weight not in ("B", "C"):
        raise ValueError(f"expected weight 'B' or 'C', got {weight!r}")
    w, a = net.params[weight], net.params["A"]
    name = f"‖{weight}[j,:]‖² − ‖A[:,j]‖²"
    return [
        (name.replace("j", str(j)), _sq(w[j, :]) - _sq(a[:, j]))
        for j in range(net.widths[1])
    ]


def predicted_symbolic_laws(net: SymbolicNet) -> list[tuple[str, sp.Expr]]:
    """The laws of ``conslaw.laws.predicted_laws``, same labels and order."""
    if net.activation == SIGMA.__name__:
        raise ValueError(
            "predicted laws depend on the named activation, got the undefined sigma: "
            "build the network with a name such as 'relu'"
        )
    if net.kind == "glu":
        laws = glu_balance_laws(net, "C")
        if net.activation in ("relu", "linear"):
            laws += glu_balance_laws(net, "B")
        return laws
    if net.activation == "linear":
        return linear_block_laws(net)
    return neuron_balance_laws(net) if net.activation == "relu" else []


def evaluate_laws(
    laws: Sequence[tuple[str, sp.Expr]], net: SymbolicNet, values: Mapping[str, Any]
) -> list[float]:
    """The laws ``[(label, expr), ...]`` at numeric parameters, as floats."""
    sub = net.substitution(values)
    return [float(h.xreplace(sub)) for _, h in laws]


def pairing(f, h: sp.Expr, params: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """``⟨∇_θ h, ∇_θ f_k⟩`` for each output coordinate ``k``, unsimplified.

    Args:
        f: the ``(o, 1)`` output matrix, or a sequence of ``o`` scalars.
        h: the candidate law, a scalar expression in ``params``.
        params: the ``D`` parameter symbols ``θ``.

    >>> a, b, x = sp.symbols("a b x", real=True)
    >>> pairing([a * b * x], a**2 - b**2, [a, b])
    [0]
    """
    grad_h = [(p, sp.diff(h, p)) for p in params]
    grad_h = [(p, g) for p, g in grad_h if g != 0]
    return [
        expand_outside_functions(sum(g * sp.diff(fk, p) for p, g in grad_h)) for fk in f
    ]


def find_witness(
    residuals: Sequence[sp.Expr], seed: int = 0, tries: int = 5
) -> dict | None:
    """A rational point where some residual is non-zero, or None if none is found.

    ``sigma`` is taken as ReLU; points that put a pre-activation exactly at the
    kink are skipped. Returns ``{"point", "output", "value"}``.
    """
    rng = random.Random(seed)
    symbols = sorted(set().union(*(r.free_symbols for r in residuals)), key=str)
    for _ in range(tries):
        point = {
            s: sp.Rational(rng.choice([-1, 1]) * rng.randint(1, 9), rng.randint(1, 4))
            for s in symbols
        }
        for k, r in enumerate(residuals):
            try:
                value = relu_numeric(r.xreplace(point)).evalf(30)
            except ValueError:  # at ReLU's kink: draw another point
                break
            if value.is_number and abs(value) > WITNESS_THRESHOLD:
                return {"point": point, "output": k, "value": value}
    return None


def prove_law(
    net: SymbolicNet, label: str, h: sp.Expr, *, homogeneous: bool = False
) -> LawProof:
    """Decide whether ``h`` is conserved by ``net``: residuals, verdict, witness.

    Args:
        net: a symbolic network.
        label: a name for ``h``.
        h: a scalar expression in ``net.theta``.
        homogeneous: use ``sigma(u) = u*dsigma(u)``; needs a net built with SIGMA.

    Raises:
        RuntimeError: when sympy neither proves the residuals zero nor finds a point
            where one is non-zero.
    """
    if homogeneous and net.activation != SIGMA.__name__:
        raise ValueError(
            f"homogeneous=True needs a net built with SIGMA, got {net.activation!r}"
        )
    residuals = [
        reduce_residual(r, homogeneous=homogeneous)
        for r in pairing(net.out, h, net.theta)
    ]
    activation = HOMOGENEITY if homogeneous else net.activation

    # a non-zero value at a point settles it; only then try simplify, which is slow
    witness = find_witness(residuals)
    if witness is not None:
        return LawProof(label, tuple(residuals), False, activation, witness)
    residuals = [sp.Integer(0) if r == 0 or vanishes(r) else r for r in residuals]
    if any(r != 0 for r in residuals):
        raise RuntimeError(
            f"could not decide {label}: sympy did not reduce its residuals to 0 and "
            "no rational point makes one non-zero; try a smaller network"
        )
    return LawProof(label, tuple(residuals), True, activation)


def prove_ffn_laws(
    widths: Sequence[int], activation: str = "relu", *, bias: bool = True
) -> list[LawProof]:
    """Prove every predicted law of an FFN; ReLU as a homogeneous ``sigma``.

    GELU, tanh-GELU and SiLU have no predicted law, so the list is empty; see
    :func:`ffn_balance_drift` for the would-be laws.

    >>> [p.holds for p in prove_ffn_laws([2, 2, 1], "relu")]
    [True, True]
    """
    laws = predicted_symbolic_laws(symbolic_ffn(widths, activation, bias=bias))
    homogeneous = activation == "relu"
    net = symbolic_ffn(widths, SIGMA if homogeneous else activation, bias=bias)
    return [prove_law(net, lab, h, homogeneous=homogeneous) for lab, h in laws]


def prove_glu_laws(widths: Sequence[int], activation: str = "silu") -> list[LawProof]:
    """Prove every predicted law of a GLU: C-balances for an arbitrary ``sigma``.

    The B-balances of ReGLU use homogeneity, those of the bilinear GLU the
    identity; SwiGLU and GeGLU have none (see :func:`glu_balance_drift`).

    >>> [p.activation for p in prove_glu_laws([1, 1, 1], "relu")]
    ['sigma', 'sigma positively homogeneous: sigma(u) = u*dsigma(u)']
    """
    named = symbolic_glu(widths, activation)
    arbitrary = symbolic_glu(widths, SIGMA)
    proofs = [prove_law(arbitrary, *law) for law in glu_balance_laws(arbitrary, "C")]
    if activation == "relu":
        b_laws = glu_balance_laws(arbitrary, "B")
        proofs += [prove_law(arbitrary, *law, homogeneous=True) for law in b_laws]
    elif activation == "linear":
        proofs += [prove_law(named, *law) for law in glu_balance_laws(named, "B")]
    return proofs


def _drift(net, laws, closed, zs, eliminate) -> list[LawProof]:
    """Prove each law's residuals equal ``closed[j][k]`` by setting ``z_j = u``.

    ``eliminate[j]`` is a parameter that ``z_j`` is linear in: solving ``z_j = u``
    for it makes every residual a function of ``u``, which ``vanishes`` decides.
    """
    u = sp.Symbol("u", real=True)
    proofs = []
    for (label, h), cf, zj, p in zip(laws, closed, zs, eliminate):
        sol = sp.solve(sp.Eq(zj, u), p, dict=True)[0]
        pairs = pairing(net.out, h, net.theta)
        match = all(vanishes(sp.expand((r - c).subs(sol))) for r, c in zip(pairs, cf))
        residuals = tuple(cf) if match else tuple(map(reduce_residual, pairs))
        holds = all(r == 0 for r in residuals)
        witness = None if holds else find_witness(residuals)
        proofs.append(
            LawProof(label, residuals, holds, net.activation, witness, tuple(cf), match)
        )
    return proofs


def ffn_balance_drift(
    activation: str, widths: Sequence[int] = (2, 2, 2), *, bias: bool = True
) -> list[LawProof]:
    """The neuron balances of ``W2 act(W1 x + b1) + b2``, paired with ``f_k``.

    Each pairing is proved equal to ``−2 W2[k,j] (act(z_j) − z_j act′(z_j))`` with
    ``z_j = (W1 x + b1)[j]``, the defect from :func:`nonhomogeneity`. It is zero
    only for ReLU and the identity.

    >>> p = ffn_balance_drift("gelu", (1, 1, 1))[0]
    >>> p.holds, p.matches_closed_form
    (False, True)
    >>> p.residuals[0]
    sqrt(2)*W2_0_0*(W1_0_0*x_0 + b1_0)**2*exp(-(W1_0_0*x_0 + b1_0)**2/2)/sqrt(pi)
    """
    widths = check_widths(widths, exactly=3)
    net = symbolic_ffn(widths, activation, bias=bias)
    pre = net.params["W1"] * net.x + (
        net.params["b1"] if bias else sp.zeros(widths[1], 1)
    )
    w2 = net.params["W2"]
    defect = nonhomogeneity(activation)
    closed = [
        [-2 * w2[k, j] * defect.subs(z, pre[j]) for k in range(widths[2])]
        for j in range(widths[1])
    ]
    eliminate = [
        net.params["b1"][j] if bias else net.params["W1"][j, 0]
        for j in range(widths[1])
    ]
    return _drift(net, neuron_balance_laws(net), closed, list(pre), eliminate)


def glu_balance_drift(
    activation: str, widths: Sequence[int] = (2, 2, 1), weight: str = "B"
) -> list[LawProof]:
    """The GLU balances of ``weight``, paired with ``f_k``, as closed forms.

    ``B``: ``−2 A[k,j] (C x)[j] (act(z_j) − z_j act′(z_j))`` with ``z_j = (B x)[j]``,
    non-zero for SwiGLU and GeGLU. ``C``: zero for every activation.

    >>> p = glu_balance_drift("silu", (1, 1, 1))[0]
    >>> p.label, p.holds
    ('‖B[0,:]‖² − ‖A[:,0]‖²', False)
    >>> p.residuals[0]
    A_0_0*B_0_0**2*C_0_0*x_0**3/(2*cosh(B_0_0*x_0/2)**2)
    """
    net = symbolic_glu(widths, activation)
    laws = glu_balance_laws(net, weight)  # raises on a bad weight
    _, m, o = net.widths
    gate, value = net.params["B"] * net.x, net.params["C"] * net.x  # (m, 1) each
    a = net.params["A"]
    defect = nonhomogeneity(activation) if weight == "B" else sp.Integer(0)
    closed = [
        [-2 * a[k, j] * value[j] * defect.subs(z, gate[j]) for k in range(o)]
        for j in range(m)
    ]
    # z_j is (B x)[j] for the B-balance and (C x)[j] for the C-balance
    zs = list(gate if weight == "B" else value)
    eliminate = [net.params[weight][j, 0] for j in range(m)]
    return _drift(net, laws, closed, zs, eliminate)
