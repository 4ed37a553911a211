"""The status page: how, where and how long each chapter ran."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .execute import RECORDS_ENV


def records(path: str | Path | None = None) -> list[dict]:
    """The execution records of the build in progress (or of the file ``path``)."""
    path = path or os.environ.get(RECORDS_ENV)
    if not path or not Path(path).is_file():
        return []
    return json.loads(Path(path).read_text())


def status_table(recs: list[dict] | None = None) -> str:
    """A Markdown table with one row per executed chapter."""
    recs = records() if recs is None else recs
    head = (
        "| chapter | profile | device | wall time | executed | commit | torch |\n"
        "|---|---|---|---:|---|---|---|"
    )
    rows = [
        f"| [{r['title']}]({r['chapter']}.md) | {r['profile']} | {r['device']} | "
        f"{r['seconds']:.1f} s | {r['executed']} | `{r['commit']}` | "
        f"{r['versions']['torch']} |"
        for r in recs
    ]
    total = sum(r["seconds"] for r in recs)
    return "\n".join([head, *rows]) + f"\n\nTotal execution time: {total:.1f} s."
