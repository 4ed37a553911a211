"""Markdown tables for chapter outputs (rendered as MyST by the book)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def escape(text: str) -> str:
    """Text safe inside a Markdown table cell: a ``|`` would end the cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _cell(value, fmt: str | None) -> str:
    if value is None:
        return "–"
    if fmt:
        return escape(format(value, fmt))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return escape(value)


def markdown_table(
    rows: Sequence[Mapping],
    columns: Sequence[str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> str:
    """A Markdown table of ``rows`` (dicts), with the given columns in order."""
    if not rows:
        return "*(no rows)*"
    columns = list(columns or rows[0].keys())
    formats = dict(formats or {})
    head = "| " + " | ".join(escape(c) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = [
        "| " + " | ".join(_cell(r.get(c), formats.get(c)) for c in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, rule, *body])


def show_table(rows, columns=None, formats=None):
    """Display :func:`markdown_table` in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(markdown_table(rows, columns, formats)))
