"""Briefs: Markdown and HTML rendering, escaping, and right-to-left Arabic in a real browser."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, CHROMIUM_FLAGS, SEEDS, tiny_overrides

from summarize import load_settings, run
from summarize.briefs import html_brief, markdown_brief

ARABIC = "قال رئيس INTERPOL أحمد ناصر Al-Raisi إن 196 دولة تشارك حتى 27 نوفمبر."


def doc(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "a1",
        "title": "<script>alert('x')</script> INTERPOL",
        "url": None,
        "language": {"code": "en", "confidence": 0.99},
        "summary": {"text": "INTERPOL met in Marrakech <b>today</b>.", "lang": "en"},
        "translations": {
            "ar": {"text": ARABIC, "route": "direct"},
            "fr": {"text": "INTERPOL s'est réuni à Marrakech.", "route": "pivot"},
        },
        "provenance": {
            "summarize": {"model": "distilbart"},
            "translate:ar": {"model": "opus-mt-en-ar"},
            "translate:fr": {"model": "m2m"},
        },
    }
    base.update(over)
    return base


def test_markdown_brief_has_every_part_and_escapes_markup() -> None:
    md = markdown_brief([doc()])
    assert "## &lt;script&gt;" in md and "<script>" not in md
    assert "### Summary" in md and "### Arabic" in md and "### French" in md
    assert "Source language: English (en" in md
    assert "ar: opus-mt-en-ar (direct)" in md and "fr: m2m (pivot)" in md
    assert '<div dir="rtl" lang="ar">' in md


def test_html_brief_is_self_contained_escaped_and_marks_arabic() -> None:
    page = html_brief([doc()])
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    # One script, the brief's own (local times); the article's markup is text.
    assert page.count("<script") == 1 and "alert(" not in page.split("</head>")[0]
    assert "&lt;script&gt;" in page and "&lt;b&gt;" in page
    assert not re.search(r"(src|href)=\"https?:", page)  # nothing fetched
    arabic = re.findall(r'<p class="text rtl" dir="rtl" lang="ar">(.*?)</p>', page)
    assert len(arabic) == 1
    assert "<bdi>INTERPOL</bdi>" in arabic[0] and "<bdi>196</bdi>" in arabic[0]
    assert "@media print" in page and "Noto Naskh Arabic" in page


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: .ci/run installs "
    "Debian's chromium; install it to run this test",
)
def test_arabic_is_right_to_left_in_chromium(tmp_path: Path) -> None:
    story = {
        "id": "s-1",
        "size": 2,
        "headline": "INTERPOL in Marrakech",
        "languages": ["en", "fr"],
        "outlets": ["example.org"],
        "members": [
            {"id": "s1", "title": "One", "lang": "en", "outlet": "example.org"},
            {"id": "s2", "title": "Deux", "lang": "fr", "outlet": None},
        ],
        "summary": {"text": "INTERPOL met in Marrakech.", "lang": "en", "from": ["s1", "s2"]},
        "translations": {
            "ar": {"text": ARABIC, "route": "direct"},
            "fr": {"text": "INTERPOL s'est réuni.", "route": "direct"},
        },
    }
    page = html_brief([doc(), doc(id="a2", title="Second")], stories=[story])
    assert page.index('<section class="story"') < page.index("<article")
    # The brief forbids scripts (CSP); the probe below is the test's own, so drop the policy
    # in this copy. It reads what Chromium computed for each block into the title.
    probe = (
        "<script>document.title = JSON.stringify({"
        "ar: [...document.querySelectorAll('[lang=ar]')].map(e => "
        "[getComputedStyle(e).direction, getComputedStyle(e).textAlign]),"
        "fr: [...document.querySelectorAll('p[lang=fr]')].map(e => getComputedStyle(e).direction),"
        "scripts: document.scripts.length,"
        "titles: [...document.querySelectorAll('h2')].map(e => e.textContent)});</script>"
    )
    probed = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", page)
    path = tmp_path / "brief.html"
    path.write_text(probed.replace("</body>", probe + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    title = re.search(r"<title>(.*?)</title>", done.stdout, re.S)
    assert title, done.stderr[-2000:]
    import html as html_lib

    seen = json.loads(html_lib.unescape(title.group(1)))
    # The story summary's Arabic first, then each article's.
    assert seen["ar"] == [["rtl", "right"], ["rtl", "right"], ["rtl", "right"]]
    assert seen["fr"] == ["ltr", "ltr", "ltr"]
    # The brief's own (local times) and the probe: the article's <script> stayed text.
    assert seen["scripts"] == 2
    assert seen["titles"][0] == "INTERPOL in Marrakech"
    assert seen["titles"][1].startswith("<script>alert")


def test_run_writes_the_briefs_and_leaves_them_untouched_on_rerun(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # Per-article briefs (stories lead the briefs otherwise: see test_stories).
    settings = load_settings(
        overrides=tiny_overrides(tiny, out, formats="md,html,jsonl", stories=False)
    )
    report = run([SEEDS], settings)
    assert report.ok
    assert {p.name for p in out.iterdir()} >= {
        "brief.md",
        "brief.html",
        "results.jsonl",
        "report.json",
    }
    assert not list(out.glob("0*.json"))  # json was not asked for
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r.article.id for r in report.results]
    # Five Arabic summaries, and the Arabic of the two headlines (001 and 002 have one).
    assert (out / "brief.html").read_text(encoding="utf-8").count('dir="rtl" lang="ar"') == 7
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("brief.*")}
    run([SEEDS], settings)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("brief.*")} == stamps


def test_brief_times_are_utc_text_that_the_page_shows_in_the_readers_zone() -> None:
    """Briefs give each article's time; the HTML one's script (allowed by its hash alone)
    rewrites it in the reader's zone."""
    import base64
    import hashlib

    one = doc(published="2026-12-02T07:14:00+00:00")
    page = html_brief([one])
    assert '<time datetime="2026-12-02T07:14:00Z">2 Dec 2026, 07:14 UTC</time>' in page
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page  # nothing else may run
    assert "2 Dec 2026, 07:14 UTC" in markdown_brief([one])
    assert "<time" not in html_brief([doc(published="not a date")])


def test_a_storys_copy_of_a_members_summary_is_marked_a_machine_draft() -> None:
    """Every unreviewed text of a draft brief says so, a story member's own summary too (it
    carried no mark: an approved member showed its replaced machine text there unmarked)."""
    from summarize.briefs import MEMBER_DRAFT

    own = "The member’s own machine summary of the assembly."
    story = {
        "id": "s-1",
        "size": 2,
        "headline": "INTERPOL in Marrakech",
        "languages": ["en"],
        "outlets": [],
        "members": [
            {"id": "s1", "title": "One", "lang": "en", "summary": {"text": own, "lang": "en"}},
            {"id": "s2", "title": "Two", "lang": "en"},
        ],
        "summary": {"text": "INTERPOL met in Marrakech.", "lang": "en", "from": ["s1", "s2"]},
        "translations": {},
    }
    md = markdown_brief([], [story])
    assert own in md and md.index(MEMBER_DRAFT) > md.index(own)
    page = html_brief([], stories=[story])
    details = page[page.index('<details class="own">') :]
    assert own in details and MEMBER_DRAFT in details[: details.index("</details>")]
