"""``conslaw run``: values checked before the kernel starts, results replaced only
by a run that finished, the provenance of what ran; the book's paths."""

from __future__ import annotations

import json

import nbformat
import pytest
import torch
from helpers import CHAPTER_HEAD

from conslaw import profiles
from conslaw.book import results_dir
from conslaw.book.chapters import (
    declared_parameters,
    parameters_cell,
    read_text,
    settings_call,
)
from conslaw.book.run import parse_value
from conslaw.cli import main as cli
from conslaw.data_text import DATA_ENV, data_root, read_corpus

TINY = (
    CHAPTER_HEAD
    + """
# Tiny

A chapter that saves one file and fails on request.

```{code-cell} ipython3
:tags: [parameters]
device = "auto"
fail = False
```

```{code-cell} ipython3
from conslaw.book import save_json

save_json("tiny", "run", {"fail": fail})
if fail:
    raise RuntimeError("asked to fail")
```
"""
)


@pytest.fixture
def book(tmp_path):
    """A book of one chapter, ``tiny``, in a fresh folder."""
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/tiny\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "tiny.md").write_text(TINY)
    return tmp_path


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2),
        ("2.5", 2.5),
        ("-3", -3),
        ("1e-9", 1e-9),
        ("two", "two"),
        ("cpu", "cpu"),
        ("cuda:0", "cuda:0"),
        ("[0.05, 0.1]", [0.05, 0.1]),
        ("0.05,0.1", (0.05, 0.1)),
        ("None", None),
        ("null", None),
        ("True", True),
        ("false", False),
        ("'quoted'", "quoted"),
        ("{1, 2}", "{1, 2}"),
    ],
)
def test_parse_value_reads_python_literals_else_text(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def _chapters(root):
    for path in sorted((root / "book").glob("*.md")):
        nb = read_text(path.read_text())
        if parameters_cell(nb) is not None:
            yield path.stem, nb


def test_every_parameter_feeds_a_known_setting(root):
    for name, nb in _chapters(root):
        declared = declared_parameters(nb)
        call = settings_call(nb)
        if call is None:
            continue
        chapter, feeds = call
        known = set(profiles.COMMON) | {"profile"}
        for table in profiles.SETTINGS.get(chapter, {}).values():
            known |= set(table)
        assert set(feeds.values()) <= known, name
        assert set(feeds) <= set(declared), name


def test_papermill_parses_every_parameter_line(root, caplog):
    from papermill.translators import PythonTranslator

    for name, nb in _chapters(root):
        found = PythonTranslator.inspect(parameters_cell(nb))
        assert [p.name for p in found] == list(declared_parameters(nb)), name
    assert "Unable to parse" not in caplog.text


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-p", "seeds", "two"], "'seeds' expects a positive integer, got 'two'"),
        (["-p", "seeds", "2.5"], "'seeds' expects a positive integer, got 2.5"),
        (["-p", "seeds", "0"], "'seeds' expects a positive integer, got 0"),
        (["-p", "hidden", "-3"], "'hidden' expects a positive integer, got -3"),
        (["-p", "device", "tpu"], "'device' expects one of auto, cpu, cuda"),
        (["-p", "rtol", "-1"], "'rtol' expects a positive number, got -1"),
        (["-p", "samples", "100000000"], "an integer from 1 to 1797"),
        (["-p", "profile", "huge"], "unknown profile 'huge'"),
        (["-p", "colour", "red"], "has no parameter 'colour'"),
    ],
)
def test_run_checks_values_before_starting(root, capsys, args, needle):
    assert cli(["run", "feedforward", "--root", str(root), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was executed
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("conslaw run: error: ")
    assert needle in lines[0]


def test_run_honours_and_checks_conslaw_profile(root, capsys, monkeypatch):
    monkeypatch.setenv("CONSLAW_PROFILE", "bogus")
    assert cli(["run", "feedforward", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "CONSLAW_PROFILE='bogus' names no profile" in err
    assert "pass -p profile NAME" in err
    # the gpu profile's checks apply: samples up to 1797 there too
    monkeypatch.setenv("CONSLAW_PROFILE", "gpu")
    assert cli(["run", "feedforward", "--root", str(root), "-p", "seeds", "0"]) == 2
    assert "(the gpu profile's)" in capsys.readouterr().err


def test_run_takes_list_values(root, capsys):
    args = ["run", "dynamics", "--root", str(root), "-p", "lrs", "[0.05, -0.1]"]
    assert cli(args) == 2
    assert "each a positive number, got [0.05, -0.1] (list)" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["run", "feedforward"], ["notebooks", "--check"]])
def test_outside_the_repository_names_the_folder(
    tmp_path, monkeypatch, capsys, command
):
    monkeypatch.chdir(tmp_path)
    assert cli(command) == 2
    err = capsys.readouterr().err.strip()
    assert f"no book found at {tmp_path.resolve()}" in err
    assert "--root" in err and len(err.splitlines()) == 1


def test_run_replaces_results_only_after_success(book, capsys, monkeypatch):
    monkeypatch.chdir(book / "book")  # the root is found upward
    no_gpu = not torch.cuda.is_available()
    device = "cuda" if no_gpu else "cpu"
    assert cli(["run", "tiny", "-p", "device", device]) == 0
    captured = capsys.readouterr()
    if no_gpu:
        warning = [line for line in captured.err.splitlines() if "warning" in line]
        assert len(warning) == 1 and "running on the CPU" in warning[0]
    notebook, results = book / "runs" / "tiny.ipynb", book / "runs" / "tiny-results"
    assert json.loads((results / "run.json").read_text()) == {"fail": False}
    nb = nbformat.read(notebook, as_version=4)
    record = nb.metadata["conslaw"]["provenance"]
    assert record["device"] == "cpu" and record["executed_by"] == "run"
    assert record["versions"]["torch"] == torch.__version__
    assert record["commit"] != "-" and record["executed"].endswith("UTC")
    assert "executed by `conslaw run`" in nb.cells[-1].source
    before = notebook.read_bytes()

    assert cli(["run", "tiny", "-p", "fail", "True"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: asked to fail" in err and "left as they were" in err
    assert notebook.read_bytes() == before
    assert json.loads((results / "run.json").read_text()) == {"fail": False}
    assert sorted(p.name for p in (book / "runs").iterdir()) == [
        "tiny-results",
        "tiny.ipynb",
    ]


def test_results_dir_defaults_to_the_repository_runs(book, monkeypatch):
    monkeypatch.delenv("CONSLAW_RESULTS_DIR", raising=False)
    monkeypatch.chdir(book / "book")
    assert results_dir("x") == book.resolve() / "runs" / "x-results"
    monkeypatch.setenv("CONSLAW_RESULTS_DIR", str(book / "elsewhere"))
    assert results_dir("x") == book / "elsewhere"


def test_data_root_is_the_repository_data_folder(book, monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.chdir(book / "book")  # where a chapter runs
    assert data_root() == book.resolve() / "data"
    assert data_root("rel") == (book / "book" / "rel").resolve()
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv(DATA_ENV)
    with pytest.raises(FileNotFoundError) as info:
        read_corpus("ptb")
    assert f"expected {book.resolve() / 'data' / 'ptb'}" in str(info.value)
