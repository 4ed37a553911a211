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
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

# the counterexample's sizes: input width, experts
D_IN, NUM_EXPERTS = 3, 2

GATES = ("softmax", "normalized-sigmoid")

# the gates of translation_sums: these, and the normalized sigmoid of centred
# logits, the variant that would keep the softmax's laws
SUM_GATES = (*GATES, "normalized-sigmoid-centred")


def _check_gate(gate: str) -> str:
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}: expected one of {', '.join(GATES)}")
    return gate


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def gate_weights(z: list, gate: str) -> list:
    """The gate weights ``g`` as sympy expressions of the logits ``z``."""
    _check_gate(gate)
    weight = sp.exp if gate == "softmax" else _sigmoid
    num = [weight(v) for v in z]
    total = sum(num)
    return [n / total for n in num]


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


# ------------------------------------------------------------- the gates' laws

# outputs of the symbolic MoE: each output pairs with the laws the same way, one
# keeps the expressions small
OUTPUTS = 1

# a residual whose value at the witness point exceeds this is certainly non-zero:
# it is evaluated with 30 significant digits
WITNESS_THRESHOLD = 1e-12

# the gates of :func:`gate_law_residuals`; "topk" and "softmax-topk" are taken on
# the region where the first k experts are chosen, "topk-1" is a renormalized top-1
LAW_GATES = (
    "softmax",
    "topk",
    "softmax-topk",
    "topk-1",
    "cosine",
    "linear",
    "normalized-sigmoid",
    "sigmoid",
)


@dataclass(frozen=True)
class GateLawCheck:
    """The characterization ``⟨∇h, ∇f_k⟩`` of one candidate gate law ``h``.

    ``residual`` is the first output's pairing after cancellation (``0`` when the
    law holds); ``holds`` is True when every output's pairing cancels to exactly 0;
    ``witness`` is the largest pairing at a rational point when it does not.
    """

    gate: str
    law: str
    residual: sp.Expr
    holds: bool
    witness: float | None


def _symbolic_moe(gate: str, num_experts: int, d: int, k: int):
    """A symbolic MoE ``Σ_e g_e(x) A_e u_e(x)`` with :data:`OUTPUTS` outputs.

    Expert ``e`` is ``A_e u_e(x)``: an output column ``A_e`` (symbols) times
    an undefined scalar ``u_e(x)`` standing for the rest of the expert, which no
    gate law involves. Returns the gate and output parameters, the input and the
    output ``f`` (OUTPUTS × 1).
    """
    E = num_experts
    x = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"x{i + 1}", real=True))
    W = sp.Matrix(E, d, lambda e, i: sp.Symbol(f"W{e + 1}{i + 1}", real=True))
    b = sp.Matrix(E, 1, lambda e, _: sp.Symbol(f"b{e + 1}", real=True))
    A = [
        sp.Matrix(
            OUTPUTS, 1, lambda j, _, e=e: sp.Symbol(f"A{e + 1}{j + 1}", real=True)
        )
        for e in range(E)
    ]
    u = [sp.Function(f"u{e + 1}")(*x) for e in range(E)]
    if gate == "cosine":
        xn = sp.sqrt(sum(v**2 for v in x))
        z = [
            (W[e, :] * x)[0] / (sp.sqrt(sum(w**2 for w in W[e, :])) * xn) + b[e]
            for e in range(E)
        ]
    else:
        z = [(W[e, :] * x)[0] + b[e] for e in range(E)]
    chosen = range(k if gate in ("topk", "softmax-topk", "topk-1") else E)
    if gate == "linear":
        g = z
    elif gate == "sigmoid":
        g = [_sigmoid(v) for v in z]
    elif gate == "normalized-sigmoid":
        g = gate_weights(z, "normalized-sigmoid")
    elif gate == "softmax-topk":
        g = gate_weights(z, "softmax")[:k] + [0] * (E - k)
    else:  # softmax over the chosen experts: softmax, cosine, topk, topk-1
        g = gate_weights([z[e] for e in chosen], "softmax")
        g = g + [0] * (E - len(g))
    f = sp.zeros(OUTPUTS, 1)
    for e in range(E):
        f += g[e] * A[e] * u[e]
    return {"W": W, "b": b, "A": A}, x, f


