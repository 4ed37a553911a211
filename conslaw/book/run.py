"""``conslaw run CHAPTER -p NAME VALUE``: execute one chapter with other parameters."""

from __future__ import annotations

import sys
from pathlib import Path

from ..profiles import check_profile
from .chapters import declared_parameters, find_chapter, has_code, read_text
from .execute import ChapterError, finish_notebook, run_notebook


def parse_value(text: str):
    """papermill-like typing of a ``-p`` value: int, float, bool, None or str."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run",
        help="execute one chapter with papermill, with other parameters",
        description="Execute one chapter of the book with papermill. Parameters "
        "override the chapter's parameters cell; unknown names are rejected.",
    )
    run.add_argument("chapter", help="chapter name (e.g. feedforward) or .md path")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set one parameter",
    )
    run.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="executed notebook (default runs/CHAPTER.ipynb)",
    )
    run.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the book's root folder (default: here)",
    )
    run.set_defaults(handler=main)


def main(args) -> int:
    try:
        path = find_chapter(args.chapter, args.root)
    except ValueError as err:
        print(f"conslaw run: error: {err}", file=sys.stderr)
        return 2
    text = path.read_text()
    nb = read_text(text)
    if not has_code(nb):
        print(
            f"conslaw run: error: chapter {path.stem!r} has no code to execute",
            file=sys.stderr,
        )
        return 2
    declared = declared_parameters(nb)
    params = {}
    for name, value in args.parameter:
        if name not in declared:
            print(
                f"conslaw run: error: chapter {path.stem!r} has no parameter "
                f"{name!r}: expected one of {', '.join(declared)}",
                file=sys.stderr,
            )
            return 2
        params[name] = parse_value(value)
    if "profile" in params:
        try:
            check_profile(params["profile"])
        except ValueError as err:
            print(f"conslaw run: error: {err}", file=sys.stderr)
            return 2
    output = args.output or Path("runs") / f"{path.stem}.ipynb"
    results = output.with_suffix("").parent / f"{path.stem}-results"
    print(f"conslaw run: executing {path.name} with {params or 'its defaults'}")
    try:
        executed, seconds = run_notebook(path, text, params, results.resolve())
    except ChapterError as err:
        print(f"conslaw run: error: {err}", file=sys.stderr)
        return 1
    record = {
        "profile": params.get("profile", declared.get("profile", "?").strip("\"'")),
        "parameters": params,
        "device": params.get("device", "auto"),
        "versions": {},
        "commit": "-",
        "executed": "-",
        "seconds": seconds,
    }
    finish_notebook(executed, record)
    import nbformat

    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, output)
    print(f"conslaw run: wrote {output} and {results}/ in {seconds:.1f} s")
    return 0
