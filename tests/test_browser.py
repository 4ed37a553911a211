"""The built site in a real browser, offline.

The book is served on localhost and opened in headless Chromium (Debian's
``chromium``, driven by Playwright; nothing is downloaded). Every request to
another host is blocked and recorded: the pages must not need one. On the results
page and on a chapter the test checks that MathJax typeset the math, that every
image loaded, and that every internal link resolves; it saves screenshots in
``_build/screenshots/`` (the publishing workflow uploads them).
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

pytestmark = pytest.mark.book

# pages opened, relative to the site's root
PAGES = ("book/results.html", "book/feedforward.html")

# Chromium as the environment notes prescribe for this machine: no sandbox (root),
# and no background connections to Google's services
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# how long MathJax may take to typeset a page, in milliseconds
TYPESET_TIMEOUT_MS = 30_000


def chromium_path() -> str | None:
    """``CONSLAW_CHROMIUM``, or the first Chromium-like browser on ``PATH``."""
    if os.environ.get("CONSLAW_CHROMIUM"):
        return os.environ["CONSLAW_CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome")
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on PATH: ./setup.sh installs it as root on Debian")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def open_offline(browser, url: str):
    """Open ``url`` with every request to another host aborted and recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside, failed = [], []
    local = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc != local:
            outside.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: failed.append(req.url))
    page.on(
        "response", lambda res: failed.append(res.url) if res.status >= 400 else None
    )
    page.goto(url, wait_until="networkidle")
    return page, outside, failed


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline(browser, server, site, path):
    page, outside, failed = open_offline(browser, server + path)

    # math: MathJax (served by the site) replaced the TeX with typeset output
    page.wait_for_function(
        "window.MathJax && MathJax.startup && MathJax.startup.promise",
        timeout=TYPESET_TIMEOUT_MS,
    )
    page.evaluate("MathJax.startup.promise")
    typeset = page.locator("mjx-container").count()
    assert typeset > 0, "no math typeset"
    assert page.locator("mjx-merror").count() == 0, "MathJax reported TeX errors"
    scripts = page.evaluate(
        "[...document.scripts].map(s => s.src).filter(s => s.includes('mathjax'))"
    )
    assert scripts and all(s.startswith(server) for s in scripts), scripts

    # figures: every image finished loading with a size
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.src)"
    )
    assert not broken, f"images that did not load: {broken}"

    # links inside the site resolve to a file (and an anchor, when one is named)
    hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    for href in hrefs:
        if not href.startswith(server):
            continue
        target, anchor = urldefrag(href)
        rel = urlparse(target).path.lstrip("/") or "index.html"
        file = site / rel
        assert file.is_file(), f"{path} links to missing {rel}"
        if anchor and file.suffix == ".html":
            html = file.read_text()
            assert f'id="{anchor}"' in html, f"{path} links to missing #{anchor}"

    assert not outside, f"requests to other hosts: {sorted(set(outside))}"
    assert not failed, f"failed requests: {sorted(set(failed))}"

    shots = site.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"{Path(path).stem}.png"), full_page=False)
    page.close()


def test_results_page_links_to_every_verdict(browser, server):
    page, _, _ = open_offline(browser, server + "book/results.html")
    links = page.evaluate(
        "[...document.querySelectorAll('table a.reference.internal')]"
        ".map(a => new URL(a.href).pathname + new URL(a.href).hash)"
    )
    assert links, "the results table has no links"
    assert all("#" in link for link in links), links
    page.close()


def test_launch_buttons_open_committed_notebooks(site, root):
    html = (site / "book" / "feedforward.html").read_text()
    colab = [u for u in _urls(html) if "colab.research.google.com" in u]
    binder = [u for u in _urls(html) if "mybinder.org" in u]
    assert colab and binder
    for url in colab + binder:
        assert "notebooks/feedforward.ipynb" in url, url
    assert (root / "notebooks" / "feedforward.ipynb").is_file()
    # summary pages have nothing to launch
    status = (site / "book" / "status.html").read_text()
    assert not [u for u in _urls(status) if "colab.research" in u]


def _urls(html: str) -> list[str]:
    import re

    return [urljoin("", u) for u in re.findall(r'href="([^"]+)"', html)]
