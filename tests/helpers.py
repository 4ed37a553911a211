"""Helpers shared by the tests that build a book."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")

# the front matter of a chapter (a MyST-markdown notebook read by jupytext)
CHAPTER_HEAD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def build(folder: Path, env: dict | None = None, strict: bool = True):
    """``jupyter-book build`` of ``folder`` under the quick profile; ``strict``
    makes warnings errors, as CI and the publishing workflow do."""
    flags = ["-W", "--keep-going"] if strict else []
    return subprocess.run(
        [JUPYTER_BOOK, "build", *flags, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "CONSLAW_PROFILE": "quick", **(env or {})},
    )


def cli_status(argv: list[str]) -> int:
    """The exit status of ``conslaw ARGV``: what ``main`` returns, or the status
    argparse exits with on a malformed command line."""
    from conslaw.cli import main

    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code
