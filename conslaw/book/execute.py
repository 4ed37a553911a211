"""Executing one chapter with papermill, and recording where and how it ran."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from .cache import Cache, chapter_key, library_versions
from .chapters import INJECTED_TAGS, chapter_name, has_code, read_text

# environment variables a running chapter reads (see conslaw.book.results)
RESULTS_ENV = "CONSLAW_RESULTS_DIR"
RECORDS_ENV = "CONSLAW_BUILD_RECORDS"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ChapterError(RuntimeError):
    """A chapter raised: names the chapter, the cell and the exception."""


def git_commit(root: Path) -> str:
    """The checked-out commit, with ``+dirty`` when tracked files have changed."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=root,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def _cell_line(text: str, source: str) -> int | None:
    """The line of the chapter where a cell's source starts, if it can be found."""
    first = source.strip().splitlines()[0] if source.strip() else ""
    at = text.find(first) if first else -1
    return None if at < 0 else text.count("\n", 0, at) + 1


def _failure(path: Path, text: str, nb_in, err) -> ChapterError:
    """Turn papermill's error into one that names chapter, cell and exception."""
    code_cells = [c for c in nb_in.cells if c.cell_type == "code"]
    index = getattr(err, "cell_index", None)
    source = getattr(err, "source", "") or ""
    number = next((i for i, c in enumerate(code_cells, 1) if c.source == source), None)
    line = _cell_line(text, source)
    where = f"code cell {number} of {len(code_cells)}" if number else f"cell {index}"
    if line:
        where += f" (line {line})"
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    tb = _ANSI.sub("", "\n".join(getattr(err, "traceback", []) or []))
    msg = f"chapter {path.name} failed in {where}: {ename}: {evalue}"
    if tb:
        msg += "\n" + tb
    return ChapterError(msg)


# how a chapter was executed (``record["executed_by"]``), as the provenance box
# says it; records written before the field existed came from the build
EXECUTED_BY = {
    "build": "by papermill during the book's build",
    "run": "by `conslaw run`",
}


