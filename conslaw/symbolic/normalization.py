"""Exact proofs of the laws that normalization layers create.

Each proof computes the characterization's pairing ``⟨∇_θ h, ∇_θ f_k(θ, x)⟩``
(DESIGN §4) with real sympy symbols for the parameters and the input, for every
output ``k``, and reduces it to zero.

- ``norm(W x + b)`` with LayerNorm (ε = 0): the output does not change when the
  same number is added to every pre-activation, nor when all of them are scaled
  by ``λ > 0``; hence ``Σ_i W[i,j]`` per input ``j``, ``Σ_i b_i`` and
  ``‖W‖² + ‖b‖²``. RMSNorm (ε = 0) only has the scale invariance.
- a gain ``u = γ ⊙ n + β`` read by later layers only through linear maps
  ``A_c u`` (queries, keys and values, or the first MLP layer): scaling
  ``(γ_i, β_i)`` by ``λ`` and column ``i`` of every ``A_c`` by ``1/λ`` changes
  nothing, hence ``γ_i² + β_i² − Σ_c ‖A_c[:,i]‖²``. The consumer of ``A_c u`` is
  an undefined function, so the proof holds for whatever follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .ffn import _matrix


@dataclass(frozen=True)
class NormProof:
    """One law: its label, whether every pairing reduced to zero, and the
    pairings as reduced (zeros when it holds)."""

    label: str
    holds: bool
    residuals: tuple[sp.Expr, ...]


# the variance of the normalized pre-activations, as a positive symbol: the
# outputs carry V^(-1/2) and their derivatives V^(-3/2), so that V^(3/2) times a
# pairing is a polynomial, into which V = v(θ) is then substituted
V = sp.Symbol("V", positive=True)


def _pairings(h, outputs, theta, v=None) -> tuple[sp.Expr, ...]:
    """Each pairing ``Σ_s ∂_s h · d f / d θ_s`` reduced to a polynomial; with ``v``
    the outputs depend on ``θ`` also through ``V = v(θ)`` (chain rule)."""
    grad_h = [sp.diff(h, s) for s in theta]
    dv = 0 if v is None else sum(g * sp.diff(v, s) for g, s in zip(grad_h, theta))
    out = []
    for f in outputs:
        pairing = sum(g * sp.diff(f, s) for g, s in zip(grad_h, theta) if g != 0)
        if v is None:
            out.append(sp.expand(pairing))
            continue
        pairing = sp.expand((pairing + sp.diff(f, V) * dv) * V ** sp.Rational(3, 2))
        out.append(sp.expand(pairing.subs(V, v)))
    return tuple(out)


def _proof(label, h, outputs, theta, v=None) -> NormProof:
    residuals = _pairings(h, outputs, theta, v)
    return NormProof(label, all(r == 0 for r in residuals), residuals)


def normalized_layer_laws(
    norm: str = "layer", d: int = 1, m: int = 3, translations: bool | None = None
):
    """Prove the laws of ``norm(W x + b)`` (ε = 0, elementwise gain and, for
    LayerNorm, shift) for ``W (m, d)``; returns one :class:`NormProof` per law.
    ``translations`` adds the translation laws ``Σ_i W[i,j]`` and ``Σ_i b_i``
    (by default only for LayerNorm, which centres; asked of RMSNorm they fail).

    >>> [p.label for p in normalized_layer_laws("rms", 1, 2)]
    ['‖W‖² + ‖b‖²']
    """
    if norm not in ("layer", "rms"):
        raise ValueError(f"norm must be 'layer' or 'rms', got {norm!r}")
    if d < 1 or m < 2:
        raise ValueError(f"expected d >= 1 and m >= 2, got d={d}, m={m}")
    W, b, x = _matrix("W", m, d), _matrix("b", m), _matrix("x", d)
    gamma, beta = _matrix("gamma", m), _matrix("beta", m)
    z = W * x + b
    centred = z - sp.ones(m, 1) * (sum(z) / m) if norm == "layer" else z
    # the variance (mean square for RMSNorm), a polynomial
    v = sp.expand(sum(c**2 for c in centred) / m)
    outputs = [gamma[k] * centred[k] * V ** sp.Rational(-1, 2) for k in range(m)]
    if norm == "layer":
        outputs = [f + beta[k] for k, f in enumerate(outputs)]
    theta = list(W) + list(b) + list(gamma) + (list(beta) if norm == "layer" else [])
    laws = [("‖W‖² + ‖b‖²", sum(s**2 for s in W) + sum(s**2 for s in b))]
    if norm == "layer" if translations is None else translations:
        laws += [(f"Σ_i W[i,{j}]", sum(W[:, j])) for j in range(d)]
        laws.append(("Σ_i b_i", sum(b)))
    return [_proof(label, h, outputs, theta, v) for label, h in laws]


def gain_laws(d: int = 2, consumers: int = 3, rows: int = 1):
    """Prove ``γ_i² + β_i² − Σ_c ‖A_c[:,i]‖²`` for ``u = γ ⊙ n + β`` read through
    ``consumers`` maps ``A_c (rows, d)`` by an undefined function ``F``; the
    normalized input ``n`` is free. Returns one :class:`NormProof` per ``i``.

    >>> all(p.holds for p in gain_laws(2, 2, 1))
    True
    """
    if d < 1 or consumers < 1 or rows < 1:
        raise ValueError(
            f"expected positive sizes, got d={d}, consumers={consumers}, rows={rows}"
        )
    n, gamma, beta = _matrix("n", d), _matrix("gamma", d), _matrix("beta", d)
    maps = [_matrix(f"A{c}", rows, d) for c in range(consumers)]
    u = sp.Matrix([gamma[i] * n[i] + beta[i] for i in range(d)])
    F = sp.Function("F", real=True)
    out = F(*[e for A in maps for e in A * u])
    theta = list(gamma) + list(beta) + [s for A in maps for s in A]
    proofs = []
    for i in range(d):
        h = gamma[i] ** 2 + beta[i] ** 2 - sum(s**2 for A in maps for s in A[:, i])
        proofs.append(_proof(f"γ_{i}² + β_{i}² − Σ_c ‖A_c[:,{i}]‖²", h, [out], theta))
    return proofs
