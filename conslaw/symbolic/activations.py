"""Exact activations, their non-homogeneity, and their singularities in ``C``.

A neuron's rescaling law exists when its activation is positively homogeneous,
``act(z) = z act′(z)``. The defect ``act(z) − z act′(z)`` is the rate at which the
would-be law drifts (DESIGN §4), and it is computed here exactly.

ReLU is written as ``Piecewise((z, z > 0), (0, True))``. sympy differentiates a
``Piecewise`` branch by branch, which drops the kink at ``z = 0``; that is the
"almost everywhere" of the statement, and it matches torch, whose ReLU gradient at
``0`` is ``0``. (With ``z·Heaviside(z)`` instead, the defect comes out as
``−z² DiracDelta(z)``, which is zero as a distribution but is not simplified to 0.)

The proofs for ReLU do not use this ``Piecewise``: they take an undefined
``SIGMA`` with derivative ``DSIGMA`` and the identity ``sigma(u) = u*dsigma(u)``,
which holds for every positively homogeneous activation (ReLU almost everywhere).
"""

from __future__ import annotations

import sympy as sp
from sympy.calculus.singularities import singularities
from sympy.core.function import AppliedUndef

from ..models.activations import ACTIVATIONS

# the one variable every closed form of this module is written in
z = sp.Symbol("z", real=True)

# the coefficient of the cubic term in tanh-GELU, exactly as torch writes it
GELU_TANH_CUBIC = sp.Rational(44715, 1000000)

# functions that are entire on C: an expression built from polynomials and these,
# with no denominator that can vanish, has no singularity at all
ENTIRE_FUNCTIONS = (sp.exp, sp.erf)


def _gelu_tanh(u: sp.Expr) -> sp.Expr:
    inner = sp.sqrt(2 / sp.pi) * (u + GELU_TANH_CUBIC * u**3)
    return u / 2 * (1 + sp.tanh(inner))


# one entry per name of conslaw.models.activations.ACTIVATIONS
_ACTIVATIONS = {
    "linear": lambda u: u,
    "relu": lambda u: sp.Piecewise((u, u > 0), (0, True)),
    "gelu": lambda u: u / 2 * (1 + sp.erf(u / sp.sqrt(2))),
    "gelu-tanh": _gelu_tanh,
    "silu": lambda u: u / (1 + sp.exp(-u)),
}


def _check_name(name: str) -> None:
    if name not in _ACTIVATIONS:
        extra = (
            " (torch has it: add its sympy form here)" if name in ACTIVATIONS else ""
        )
        raise ValueError(
            f"unknown activation {name!r}{extra}: expected one of "
            f"{', '.join(_ACTIVATIONS)}, the names of conslaw.models.ACTIVATIONS"
        )


def sympy_activation(name: str, arg: sp.Expr) -> sp.Expr:
    """The activation ``name`` applied to the sympy expression ``arg``.

    Args:
        name: one of ``linear, relu, gelu, gelu-tanh, silu``.
        arg: any scalar sympy expression.

    Returns:
        A scalar sympy expression.

    >>> sympy_activation("gelu", z)
    z*(erf(sqrt(2)*z/2) + 1)/2
    >>> sympy_activation("silu", z)
    z/(1 + exp(-z))
    >>> sympy_activation("relu", z)
    Piecewise((z, z > 0), (0, True))
    """
    _check_name(name)
    return _ACTIVATIONS[name](arg)


def vanishes(expr: sp.Expr) -> bool:
    """Whether sympy proves ``expr`` identically zero.

    ``simplify`` alone misses identities that mix ``cosh`` and ``exp`` (SiLU's), so
    a second try rewrites every hyperbolic function as exponentials first. ``False``
    means "not proved", not "proved non-zero".

    >>> vanishes(sp.cosh(z) ** 2 - sp.sinh(z) ** 2 - 1), vanishes(z)
    (True, False)
    """
    if sp.simplify(expr) == 0:
        return True
    return sp.simplify(sp.expand(expr.rewrite(sp.exp))) == 0


def nonhomogeneity(name: str) -> sp.Expr:
    """The simplified defect ``act(z) − z act′(z)`` of activation ``name``.

    >>> nonhomogeneity("linear"), nonhomogeneity("relu")
    (0, 0)
    >>> nonhomogeneity("gelu")
    -sqrt(2)*z**2*exp(-z**2/2)/(2*sqrt(pi))
    >>> nonhomogeneity("silu")
    -z**2/(4*cosh(z/2)**2)
    >>> nonhomogeneity("gelu-tanh")  # doctest: +NORMALIZE_WHITESPACE
    -sqrt(2)*z**2*(26829*z**2
    + 200000)/(400000*sqrt(pi)*cosh(sqrt(2)*z*(8943*z**2/200000 + 1)/sqrt(pi))**2)
    """
    act = sympy_activation(name, z)
    return sp.simplify(act - z * sp.diff(act, z))


