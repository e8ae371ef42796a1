"""The editors' page in a real browser: Debian's Chromium driven by Playwright, against the
service on a loopback port with tiny models."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_FLAGS, SEEDS, tiny_overrides

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: .ci/run installs "
    "Debian's chromium; install it to run this test",
)
def test_the_page_summarises_and_shows_arabic_right_to_left(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    import uvicorn

    from summarize import load_settings
    from summarize.service import create_app

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    app = create_app(settings, ["page-key"])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        article = (SEEDS / "003_e4bd439a4009ed1f.txt").read_text(encoding="utf-8")
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
            )
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("#key", "page-key")
            page.dispatch_event("#key", "change")
            page.fill("#article", article)
            page.click("#go")
            page.wait_for_selector("#result:not([hidden])", timeout=120_000)
            arabic = page.locator('.translation[data-lang="ar"] p.text')
            assert arabic.get_attribute("dir") == "rtl" and arabic.get_attribute("lang") == "ar"
            direction = arabic.evaluate("e => getComputedStyle(e).direction")
            align = arabic.evaluate("e => getComputedStyle(e).textAlign")
            assert (direction, align) == ("rtl", "right")
            french = page.locator('.translation[data-lang="fr"] p.text')
            assert french.evaluate("e => getComputedStyle(e).direction") == "ltr"
            assert page.locator(".provenance").inner_text().startswith("detect:")
            assert page.evaluate("sessionStorage.getItem('summarize-key')") == "page-key"
            # A wrong key shows the service's message, not a stack trace.
            page.fill("#key", "wrong")
            page.click("#go")
            # A selector wait: the page's CSP rightly forbids eval'd predicates.
            page.wait_for_selector("#status.error", timeout=30_000)
            assert "Bearer" in page.inner_text("#status")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
