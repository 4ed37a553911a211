"""``conslaw certify ffn`` and ``conslaw certify glu``."""

from __future__ import annotations

from ..models import ACTIVATIONS, FFN, GLU, GLU_VARIANTS
from .common import add_common, int_list


def add_parsers(sub) -> None:
    ffn = sub.add_parser(
        "ffn",
        help="feedforward network W_L act(... act(W_1 x + b_1) ...)",
        description="Certify the conservation laws of a feedforward network.",
    )
    ffn.add_argument("--activation", required=True, choices=list(ACTIVATIONS))
    ffn.add_argument(
        "--widths",
        required=True,
        type=int_list,
        help="input,hidden...,output widths, e.g. 3,4,2",
    )
    ffn.add_argument("--no-bias", action="store_true", help="drop every bias")
    add_common(ffn)
    ffn.set_defaults(build=lambda a: FFN(a.widths, a.activation, bias=not a.no_bias))

    glu = sub.add_parser(
        "glu",
        help="gated unit A (act(B x) ⊙ C x); --activation silu is SwiGLU",
        description="Certify the conservation laws of a gated linear unit.",
    )
    glu.add_argument("--activation", required=True, choices=list(GLU_VARIANTS))
    glu.add_argument(
        "--widths",
        required=True,
        type=int_list,
        help="input,hidden,output widths, e.g. 3,4,2",
    )
    add_common(glu)
    glu.set_defaults(build=lambda a: GLU(a.widths, a.activation))
