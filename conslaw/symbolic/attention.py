"""Exact facts behind the attention laws (sympy).

(a) The scores ``X Q Kᵀ Xᵀ`` are invariant under ``(Q A, K A^{−T})`` and the head's
output ``X V O`` under ``(V B, B^{−1} O)``, for symbolic invertible ``A`` and ``B``.

(b) The RoPE rotations ``R_m`` commute with ``M`` only if ``M`` has one block
``a I + b J`` per frequency pair (``J`` the generator of the 2 × 2 rotations), as
long as the angles differ: the commutant is computed from the linear equations
``M R − R M = 0`` at exact rational rotations (angles given by ``t = tan(θ/2)``, so
``cos θ = (1 − t²)/(1 + t²)`` and ``sin θ = 2t/(1 + t²)``; a rational ``t`` other
than 0 and ±1 gives an angle that is no rational multiple of π, since cos θ is then
a rational number other than 0, ±1/2, ±1), and the coupling of two pairs is shown
to need ``cos θ_j = cos θ_k``. Its symmetric part is one scale per pair.

(c) Along the gradient of any score ``xᵀ Q R Kᵀ y`` the matrix ``QᵀQ − KᵀK`` moves
by ``−(R Nᵀ + N Rᵀ − Rᵀ N − Nᵀ R)`` with ``N = Qᵀ x yᵀ K``: zero without RoPE;
with RoPE only the trace of each pair's block survives.
"""

from __future__ import annotations

import sympy as sp


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    """A ``rows × cols`` matrix of real symbols ``name_i_j``."""
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def _inverse(a: sp.Matrix) -> sp.Matrix:
    """``a⁻¹ = adj(a) / det(a)`` for a symbolic ``a``: rational entries that
    ``sp.cancel`` reduces exactly (a rational function is zero iff its cancelled
    numerator is), and much faster than ``a.inv()`` followed by ``simplify``."""
    return a.adjugate() / a.det()


def rotation(t) -> sp.Matrix:
    """The 2 × 2 rotation by the angle ``θ`` with ``tan(θ/2) = t``, exactly.

    >>> rotation(sp.Rational(1, 2))
    Matrix([
    [3/5, -4/5],
    [4/5,  3/5]])
    """
    t = sp.sympify(t)
    c, s = (1 - t**2) / (1 + t**2), 2 * t / (1 + t**2)
    return sp.Matrix([[c, -s], [s, c]])


def rope_rotation(tangents) -> sp.Matrix:
    """Block-diagonal RoPE rotation ``(2n, 2n)``, one pair per tangent, pairs
    interleaved ``(2j, 2j + 1)`` as in :mod:`conslaw.models.attention`."""
    return sp.diag(*[rotation(t) for t in tangents])


# ------------------------------------------------------------------- (a) invariance
def score_invariance(seq: int = 2, d: int = 2, d_k: int = 2) -> sp.Matrix:
    """``X (QA)(K A^{−T})ᵀ Xᵀ − X Q Kᵀ Xᵀ`` for symbolic ``X, Q, K, A``, simplified.

    >>> score_invariance()
    Matrix([
    [0, 0],
    [0, 0]])
    """
    x, q, k = _matrix("x", seq, d), _matrix("q", d, d_k), _matrix("k", d, d_k)
    a = _matrix("a", d_k, d_k)
    moved = x * (q * a) * (k * _inverse(a).T).T * x.T
    return (moved - x * q * k.T * x.T).applyfunc(sp.cancel)


def output_invariance(seq: int = 2, d: int = 2, d_v: int = 2) -> sp.Matrix:
    """``X (VB)(B^{−1}O) − X V O`` for symbolic ``X, V, O, B``, simplified.

    >>> output_invariance()
    Matrix([
    [0, 0],
    [0, 0]])
    """
    x, v, o = _matrix("x", seq, d), _matrix("v", d, d_v), _matrix("o", d_v, d)
    b = _matrix("b", d_v, d_v)
    return (x * (v * b) * (_inverse(b) * o) - x * v * o).applyfunc(sp.cancel)


