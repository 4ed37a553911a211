"""The cache of executed chapters.

An entry is keyed on everything that can change a chapter's outputs: its text, the
parameters injected into it, the source of the ``conslaw`` package and the versions
of the libraries doing the numerics. Entries are written to a temporary name and
renamed into place only after a chapter ran to the end, so that nothing
half-executed is ever read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from pathlib import Path

import nbformat

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def source_digest(package_root: Path = PACKAGE_ROOT) -> str:
    """SHA-256 of every ``.py`` file of the ``conslaw`` package, paths included."""
    h = hashlib.sha256()
    for path in sorted(package_root.rglob("*.py")):
        h.update(str(path.relative_to(package_root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries whose numerics a chapter uses."""
    import matplotlib
    import numpy
    import sympy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sympy": sympy.__version__,
        "matplotlib": matplotlib.__version__,
    }


def chapter_key(text: str, parameters: dict, extra: str = "") -> str:
    """The cache key of one execution of a chapter."""
    h = hashlib.sha256()
    for part in (
        text,
        json.dumps(parameters, sort_keys=True, default=str),
        source_digest(),
        json.dumps(library_versions(), sort_keys=True),
        extra,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


class Cache:
    """A folder of executed notebooks, their records and their result files."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def stem(self, name: str, key: str) -> Path:
        return self.folder / f"{name}-{key}"

    def notebook(self, name: str, key: str) -> Path:
        return self.stem(name, key).with_suffix(".ipynb")

    def record(self, name: str, key: str) -> Path:
        return self.stem(name, key).with_suffix(".json")

    def results(self, name: str, key: str) -> Path:
        return self.stem(name, key).with_suffix(".results")

    def has(self, name: str, key: str) -> bool:
        return self.notebook(name, key).is_file() and self.record(name, key).is_file()

    def load(self, name: str, key: str):
        nb = nbformat.read(self.notebook(name, key), as_version=4)
        record = json.loads(self.record(name, key).read_text())
        return nb, record

    def store(self, name: str, key: str, nb, record: dict, results: Path | None):
        """Write an entry atomically: results first, the record last."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if results is not None and results.exists():
            target = self.results(name, key)
            if target.exists():
                shutil.rmtree(target)
            os.replace(results, target)
        tmp = self.notebook(name, key).with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, self.notebook(name, key))
        tmp = self.record(name, key).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        os.replace(tmp, self.record(name, key))
