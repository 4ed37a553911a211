"""The ``conslaw`` command line.

``conslaw certify ARCH ...`` certifies the laws of one architecture;
``conslaw run CHAPTER -p NAME VALUE`` executes one chapter of the book;
``conslaw notebooks`` writes the chapters' notebooks for Binder and Colab.
"""

from __future__ import annotations

import importlib
import sys

from ..certificate import certify
from .common import Parser

# modules that add ``certify`` subcommands: each has add_parsers(sub), and every
# subparser sets ``build`` (arguments -> model) and optionally ``note`` and
# ``certify`` (model, seed= -> Certificate)
CERTIFY_MODULES = ["certify_ffn", "certify_attention", "certify_moe"]


def _certify_modules():
    for name in CERTIFY_MODULES:
        try:
            yield importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:  # a module still being written
            if err.name != f"{__name__}.{name}":
                raise


def build_parser() -> Parser:
    parser = Parser(prog="conslaw", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    cert = commands.add_parser(
        "certify",
        help="certify the conservation laws of an architecture",
        description="Certify, at a generic point, that the predicted conservation "
        "laws of an architecture are all of them (DESIGN §4).",
    )
    arch = cert.add_subparsers(dest="architecture", required=True, parser_class=Parser)
    for module in _certify_modules():
        module.add_parsers(arch)

    from ..book.launch import add_parser as add_notebooks_parser
    from ..book.run import add_parser as add_run_parser

    add_run_parser(commands)
    add_notebooks_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "certify":
        try:
            # a subcommand may pick its point its own way (``certify`` default)
            run = getattr(args, "certify", None) or certify
            result = run(args.build(args), seed=args.seed)
        except ValueError as err:
            parser.error(str(err))
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
