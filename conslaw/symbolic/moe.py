"""Theorem 4.7 settled exactly: the normalized sigmoid has no translation law.

Under a softmax gate the translation ``W_e ↦ W_e + c`` (every ``e``) shifts every
logit by ``c·x`` and leaves the weights unchanged, so ``Σ_e W_e`` is conserved. Its
infinitesimal form is ``Σ_e ∂g_p/∂z_e = 0`` for every ``p``. For the normalized
sigmoid ``g_p = σ_p / Σ_e σ_e`` (``σ_e = σ(z_e)``) the same sum is

    Σ_e ∂g_p/∂z_e = g_p (Σ_e σ_e² / Σ_e σ_e − σ_p),

zero for every ``p`` only when all ``σ_e`` are equal. At the DESIGN's point this
makes ``Σ_e W_e`` move at a rational, non-zero rate, computed here with sympy's
exact arithmetic: no floating-point number enters.

The point: ``d = 3``, two SwiGLU experts ``E_e(x) = A_e SiLU(B_e x) (C_e x)`` of
hidden width 1, one input ``x = e₁`` with target ``0``, loss ``L = ½ ‖f(x)‖²``,
gate ``W = [[0, 0, 0], [ln 3, 0, 0]]`` (logits ``(0, ln 3)``), and experts with
``E₁(x) = 0`` (``C₁ x = 0``) and ``E₂(x) = e₁``.

The gates as sympy expressions and the exact check of every gate's laws live in
:mod:`conslaw.symbolic.gate_laws`; this module re-exports them.
"""

from __future__ import annotations

import sympy as sp

from .gate_laws import (
    GATES,
    LAW_GATES,
    WITNESS_THRESHOLD,
    GateLawCheck,
    _check_gate,
    _sigmoid,
    gate_law_residuals,
    gate_weights,
)

# the counterexample's sizes: input width, experts
D_IN, NUM_EXPERTS = 3, 2

# the gates of translation_sums: these, and the normalized sigmoid of centred
# logits, the variant that would keep the softmax's laws
SUM_GATES = (*GATES, "normalized-sigmoid-centred")


def _silu(u):
    return u * _sigmoid(u)


def _symbols():
    """Parameter symbols of the counterexample, all real."""

    def matrix(name, rows, cols):
        return sp.Matrix(
            rows, cols, lambda i, j: sp.Symbol(f"{name}_{max(i, j) + 1}", real=True)
        )

    W = sp.Matrix(
        NUM_EXPERTS, D_IN, lambda e, i: sp.Symbol(f"W{e + 1}{i + 1}", real=True)
    )
    experts = [
        {
            "A": matrix(f"A{e}", D_IN, 1),
            "B": matrix(f"B{e}", 1, D_IN),
            "C": matrix(f"C{e}", 1, D_IN),
        }
        for e in range(1, NUM_EXPERTS + 1)
    ]
    return W, experts


def _check_shift(shift):
    value = sp.sympify(shift)
    if not (value.is_real and value.is_finite):
        raise ValueError(
            f"shift must be a finite real number (every logit moves by −shift), "
            f"got {shift!r}"
        )
    return value


def counterexample_point(shift=0) -> dict:
    """The exact parameter values, as ``{symbol: value}``.

    Gate: ``W = [[−s, 0, 0], [ln 3 − s, 0, 0]]``, logits ``(−s, ln 3 − s)`` at
    ``x = e₁`` with ``s = shift`` (0 for the counterexample itself).
    Expert 1: ``B₁ = (1, 0, 0)``, ``C₁ = (0, 1, 0)``, ``A₁ = e₂`` so ``E₁(e₁) = 0``.
    Expert 2: ``B₂ = (ln 3, 0, 0)``, ``C₂ = (1, 0, 0)``, ``A₂ = e₁ / SiLU(ln 3)`` so
    ``E₂(e₁) = e₁`` (``SiLU(ln 3) = ¾ ln 3``).
    """
    s = _check_shift(shift)
    W, experts = _symbols()
    ln3 = sp.log(3)
    values = {
        "W": sp.Matrix([[-s, 0, 0], [ln3 - s, 0, 0]]),
        "A": [sp.Matrix([0, 1, 0]), sp.Matrix([1 / _silu(ln3), 0, 0])],
        "B": [sp.Matrix([[1, 0, 0]]), sp.Matrix([[ln3, 0, 0]])],
        "C": [sp.Matrix([[0, 1, 0]]), sp.Matrix([[1, 0, 0]])],
    }
    point = dict(zip(W, values["W"]))
    for e, ex in enumerate(experts):
        for name in ("A", "B", "C"):
            point.update(zip(ex[name], values[name][e]))
    return point


