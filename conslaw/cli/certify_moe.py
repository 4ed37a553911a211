"""``conslaw certify moe``: a Mixture-of-Experts layer under one of eight gates."""

from __future__ import annotations

from ..laws.base import predicted_laws
from ..laws.moe import paper_claim_note
from ..models.moe import EXPERTS, GATES, TOPK_GATES, MoE
from ..sweeps.moe import certify_moe
from .common import add_common, int_list, positive_int

# the k of a top-k gate when --top-k is not given
DEFAULT_TOP_K = 2


def build(args) -> MoE:
    """The model the arguments describe; a ValueError names a bad combination."""
    top_k = args.top_k
    if args.gate in TOPK_GATES and top_k is None:
        if args.experts < DEFAULT_TOP_K:
            raise ValueError(
                f"--top-k defaults to {DEFAULT_TOP_K}, more than --experts "
                f"{args.experts}: pass --top-k 1 or more experts"
            )
        top_k = DEFAULT_TOP_K
    if args.gate not in TOPK_GATES and top_k is not None:
        raise ValueError(
            f"--top-k applies only to the gates {', '.join(sorted(TOPK_GATES))}, "
            f"not to --gate {args.gate}: drop --top-k or pick a top-k gate"
        )
    if top_k is not None and top_k > args.experts:
        raise ValueError(
            f"--top-k {top_k} is larger than --experts {args.experts}: a top-k gate "
            "chooses at most all the experts"
        )
    if len(args.widths) != 3:
        raise ValueError(
            f"--widths takes three widths d,m,o (input, expert hidden, output), "
            f"got {','.join(map(str, args.widths))}"
        )
    return MoE(
        args.widths,
        args.experts,
        args.gate,
        args.expert,
        top_k=top_k,
        gate_bias=args.gate_bias,
    )


def note(args, certificate) -> str:
    """Where the predicted laws come from; for a normalized-sigmoid gate, also the
    paper's count beside ours (``predicted`` is ours)."""
    model = build(args)
    lines = [f"  laws from       {predicted_laws(model).source}"]
    paper = paper_claim_note(model)
    if paper is not None:
        lines.append(f"  paper's count   {paper}")
    return "\n".join(lines)


def add_parsers(sub) -> None:
    moe = sub.add_parser(
        "moe",
        help="Mixture of Experts Σ_e g_e(x) E_e(x) with gate logits W x (+ b)",
        description="Certify the conservation laws of a Mixture-of-Experts layer.",
    )
    moe.add_argument("--gate", required=True, choices=list(GATES))
    moe.add_argument(
        "--top-k",
        type=positive_int,
        default=None,
        help=f"experts a top-k gate keeps (default {DEFAULT_TOP_K}); top-k gates only",
    )
    moe.add_argument(
        "--experts", required=True, type=positive_int, help="number of experts E"
    )
    moe.add_argument("--expert", required=True, choices=list(EXPERTS))
    moe.add_argument(
        "--widths",
        required=True,
        type=int_list,
        help="input,hidden,output widths of every expert, e.g. 4,2,4",
    )
    moe.add_argument(
        "--gate-bias", action="store_true", help="add a bias b to the gate logits"
    )
    add_common(moe)
    # top-k gates are certified away from ties, as in the book's sweep
    moe.set_defaults(build=build, note=note, certify=certify_moe)
