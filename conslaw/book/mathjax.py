"""Serve MathJax 3 from the built site, so that math renders without a network.

Sphinx loads MathJax from a CDN by default: a reader offline, or behind a proxy,
sees raw TeX. ``setup.sh`` installs the npm package ``mathjax@3`` under
``.venv/mathjax``; this extension points ``mathjax_path`` at a copy inside the
site's ``_static/mathjax/`` and copies the files the page needs (the TeX-to-CHTML
component, its fonts, the TeX extensions and the menu) when the build finishes.

Where MathJax is looked for, first found wins:

1. the folder named by ``CONSLAW_MATHJAX_DIR`` (the package's ``es5`` folder);
2. ``mathjax/node_modules/mathjax/es5`` under the running Python's prefix (the
   virtual environment ``setup.sh`` creates, or a conda environment).

When it is found nowhere the build warns (an error under ``-W``) and keeps the
CDN, so a reader without npm still gets a book.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ENV = "CONSLAW_MATHJAX_DIR"

# the component the pages load, relative to the es5 folder
COMPONENT = "tex-chtml.js"

# what the component loads on demand: fonts, TeX extensions (\require and the
# autoload package), the context menu and its accessibility helpers
PARTS = (COMPONENT, "output/chtml", "input/tex/extensions", "ui", "a11y")

# where the copy lives inside the site's _static folder
SITE_FOLDER = "mathjax"

INSTALL_HINT = (
    "run ./setup.sh (it installs the npm package mathjax@3 under .venv/mathjax), "
    f"or point {ENV} at the es5 folder of a MathJax 3 install"
)


def find_mathjax() -> Path | None:
    """The ``es5`` folder of a local MathJax 3, or None."""
    candidates = []
    if os.environ.get(ENV):
        candidates.append(Path(os.environ[ENV]))
    candidates.append(Path(sys.prefix) / "mathjax" / "node_modules" / "mathjax" / "es5")
    for folder in candidates:
        if (folder / COMPONENT).is_file():
            return folder
    return None


def copy_mathjax(source: Path, static: Path) -> Path:
    """Copy the parts of MathJax a page needs into ``static/mathjax``."""
    target = static / SITE_FOLDER
    for part in PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return target


def use_local_mathjax(app, config) -> None:
    """``config-inited``: load MathJax from the site when a local copy exists."""
    source = find_mathjax()
    if source is None:
        if os.environ.get(ENV):
            logger.warning(
                f"[conslaw] {ENV}={os.environ[ENV]!r} holds no {COMPONENT}; "
                f"MathJax will load from a CDN: {INSTALL_HINT}"
            )
        else:
            logger.warning(
                "[conslaw] no local MathJax 3 found; the pages will load it from a "
                f"CDN and show raw TeX offline: {INSTALL_HINT}"
            )
        return
    config.mathjax_path = f"{SITE_FOLDER}/{COMPONENT}"
    app.conslaw_mathjax_source = source


def publish_mathjax(app, exception) -> None:
    """``build-finished``: copy MathJax into the site."""
    source = getattr(app, "conslaw_mathjax_source", None)
    if exception is None and source is not None and app.builder.format == "html":
        copy_mathjax(source, Path(app.outdir) / "_static")


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", publish_mathjax)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
