"""The book's pipeline: a real quick-profile build, the cache, and a broken chapter.

The first test builds the repository's own book in place (minutes on a fresh clone,
seconds when the cache is warm), exactly as the README's build command does.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import CHAPTER_HEAD, build

from conslaw.book import cache as cache_mod
from conslaw.book.chapters import declared_parameters, read_text

pytestmark = pytest.mark.book

# chapters that execute code, and at least how many figures each shows
CHAPTERS = {
    "framework": 2,
    "feedforward": 2,
    "attention": 4,
    "moe": 3,
    "dynamics": 5,
    "protocol": 3,
    "discovery": 3,
    "performance": 2,
}


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_pages_hold_outputs_and_figures(site, chapter):
    html = (site / "book" / f"{chapter}.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    figures = [src for src in images if "_images" in src]
    assert len(figures) >= CHAPTERS[chapter]
    for src in figures:
        assert (site / "book" / src).resolve().is_file(), src
    assert "cell_output" in html
    assert "Provenance" in html and "profile" in html
    # papermill's injected cell starts with this comment; it must not show
    assert "# Parameters" not in html
    assert "Traceback" not in html


def test_status_page_lists_every_chapter(site):
    html = (site / "book" / "status.html").read_text()
    for chapter in CHAPTERS:
        assert f"{chapter}.html" in html
    assert "Total execution time" in html


def test_results_are_published(site):
    rows = json.loads(
        (site / "_static" / "results" / "framework" / "marcotte_sweep.json").read_text()
    )
    assert len(rows) == 100 and all(r["complete"] for r in rows)


def test_every_chapter_has_one_parameters_cell_with_profile(root):
    for path in (root / "book").glob("*.md"):
        nb = read_text(path.read_text())
        if any(c.cell_type == "code" for c in nb.cells):
            assert "profile" in declared_parameters(nb), path.name


# ----------------------------------------------------------------- small books
def small_book(tmp_path: Path, root: Path, chapters: dict[str, str]) -> Path:
    """A book with the repository's configuration and the given chapters."""
    folder = tmp_path / "book-copy"
    (folder / "book").mkdir(parents=True)
    shutil.copy(root / "_config.yml", folder / "_config.yml")
    (folder / "book" / "references.bib").write_text("")
    (folder / "book" / "intro.md").write_text("# A small book\n\nNo code here.\n")
    toc = "format: jb-book\nroot: book/intro\nchapters:\n"
    for name, body in chapters.items():
        (folder / "book" / f"{name}.md").write_text(CHAPTER_HEAD + body)
        toc += f"  - file: book/{name}\n"
    (folder / "_toc.yml").write_text(toc)
    return folder


GOOD = """
# Good

```{code-cell} ipython3
:tags: [parameters]
profile = "quick"
```

```{code-cell} ipython3
import os
print("profile is", profile, "pid", os.getpid())
```
"""

BROKEN = """
# Broken

```{code-cell} ipython3
:tags: [parameters]
profile = "quick"
```

```{code-cell} ipython3
x = 1
```

```{code-cell} ipython3
y = x / 0
```
"""


def test_broken_chapter_fails_the_build_and_is_not_kept(tmp_path, root):
    folder = small_book(tmp_path, root, {"good": GOOD, "broken": BROKEN})
    result = build(folder)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "chapter broken.md failed in code cell 3 of 3" in output
    assert "ZeroDivisionError" in output
    cache = folder / "_build" / "conslaw-cache"
    assert not list(cache.glob("broken-*.ipynb"))
    assert not list(cache.glob("*.tmp"))
    assert not (folder / "_build" / "html" / "book" / "broken.html").exists()


def test_unchanged_chapter_is_not_executed_again(tmp_path, root):
    folder = small_book(tmp_path, root, {"good": GOOD})
    first = build(folder)
    assert first.returncode == 0, first.stderr[-3000:]
    cache = folder / "_build" / "conslaw-cache"
    (notebook,) = cache.glob("good-*.ipynb")
    stamp = notebook.stat().st_mtime_ns
    html = (folder / "_build" / "html" / "book" / "good.html").read_text()
    assert "profile is quick" in html

    second = build(folder)
    assert second.returncode == 0
    assert notebook.stat().st_mtime_ns == stamp
    assert list(cache.glob("good-*.ipynb")) == [notebook]

    # another profile is another execution, with its own entry
    third = build(folder, {"CONSLAW_PROFILE": "gpu"})
    assert third.returncode == 0
    assert len(list(cache.glob("good-*.ipynb"))) == 2
    assert (
        "profile is gpu"
        in (folder / "_build" / "html" / "book" / "good.html").read_text()
    )


def test_cache_key_follows_text_parameters_and_package(monkeypatch):
    base = cache_mod.chapter_key("text", {"profile": "quick"})
    assert cache_mod.chapter_key("text!", {"profile": "quick"}) != base
    assert cache_mod.chapter_key("text", {"profile": "gpu"}) != base
    monkeypatch.setattr(cache_mod, "source_digest", lambda: "edited")
    assert cache_mod.chapter_key("text", {"profile": "quick"}) != base