def _candidate_laws(gate: str, p: dict, E: int, d: int) -> list:
    """``(label, h)`` pairs: the laws predicted for ``gate``, or, for the
    sigmoid gates, the softmax laws as candidates."""
    W, b, A = p["W"], p["b"], p["A"]
    if gate == "topk-1":
        return [(f"W[{e + 1},{i + 1}]", W[e, i]) for e in range(E) for i in range(d)]
    if gate == "cosine":
        laws = [(f"‖W[{e + 1},:]‖²", sum(w**2 for w in W[e, :])) for e in range(E)]
        return laws + [("Σ_e b[e]", sum(b))]
    if gate == "linear":
        return [
            (
                f"‖W[{e + 1},:]‖² + b[{e + 1}]² − ‖A_{e + 1}‖²",
                sum(w**2 for w in W[e, :]) + b[e] ** 2 - sum(a**2 for a in A[e]),
            )
            for e in range(E)
        ]
    laws = [(f"Σ_e W[e,{i + 1}]", sum(W[e, i] for e in range(E))) for i in range(d)]
    return laws + [("Σ_e b[e]", sum(b))]


def _witness(expr, symbols) -> float:
    """``|expr|`` at a fixed rational point, every ``u_e`` set to 1."""
    values = {s: sp.Rational(j % 5 + 2, j % 3 + 3) for j, s in enumerate(symbols)}
    funcs = {
        f: 1
        for f in expr.atoms(sp.Function)
        if isinstance(f, sp.core.function.AppliedUndef)
    }
    return abs(float(expr.subs(funcs).subs(values).evalf(30)))


def gate_law_residuals(gate: str, num_experts: int = 3, d: int = 2):
    """Check the characterization ``⟨∇h, ∇f_k⟩ = 0`` of each gate law exactly.

    Args:
        gate: one of :data:`LAW_GATES`. The top-k gates keep ``k = E − 1`` experts
            and are taken on the region where the first ``k`` are chosen (a top-k
            gate is one smooth branch there); ``topk-1`` is a renormalized top-1.
            For ``normalized-sigmoid`` and ``sigmoid`` the candidates are the
            softmax laws, to show that they fail.
        num_experts, d: experts ``E ≥ 2`` and input width.

    Returns:
        one :class:`GateLawCheck` per candidate law.

    >>> [c.holds for c in gate_law_residuals("softmax", 2, 1)]
    [True, True]
    """
    if gate not in LAW_GATES:
        raise ValueError(
            f"unknown gate {gate!r}: expected one of {', '.join(LAW_GATES)}"
        )
    if not isinstance(num_experts, int) or num_experts < 2:
        raise ValueError(f"num_experts must be an integer >= 2, got {num_experts!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    k = 1 if gate == "topk-1" else num_experts - 1
    p, x, f = _symbolic_moe(gate, num_experts, d, k)
    params = list(p["W"]) + list(p["b"]) + [a for col in p["A"] for a in col]
    symbols = params + list(x)
    out = []
    for label, h in _candidate_laws(gate, p, num_experts, d):
        grads = [(q, sp.diff(h, q)) for q in params]
        grads = [(q, dh) for q, dh in grads if dh != 0]
        # a value at a rational point well away from 0 proves the law false;
        # otherwise cancelling (or simplifying) to exactly 0 proves it
        residuals = []
        for fk in f:
            r = sum(dh * sp.diff(fk, q) for q, dh in grads)
            if _witness(r, symbols) <= WITNESS_THRESHOLD:
                r = sp.cancel(sp.together(r))
                r = r if r == 0 else sp.simplify(r)
            residuals.append(r)
        holds = all(r == 0 for r in residuals)
        witness = None if holds else max(_witness(r, symbols) for r in residuals)
        first = next((r for r in residuals if r != 0), sp.Integer(0))
        out.append(GateLawCheck(gate, label, first, holds, witness))
    return out


__all__ = [
    "LAW_GATES",
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
