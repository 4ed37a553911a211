"""Verdicts: one row per theorem a chapter checks, gathered by the results page.

A chapter calls :func:`record_verdict` once per theorem (or extension) it settles;
the rows land in ``verdicts.json`` in the chapter's results folder, are published
with the site, and the results page reads them all. Nothing in a row is typed in:
the counts, gaps and drifts are the chapter's computed values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .results import results_dir

VERDICTS = ("confirmed", "confirmed with edges", "disputed")


@dataclass
class Verdict:
    """What a chapter found for one theorem.

    ``anchor`` is the label of the section that computed it (``thm-swiglu``), so
    the results page can link there; ``sizes`` says where the certificate was run.
    """

    chapter: str
    theorem: str
    block: str
    laws: str
    predicted: str
    certified: str
    sizes: str
    gap: float | None
    symbolic: str
    drift: str
    verdict: str
    reason: str
    anchor: str


def record_verdict(chapter: str, **fields) -> Verdict:
    """Append one verdict to ``chapter``'s ``verdicts.json`` and return it."""
    row = Verdict(chapter=chapter, **fields)
    if row.verdict not in VERDICTS:
        raise ValueError(
            f"unknown verdict {row.verdict!r}: expected one of {', '.join(VERDICTS)}"
        )
    path = results_dir(chapter) / "verdicts.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    rows = [r for r in rows if r["theorem"] != row.theorem] + [asdict(row)]
    path.write_text(json.dumps(rows, indent=1))
    return row
