"""Certificate sweeps over feedforward and gated networks (Theorems 4.1, 4.2)."""

from __future__ import annotations

from collections.abc import Sequence

from ..certificate import certify
from ..models import FFN, GLU

# sizes [d, m, o] of the feedforward chapter's sweep, edges first: scalar inputs
# and outputs, a single hidden unit, then growing widths
FFN_SIZES = (
    [1, 1, 1],
    [1, 3, 1],
    [1, 4, 2],
    [2, 1, 2],
    [2, 4, 1],
    [3, 4, 2],
    [4, 8, 3],
    [8, 16, 4],
)
FFN_ACTIVATIONS = ("linear", "relu", "gelu", "gelu-tanh", "silu")
GLU_ACTIVATIONS = ("silu", "gelu", "relu", "linear")


def _row(model, cert, **extra) -> dict:
    return {
        **extra,
        "widths": "-".join(map(str, model.widths)),
        "D": cert.parameters,
        "predicted": cert.predicted,
        "certified": cert.certified,
        "gap": cert.gap,
        "status": cert.status,
        "seconds": cert.seconds,
    }


def ffn_sweep(
    sizes: Sequence[Sequence[int]] = FFN_SIZES,
    activations: Sequence[str] = FFN_ACTIVATIONS,
    biases: Sequence[bool] = (True, False),
    seed: int = 0,
) -> list[dict]:
    """Certify every activation × bias × size; one row each."""
    rows = []
    for widths in sizes:
        for act in activations:
            for bias in biases:
                model = FFN(widths, act, bias=bias)
                rows.append(
                    _row(
                        model,
                        certify(model, seed=seed),
                        block="FFN",
                        activation=act,
                        bias=bias,
                    )
                )
    return rows


def glu_sweep(
    sizes: Sequence[Sequence[int]] = FFN_SIZES,
    activations: Sequence[str] = GLU_ACTIVATIONS,
    seed: int = 0,
) -> list[dict]:
    """Certify every GLU variant × size; one row each."""
    rows = []
    for widths in sizes:
        for act in activations:
            model = GLU(widths, act)
            rows.append(
                _row(
                    model,
                    certify(model, seed=seed),
                    block=model.variant,
                    activation=act,
                    bias=False,
                )
            )
    return rows