def provenance_cell(record: dict) -> nbformat.NotebookNode:
    """A markdown cell with the record, appended to every executed chapter."""
    params = ", ".join(f"`{k}={v!r}`" for k, v in sorted(record["parameters"].items()))
    rows = [
        ("profile", record["profile"]),
        ("parameters", params or "defaults"),
        ("device", record["device"]),
        ("versions", ", ".join(f"{k} {v}" for k, v in record["versions"].items())),
        ("commit", f"`{record['commit']}`"),
        ("executed", record["executed"]),
        ("wall time", f"{record['seconds']:.1f} s"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    how = EXECUTED_BY.get(record.get("executed_by", "build"), EXECUTED_BY["build"])
    body = (
        "```{admonition} Provenance\n:class: note\n"
        f"This page was executed {how}.\n\n"
        f"| | |\n|---|---|\n{table}\n```"
    )
    cell = nbformat.v4.new_markdown_cell(body)
    cell.metadata["tags"] = ["conslaw-provenance"]
    return cell


def device_used(requested: str = "auto") -> tuple[str, str | None]:
    """The device a chapter asking for ``requested`` runs on here, and the
    warning of a fallback (``cuda`` without a GPU runs on the CPU), or None."""
    import warnings

    from ..device import resolve_device

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        device = str(resolve_device(requested))
    fallback = next((str(w.message) for w in caught), None)
    return device, fallback


def _device_name(parameters: dict) -> str:
    return device_used(parameters.get("device", "auto"))[0]


def chapter_title(nb, default: str) -> str:
    """The text of the chapter's first ``# `` heading, else ``default``."""
    return next(
        (
            c.source.lstrip("# ").splitlines()[0]
            for c in nb.cells
            if c.cell_type == "markdown" and c.source.startswith("# ")
        ),
        default,
    )


def provenance_record(
    path: Path,
    root: Path,
    *,
    profile: str,
    parameters: dict,
    device: str,
    seconds: float,
    executed_by: str = "build",
    title: str | None = None,
) -> dict:
    """Where and how a chapter ran: the same record for the build and for
    ``conslaw run``.

    Args:
        path: the chapter's ``.md`` file; ``root`` the book's root folder.
        profile: the profile it ran under; ``parameters`` those injected.
        device: the device used (see :func:`device_used`), not the one asked for.
        seconds: wall time of the execution.
        executed_by: ``"build"`` or ``"run"`` (see :data:`EXECUTED_BY`).
        title: the chapter's title (default: its name).
    """
    path, root = Path(path), Path(root)
    name = chapter_name(path)
    return {
        "chapter": name,
        "source": str(path.relative_to(root))
        if path.is_relative_to(root)
        else str(path),
        "title": title or name,
        "profile": profile,
        "parameters": parameters,
        "device": device,
        "versions": library_versions(),
        "commit": git_commit(root),
        "executed": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "executed_by": executed_by,
        "seconds": round(seconds, 2),
    }


# lines of the kernel's own log (its stderr) shown when the kernel dies
KERNEL_LOG_LINES = 20
# what every kernel logs at start, left out of that tail
_LOG_NOISE = ("running over TCP without encryption",)


def _kernel_manager(log: Path):
    """A kernel manager whose kernel writes its own log (stderr: transport
    warnings, its complaints while being shut down after Ctrl-C) to ``log``
    instead of the terminal. A cell's output does not go there: it comes back
    in the notebook."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open(log, "ab") as stream:  # the kernel keeps its own copy
                kw["stderr"] = stream
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


def _log_tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line for line in lines if not any(n in line for n in _LOG_NOISE)]
    return "\n".join(lines[-KERNEL_LOG_LINES:])


def run_notebook(
    path: Path,
    text: str,
    parameters: dict,
    results: Path,
    env: dict | None = None,
    log_output: bool = False,
):
    """Execute a chapter's text with papermill; return the executed notebook and
    the wall time. Raises :class:`ChapterError` if a cell raises."""
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    nb_in = read_text(text)
    saved = {k: os.environ.get(k) for k in (env or {}) | {RESULTS_ENV: ""}}
    results.mkdir(parents=True, exist_ok=True)
    os.environ.update(env or {})
    os.environ[RESULTS_ENV] = str(results)
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="conslaw-") as tmp:
            src, out = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
            log = Path(tmp) / "kernel.log"
            nbformat.write(nb_in, src)
            try:
                papermill.execute_notebook(
                    str(src),
                    str(out),
                    parameters=parameters,
                    kernel_name="python3",
                    cwd=str(path.parent),
                    progress_bar=False,
                    log_output=log_output,
                    request_save_on_cell_execute=False,
                    kernel_manager_class=_kernel_manager(log),
                )
            except PapermillExecutionError as err:
                raise _failure(path, text, nb_in, err) from None
            except DeadKernelError as err:
                tail = _log_tail(log)
                raise ChapterError(
                    f"chapter {path.name}: the kernel died while executing it "
                    f"({err}): killed from outside, often by the out-of-memory "
                    "killer (try smaller settings)"
                    + (f"\nthe kernel's log:\n{tail}" if tail else "")
                ) from None
            nb = nbformat.read(out, as_version=4)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, time.perf_counter() - start


def finish_notebook(nb, record: dict):
    """Hide the injected-parameters cell and append the provenance."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.metadata["tags"] = sorted(set(tags) | set(INJECTED_TAGS))
    nb.cells.append(provenance_cell(record))
    nb.metadata.setdefault("conslaw", {})["provenance"] = record
    return nb


def execute_chapter(
    path: Path,
    *,
    profile: str,
    cache: Cache,
    root: Path,
    parameters: dict | None = None,
    extra_key: str = "",
    env: dict | None = None,
):
    """Execute ``path`` (or load it from ``cache``); return notebook, record, key.

    A chapter without code is returned as read, with no record.
    """
    path = Path(path)
    text = path.read_text()
    nb = read_text(text)
    name = chapter_name(path)
    if not has_code(nb):
        return nb, None, None
    params = {"profile": profile, **(parameters or {})}
    key = chapter_key(text, params, extra_key)
    if cache.has(name, key):
        nb, record = cache.load(name, key)
        return nb, record, key

    results = cache.folder / f".{name}-{key}.results.tmp"
    try:
        executed, seconds = run_notebook(path, text, params, results, env)
        record = provenance_record(
            path,
            root,
            profile=profile,
            parameters=params,
            device=_device_name(params),
            seconds=seconds,
            title=chapter_title(nb, name),
        )
        record["key"] = key
        finish_notebook(executed, record)
        cache.store(name, key, executed, record, results)
    finally:
        if results.exists():
            import shutil

            shutil.rmtree(results, ignore_errors=True)
    return executed, record, key
