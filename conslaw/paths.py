"""Where the book's repository is: the folder that holds ``_config.yml`` and
``_toc.yml``, found from a starting folder upward.

A chapter runs with its own folder (``book/``) as the working directory, the
``conslaw`` command from wherever it is called; both resolve the repository's
``runs/`` and ``data/`` folders through :func:`find_book_root`.
"""

from __future__ import annotations

import os
from pathlib import Path

# the files that mark a Jupyter Book's root folder
BOOK_MARKERS = ("_config.yml", "_toc.yml")

# the checkout the package was installed from (editable installs), if it is one
PACKAGE_CHECKOUT = Path(__file__).resolve().parents[1]


def is_book_root(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a book: ``_config.yml``, ``_toc.yml`` and ``book/``."""
    folder = Path(folder)
    return (
        all((folder / m).is_file() for m in BOOK_MARKERS) and (folder / "book").is_dir()
    )


def find_book_root(start: str | os.PathLike | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory)
    that :func:`is_book_root`, as an absolute path; None when there is none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_book_root(folder):
            return folder
    return None


def repository_root(start: str | os.PathLike | None = None) -> Path | None:
    """:func:`find_book_root` from ``start``, else the package's own checkout when
    it is a book (an editable install), else None."""
    found = find_book_root(start)
    if found is None and is_book_root(PACKAGE_CHECKOUT):
        return PACKAGE_CHECKOUT
    return found


__all__ = [
    "BOOK_MARKERS",
    "PACKAGE_CHECKOUT",
    "find_book_root",
    "is_book_root",
    "repository_root",
]
