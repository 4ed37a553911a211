"""``conslaw run CHAPTER -p NAME VALUE``: execute one chapter with other parameters.

Everything that can be checked before the kernel starts is: the book's root, the
chapter, the parameters' names, the profile (``-p profile``, else
``CONSLAW_PROFILE``, else the chapter's default) and every value the chapter
passes to :func:`conslaw.settings`. A chapter executes into a temporary notebook
and results folder, which replace the previous ones only when it ran to the end;
a failure or Ctrl-C leaves them as they were.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

from ..paths import find_book_root
from ..profiles import PROFILE_ENV, check_profile, settings
from .chapters import (
    declared_parameters,
    find_chapter,
    has_code,
    read_text,
    settings_call,
)
from .execute import (
    ChapterError,
    chapter_title,
    device_used,
    finish_notebook,
    provenance_record,
    run_notebook,
)

PROG = "conslaw run"

# exit status of a chapter stopped by Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130

# what a -p value may be read as (anything else literal_eval gives stays text)
LITERALS = (bool, int, float, str, list, tuple, dict, type(None))


def parse_value(text: str):
    """A ``-p`` value: a Python literal (number, list, tuple, None, True/False,
    quoted string) when it is one, ``true``/``false``/``none``/``null`` in any
    case as papermill's CLI reads them, else the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = text
    if value is not text and isinstance(value, LITERALS):
        return value
    try:  # nan, inf
        return float(text)
    except ValueError:
        return text


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run",
        help="execute one chapter with papermill, with other parameters",
        description="Execute one chapter of the book with papermill. Parameters "
        "override the chapter's parameters cell; unknown names and values that do "
        "not fit a setting are rejected before anything runs.",
        epilog="Values are read as Python literals when they are one (-p seeds 3, "
        "-p lrs '[0.05, 0.1]', -p threads None), else as text (-p device cpu). "
        f"The profile is -p profile NAME, else ${PROFILE_ENV}, else the chapter's "
        "default. Exit status: 0 done, 1 the chapter failed, 2 bad input, 130 "
        "interrupted; the previous notebook and results stay unless it ran to the "
        "end.",
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
        help="executed notebook (default ROOT/runs/CHAPTER.ipynb); the chapter's "
        "saved files go beside it, into CHAPTER-results/",
    )
    run.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the book's root folder (default: the nearest folder at or above "
        "here holding _config.yml, _toc.yml and book/)",
    )
    run.set_defaults(handler=main)


class _Refused(ValueError):
    """Bad input: one line on stderr, exit status 2."""


def _root(args) -> Path:
    if args.root is not None:
        return args.root.resolve()
    start = Path(args.chapter).parent if args.chapter.endswith(".md") else Path.cwd()
    return find_book_root(start) or find_book_root() or Path.cwd()


def _profile(params: dict, declared: dict) -> str | None:
    """The profile the chapter runs under, checked; None if it takes none."""
    if "profile" in params:
        return check_profile(
            params["profile"], hint="pass -p profile NAME with one of them"
        )
    if "profile" not in declared:
        return None
    env = os.environ.get(PROFILE_ENV, "").strip()
    if env:
        return check_profile(
            env,
            what=f"{PROFILE_ENV}={env!r} names no profile",
            hint=f"unset {PROFILE_ENV} or pass -p profile NAME",
        )
    try:
        return ast.literal_eval(declared["profile"])
    except (ValueError, SyntaxError):
        return None


def prepare(args):
    """Everything checked before the kernel starts: returns the chapter's path,
    text, notebook, root, parameters and the resolved settings (or None)."""
    root = _root(args)
    try:
        path = find_chapter(args.chapter, root)
    except ValueError as err:
        raise _Refused(str(err)) from None
    text = path.read_text()
    nb = read_text(text)
    if not has_code(nb):
        raise _Refused(f"chapter {path.stem!r} has no code to execute")
    declared = declared_parameters(nb)
    params = {}
    for name, value in args.parameter:
        if name not in declared:
            raise _Refused(
                f"chapter {path.stem!r} has no parameter {name!r}: expected one of "
                f"{', '.join(declared) or '(none: it takes no parameters)'}"
            )
        params[name] = parse_value(value)
    try:
        profile = _profile(params, declared)
    except ValueError as err:
        raise _Refused(str(err)) from None
    if profile is not None and "profile" in declared:
        params["profile"] = profile
    cfg = None
    call = settings_call(nb)
    if call is not None and profile is not None:
        chapter, feeds = call
        overrides = {
            feeds[k]: v
            for k, v in params.items()
            if feeds.get(k, "profile") != "profile"
        }
        try:
            cfg = settings(chapter, profile, **overrides)
        except ValueError as err:
            raise _Refused(str(err)) from None
    return path, text, nb, root, params, cfg


def _replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``, the previous ``target`` removed only after."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def main(args) -> int:
    try:
        path, text, nb, root, params, cfg = prepare(args)
    except _Refused as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    requested = (cfg or {}).get("device") or params.get("device") or "auto"
    device, fallback = device_used(str(requested))
    if fallback:
        print(f"{PROG}: warning: {fallback}", file=sys.stderr)

    output = (args.output or root / "runs" / f"{path.stem}.ipynb").resolve()
    results = output.parent / f"{path.stem}-results"
    tmp_results = output.parent / f".{path.stem}-results.tmp-{os.getpid()}"
    tmp_output = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    output.parent.mkdir(parents=True, exist_ok=True)
    shown = {k: v for k, v in params.items() if k in dict(args.parameter)}
    print(f"{PROG}: executing {path.name} with {shown or 'its defaults'}", flush=True)
    try:
        try:
            executed, seconds = run_notebook(path, text, params, tmp_results)
        except KeyboardInterrupt:
            print(
                f"{PROG}: interrupted; {_rel(output)} and "
                f"{_rel(results)}/ left as they were",
                file=sys.stderr,
            )
            return INTERRUPTED
        except ChapterError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            print(
                f"{PROG}: {_rel(output)} and {_rel(results)}/ left as they were",
                file=sys.stderr,
            )
            return 1
        record = provenance_record(
            path,
            root,
            profile=params.get("profile", "-"),
            parameters=params,
            device=device,
            seconds=seconds,
            executed_by="run",
            title=chapter_title(nb, path.stem),
        )
        finish_notebook(executed, record)
        import nbformat

        nbformat.write(executed, tmp_output)
        tmp_results.mkdir(parents=True, exist_ok=True)
        _replace_folder(tmp_results, results)
        os.replace(tmp_output, output)
    finally:
        shutil.rmtree(tmp_results, ignore_errors=True)
        tmp_output.unlink(missing_ok=True)
    print(f"{PROG}: wrote {_rel(output)} and {_rel(results)}/ in {seconds:.1f} s")
    return 0


def _rel(path: Path) -> str:
    """``path`` relative to the working directory when below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
