"""Notebooks for Binder and Colab, and the offline MathJax lookup."""

from __future__ import annotations

import json

from conslaw.book import launch, mathjax
from conslaw.cli import main as cli


def test_committed_notebooks_are_in_sync_with_the_chapters(root):
    stale = launch.sync_notebooks(root, check=True)
    assert stale == [], f"stale notebooks {stale}: run `conslaw notebooks`"


def test_notebook_installs_conslaw_then_holds_the_chapter(root):
    text = (root / "book" / "feedforward.md").read_text()
    nb = json.loads(launch.export_notebook(text, "https://github.com/o/r"))
    first = "".join(nb["cells"][0]["source"])
    assert "conslaw @ git+https://github.com/o/r" in first
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert all(c.get("outputs", []) == [] for c in nb["cells"])


def test_summary_and_prose_pages_get_no_notebook(root):
    assert not launch.launchable((root / "book" / "status.md").read_text())
    assert not launch.launchable((root / "book" / "intro.md").read_text())
    assert launch.launchable((root / "book" / "framework.md").read_text())


def test_sync_writes_then_reports_nothing_stale(tmp_path, root):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/o/r\n"
    )
    chapter = (root / "book" / "feedforward.md").read_text()
    (tmp_path / "book" / "ff.md").write_text(chapter)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "gone.ipynb").write_text("{}")
    assert launch.sync_notebooks(tmp_path) == [
        "notebooks/ff.ipynb",
        "notebooks/gone.ipynb",
    ]
    assert launch.sync_notebooks(tmp_path, check=True) == []
    assert not (tmp_path / "notebooks" / "gone.ipynb").exists()


def test_notebooks_command_check_fails_on_stale(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text("title: x\n")
    assert cli(["notebooks", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no repository.url" in err and len(err.strip().splitlines()) == 1


def test_mathjax_lookup_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(mathjax.ENV, str(tmp_path))
    monkeypatch.setattr(mathjax.sys, "prefix", str(tmp_path / "nowhere"))
    assert mathjax.find_mathjax() is None
    (tmp_path / mathjax.COMPONENT).write_text("// mathjax")
    (tmp_path / "output" / "chtml" / "fonts").mkdir(parents=True)
    (tmp_path / "output" / "chtml" / "fonts" / "a.woff").write_text("font")
    assert mathjax.find_mathjax() == tmp_path
    target = mathjax.copy_mathjax(tmp_path, tmp_path / "site")
    assert (target / mathjax.COMPONENT).is_file()
    assert (target / "output" / "chtml" / "fonts" / "a.woff").is_file()


def test_repository_notebooks_command_check_passes(root, capsys):
    assert cli(["notebooks", "--root", str(root), "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
