"""What the attention chapter follows along training: the laws, and the parts of
``QᵀQ − KᵀK`` that RoPE sets free.

Split ``Δ = Σ_{h∈g} Q_hᵀQ_h − K_gᵀK_g`` (one ``d_k × d_k`` matrix per key–value
group) by RoPE's frequency pairs ``(2j, 2j + 1)``:

- *pair traces* ``Δ[2j,2j] + Δ[2j+1,2j+1]``: laws with and without RoPE;
- *within pairs* ``Δ[2j,2j] − Δ[2j+1,2j+1]`` and ``Δ[2j,2j+1]``: the rest of each
  2 × 2 diagonal block, laws without RoPE only;
- *off pairs* ``Δ[a,b]`` with ``a < b`` in different pairs: laws without RoPE only.

All the attention and read-out laws are quadratic forms ``h(θ) = B(θ, θ)``, so a
gradient-descent step ``δ = −τ∇L`` changes them by exactly ``h(δ)``: the linear
term ``2B(θ, δ) = ⟨∇h, δ⟩`` vanishes because ``∇h ⊥ ∇L``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..laws.attention import _query_key_gram
from ..laws.base import LawSet, predicted_laws
from ..models.attention import MultiHeadAttention
from ..models.base import FunctionalModel
from ..models.readout import AttentionClassifier
from .tracking import relative_deviation

# h(2δ) = 4h(δ) holds to round-off for a quadratic form; a degree-n law (n ≠ 2)
# misses it by a factor 2^(n−2)
QUADRATIC_RTOL = 1e-9

# the parts of QᵀQ − KᵀK, in the order the chapter plots them
PARTS = ("pair traces", "within pairs", "off pairs")


def _block(model: FunctionalModel) -> MultiHeadAttention:
    if isinstance(model, AttentionClassifier):
        return model.attention
    if isinstance(model, MultiHeadAttention):
        return model
    raise TypeError(
        "expected a MultiHeadAttention or an AttentionClassifier, got "
        f"{type(model).__name__}"
    )


def query_key_parts(
    model: FunctionalModel, params: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The three parts of ``Δ = Σ_{h∈g} Q_hᵀQ_h − K_gᵀK_g`` (see the module doc).

    Args:
        model: a ``MultiHeadAttention`` or an ``AttentionClassifier`` (its block).
        params: the model's parameters.

    Returns:
        ``{"pair traces": (G, P), "within pairs": (G, P, 2), "off pairs":
        (G, 2P(P − 1))}`` with ``P = ⌊d_k / 2⌋`` pairs, ``G`` key–value groups,
        in the parameters' dtype. An odd last coordinate (``d_k`` odd, no RoPE)
        belongs to no pair and is left out.
    """
    block = _block(model)
    delta = _query_key_gram(params, block)  # (G, d_k, d_k)
    pairs = block.d_k // 2
    even = torch.arange(pairs) * 2
    odd = even + 1
    traces = delta[:, even, even] + delta[:, odd, odd]  # (G, P)
    within = torch.stack(
        [delta[:, even, even] - delta[:, odd, odd], delta[:, even, odd]], -1
    )  # (G, P, 2)
    a, b = torch.triu_indices(2 * pairs, 2 * pairs, 1)
    off = (a // 2) != (b // 2)
    return {
        "pair traces": traces,
        "within pairs": within,
        "off pairs": delta[:, a[off], b[off]],  # (G, 2P(P − 1))
    }


def attention_tracker(
    model: FunctionalModel, laws: LawSet | None = None
) -> Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """A ``track`` function for :func:`~conslaw.training.gradient_flow` and
    :func:`~conslaw.training.gradient_descent`.

    It returns every law block as ``"law: NAME"`` (``laws``, by default the
    model's predicted laws), the parts of :func:`query_key_parts` under their own
    names, and ``"QᵀQ"`` (``Σ_h Q_hᵀQ_h`` per group), a quantity no symmetry
    protects.
    """
    block = _block(model)
    laws = predicted_laws(model) if laws is None else laws

    def track(p):
        out = {f"law: {k}": v for k, v in laws.blocks(p).items()}
        out.update(query_key_parts(model, p))
        q = p["Q"].reshape(block.kv_groups, block.heads_per_group, block.d, -1)
        out["QᵀQ"] = torch.einsum("grdk,grdl->gkl", q, q)  # (G, d_k, d_k)
        return out

    return track


def deviations(tracked: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The paper's relative deviation (Eq. 10) of what :func:`attention_tracker`
    follows: ``"laws"`` over all law blocks, then each other quantity alone.

    Args:
        tracked: ``{name: (steps, ...)}`` from a flow or descent result.

    Returns:
        ``{name: (steps,)}`` on the CPU (ready to plot), ``"laws"`` first.
    """
    law_blocks = {k: v for k, v in tracked.items() if k.startswith("law: ")}
    if not law_blocks:
        raise ValueError(
            "expected tracked law blocks named 'law: ...' (from attention_tracker), "
            f"got {sorted(tracked)}"
        )
    out = {"laws": relative_deviation(law_blocks)}
    for k, v in tracked.items():
        if not k.startswith("law: "):
            out[k] = relative_deviation({k: v})
    return {k: v.cpu() for k, v in out.items()}


def descent_law_steps(
    model: FunctionalModel, thetas: torch.Tensor, laws: LawSet | None = None
) -> torch.Tensor:
    """``h(θ_{k+1} − θ_k)`` for every recorded step: the exact change of each
    quadratic law over that step, as predicted without evaluating ``h(θ_{k+1})``.

    Args:
        model: the trained model.
        thetas: flat parameters ``(S, D)`` at consecutive steps (record every
            step, ``every=1``).
        laws: quadratic laws; the model's predicted laws by default.

    Returns:
        ``(S − 1, N)``: row ``k`` is the law vector evaluated at the step.

    Raises:
        ValueError: when a law is not a homogeneous quadratic (the determinant
            laws of coinciding RoPE frequencies), where the identity fails.
    """
    laws = predicted_laws(model) if laws is None else laws
    if len(thetas) < 2:
        raise ValueError(
            f"expected parameters at two or more steps, got {len(thetas)}; "
            "record every step (every=1)"
        )
    steps = thetas[1:] - thetas[:-1]  # (S − 1, D)
    probe = laws.vector(model.unflatten(steps[0]))
    doubled = laws.vector(model.unflatten(2 * steps[0]))
    if not torch.allclose(doubled, 4 * probe, rtol=QUADRATIC_RTOL, atol=0):
        raise ValueError(
            "descent_law_steps needs laws that are quadratic forms (h(2δ) = 4h(δ)); "
            f"{laws.source!r} has others: compare h(θ_k) directly instead"
        )
    return torch.stack([laws.vector(model.unflatten(s)) for s in steps])


__all__ = [
    "PARTS",
    "attention_tracker",
    "descent_law_steps",
    "deviations",
    "query_key_parts",
]
