"""Markdown tables of chapter outputs and of the results page."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from conslaw.book.tables import markdown_table
from conslaw.book.verdicts import verdict_table

ROW = {
    "theorem": "Theorem 4.7",
    "block": "MoE",
    "laws": "Σ_e w_e",
    "predicted": "d",
    "certified": "max |cos| 8e-03",
    "sizes": "d = 3",
    "gap": 1.5e9,
    "symbolic": "9/250",
    "drift": "ε = 0.36",
    "verdict": "disputed",
    "reason": "moves",
    "anchor": "thm-moe-nsigmoid",
}


def cells(markdown: str) -> list[list[str]]:
    """The text of every body cell, as a Markdown parser with tables reads it."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, row = [], None
    for i, t in enumerate(tokens):
        if t.type == "tr_open":
            row = []
        elif t.type in ("td_open", "th_open"):
            row.append(tokens[i + 1].content)
        elif t.type == "tr_close":
            rows.append(row)
    return rows


def test_pipes_inside_cells_and_headers_stay_inside():
    table = markdown_table([{"max |cos|": "a | b", "n": 2}])
    head, body = cells(table)
    assert head == ["max |cos|", "n"]
    assert body == ["a | b", "2"]


@pytest.mark.parametrize("part", ["summary", "evidence"])
def test_verdict_tables_keep_every_column(part):
    table = verdict_table([ROW], part)
    first, *inner, last = table.splitlines()
    assert first == ":::{div} conslaw-wide" and last == ":::"
    head, body = cells("\n".join(inner))
    assert len(body) == len(head)
    assert body[0].startswith("{prf:ref}")
    if part == "evidence":
        assert body[head.index("certified")] == "max |cos| 8e-03"
        assert body[head.index("gap")] == "2e+09"


def test_unknown_part_is_refused():
    with pytest.raises(ValueError, match="expected one of summary, evidence"):
        verdict_table([ROW], "all")
