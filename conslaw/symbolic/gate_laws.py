"""The gates of a mixture of experts in sympy, and which laws each one keeps.

:func:`gate_weights` writes the softmax and the normalized sigmoid as sympy
expressions of the logits. :func:`gate_law_residuals` checks the
characterization ``⟨∇h, ∇f_k⟩ = 0`` exactly for the laws predicted for each gate
(and, for the sigmoid gates, for the softmax laws, to show that they fail), on a
symbolic mixture ``Σ_e g_e(x) A_e u_e(x)`` whose experts are left undefined
beyond their output columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

GATES = ("softmax", "normalized-sigmoid")


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
    "GATES",
    "LAW_GATES",
    "OUTPUTS",
    "WITNESS_THRESHOLD",
    "GateLawCheck",
    "gate_law_residuals",
    "gate_weights",
]
