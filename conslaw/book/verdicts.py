"""Verdicts: one row per theorem a chapter checks, gathered by the results page.

A chapter calls :func:`record_verdict` once per theorem (or extension) it settles;
the rows land in ``verdicts.json`` in the chapter's results folder, are published
with the site, and the results page reads them all. Nothing in a row is typed in:
the counts, gaps and drifts are the chapter's computed values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from .results import results_dir
from .tables import escape

VERDICTS = ("confirmed", "confirmed with edges", "disputed")

# label prefixes of sphinx-proof directives (theorem, proposition, definition, ...)
PROOF_LABELS = ("thm", "prop", "def", "alg", "lem", "cor")


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


def round_up(value: float, digits: int = 2) -> str:
    """``value`` in e-notation with ``digits`` significant digits, rounded up,
    so that a bound such as ``ε ≤ …`` never prints below the true value.

    >>> round_up(1.21e-08), round_up(1.2e-08), round_up(9.96e-10)
    ('1.3e-08', '1.2e-08', '1.0e-09')
    """
    if digits < 1:
        raise ValueError(f"expected at least 1 significant digit, got {digits}")
    exact = Decimal(repr(float(value)))
    if not exact.is_finite() or exact <= 0:
        return f"{float(value):.{digits - 1}e}"
    step = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    return f"{float(exact.quantize(step, rounding=ROUND_CEILING)):.{digits - 1}e}"


def sweep_summary(rows) -> tuple[str, float | None]:
    """``("k/n sizes", smallest gap)`` of certificate rows with a ``status``."""
    done = sum(r["status"] == "complete" for r in rows)
    gaps = [r["gap"] for r in rows if r.get("gap") is not None]
    return f"{done}/{len(rows)} complete", (min(gaps) if gaps else None)


def collect_verdicts(records) -> list[dict]:
    """Every chapter's verdicts, in table-of-contents order, from build records."""
    rows = []
    for record in records:
        path = Path(record.get("results_dir", "")) / "verdicts.json"
        if path.is_file():
            for row in json.loads(path.read_text()):
                rows.append({**row, "docname": record.get("docname", "")})
    return rows


def _link(row) -> str:
    """The theorem's name as a link to the section that computed it."""
    # sphinx-proof labels (thm-, prop-, ...) need their own role
    role = "prf:ref" if row["anchor"].split("-")[0] in PROOF_LABELS else "ref"
    return f"{{{role}}}`{row['theorem']} <{row['anchor']}>`"


# the two tables of the results page: what is claimed and the verdict, then the
# evidence behind it; each is (header, cells of a row)
TABLES = {
    "summary": (
        ("theorem", "block", "laws", "predicted", "verdict"),
        lambda r: (r["block"], r["laws"], r["predicted"], r["verdict"]),
    ),
    "evidence": (
        ("theorem", "certified", "sizes", "gap", "symbolic", "training", "notes"),
        lambda r: (
            r["certified"],
            r["sizes"],
            "–" if r["gap"] is None else f"{r['gap']:.0e}",
            r["symbolic"],
            r["drift"],
            r["reason"] or "–",
        ),
    ),
}


def verdict_table(rows, part: str = "summary") -> str:
    """A MyST table of verdicts whose theorem names link to their sections.

    ``part`` is ``"summary"`` (block, laws, predicted count, verdict) or
    ``"evidence"`` (certified count, sizes, gap, symbolic proof, training drift,
    notes).
    """
    if part not in TABLES:
        raise ValueError(f"unknown part {part!r}: expected one of {', '.join(TABLES)}")
    header, cells = TABLES[part]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        values = [_link(r), *(escape(c) for c in cells(r))]
        lines.append("| " + " | ".join(values) + " |")
    # a div the book's stylesheet (_static/conslaw.css) lets use the full width
    return ":::{div} conslaw-wide\n" + "\n".join(lines) + "\n:::"
