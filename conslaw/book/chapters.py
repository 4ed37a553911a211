"""Chapters: MyST-markdown notebooks read with jupytext."""

from __future__ import annotations

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


def find_chapter(name: str, root: Path) -> Path:
    """Resolve a chapter name or path; raise a ValueError listing the chapters."""
    root = Path(root)
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