def rope_score_change(t="1/2") -> sp.Matrix:
    """``M R − R M`` for one RoPE pair and a symbolic ``M``: the first-order change
    of ``A R A^{−1}`` at ``A = I + εM``. Not zero for a generic ``M``, so RoPE scores
    ``x Q R Kᵀ y`` are not invariant under every ``(Q A, K A^{−T})``; it vanishes
    exactly when ``m_0_0 = m_1_1`` and ``m_0_1 = −m_1_0``, i.e. ``M = aI + bJ``.

    >>> rope_score_change()
    Matrix([
    [ 4*m_0_1/5 + 4*m_1_0/5, -4*m_0_0/5 + 4*m_1_1/5],
    [-4*m_0_0/5 + 4*m_1_1/5, -4*m_0_1/5 - 4*m_1_0/5]])
    """
    r = rotation(sp.Rational(t))
    m = _matrix("m", 2, 2)
    return (m * r - r * m).applyfunc(sp.expand)


# --------------------------------------------------------------------- (b) commutant
def rope_commutant(tangents, *, symmetric: bool = False) -> sp.Matrix:
    """The general matrix ``M`` with ``M R = R M`` (``R`` the RoPE rotation of
    :func:`rope_rotation`), its free entries named ``m_i_j``.

    Every ``R_m = R^m`` then commutes with ``M`` too. With ``symmetric=True`` also
    ``M = Mᵀ``, which leaves the laws.

    >>> rope_commutant([sp.Rational(1, 2), sp.Rational(1, 3)])
    Matrix([
    [m_1_1, -m_1_0,     0,      0],
    [m_1_0,  m_1_1,     0,      0],
    [    0,      0, m_3_3, -m_3_2],
    [    0,      0, m_3_2,  m_3_3]])
    >>> rope_commutant([sp.Rational(1, 2), sp.Rational(1, 3)], symmetric=True)
    Matrix([
    [m_1_1,     0,     0,     0],
    [    0, m_1_1,     0,     0],
    [    0,     0, m_3_3,     0],
    [    0,     0,     0, m_3_3]])
    """
    r = rope_rotation(tangents)
    n = r.rows
    m = _matrix("m", n, n)
    equations = list(m * r - r * m)
    if symmetric:
        equations += [m[i, j] - m[j, i] for i in range(n) for j in range(i + 1, n)]
    unknowns = list(m)
    (solution,) = sp.linsolve(equations, unknowns)
    return sp.Matrix(n, n, list(solution))


def commutant_dimension(tangents, *, symmetric: bool = False) -> int:
    """Number of free parameters of :func:`rope_commutant`.

    Distinct angles give 2 per pair (``aI + bJ``), 1 symmetric; two equal or
    opposite angles give complex 2 × 2 matrices (8) and Hermitian ones (4); the
    identity (``t = 0``) commutes with all 2 × 2 matrices (4, 3 symmetric):

    >>> half = sp.Rational(1, 2)
    >>> [commutant_dimension(t) for t in ([half, 3], [half, half], [half, -half], [0])]
    [4, 8, 8, 4]
    >>> [commutant_dimension(t, symmetric=True) for t in ([half, 3], [half, half], [0])]
    [2, 4, 3]
    """
    return len(rope_commutant(tangents, symmetric=symmetric).free_symbols)


def coupling_determinant() -> sp.Expr:
    """Determinant of ``X ↦ R(t₁) X − X R(t₂)`` on 2 × 2 matrices ``X``, factored.

    It vanishes (two pairs can be coupled by the commutant) exactly when
    ``t₁ = ±t₂``, that is ``cos θ₁ = cos θ₂``: equal angles or opposite ones.

    >>> coupling_determinant()
    16*(t_1 - t_2)**2*(t_1 + t_2)**2/((t_1**2 + 1)**2*(t_2**2 + 1)**2)
    """
    t1, t2 = sp.symbols("t_1 t_2", real=True)
    x = _matrix("x", 2, 2)
    # (1 + t²) ρ(t) has polynomial entries: take the determinant of the
    # polynomial map, then divide by the 4th power of both denominators (4 × 4)
    n1, n2 = 1 + t1**2, 1 + t2**2
    image = list(n2 * (n1 * rotation(t1)) * x - n1 * x * (n2 * rotation(t2)))
    image = [sp.cancel(e) for e in image]
    jac = sp.Matrix([[sp.diff(e, v) for v in x] for e in image])
    return sp.factor(jac.det(method="berkowitz") / (n1 * n2) ** 4)


