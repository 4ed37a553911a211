"""Chapters: MyST-markdown notebooks read with jupytext."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat

# tags on the cell papermill injects, so that it never shows in a page
INJECTED_TAGS = ("injected-parameters", "remove-cell")


def read_text(text: str) -> nbformat.NotebookNode:
    """A chapter's text as a notebook (jupytext's MyST format)."""
    return jupytext.reads(text, fmt="md:myst")


def has_code(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook has a code cell to execute."""
    return any(c.cell_type == "code" and c.source.strip() for c in nb.cells)


def is_summary(nb: nbformat.NotebookNode) -> bool:
    """A summary chapter (the status page) runs after all others and reads their
    records; its front matter says ``conslaw: {summary: true}``."""
    return bool(nb.metadata.get("conslaw", {}).get("summary", False))


def parameters_cell(nb: nbformat.NotebookNode):
    """The one cell tagged ``parameters``, or None."""
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) > 1:
        raise ValueError(
            f"a chapter may have one cell tagged 'parameters', found {len(tagged)}"
        )
    return tagged[0] if tagged else None


def declared_parameters(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Names assigned in the parameters cell, with the text of their default."""
    cell = parameters_cell(nb)
    if cell is None:
        return {}
    out = {}
    for line in cell.source.splitlines():
        code = line.split("#", 1)[0]
        if "=" in code and not code.startswith((" ", "\t")):
            name, value = code.split("=", 1)
            name = name.strip()
            if name.isidentifier():
                out[name] = value.strip()
    return out


def chapter_name(path: Path) -> str:
    """``book/feedforward.md`` is the chapter ``feedforward``."""
    return Path(path).stem


def settings_call(nb: nbformat.NotebookNode) -> tuple[str, dict[str, str]] | None:
    """How a chapter calls ``conslaw.settings``: the chapter name it passes and
    which parameter feeds which setting (``{"profile": "profile", "samples":
    "samples", ...}``), read from the first code cell that calls it; None when no
    cell does (or the call is not a plain ``settings("NAME", profile, k=v)``)."""
    for cell in nb.cells:
        if cell.cell_type != "code" or "settings(" not in cell.source:
            continue
        # IPython lines (magics, shell escapes) are not Python
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else None
            called = called or (func.id if isinstance(func, ast.Name) else None)
            if called != "settings" or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            feeds = {}
            if len(node.args) > 1 and isinstance(node.args[1], ast.Name):
                feeds[node.args[1].id] = "profile"
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, ast.Name):
                    feeds[kw.value.id] = kw.arg
            return first.value, feeds
    return None


def book_root_error(root: Path) -> ValueError:
    """The one-line error for a ``--root`` that holds no book."""
    return ValueError(
        f"no book found at {Path(root).resolve()} (no book/ folder there): run "
        "from the repository's root folder or pass --root PATH"
    )


def find_chapter(name: str, root: Path) -> Path:
    """Resolve a chapter name or path; raise a ValueError listing the chapters,
    or saying that ``root`` holds no book."""
    root = Path(root)
    if not (root / "book").is_dir() and not (
        Path(name).suffix == ".md" and Path(name).is_file()
    ):
        raise book_root_error(root)
    candidates = [
        Path(name),
        root / name,
        root / "book" / f"{name}.md",
        root / "book" / name,
    ]
    for c in candidates:
        if c.is_file() and c.suffix == ".md":
            return c.resolve()
    names = sorted(p.stem for p in (root / "book").glob("*.md"))
    raise ValueError(
        f"no chapter {name!r}: expected one of {', '.join(names)} "
        "(or a path to a chapter's .md file)"
    )
