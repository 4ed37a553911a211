"""Where a chapter saves its settings and curves."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..paths import find_book_root
from .execute import RESULTS_ENV


def results_dir(chapter: str) -> Path:
    """The folder for ``chapter``'s saved files.

    During the book's build it is the cache entry's folder (published with the
    site under ``_static/results/CHAPTER/``), with ``conslaw run`` a temporary
    folder that becomes ``runs/CHAPTER-results/`` when the chapter succeeds (both
    set ``CONSLAW_RESULTS_DIR``); elsewhere (plain papermill, a notebook, a
    script) ``runs/CHAPTER-results/`` under the book's root folder found from
    the working directory upward, or under the working directory when there is
    none.
    """
    env = os.environ.get(RESULTS_ENV)
    if env:
        folder = Path(env)
    else:
        base = find_book_root() or Path.cwd()
        folder = base / "runs" / f"{chapter}-results"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_json(chapter: str, name: str, data) -> Path:
    """Write ``data`` as ``NAME.json`` in the chapter's results folder."""
    path = results_dir(chapter) / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=float))
    return path
