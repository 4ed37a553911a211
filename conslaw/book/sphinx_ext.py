"""Sphinx extension: execute every chapter with papermill before Sphinx reads it.

Add ``conslaw.book.sphinx_ext`` to the extensions and register
``conslaw.book.reader.read`` for ``.md`` in ``nb_custom_formats`` (``_config.yml``
does both). On ``env-get-outdated`` the extension executes each chapter under the
active profile, or takes it from the cache, and marks for re-reading every chapter
whose execution changed even when its text did not (an edit to ``conslaw``). A
chapter that raises stops the build with an error naming the chapter and the cell.
At ``build-finished`` the files each chapter saved are copied into the site under
``_static/results/CHAPTER/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

from ..profiles import PROFILES, active_profile, check_profile
from .cache import Cache
from .chapters import is_summary, read_text
from .execute import RECORDS_ENV, ChapterError, execute_chapter

logger = logging.getLogger(__name__)

# text digest -> executed notebook, filled before Sphinx reads the sources
EXECUTED: dict[str, object] = {}


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cache_folder(app) -> Path:
    return Path(app.outdir).parent / "conslaw-cache"


def _ordered_docs(app, env) -> list[str]:
    """Docnames in table-of-contents order, then any others, sorted."""
    site_map = getattr(app.config, "external_site_map", None)
    ordered = [d for d in (site_map or []) if d in env.found_docs]
    return ordered + sorted(set(env.found_docs) - set(ordered))


def build_profile(app) -> str:
    """The profile of this build: Sphinx's ``conslaw_profile``, else
    ``CONSLAW_PROFILE``, else quick. A name that is no profile stops the build
    with one line (an ExtensionError) saying what to set."""
    name = app.config.conslaw_profile
    try:
        if name:
            return check_profile(
                name,
                what=f"conslaw_profile={name!r} names no profile",
                hint="set sphinx: config: conslaw_profile in _config.yml to one of "
                f"{', '.join(PROFILES)}",
            )
        return active_profile()
    except ValueError as err:
        raise ExtensionError(str(err)) from None


def check_build_profile(app, config) -> None:
    """``config-inited``: stop a build whose profile is no profile before it
    reads anything, with one line on stderr and exit status 2 (jupyter-book
    prints a traceback for every exception of a build, so this one exits)."""
    try:
        build_profile(app)
    except ExtensionError as err:
        sys.stderr.write(f"conslaw: error: {err.message}\n")
        raise SystemExit(2) from None


def execute_all(app, env, added, changed, removed):
    """``env-get-outdated``: execute (or load) all chapters; return re-read docs."""
    profile = build_profile(app)
    cache = Cache(cache_folder(app))
    root = Path(app.srcdir)
    chapters = []
    for docname in _ordered_docs(app, env):
        path = Path(env.doc2path(docname))
        if path.suffix != ".md":
            continue
        text = path.read_text()
        chapters.append((docname, path, text, is_summary(read_text(text))))

    previous = getattr(env, "conslaw_keys", {})
    keys, records = {}, []
    plain = [c for c in chapters if not c[3]]
    summaries = [c for c in chapters if c[3]]
    for group, is_last in ((plain, False), (summaries, True)):
        extra, env_vars = "", {}
        if is_last:
            # summary pages read every other chapter's record, so they depend on
            # every other key
            extra = json.dumps(sorted(keys.items()))
            records_file = cache.folder / f"records-{profile}.json"
            cache.folder.mkdir(parents=True, exist_ok=True)
            records_file.write_text(json.dumps(records, indent=1))
            env_vars = {RECORDS_ENV: str(records_file)}
        for docname, path, text, _ in group:
            logger.info(f"[conslaw] {docname}: profile {profile}")
            try:
                nb, record, key = execute_chapter(
                    path,
                    profile=profile,
                    cache=cache,
                    root=root,
                    extra_key=extra,
                    env=env_vars,
                )
            except ChapterError as err:
                raise ExtensionError(str(err)) from None
            EXECUTED[text_digest(text)] = nb
            if record is not None:
                keys[docname] = key
                folder = cache.results(record["chapter"], key)
                records.append(
                    {**record, "docname": docname, "results_dir": str(folder)}
                )
                logger.info(
                    f"[conslaw] {docname}: {record['seconds']:.1f} s when executed"
                    f" ({record['executed']}), key {key}"
                )
    env.conslaw_keys = keys
    env.conslaw_records = records
    env.conslaw_cache = str(cache.folder)
    return {d for d, k in keys.items() if previous.get(d) != k} - set(changed)


def publish_results(app, exception):
    """``build-finished``: copy each chapter's saved files into the site."""
    if exception is not None or app.builder.format != "html":
        return
    cache = Cache(Path(getattr(app.env, "conslaw_cache", cache_folder(app))))
    target_root = Path(app.outdir) / "_static" / "results"
    for record in getattr(app.env, "conslaw_records", []):
        source = cache.results(record["chapter"], record["key"])
        target = target_root / record["chapter"]
        if target.exists():
            shutil.rmtree(target)
        if source.is_dir() and any(source.iterdir()):
            shutil.copytree(source, target)


def setup(app):
    app.add_config_value("conslaw_profile", None, "env")
    app.connect("config-inited", check_build_profile)
    app.connect("env-get-outdated", execute_all)
    app.connect("build-finished", publish_results)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
