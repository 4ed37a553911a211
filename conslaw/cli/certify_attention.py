"""``conslaw certify attention``."""

from __future__ import annotations

from ..laws.attention import attention_laws, paper_law_count
from ..models.attention import POSITIONAL_ENCODINGS, ROPE_BASE, MultiHeadAttention
from .common import add_common, positive_float, positive_int


def check(args) -> None:
    """Reject combinations of flags that no model has, naming the flags."""
    if args.pe == "rope" and args.dk % 2:
        raise ValueError(
            f"--pe rope rotates pairs of key coordinates, so --dk must be even; got "
            f"--dk {args.dk} (use --dk {args.dk + 1} or another --pe)"
        )
    groups = args.heads if args.kv_groups is None else args.kv_groups
    if args.heads % groups:
        divisors = [g for g in range(1, args.heads + 1) if args.heads % g == 0]
        raise ValueError(
            f"--kv-groups must divide --heads; got --heads {args.heads} --kv-groups "
            f"{groups} (valid: {', '.join(map(str, divisors))})"
        )
    if args.rope_base is not None and args.pe != "rope":
        raise ValueError(
            f"--rope-base only applies with --pe rope, got --pe {args.pe} (drop "
            "--rope-base or pass --pe rope)"
        )


def build(args) -> MultiHeadAttention:
    """The model the arguments describe; a ValueError names a bad combination."""
    check(args)
    return MultiHeadAttention(
        args.d,
        args.heads,
        args.dk,
        args.dv,
        args.seq_len,
        pe=args.pe,
        causal=args.causal,
        residual=args.residual,
        kv_groups=args.kv_groups,
        rope_base=ROPE_BASE if args.rope_base is None else args.rope_base,
    )


def note(args, result) -> str:
    """Where the laws come from, and the paper's count when it differs."""
    model = build(args)
    laws = attention_laws(model)
    paper = paper_law_count(model)
    line = f"  laws            {laws.source}"
    if paper != laws.count:
        line += (
            f"\n  paper's count   {paper} (an edge its formula misses: see "
            "conslaw.laws.attention)"
        )
    return line


def add_parsers(sub) -> None:
    att = sub.add_parser(
        "attention",
        help="multi-head self-attention, with positional encodings, mask and GQA",
        description="Certify the conservation laws of multi-head self-attention "
        "(Theorems 4.3 and 4.4).",
    )
    att.add_argument("--d", type=positive_int, default=4, help="model width (4)")
    att.add_argument("--heads", type=positive_int, default=2, help="query heads H (2)")
    att.add_argument("--dk", type=positive_int, default=2, help="key width d_k (2)")
    att.add_argument("--dv", type=positive_int, default=2, help="value width d_v (2)")
    att.add_argument(
        "--seq-len", type=positive_int, default=4, help="sequence length T (4)"
    )
    att.add_argument(
        "--pe",
        choices=list(POSITIONAL_ENCODINGS),
        default="none",
        help="positional encoding (none)",
    )
    att.add_argument("--causal", action="store_true", help="mask future keys")
    att.add_argument(
        "--kv-groups",
        type=positive_int,
        default=None,
        metavar="G",
        help="key-value groups (default H: plain multi-head; 1: multi-query)",
    )
    att.add_argument(
        "--residual", action="store_true", help="add the input to the output"
    )
    att.add_argument(
        "--rope-base",
        type=positive_float,
        default=None,
        metavar="B",
        help="with --pe rope: base of the frequencies B^(-2i/d_k) (10000)",
    )
    add_common(att)
    att.set_defaults(build=build, note=note)
