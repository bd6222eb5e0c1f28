"""The editors' page in a real headless browser (Debian's chromium, driven by Playwright).

The seed article is opened as a file, briefed into English, French and Russian on tiny
models with the quality guards on; the French leg is held until the Russian brief is on
the page, so the stream order (en, ru, fr) differs from the request order, and the page
must show the briefs in the order they streamed. A warning must show. A screenshot goes
to tests/artifacts/ (git-ignored). Skipped, saying why, without Playwright or chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polybrief.v1.polybrief_pb2 import SummarizeRequest
from server_harness import ServerThread, running, subset_catalog
from test_streaming import Gate, _hold

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "afp-putin-hollande.txt"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str | None:
    named = os.environ.get("POLYBRIEF_TEST_CHROMIUM")
    if named:
        return named
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (requirements-dev.txt)"
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on PATH: `apt-get install -y chromium` (.ci/run does it on CI)")
    if not SEED.is_file():
        pytest.skip(f"{SEED} is absent (the shared material lives beside the repository)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The English summariser and the en-fr, en-ru legs, guards on, the HTTP port open."""
    catalog = subset_catalog(
        tiny_dir,
        tmp_path_factory.mktemp("page") / "catalog.toml",
        ["tiny-bart", "tiny-marian-en-fr", "tiny-marian-en-ru"],
    )
    with running(catalog, http_port=0, quality_guards=True, cache_mb=0) as started:
        yield started


def test_the_page_streams_three_briefs_in_stream_order(browser: Any, server: ServerThread) -> None:
    assert server.running.http is not None
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    outside: list[str] = []
    origin = f"http://127.0.0.1:{server.running.http.port}"
    page.on("request", lambda r: None if r.url.startswith(origin) else outside.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(origin + "/")
    page.get_by_label("French (fr)").wait_for()

    # every form control is labelled (by <label> or aria-label)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                         && !e.textContent.trim())
            .map(e => e.outerHTML)"""
    )
    assert unlabelled == []

    page.get_by_label("Or open a file").set_input_files(str(SEED))
    page.get_by_text("Loaded afp-putin-hollande.txt").wait_for()  # (the page's CSP forbids eval)
    assert len(page.get_by_label("Article", exact=True).input_value()) > 1000
    assert page.get_by_label("Format", exact=True).input_value() == "text/plain"
    for name in ("English (en)", "French (fr)", "Russian (ru)"):
        page.get_by_label(name).check()
    page.evaluate(
        """() => { window.rendered = [];
            new MutationObserver(changes => changes.forEach(c => c.addedNodes.forEach(n =>
                n.dataset && window.rendered.push(n.dataset.language))))
            .observe(document.getElementById('briefs'), {childList: true}); }"""
    )

    gate = Gate(guard=300)
    undo = _hold(server, gate, lambda target: target == "fr")
    try:
        with page.expect_response(lambda r: r.url.endswith("/v1/briefs:stream")) as streamed:
            page.get_by_role("button", name="Brief it").focus()
            page.keyboard.press("Enter")  # the keyboard alone drives the form
            page.locator(".brief[data-language=ru]").wait_for(timeout=300_000)
            held = not gate.is_open
            gate.open()
            page.locator(".brief[data-language=fr]").wait_for(timeout=300_000)
        page.get_by_text("All briefs are in.").wait_for(timeout=300_000)
    finally:
        gate.open()
        undo()

    body = streamed.value.body().decode()
    stream_order = [
        line.split('"language":"', 1)[1].split('"', 1)[0]
        for line in body.splitlines()
        if line.startswith('data: {"brief"')
    ]
    shown = page.locator(".brief").evaluate_all("items => items.map(i => i.dataset.language)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "http-page.png"), full_page=True)

    assert held, "the Russian brief only showed once the French leg was let go"
    assert stream_order == ["en", "ru", "fr"]
    assert page.evaluate("window.rendered") == stream_order  # rendered as they streamed
    assert shown == stream_order
    for brief in page.locator(".brief").all():
        assert brief.locator(".brief-text").inner_text().strip()
        assert "confidence" in brief.locator(".confidence").inner_text()
        assert brief.locator(".route").inner_text().startswith("Route:")
    assert page.locator(".warning").count() > 0
    assert page.locator(".warning").first.is_visible()
    assert "Source: English (en)" in page.locator("#summary-line").inner_text()
    assert outside == []  # no fonts, CDNs or anything else from outside
    assert errors == []
    page.close()


def test_a_refused_request_is_explained_on_the_page(browser: Any, server: ServerThread) -> None:
    assert server.running.http is not None
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{server.running.http.port}/")
    page.get_by_label("French (fr)").wait_for()
    page.get_by_label("Article", exact=True).fill(
        "🙂🙂🙂 !!!"
    )  # no letters: INVALID_ARGUMENT on `text`
    page.get_by_role("button", name="Brief it").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "400" in alert.inner_text()
    assert "text:" in alert.inner_text()
    page.close()


def test_the_docs_page_renders_the_generated_openapi(browser: Any, server: ServerThread) -> None:
    assert server.running.http is not None
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"http://127.0.0.1:{server.running.http.port}/docs")
    page.locator("#op-StreamSummarize").wait_for()
    assert page.get_by_role("link", name="POST /v1/briefs:stream").count() == 1
    fields = page.locator("[id='polybrief.v1.SummarizeRequest'] tbody tr").count()
    assert fields == len(SummarizeRequest.DESCRIPTOR.fields)
    assert errors == []
    page.close()