# ------------------------------------------------------------------------ (c) drift
def qk_drift(tangents) -> sp.Matrix:
    """``d/dt (QᵀQ − KᵀK)`` along gradient descent on one RoPE score, in terms of
    ``N = Qᵀ x yᵀ K`` (general symbols ``n_i_j``): ``−(RNᵀ + NRᵀ − RᵀN − NᵀR)``.

    The loss derivative multiplies everything and is left out; without RoPE
    (``t = 0``) the drift is zero.

    >>> qk_drift([0])
    Matrix([
    [0, 0],
    [0, 0]])
    >>> qk_drift([1])
    Matrix([
    [ 2*n_0_1 + 2*n_1_0, -2*n_0_0 + 2*n_1_1],
    [-2*n_0_0 + 2*n_1_1, -2*n_0_1 - 2*n_1_0]])
    """
    r = rope_rotation(tangents)
    nn = _matrix("n", r.rows, r.rows)
    return (-(r * nn.T + nn * r.T - r.T * nn - nn.T * r)).applyfunc(sp.expand)


def score_gradient_drift(d: int = 1, tangents=(1,)) -> sp.Matrix:
    """``d/dt (QᵀQ − KᵀK)`` for the loss ``xᵀ Q R Kᵀ y`` itself, from sympy's own
    derivatives; equals :func:`qk_drift` at ``N = Qᵀ x yᵀ K``.

    >>> drift = score_gradient_drift()
    >>> (drift[0, 0] + drift[1, 1], drift[0, 0] == 0)
    (0, False)
    """
    r = rope_rotation(tangents)
    dk = r.rows
    q, k = _matrix("q", d, dk), _matrix("k", d, dk)
    x, y = _matrix("x", d, 1), _matrix("y", d, 1)
    score = (x.T * q * r * k.T * y)[0, 0]
    grad_q = q.applyfunc(lambda v: sp.diff(score, v))
    grad_k = k.applyfunc(lambda v: sp.diff(score, v))
    # gradient flow: Q' = −∇_Q, K' = −∇_K
    drift = -(grad_q.T * q + q.T * grad_q) + (grad_k.T * k + k.T * grad_k)
    return drift.applyfunc(sp.expand)


def surviving_combinations(tangents) -> list[sp.Expr]:
    """The linear combinations ``Σ S_ab Δ_ab`` (``S`` symmetric, ``Δ = QᵀQ − KᵀK``)
    whose drift :func:`qk_drift` vanishes for every ``N``: a basis, as expressions
    in the entries ``Δ_a_b`` (``a ≤ b``).

    >>> surviving_combinations([sp.Rational(1, 2), sp.Rational(1, 3)])
    [Δ_0_0 + Δ_1_1, Δ_2_2 + Δ_3_3]
    >>> surviving_combinations([0])
    [Δ_0_0, Δ_0_1, Δ_1_1]
    """
    drift = qk_drift(tangents)
    n = drift.rows
    upper = [(a, b) for a in range(n) for b in range(a, n)]
    coeffs = sp.symbols(f"c0:{len(upper)}")
    s = sp.zeros(n, n)
    for c, (a, b) in zip(coeffs, upper):
        s[a, b] += c
        if a != b:
            s[b, a] += c
    # ⟨S, drift⟩ must vanish as a polynomial in the n_i_j
    pairing = sp.expand(sum(s[i, j] * drift[i, j] for i in range(n) for j in range(n)))
    nsyms = sorted(pairing.free_symbols - set(coeffs), key=str)
    equations = sp.Poly(pairing, *nsyms).coeffs() if nsyms else []
    matrix = sp.Matrix([[sp.diff(e, c) for c in coeffs] for e in equations])
    basis = matrix.nullspace() if equations else list(sp.eye(len(coeffs)).columnspace())
    delta = [sp.Symbol(f"Δ_{a}_{b}", real=True) for a, b in upper]
    out = []
    for vec in basis:
        vec = vec / next(v for v in vec if v != 0)
        out.append(sum(v * e for v, e in zip(vec, delta)))
    return out


__all__ = [
    "commutant_dimension",
    "coupling_determinant",
    "output_invariance",
    "qk_drift",
    "rope_commutant",
    "rope_rotation",
    "rope_score_change",
    "rotation",
    "score_gradient_drift",
    "score_invariance",
    "surviving_combinations",
]
