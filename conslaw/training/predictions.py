"""Closed-form predictions for laws under discrete optimizers.

Every law here is a *quadratic form* ``h(θ) = ½ θᵀMθ`` (the balance laws of ReLU,
linear and gated units, the per-head attention laws) or a *linear form*
``h(θ) = ⟨c, θ⟩`` (the MoE gate's translation law), and the symmetry behind it
gives ``⟨∇L(θ), ∇h(θ)⟩ = 0`` for every loss, mini-batch included. Two facts make
the formulas cheap: for a quadratic form ``½ gᵀMg = h(g)`` and
``θᵀMu = h(θ + u) − h(θ) − h(u)``, so no matrix ``M`` is ever built; the law is
evaluated at other vectors instead.

The derivations are in :mod:`conslaw.symbolic.dynamics`.
"""

from __future__ import annotations

import cmath
import math
import warnings
from collections.abc import Callable

import torch
from torch.func import vjp, vmap

LawVector = Callable[[torch.Tensor], torch.Tensor]

# a quadratic form satisfies h(0) = 0, h(2x) = 4 h(x) and the parallelogram law
# exactly; in float64 each side carries a few ulp of the largest term
QUADRATIC_RTOL = 1e-10


def flat_law(model, laws) -> LawVector:
    """``θ (D,) ↦ laws.vector(model.unflatten(θ)) (N,)`` for a LawSet ``laws``."""

    def law(theta: torch.Tensor) -> torch.Tensor:
        return laws.vector(model.unflatten(theta))

    return law


def along(law: LawVector, thetas: torch.Tensor) -> torch.Tensor:
    """The laws along a trajectory ``(S, D)``: ``(S, N)``."""
    return torch.stack([law(t) for t in thetas])


def check_quadratic_form(
    law: LawVector, dim: int, *, trials: int = 3, seed: int = 0
) -> None:
    """Raise a ValueError unless ``law`` is a (vector of) quadratic forms on R^dim.

    Checks ``h(0) = 0``, ``h(2x) = 4h(x)`` and the parallelogram law
    ``h(x + y) + h(x − y) = 2h(x) + 2h(y)`` at random float64 points, which
    characterize quadratic forms among continuous functions.
    """
    gen = torch.Generator().manual_seed(int(seed))
    zero = law(torch.zeros(dim, dtype=torch.float64))
    for _ in range(trials):
        x, y = torch.randn(2, dim, generator=gen, dtype=torch.float64)
        hx, hy = law(x), law(y)
        scale = hx.abs().max() + hy.abs().max() + 1.0
        gaps = [
            zero.abs().max(),
            (law(2 * x) - 4 * hx).abs().max(),
            (law(x + y) + law(x - y) - 2 * hx - 2 * hy).abs().max(),
        ]
        if max(gaps) > QUADRATIC_RTOL * scale:
            raise ValueError(
                "expected a law that is a quadratic form ½θᵀMθ (h(0) = 0, h(2x) = "
                f"4h(x), parallelogram law), got gaps {[f'{g:.1e}' for g in gaps]}: "
                "the formulas here hold for quadratic laws only"
            )


def quadratic_step_change(
    law: LawVector, grads: torch.Tensor, lrs: torch.Tensor | float
) -> torch.Tensor:
    """The exact one-step change of a quadratic law under (S)GD.

    ``h(θ − τg) − h(θ) = −τ θᵀMg + (τ²/2) gᵀMg = τ² h(g)``, the first term
    vanishing by the symmetry.

    Args:
        law: flat parameters ``(D,)`` to law values ``(N,)``.
        grads: the gradients of the steps, ``(K, D)``.
        lrs: their steps ``τ_k``, ``(K,)`` or a number.

    Returns:
        ``(K, N)``: ``τ_k² h(g_k)``.
    """
    lrs = torch.as_tensor(lrs, dtype=grads.dtype).expand(len(grads))
    return lrs[:, None] ** 2 * torch.stack([law(g) for g in grads])