def _model(gate: str):
    """Symbols, the output ``f(e₁)`` (a 3-vector) and the loss ``½ ‖f(e₁)‖²``."""
    W, experts = _symbols()
    x = sp.Matrix([1, 0, 0])
    z = list(W * x)
    g = gate_weights(z, gate)
    f = sp.zeros(D_IN, 1)
    for g_e, ex in zip(g, experts):
        hidden = _silu((ex["B"] * x)[0]) * (ex["C"] * x)[0]
        f += g_e * ex["A"] * hidden
    loss = (f.T * f)[0] / 2
    return W, experts, f, loss


def _rate(h, loss, params, point):
    """``dh/dt = −⟨∇h, ∇L⟩`` along gradient flow, exactly at ``point``."""
    rate = -sum(sp.diff(h, p) * sp.diff(loss, p) for p in params)
    return sp.simplify(rate.subs(point))


def translation_rate(gate: str = "normalized-sigmoid", shift=0) -> tuple:
    """``d/dt Σ_e W[e, i]`` for ``i = 1, 2, 3`` at the counterexample, exactly.

    ``shift`` moves both logits down by the same amount (see
    :func:`counterexample_point`); the experts stay as they are.

    >>> translation_rate("normalized-sigmoid")
    (9/250, 0, 0)
    >>> translation_rate("softmax")
    (0, 0, 0)
    """
    W, experts, _, loss = _model(gate)
    point = counterexample_point(shift)
    params = list(W)
    out = []
    for i in range(D_IN):
        h = sum(W[e, i] for e in range(NUM_EXPERTS))
        out.append(_rate(h, loss, params, point))
    return tuple(out)


def expert_law_rates(gate: str = "normalized-sigmoid") -> tuple:
    """``d/dt (‖C_e‖² − ‖A_e‖²)`` for both experts at the counterexample: the
    SwiGLU laws hold under either gate.

    >>> expert_law_rates("normalized-sigmoid"), expert_law_rates("softmax")
    ((0, 0), (0, 0))
    """
    _, experts, _, loss = _model(gate)
    point = counterexample_point()
    out = []
    for ex in experts:
        h = sum(c**2 for c in ex["C"]) - sum(a**2 for a in ex["A"])
        params = list(ex["A"]) + list(ex["C"])
        out.append(_rate(h, loss, params, point))
    return tuple(out)


def counterexample_values(gate: str = "normalized-sigmoid") -> dict:
    """Gate weights, output and expert outputs at the counterexample, exactly.

    >>> counterexample_values("normalized-sigmoid")["gates"]
    (2/5, 3/5)
    >>> counterexample_values("softmax")["gates"]
    (1/4, 3/4)
    """
    W, experts, f, _ = _model(gate)
    point = counterexample_point()
    x = sp.Matrix([1, 0, 0])
    z = [sp.simplify(v.subs(point)) for v in W * x]
    gates = tuple(sp.simplify(v) for v in gate_weights(z, gate))
    outs = []
    for ex in experts:
        hidden = _silu((ex["B"] * x)[0]) * (ex["C"] * x)[0]
        outs.append(tuple(sp.simplify(v.subs(point)) for v in ex["A"] * hidden))
    return {
        "logits": tuple(z),
        "gates": gates,
        "experts": tuple(outs),
        "output": tuple(sp.simplify(v.subs(point)) for v in f),
    }


def counterexample_chain(gate: str = "normalized-sigmoid") -> dict:
    """The rate of ``Σ_e W[e, 1]`` at the counterexample, step by step.

    With ``x = e₁``: ``∂L/∂g_p = f(x)·E_p(x)``; the translation factor
    ``T_p = Σ_e ∂g_p/∂z_e`` at the logits; and the rate
    ``−Σ_p (∂L/∂g_p) T_p``, which :func:`translation_rate` computes directly.

    >>> chain = counterexample_chain()
    >>> chain["dL/dg"], chain["T"], chain["rate"]
    ((0, 3/5), (3/50, -3/50), 9/250)
    """
    _check_gate(gate)
    values = counterexample_values(gate)
    z = sp.symbols(f"z1:{NUM_EXPERTS + 1}", real=True)
    g = gate_weights(list(z), gate)
    at = dict(zip(z, values["logits"]))
    factors = tuple(sp.simplify(sum(sp.diff(gp, ze) for ze in z).subs(at)) for gp in g)
    output = sp.Matrix(values["output"])
    dldg = tuple(sp.simplify((output.T * sp.Matrix(e))[0]) for e in values["experts"])
    rate = sp.simplify(-sum(a * t for a, t in zip(dldg, factors)))
    return {"dL/dg": dldg, "T": factors, "rate": rate}


