"""The ``conslaw`` command line.

``conslaw certify ARCH ...`` certifies the laws of one architecture;
``conslaw run CHAPTER -p NAME VALUE`` executes one chapter of the book;
``conslaw notebooks`` writes the chapters' notebooks for Binder and Colab.
"""

from __future__ import annotations

import re
import sys

from ..certificate import certify
from ..certificate.memory import check_certificate_memory
from . import certify_attention, certify_ffn, certify_moe
from .common import Parser

# modules that add ``certify`` subcommands: each has add_parsers(sub), and every
# subparser sets ``build`` (arguments -> model) and optionally ``note`` and
# ``certify`` (model, seed= -> Certificate)
CERTIFY_MODULES = (certify_ffn, certify_attention, certify_moe)

CERTIFY_EPILOG = (
    "Exit status: 0 when the certificate ran, whatever its verdict (complete, "
    "extra laws, inconclusive, or predicted laws failing their check: read the "
    "verdict line, or status and complete in --json); 2 for bad input, or a model "
    "whose certificate would need more memory than is available (--max-memory-gb "
    "overrides the check)."
)

# a value that starts like a negative number ("-3,4,2", "-1"): given to an option
# as --opt=VALUE, so that argparse checks it instead of taking it for an option
_NEGATIVE = re.compile(r"^-\d")


def build_parser() -> Parser:
    parser = Parser(
        prog="conslaw",
        description="Certify the conservation laws of an architecture, or run the "
        "book's chapters.",
        epilog="Run `conslaw COMMAND --help` for a command's options.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    cert = commands.add_parser(
        "certify",
        help="certify the conservation laws of an architecture",
        description="Certify, at a generic point, that the predicted conservation "
        "laws of an architecture are all of them: the rank of sampled gradient "
        "fields and their Lie brackets bounds the number of laws from above, the "
        "checked predicted laws bound it from below.",
        epilog=CERTIFY_EPILOG,
    )
    arch = cert.add_subparsers(
        dest="architecture", required=True, parser_class=Parser, metavar="ARCH"
    )
    for module in CERTIFY_MODULES:
        module.add_parsers(arch)
    for sub in arch.choices.values():
        # errors found after parsing are reported under the subcommand's name
        sub.set_defaults(prog=sub.prog)
        if sub.epilog is None:
            sub.epilog = CERTIFY_EPILOG

    from ..book.launch import add_parser as add_notebooks_parser
    from ..book.run import add_parser as add_run_parser

    add_run_parser(commands)
    add_notebooks_parser(commands)
    return parser


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--widths -3,4,2`` as ``--widths=-3,4,2`` (see :data:`_NEGATIVE`)."""
    out: list[str] = []
    for arg in argv:
        previous = out[-1] if out else ""
        if (
            _NEGATIVE.match(arg)
            and previous.startswith("--")
            and "=" not in previous
            and previous != "--"
        ):
            out[-1] = f"{previous}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(_join_negative_values(argv))
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print(f"{getattr(args, 'prog', 'conslaw')}: interrupted", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    if args.command == "certify":
        prog = getattr(args, "prog", "conslaw certify")
        try:
            model = args.build(args)
            check_certificate_memory(
                model, limit_gb=args.max_memory_gb, fix="pass --max-memory-gb GB"
            )
            # a subcommand may pick its point its own way (``certify`` default)
            run = getattr(args, "certify", None) or certify
            result = run(model, seed=args.seed)
        except (ValueError, MemoryError) as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 2
        if args.json:
            print(result.to_json())
        else:
            print(result.summary())
            note = getattr(args, "note", None)
            if note:
                print(note(args, result))
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
