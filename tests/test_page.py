"""The editors' page in a real browser: Debian's Chromium driven by Playwright, against the
service on a loopback port with tiny models."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import CHROMIUM, CHROMIUM_FLAGS, SEEDS, call, real_server, tiny_overrides

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api")


AR_EDIT = "افتتح الإنتربول دورته الثالثة والتسعين في مراكش يوم الاثنين."
ARTICLE = "000_c73dff72cbaff43d.txt"


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: .ci/run installs "
    "Debian's chromium; install it to run this test",
)
def test_the_page_summarises_and_shows_arabic_right_to_left(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    from summarize import load_settings
    from summarize.service import create_app

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    app = create_app(settings, ["page-key"])
    with real_server(app) as port:
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
            page.click("#tab-one")
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


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: .ci/run installs it")
def test_the_review_desk_for_a_team(tiny: dict[str, Path], tmp_path: Path) -> None:
    from summarize import load_settings
    from summarize.service import create_app

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    app = create_app(
        settings,
        [
            "ad-key name=chief role=admin",
            "ed-key name=amal role=editor",
            "ed2-key name=omar role=editor",
            "rd-key name=lina role=reader",
        ],
    )
    articles = [
        {"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("*.txt"))
    ]
    with real_server(app) as port:
        body = {"articles": articles, "label": "Morning wires"}
        job = call(port, "POST", "/v1/jobs", "ad-key", body)["id"]
        deadline = time.monotonic() + 120
        while call(port, "GET", f"/v1/jobs/{job}", "ed-key")["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
            )
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.fill("#key", "ed-key")
            page.dispatch_event("#key", "change")
            # The job is named, with who submitted it; the queue lists its articles and story.
            page.wait_for_selector(f'#queue li[data-item="{ARTICLE}"]', timeout=30_000)
            job_name = page.locator("#job option").first.inner_text()
            assert "Morning wires" in job_name and "by chief" in job_name
            assert page.locator("#queue li").count() == 6
            assert page.locator("#queue li .state.machine-draft").count() == 6
            page.click(f'#queue li[data-item="{ARTICLE}"]')
            page.wait_for_selector('.field[data-field="translation:ar"]')
            assert page.inner_text("#source").startswith("During the opening")
            # A warning's span is highlighted in the text it concerns.
            assert page.locator(".field mark.warn").count() >= 1
            card = page.locator('.field[data-field="translation:ar"]')
            card.locator(".do-edit").click()
            editor = card.locator("textarea")
            assert editor.get_attribute("dir") == "rtl"
            assert editor.evaluate("e => getComputedStyle(e).direction") == "rtl"
            editor.fill(AR_EDIT)
            editor.press("Control+Enter")  # approve this field
            page.wait_for_selector('.field[data-field="translation:ar"] .badge.approved')
            # Reload: the edit is there, approved, still right to left; the machine text
            # beside it with what the editor changed; the history from the log.
            page.reload()
            page.wait_for_selector('.field[data-field="translation:ar"] .badge.approved')
            card = page.locator('.field[data-field="translation:ar"]')
            shown = card.locator("p.text").first
            assert shown.inner_text() == AR_EDIT
            assert shown.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert "approved by amal" in card.locator(".who").inner_text()
            assert card.locator(".machine-text .diff ins").count() >= 1
            assert "amal · approve · Arabic translation" in (
                page.locator(".history").text_content() or ""
            )

            # Two editors on one field: Omar saves a draft of the summary meanwhile; Amal's
            # save meets the conflict, sees his text, and keeps her own knowingly.
            call(
                port,
                "PATCH",
                f"/v1/jobs/{job}/items/{ARTICLE}",
                "ed2-key",
                {"field": "summary", "text": "Omar's summary.", "version": 0},
            )
            summary = page.locator('.field[data-field="summary"]')
            summary.locator(".do-edit").click()
            summary.locator("textarea").fill("Amal's summary.")
            summary.locator("textarea").press("Control+s")
            page.wait_for_selector('.field[data-field="summary"] .conflict')
            conflict = page.locator('.field[data-field="summary"] .conflict')
            assert "Changed by omar" in conflict.inner_text()
            assert conflict.locator(".theirs").inner_text() == "Omar's summary."
            conflict.locator(".do-keep").click()
            page.wait_for_selector('.field[data-field="summary"] .pending')
            assert (
                "Amal's summary."
                in page.locator('.field[data-field="summary"] .pending').inner_text()
            )
            assert page.locator(".conflict").count() == 0

            # The whole item: open warnings and the draft need confirming. Declined: nothing
            # approved. Confirmed: approved, and the desk moves to the next unapproved item.
            page.locator("body").click(position={"x": 1, "y": 1})
            page.keyboard.press("a")
            page.wait_for_selector("#confirm[open]")
            assert "a draft by amal" in page.inner_text("#confirm-list")
            page.click("#confirm-no")
            page.wait_for_selector("#desk-status:has-text('not approved')")
            assert page.locator(f'#queue li[data-item="{ARTICLE}"] .state.approved').count() == 0
            page.locator("body").click(position={"x": 1, "y": 1})
            page.keyboard.press("a")
            page.wait_for_selector("#confirm[open]")
            page.click("#confirm-yes")
            page.wait_for_selector(f'#queue li[data-item="{ARTICLE}"] .state.approved')
            page.wait_for_selector(f'#queue li[aria-current=true]:not([data-item="{ARTICLE}"])')
            current = page.locator("#queue li[aria-current=true]")
            assert current.get_attribute("data-state") != "approved"
            # Filter: only what is not yet approved.
            page.select_option("#filter", "unapproved")
            assert page.locator(f'#queue li[data-item="{ARTICLE}"]').count() == 0
            assert page.locator("#queue li").count() == 5
            page.select_option("#filter", "all")
            # The approved brief has the edit and nothing unapproved; Markdown too.
            with page.expect_download() as download:
                page.click("#download-approved")
            brief = Path(download.value.path()).read_text(encoding="utf-8")
            assert AR_EDIT in brief and "Machine draft" not in brief
            with page.expect_download() as download:
                page.click("#download-md")
            assert download.value.suggested_filename == "brief.md"
            assert AR_EDIT in Path(download.value.path()).read_text(encoding="utf-8")
            # A reader sees the desk, with no edit or approve buttons.
            page.fill("#key", "rd-key")
            page.dispatch_event("#key", "change")
            page.wait_for_selector("#whoami:has-text('reader')")
            page.wait_for_selector(f'#queue li[data-item="{ARTICLE}"]')
            page.click(f'#queue li[data-item="{ARTICLE}"]')
            page.wait_for_selector('.field[data-field="summary"]')
            assert page.locator(".do-edit, .do-approve").count() == 0
            assert page.locator("#approve-all").is_hidden()
            browser.close()