def counterexample_model(gate: str = "normalized-sigmoid"):
    """The counterexample as a float64 :class:`~conslaw.models.MoE` with its data.

    Returns ``(model, params, data)``: two SwiGLU experts of width 1 on ``d = 3``,
    the parameters of :func:`counterexample_point` rounded to float64, and the
    one-example data set ``x = e₁``, target ``0`` (its ``"square"`` loss is
    ``½ ‖f(x)‖²``), so that ``−Σ_e ∂L/∂W_e`` can be compared with
    :func:`translation_rate`.
    """
    import torch

    from ..data import Dataset
    from ..models.moe import MoE

    _check_gate(gate)
    point = {str(k): float(v) for k, v in counterexample_point().items()}
    model = MoE([D_IN, 1, D_IN], NUM_EXPERTS, gate, "swiglu")
    rows = [[point[f"W{e}{i}"] for i in range(1, D_IN + 1)] for e in (1, 2)]
    params = {"W": torch.tensor(rows, dtype=torch.float64)}
    for e in range(NUM_EXPERTS):
        for name, shape in model.block.shapes.items():
            values = [point[f"{name}{e + 1}_{i}"] for i in range(1, D_IN + 1)]
            t = torch.tensor(values, dtype=torch.float64)
            params[f"{model.prefix(e)}{name}"] = t.reshape(shape)
    x = torch.eye(D_IN, dtype=torch.float64)[:1]  # (1, d): e₁
    return model, params, Dataset(x, torch.zeros_like(x), "counterexample")


def translation_sums(gate: str, num_experts: int = 2) -> list:
    """``Σ_e ∂g_p/∂z_e`` for each ``p``: the derivative of the gate along the
    translation of every logit by the same amount.

    Softmax is written in the logits ``z_e``; the normalized sigmoid in
    ``s_e = σ(z_e)`` (real, positive), with ``∂s_e/∂z_e = s_e (1 − s_e)``;
    ``normalized-sigmoid-centred``, the normalized sigmoid of ``z_e − z̄`` (``z̄``
    the mean logit), in the logits.

    >>> translation_sums("softmax", 3)
    [0, 0, 0]
    >>> translation_sums("normalized-sigmoid")
    [-s1*s2*(s1 - s2)/(s1 + s2)**2, s1*s2*(s1 - s2)/(s1 + s2)**2]
    >>> translation_sums("normalized-sigmoid-centred", 3)
    [0, 0, 0]
    """
    if gate not in SUM_GATES:
        raise ValueError(
            f"unknown gate {gate!r}: expected one of {', '.join(SUM_GATES)}"
        )
    if not isinstance(num_experts, int) or num_experts < 1:
        raise ValueError(f"num_experts must be a positive integer, got {num_experts!r}")
    if gate != "normalized-sigmoid":
        z = sp.symbols(f"z1:{num_experts + 1}", real=True)
        if gate == "softmax":
            g = gate_weights(list(z), "softmax")
        else:
            mean = sum(z) / num_experts
            g = gate_weights([v - mean for v in z], "normalized-sigmoid")
        return [sp.cancel(sp.together(sum(sp.diff(gp, ze) for ze in z))) for gp in g]
    s = sp.symbols(f"s1:{num_experts + 1}", positive=True)
    total = sum(s)
    g = [sp_ / total for sp_ in s]
    return [sp.factor(sum(sp.diff(gp, se) * se * (1 - se) for se in s)) for gp in g]


def normalized_sigmoid_closed_form(num_experts: int = 3) -> bool:
    """Check ``Σ_e ∂g_p/∂z_e = g_p (Σ_e s_e² / Σ_e s_e − s_p)`` exactly for every
    ``p``, and that ``∂σ(z)/∂z = σ(z)(1 − σ(z))``, which the sums use.

    >>> normalized_sigmoid_closed_form(3)
    True
    """
    zeta = sp.Symbol("zeta", real=True)
    chain = sp.simplify(
        sp.diff(_sigmoid(zeta), zeta) - _sigmoid(zeta) * (1 - _sigmoid(zeta))
    )
    s = sp.symbols(f"s1:{num_experts + 1}", positive=True)
    total = sum(s)
    mean = sum(v**2 for v in s) / total
    sums = translation_sums("normalized-sigmoid", num_experts)
    return chain == 0 and all(
        sp.simplify(sums[p] - s[p] / total * (mean - s[p])) == 0
        for p in range(num_experts)
    )


__all__ = [
    "LAW_GATES",
    "WITNESS_THRESHOLD",
    "GateLawCheck",
    "counterexample_chain",
    "counterexample_model",
    "counterexample_point",
    "counterexample_values",
    "expert_law_rates",
    "gate_law_residuals",
    "gate_weights",
    "normalized_sigmoid_closed_form",
    "translation_rate",
    "translation_sums",
]