def step_split(
    law: LawVector, thetas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split each measured step's change of a quadratic law in two exact parts.

    With ``Δ_k = θ_{k+1} − θ_k``: ``h(θ_{k+1}) − h(θ_k) = θ_kᵀMΔ_k + h(Δ_k)``.
    The first part is first order in the step and vanishes for (S)GD by the
    symmetry; the second is second order.

    Args:
        law: ``(D,) -> (N,)``; thetas: the trajectory ``(K + 1, D)``.

    Returns:
        ``(first, second)``, each ``(K, N)``.
    """
    steps = thetas[1:] - thetas[:-1]
    h_theta = torch.stack([law(t) for t in thetas[:-1]])
    h_step = torch.stack([law(d) for d in steps])
    h_sum = torch.stack([law(t) for t in thetas[1:]])
    return h_sum - h_theta - h_step, h_step


def hessian_norm(
    law: LawVector, dim: int, *, iterations: int = 30, seed: int = 0
) -> torch.Tensor:
    """``‖M_j‖₂`` of each quadratic law ``h_j = ½θᵀM_jθ``, by power iteration.

    ``∇h_j(v) = M_j v``, so ``v ← M_j v / ‖M_j v‖`` needs only gradients. The
    estimate ``‖M_j v‖`` approaches ``‖M_j‖₂`` from below.

    Returns:
        ``(N,)`` float64.
    """
    gen = torch.Generator().manual_seed(int(seed))
    n = law(torch.zeros(dim, dtype=torch.float64)).numel()

    def apply(v, e):  # M_j v for the law selected by the one-hot e
        return vjp(law, v)[1](e)[0]

    v = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64)
    norms = torch.zeros(n, dtype=torch.float64)
    for _ in range(iterations):
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)
        v = vmap(apply)(v, eye)
        norms = v.norm(dim=1)
    return norms


def eq9_bound(lrs: torch.Tensor, c_h: float, c_l: float) -> torch.Tensor:
    """The paper's Eq. 9, ``(C_h C_L / 2) Σ_{i<k} τ_i²``, at ``k = 0, ..., K``.

    ``C_h`` bounds the Hessian of the law (``‖M‖₂`` for a quadratic one), ``C_L``
    the squared gradient norm along the run. Returns ``(K + 1,)``.
    """
    lrs = torch.as_tensor(lrs, dtype=torch.float64)
    sums = torch.cat([lrs.new_zeros(1), torch.cumsum(lrs**2, 0)])
    return 0.5 * c_h * c_l * sums


def decayed_quadratic(
    h0: torch.Tensor, law_at_grads: torch.Tensor, lr: float, weight_decay: float
) -> torch.Tensor:
    """Exact (S)GD with coupled weight decay: ``h_{k+1} = (1 − τλ)² h_k + τ² h(g_k)``.

    Args:
        h0: the laws at the start ``(N,)``; law_at_grads: ``h(g_k)``, ``(K, N)``.

    Returns:
        ``(K + 1, N)``.
    """
    shrink = (1 - lr * weight_decay) ** 2
    out = [h0]
    for hg in law_at_grads:
        out.append(shrink * out[-1] + lr**2 * hg)
    return torch.stack(out)


def kunin_decay(
    h0: torch.Tensor,
    law_at_grads: torch.Tensor,
    lr: float,
    weight_decay: float,
    *,
    step_rate: bool = False,
) -> torch.Tensor:
    """Kunin et al.'s continuous form: ``e^{−2λt} h₀ + τ ∫₀ᵗ e^{−2λ(t−s)} h(g(s)) ds``.

    ``t = kτ``; ``h(g) = ½gᵀMg`` (``‖g_S‖²`` for a scale law ``‖θ_S‖²``); the
    integral is the Riemann sum over the steps. ``step_rate=True`` replaces ``λ``
    by ``λ' = −ln(1 − τλ)/τ = λ + τλ²/2 + O(τ²)``, the rate at which a step of
    size ``τ`` really shrinks: without it the formula keeps an error of order
    ``τλ²t h``, the same order as the correction. Shapes as
    :func:`decayed_quadratic`.
    """
    k = len(law_at_grads)
    rate = -math.log1p(-lr * weight_decay) / lr if step_rate else weight_decay
    t = lr * torch.arange(k + 1, dtype=torch.float64)
    s = t[:-1]
    kernel = torch.exp(-2 * rate * (t[:, None] - s[None, :]))  # (K+1, K)
    kernel = kernel * (s[None, :] < t[:, None])
    integral = lr * (kernel @ law_at_grads)
    return torch.exp(-2 * rate * t)[:, None] * h0 + lr * integral


def momentum_forcing(law: LawVector, thetas: torch.Tensor) -> torch.Tensor:
    """``q_k = h(Δ_k) = ½ Δ_kᵀMΔ_k`` of the measured steps, with ``q_0 = 0``.

    Returns ``(K + 1, N)`` for a trajectory ``(K + 1, D)``.
    """
    steps = thetas[1:] - thetas[:-1]
    q = torch.stack([law(d) for d in steps])
    return torch.cat([torch.zeros_like(q[:1]), q])


def momentum_recurrence(
    h: torch.Tensor, q: torch.Tensor, lr: float, beta: float, weight_decay: float = 0.0
) -> torch.Tensor:
    """The heavy ball's exact law recurrence, one step ahead.

    ``h_{k+1} = h_k + β (h_k − h_{k−1}) − 2τλ h_k + q_{k+1} + β q_k`` with
    ``h_{−1} = h_0`` (the ball starts at rest) and coupled weight decay ``λ``.

    Args:
        h: measured laws ``(K + 1, N)``; q: :func:`momentum_forcing` ``(K + 1, N)``.

    Returns:
        the prediction of ``h_1, ..., h_K`` from the earlier values, ``(K, N)``.
    """
    prev = torch.cat([h[:1], h[:-2]])  # h_{k-1}, k = 0..K-1
    cur = h[:-1]
    return (
        cur + beta * (cur - prev) - 2 * lr * weight_decay * cur + q[1:] + beta * q[:-1]
    )


def momentum_modified_law(
    h: torch.Tensor, q: torch.Tensor, lr: float, beta: float, weight_decay: float = 0.0
) -> torch.Tensor:
    """The heavy ball's exactly conserved quantity, divided by ``1 − β``.

    ``Q_k = [h_k − β h_{k−1} + 2τλ Σ_{i<k} h_i − Σ_{i<k} (q_{i+1} + β q_i)] / (1 − β)``
    equals ``h_0`` at every ``k`` (``h_{−1} = h_0``). Shapes as
    :func:`momentum_recurrence`; returns ``(K + 1, N)``.
    """
    prev = torch.cat([h[:1], h[:-1]])
    zero = torch.zeros_like(h[:1])
    decay = torch.cat([zero, torch.cumsum(h[:-1], 0)])
    forcing = torch.cat([zero, torch.cumsum(q[1:] + beta * q[:-1], 0)])
    return (h - beta * prev + 2 * lr * weight_decay * decay - forcing) / (1 - beta)


def momentum_roots(lr: float, beta: float, weight_decay: float) -> dict[str, complex]:
    """Decay rate and angular frequency per unit time ``t = kτ``, discrete and
    continuous, of the heavy ball's law dynamics with weight decay ``λ``.

    Discrete: the roots ``z`` of ``z² − (1 + β − 2τλ) z + β``, read as
    ``e^{τ r}``. Continuous (Kunin et al.): the roots ``r`` of
    ``m r² + (1 − β) r + 2λ = 0``, ``m = τ(1 + β)/2``. Returns the root with the
    larger imaginary part of each, ``{"discrete": r_d, "continuous": r_c}``.
    """
    a = 1 + beta - 2 * lr * weight_decay
    z = (a + cmath.sqrt(a * a - 4 * beta)) / 2
    r_d = cmath.log(z) / lr
    m, gamma = lr * (1 + beta) / 2, 1 - beta
    r_c = (-gamma + cmath.sqrt(gamma**2 - 8 * weight_decay * m)) / (2 * m)
    return {"discrete": r_d, "continuous": r_c}


def kunin_momentum(
    t: torch.Tensor,
    h0: torch.Tensor,
    dh0: torch.Tensor,
    lr: float,
    beta: float,
    weight_decay: float,
    forcing: torch.Tensor | None = None,
) -> torch.Tensor:
    """Solve Kunin et al.'s law equation ``m ḧ + (1 − β) ḣ + 2λ h = m φ(t)``.

    ``m = τ(1 + β)/2``, ``φ = θ̇ᵀMθ̇``. The homogeneous part is closed form from
    ``h(0) = h0``, ``ḣ(0) = dh0``; the forced part is Duhamel's integral with the
    impulse response, as a Riemann sum over the samples ``forcing (T, N)`` of
    ``φ`` at the times ``t (T,)`` (equally spaced). Returns ``(T, N)``.
    """
    m, gamma = lr * (1 + beta) / 2, 1 - beta
    disc = complex(gamma**2 - 8 * weight_decay * m)
    r1 = (-gamma + cmath.sqrt(disc)) / (2 * m)
    r2 = (-gamma - cmath.sqrt(disc)) / (2 * m)
    if abs(r1 - r2) < 1e-12 * (abs(r1) + 1):
        raise ValueError(
            "the law equation is critically damped at these settings: move lr, "
            "beta or weight_decay slightly"
        )
    tc = t.to(torch.complex128)[:, None]
    # h = a e^{r1 t} + b e^{r2 t} with a + b = h0, a r1 + b r2 = dh0
    a = (dh0 - r2 * h0) / (r1 - r2)
    b = h0 - a
    out = a * torch.exp(r1 * tc) + b * torch.exp(r2 * tc)
    if forcing is not None:
        if len(forcing) != len(t):
            raise ValueError(
                f"expected forcing with one row per time, {len(t)} rows, got "
                f"shape {tuple(forcing.shape)}"
            )
        dt = float(t[1] - t[0])
        lag = t[:, None] - t[None, :]  # (T, T)
        impulse = (torch.exp(r1 * lag) - torch.exp(r2 * lag)) / (r1 - r2)
        impulse = impulse * (lag > 0)
        out = out + dt * impulse @ forcing.to(torch.complex128)
    return out.real


def fit_exponent(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    lx = torch.log(torch.as_tensor(x, dtype=torch.float64))
    ly = torch.log(torch.as_tensor(y, dtype=torch.float64))
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


def richardson(at_step: float, at_double: float) -> float:
    """``2 y(τ) − y(2τ)``: the limit ``τ → 0`` of ``y(τ) = a + bτ + O(τ²)``."""
    return 2 * at_step - at_double


def local_orders(x, y) -> list[float]:
    """Slopes of ``log y`` against ``log x`` between neighbouring points.

    Args:
        x: the steps, at least two positive numbers in any order.
        y: the values at those steps, positive, same length.

    Returns:
        One slope per neighbouring pair, in the order of decreasing ``x``: a
        quantity ``y0 + c xᵖ`` with ``y0 ≠ 0`` shows slopes falling towards 0
        as ``x`` shrinks, one with ``y0 = 0`` slopes settling at ``p``.
    """
    pairs = sorted(zip(x, y, strict=True), reverse=True)
    if len(pairs) < 2 or any(a <= 0 or b <= 0 for a, b in pairs):
        raise ValueError(
            f"expected two or more positive (step, value) pairs, got {pairs}; "
            "drop the zero or negative ones"
        )
    return [
        math.log(b1 / b2) / math.log(a1 / a2)
        for (a1, b1), (a2, b2) in zip(pairs, pairs[1:])
    ]


# three steps count as equally spaced on a log scale when their ratios agree
# to this relative tolerance (steps are given as decimal literals)
RATIO_RTOL = 1e-9


def power_law_limit(x, y) -> tuple[float, float]:
    """Limit ``y0`` and order ``p`` of ``y(x) = y0 + c xᵖ`` from the three
    smallest steps.

    The steps must be in a constant ratio ``r`` (such as ``τ, 2τ, 4τ``); then
    ``p = log(Δ₂/Δ₁)/log r`` with ``Δ₁ = y(rτ) − y(τ)``, ``Δ₂ = y(r²τ) − y(rτ)``,
    and ``y0 = y(τ) − Δ₁/(rᵖ − 1)``: Richardson extrapolation with a fitted
    instead of an assumed order. With ``p = 1`` it is ``2y(τ) − y(2τ)``.

    Args:
        x: three or more steps (float); only the three smallest are used.
        y: the values at those steps, same length.

    Returns:
        ``(y0, p)``; both NaN, with a warning, when no such law with
        ``p > 0`` fits the three values (they are not monotone in the step, or
        their differences do not shrink with it).
    """
    pairs = sorted(zip(x, y, strict=True))[:3]
    if len(pairs) < 3 or pairs[0][0] <= 0:
        raise ValueError(
            f"expected three or more positive steps with values, got {pairs}"
        )
    (x1, y1), (x2, y2), (x3, y3) = pairs
    r = x2 / x1
    if r <= 1 or abs(x3 / x2 - r) > RATIO_RTOL * r:
        raise ValueError(
            f"expected the three smallest steps in a constant ratio, such as "
            f"τ, 2τ, 4τ; got {x1:g}, {x2:g}, {x3:g}"
        )
    d1, d2 = y2 - y1, y3 - y2
    p = math.log(d2 / d1) / math.log(r) if d1 != 0 and d2 / d1 > 0 else 0.0
    if p <= 0:
        warnings.warn(
            f"values {y1:g}, {y2:g}, {y3:g} at steps {x1:g}, {x2:g}, {x3:g} "
            "fit no power law y0 + c xᵖ with p > 0 (no limit as x → 0); "
            "returning NaN",
            stacklevel=2,
        )
        return math.nan, math.nan
    return y1 - d1 / (r**p - 1), p


def basel_sum(tau0: float) -> float:
    """``Σ_{i≥0} (τ₀ / (i + 1))² = τ₀² π² / 6``: the limit of Eq. 9's sum under
    the step ``τ_k = τ₀ / (k + 1)``."""
    return tau0**2 * math.pi**2 / 6


__all__ = [
    "QUADRATIC_RTOL",
    "along",
    "flat_law",
    "richardson",
    "local_orders",
    "power_law_limit",
    "basel_sum",
    "check_quadratic_form",
    "decayed_quadratic",
    "eq9_bound",
    "fit_exponent",
    "hessian_norm",
    "kunin_decay",
    "kunin_momentum",
    "momentum_forcing",
    "momentum_modified_law",
    "momentum_recurrence",
    "momentum_roots",
    "quadratic_step_change",
    "step_split",
]
