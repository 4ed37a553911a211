"""Where a chapter saves its settings and curves."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .execute import RESULTS_ENV


def results_dir(chapter: str) -> Path:
    """The folder for ``chapter``'s saved files.

    During the build it is the cache entry's folder (published with the site under
    ``_static/results/CHAPTER/``); elsewhere ``runs/CHAPTER/``.
    """
    folder = Path(os.environ.get(RESULTS_ENV) or Path("runs") / chapter)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_json(chapter: str, name: str, data) -> Path:
    """Write ``data`` as ``NAME.json`` in the chapter's results folder."""
    path = results_dir(chapter) / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=float))
    return path