def closed_forms() -> dict[str, sp.Expr]:
    """The defects as DESIGN §4 writes them, one per activation name.

    GELU: ``−z² φ(z)`` with ``φ`` the standard normal density; SiLU: ``−z² s (1 − s)``
    with ``s`` the logistic function. tanh-GELU is not in DESIGN §4; its entry,
    ``−(c/2) z² (1 + 3 a z²) sech²(c (z + a z³))`` with ``c = √(2/π)`` and
    ``a = 0.044715``, is derived by hand here and checked like the others.

    >>> closed_forms()["silu"]
    -z**2*(1 - 1/(1 + exp(-z)))/(1 + exp(-z))
    """
    phi = sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    s = 1 / (1 + sp.exp(-z))
    c, a = sp.sqrt(2 / sp.pi), GELU_TANH_CUBIC
    sech2 = 1 - sp.tanh(c * (z + a * z**3)) ** 2
    return {
        "linear": sp.Integer(0),
        "relu": sp.Integer(0),
        "gelu": -(z**2) * phi,
        "gelu-tanh": -c / 2 * z**2 * (1 + 3 * a * z**2) * sech2,
        "silu": -(z**2) * s * (1 - s),
    }


def check_closed_forms() -> dict[str, bool]:
    """For each activation, whether :func:`nonhomogeneity` equals its closed form.

    >>> check_closed_forms()
    {'linear': True, 'relu': True, 'gelu': True, 'gelu-tanh': True, 'silu': True}
    """
    forms = closed_forms()
    return {name: vanishes(nonhomogeneity(name) - forms[name]) for name in _ACTIVATIONS}


def singular_points(name: str, var: sp.Symbol | None = None) -> sp.Set:
    """The points of ``C`` where activation ``name`` is singular, by computation.

    What is computed: the activation is rewritten with exponentials, every function
    in it is checked to be one of :data:`ENTIRE_FUNCTIONS`, and
    ``sympy.singularities`` then solves (with ``solveset`` over ``C``) for the zeros
    of every denominator. What is a known fact, not computed: ``exp`` and ``erf``
    are entire, so nothing else can be singular. GELU has no denominator in ``z``:
    the result is empty, and GELU is entire.

    Args:
        name: ``linear``, ``gelu`` or ``silu``. ReLU is not analytic, and for
            tanh-GELU sympy's ``solveset`` fails on ``exp(2c(z + a z³)) = −1``.
        var: the complex variable to use; a fresh ``Symbol("w")`` by default.

    >>> singular_points("gelu")
    EmptySet
    >>> singular_points("silu")
    ImageSet(Lambda(_n, -I*(2*_n*pi + pi)), Integers)
    """
    _check_name(name)
    if name not in ("linear", "gelu", "silu"):
        raise ValueError(
            f"singular points are computed for linear, gelu and silu, got {name!r}: "
            "ReLU is not analytic, and sympy's solveset fails on tanh-GELU's poles"
        )
    w = sp.Symbol("w") if var is None else var
    expr = sympy_activation(name, w).rewrite(sp.exp)
    heads = {type(f) for f in expr.atoms(sp.Function)}
    if not heads <= set(ENTIRE_FUNCTIONS):
        raise RuntimeError(f"{name} uses {heads}, not only entire functions: a bug")
    return singularities(expr, w, sp.S.Complexes)


def silu_poles(ks: range = range(-2, 3)) -> list[dict[str, sp.Expr]]:
    """SiLU's poles for the integers ``ks``: the point, its order and residue.

    The poles come from :func:`singular_points` (``solveset`` on ``1 + e^{−w} = 0``)
    evaluated at each ``k``: ``−iπ(2k + 1)``, the same set as ``iπ(2k + 1)``. A
    pole ``p`` is simple when the denominator's derivative and the numerator are
    both non-zero at ``p``; the residue is computed with ``sympy.residue``.

    Returns:
        One dict per ``k`` with keys ``k, pole, order, residue``.

    >>> [(p["pole"], p["order"], p["residue"]) for p in silu_poles(range(0, 2))]
    [(-I*pi, 1, -I*pi), (-3*I*pi, 1, -3*I*pi)]
    """
    w = sp.Symbol("w")
    poles = singular_points("silu", w)
    num, den = sp.fraction(sp.together(sympy_activation("silu", w)))
    out = []
    for k in ks:
        p = poles.lamda(k)
        simple = (
            sp.simplify(den.subs(w, p)) == 0
            and sp.simplify(sp.diff(den, w).subs(w, p)) != 0
            and sp.simplify(num.subs(w, p)) != 0
        )
        if not simple:
            raise RuntimeError(f"SiLU's pole at {p} is not simple: this is a bug")
        res = sp.residue(sympy_activation("silu", w), w, p)
        out.append({"k": k, "pole": p, "order": 1, "residue": sp.simplify(res)})
    return out


