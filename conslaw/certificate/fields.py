"""The vector fields of the characterization and their Lie brackets, batched.

A generator field is ``V(θ) = ∇_θ <u, f(θ, x)>`` for a small batch of inputs ``x``
and output weights ``u`` of the same batch; these span ``W_θ``. A level-``k`` field
is the right-nested bracket ``[V_0, [V_1, [..., V_k]]]`` of ``k + 1`` generators,
with ``[X, Y](θ) = DY(θ) X(θ) − DX(θ) Y(θ)``. Right-nested brackets of generators
span the Lie algebra they generate, so sampling them at random spans it too.

Every level is evaluated for many draws at once: ``torch.func.vmap`` over the
generators' data, forward-mode ``jvp`` for the derivatives of the fields.

A bracket that vanishes identically (``[X, X]``, or brackets of parallel fields)
still comes out as round-off, which unit-normalization would turn into a spurious
direction. So each field also returns its *cancellation ratio*: the smallest, over
its nesting levels, of ``‖DY·X − DX·Y‖ / (‖DY·X‖ + ‖DX·Y‖)``. Round-off gives about
1e-16, a genuine bracket a ratio of order one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.func import grad, jacrev, jvp, vmap

from ..models.base import FunctionalModel

Field = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# entries of the pool's Jacobian (pool inputs x outputs x D) computed at once; a
# larger pool is done in chunks of inputs
JACOBIAN_CHUNK = 1 << 24


def generator_field(model: FunctionalModel) -> Field:
    """``(θ, x, u) ↦ ∇_θ <u, f(θ, x)>`` for ``x (batch, *in)``, ``u (batch, *out)``."""

    def pairing(theta, x, u):
        return (model.apply_flat(theta, x) * u).sum()

    return grad(pairing)


def bracket_field(model: FunctionalModel, level: int) -> Field:
    """The right-nested bracket of ``level + 1`` generators, as a function of
    ``θ (D,)``, ``xs (level + 1, batch, *in)`` and ``us (level + 1, batch, *out)``.

    Returns the field's value ``(D,)`` and its cancellation ratio (a scalar).
    """
    base = generator_field(model)
    if level == 0:

        def generator(theta, xs, us):
            value = base(theta, xs[0], us[0])
            return value, value.new_ones(())

        return generator
    inner = bracket_field(model, level - 1)

    def field(theta, xs, us):
        def outer(th):
            return base(th, xs[0], us[0])

        def nested(th):
            return inner(th, xs[1:], us[1:])

        # [X, Y] = DY·X − DX·Y, with X the new generator and Y the nested bracket
        y_val, dy_x, inner_ratio = jvp(nested, (theta,), (outer(theta),), has_aux=True)
        _, dx_y = jvp(outer, (theta,), (y_val,))
        value = dy_x - dx_y
        terms = dy_x.norm() + dx_y.norm()
        ratio = torch.where(terms > 0, value.norm() / terms, terms)
        return value, torch.minimum(ratio, inner_ratio)

    return field


def sample_fields(
    model: FunctionalModel,
    theta: torch.Tensor,
    level: int,
    n: int,
    generator: torch.Generator,
    *,
    batch: int = 4,
    scales: tuple[float, ...] = (0.3, 1.0, 3.0),
    pool: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random level-``level`` fields at ``θ``: values ``(n, D)`` and
    cancellation ratios ``(n,)``.

    Each generator combines ``batch`` fresh inputs and, when given, every input of
    ``pool (P, *in_shape)`` (the representatives of each activation region), with
    Gaussian output weights.
    """
    k = level + 1
    xs = model.sample_inputs(n * k * batch, generator, scales, dtype=theta.dtype)
    xs = xs.reshape((n, k, batch, *model.in_shape))
    shared = 0 if pool is None else len(pool)
    # output weights of every input, pool first: (n, k, P + batch, *out)
    us = torch.randn(
        (n, k, shared + batch, *model.out_shape),
        generator=generator,
        dtype=theta.dtype,
    ).to(theta.device)
    xs = xs.to(theta.device)
    if shared:
        pool = pool.to(dtype=theta.dtype, device=theta.device)
    if level == 0 and shared:
        # a generator is linear in its output weights: the pool's share of every
        # field is one product with the pool's Jacobian, computed once
        fresh = vmap(
            generator_field(model), in_dims=(None, 0, 0), chunk_size=chunk_size
        )
        values = fresh(theta, xs[:, 0], us[:, 0, shared:])
        values = values + _pool_products(model, theta, pool, us[:, 0, :shared])
        return values, values.new_ones(n)
    if shared:
        xs = torch.cat([pool.expand((n, k, *pool.shape)), xs], dim=2)
    field = bracket_field(model, level)
    return vmap(field, in_dims=(None, 0, 0), chunk_size=chunk_size)(theta, xs, us)


def _pool_products(model, theta, pool, us):
    """``Σ_p J_p(θ)ᵀ u_{a,p}`` over the pool inputs ``p`` for every field ``a``:
    ``(n, D)`` from the pool ``(P, *in)`` and its weights ``us (n, P, *out)``."""
    n, P, D = len(us), len(pool), len(theta)
    outputs = math.prod(model.out_shape)
    step = max(1, JACOBIAN_CHUNK // max(1, outputs * D))
    total = theta.new_zeros((n, D))

    def one(th, x):  # the Jacobian of one input's outputs, (*out, D)
        return jacrev(model.apply_flat)(th, x[None])[0]

    per_input = vmap(one, in_dims=(None, 0))
    for start in range(0, P, step):
        part = pool[start : start + step]
        jac = per_input(theta, part)  # (p, *out, D)
        jac = jac.reshape(len(part) * outputs, D)
        u = us[:, start : start + len(part)].reshape(n, -1)  # (n, p * out)
        total = total + u @ jac
    return total
