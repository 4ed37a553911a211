"""myst-nb reader for ``.md`` chapters: the notebook the extension executed.

Registered in ``_config.yml`` under ``nb_custom_formats``. A chapter without code
is converted by jupytext and returned as it is.
"""

from __future__ import annotations

from .chapters import has_code, read_text
from .sphinx_ext import EXECUTED, text_digest


def read(text: str, **_):
    nb = EXECUTED.get(text_digest(text))
    if nb is not None:
        return nb
    nb = read_text(text)
    if has_code(nb):
        raise RuntimeError(
            "this chapter was not executed before Sphinx read it: the extension "
            "conslaw.book.sphinx_ext must be enabled next to this reader"
        )
    return nb