def rescaled_silu_residues(lambdas) -> list[tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]]:
    """Residues of a rescaled SiLU neuron ``SiLU(λz)/λ`` beside SiLU's own.

    For each ``λ`` (non-zero), at the image ``q = iπ/λ`` of SiLU's pole ``iπ``:
    the residue of ``SiLU(λz)/λ`` there (``q/λ``) and that of ``SiLU(z)`` (``q``
    when ``q`` is a pole of SiLU, as for ``λ = −1``; 0 otherwise). The rescaled
    neuron can equal SiLU only where the two agree for every pole.

    Returns:
        One tuple ``(λ, q, residue of SiLU(λz)/λ, residue of SiLU)`` per ``λ``.

    >>> rescaled_silu_residues([-1])
    [(-1, -I*pi, I*pi, -I*pi)]
    """
    w = sp.Symbol("w")
    out = []
    for lam in lambdas:
        lam = sp.nsimplify(lam)
        if lam == 0:
            raise ValueError("expected a non-zero rescaling λ, got 0")
        q = sp.I * sp.pi / lam
        rescaled = sympy_activation("silu", lam * w) / lam
        res = sp.simplify(sp.residue(rescaled, w, q))
        own = sp.simplify(sp.residue(sympy_activation("silu", w), w, q))
        out.append((lam, q, res, own))
    return out


# a positively homogeneous activation, left undefined: differentiating
# sigma(λu) = λ sigma(u) (λ > 0) at λ = 1 gives sigma(u) = u*dsigma(u)
SIGMA = sp.Function("sigma", real=True)
DSIGMA = sp.Function("dsigma", real=True)
HOMOGENEITY = "sigma positively homogeneous: sigma(u) = u*dsigma(u)"


def expand_outside_functions(e: sp.Expr) -> sp.Expr:
    """Expand fully, but keep every function application whole.

    Expanding inside erf, exp or dsigma arguments blows up (10⁵ operations for a
    2-2-2-1 GELU net) and cancels nothing: equal applications are equal atoms.
    """
    # xreplace matches top-down, so only the outermost applications are frozen
    frozen = {a: sp.Dummy() for a in e.atoms(sp.Function)}
    thawed = {d: a for a, d in frozen.items()}
    return sp.expand(e.xreplace(frozen)).xreplace(thawed)


def _as_dsigma(d: sp.Derivative) -> sp.Expr:
    """``Derivative(sigma(s), s)`` as ``dsigma(s)``."""
    if d.derivative_count != 1:
        raise ValueError(f"expected a first derivative of sigma, got {d}")
    return DSIGMA(d.expr.args[0])


def reduce_residual(expr: sp.Expr, *, homogeneous: bool = False) -> sp.Expr:
    """Write ``σ′`` as ``dsigma``, apply homogeneity if asked, and expand.

    >>> u = sp.Symbol("u", real=True)
    >>> r = sp.diff(SIGMA(2 * u), u) * u - SIGMA(2 * u)
    >>> reduce_residual(r), reduce_residual(r, homogeneous=True)
    (2*u*dsigma(2*u) - sigma(2*u), 0)
    """
    # sympy writes σ′(u) as Subs(Derivative(sigma(ξ), ξ), ξ, u): rename, evaluate
    e = expr.replace(
        lambda a: isinstance(a, sp.Derivative) and a.expr.func == SIGMA, _as_dsigma
    )
    e = e.replace(lambda a: isinstance(a, sp.Subs), lambda a: a.doit())
    if homogeneous:
        # bottom-up, so nested sigma(...) inside later arguments are rewritten too
        e = e.replace(
            lambda a: isinstance(a, AppliedUndef) and a.func == SIGMA,
            lambda a: a.args[0] * DSIGMA(a.args[0]),
        )
    return expand_outside_functions(e)


def _relu_step(u: sp.Expr) -> sp.Integer:
    if u == 0:
        raise ValueError("a pre-activation is exactly at ReLU's kink")
    return sp.Integer(1) if u > 0 else sp.Integer(0)


def relu_numeric(e: sp.Expr) -> sp.Expr:
    """Evaluate ``sigma`` as ReLU and ``dsigma`` as its derivative, at numbers.

    Raises:
        ValueError: at a point where some ``dsigma`` argument is exactly 0, where
            ReLU has no derivative.

    >>> relu_numeric(SIGMA(-2) + 3 * DSIGMA(sp.Rational(1, 2)))
    3
    """
    return e.replace(DSIGMA, _relu_step).replace(SIGMA, lambda u: sp.Max(u, 0))
