"""Notebooks for Binder and Colab, and the launch buttons that open them.

The chapters are MyST-markdown files, which Colab cannot open. Every chapter with
code therefore also exists as ``notebooks/NAME.ipynb``: the same cells, unexecuted,
after one cell that installs ``conslaw`` from the repository when the kernel lacks
it (Colab; Binder installs it from ``environment.yml``). ``conslaw notebooks``
writes them, ``conslaw notebooks --check`` fails when one is stale, and the tests
run the check.

sphinx-book-theme builds its launch links from the page's source path
(``book/NAME.md``); :func:`point_launch_buttons` rewrites them to the notebook.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from .chapters import book_root_error, has_code, is_summary, read_text

FOLDER = "notebooks"

INSTALL_CELL = """\
# Hosted kernels (Colab) lack conslaw: install it from the repository.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("conslaw") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "conslaw @ git+{url}"])"""


def launchable(text: str) -> bool:
    """Whether a chapter gets a notebook: it has code and is not a summary page."""
    nb = read_text(text)
    return has_code(nb) and not is_summary(nb)


def export_notebook(text: str, repository_url: str) -> str:
    """The notebook of one chapter, as the text of an ``.ipynb`` file."""
    nb = read_text(text)
    install = nbformat.v4.new_code_cell(INSTALL_CELL.format(url=repository_url))
    install.metadata["tags"] = ["conslaw-install"]
    nb.cells.insert(0, install)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids, so an unchanged chapter is unchanged
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    nb.metadata.pop("conslaw", None)
    return nbformat.writes(nb) + "\n"


def repository_url(root: Path) -> str:
    """``repository.url`` of the book's ``_config.yml``."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text())
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise ValueError(
            "_config.yml has no repository.url: expected the GitHub address the "
            "launch buttons and notebooks point at, e.g. repository: {url: ...}"
        )
    return url.rstrip("/")


def sync_notebooks(root: Path, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) every chapter's notebook.

    Returns the notebooks that were stale: written, or only reported with
    ``check``. Notebooks of chapters that no longer exist are stale too.
    """
    root = Path(root)
    if not (root / "book").is_dir():
        raise book_root_error(root)
    url = repository_url(root)
    folder = root / FOLDER
    stale, wanted = [], set()
    for chapter in sorted((root / "book").glob("*.md")):
        text = chapter.read_text()
        if not launchable(text):
            continue
        target = folder / f"{chapter.stem}.ipynb"
        wanted.add(target.name)
        content = export_notebook(text, url)
        if not target.is_file() or target.read_text() != content:
            stale.append(str(target.relative_to(root)))
            if not check:
                folder.mkdir(exist_ok=True)
                target.write_text(content)
    for orphan in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        if orphan.name not in wanted:
            stale.append(str(orphan.relative_to(root)))
            if not check:
                orphan.unlink()
    return stale


def add_parser(commands) -> None:
    sub = commands.add_parser(
        "notebooks",
        help="write notebooks/NAME.ipynb for Binder and Colab",
        description="Write the notebook of every chapter into notebooks/ (what the "
        "launch buttons open); with --check, only report stale ones.",
    )
    sub.add_argument("--check", action="store_true", help="fail if one is stale")
    sub.add_argument(
        "--root",
        type=Path,
        default=None,
        help="the book's root (default: the nearest folder at or above here "
        "holding _config.yml, _toc.yml and book/)",
    )
    sub.set_defaults(handler=main)


def main(args) -> int:
    from ..paths import find_book_root

    root = args.root if args.root is not None else find_book_root() or Path.cwd()
    try:
        stale = sync_notebooks(root, check=args.check)
    except (OSError, ValueError) as err:
        print(f"conslaw notebooks: error: {err}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(
            f"conslaw notebooks: stale: {', '.join(stale)}; run `conslaw notebooks`",
            file=sys.stderr,
        )
        return 1
    verb = "would write" if args.check else "wrote"
    print(f"conslaw notebooks: {verb} {len(stale)} of them" if stale else "up to date")
    return 0


def point_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``, after the theme: launch links open the notebook.

    Pages without a notebook (the summary pages) lose their launch buttons.
    """
    buttons = context.get("header_buttons") or []
    groups = [b for b in buttons if b.get("label") == "launch-buttons"]
    if not groups:
        return
    source = Path(app.env.doc2path(pagename))
    has_notebook = source.suffix == ".md" and launchable(source.read_text())
    for group in groups:
        if not has_notebook:
            buttons.remove(group)
            continue
        target = f"{FOLDER}/{source.stem}.ipynb"
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = re.sub(
                    re.escape(pagename) + r"\.(md|ipynb)", target, button["url"]
                )


def setup(app):
    app.connect("html-page-context", point_launch_buttons, priority=502)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
