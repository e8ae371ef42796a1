"""Feeds in: RSS 2.0, RSS 1.0 and Atom from a local HTTP server on 127.0.0.1 (no other address
is touched), full text from the entry or its linked page, polite and exact polling, and every
fault a newsroom's wires produce reported in one line while the rest goes on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_overrides
from loopback import SEED, Site, item, page, rss

from summarize import load_settings, run
from summarize.feeds import FeedReader, FetchPolicy


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    s.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    yield s
    s.close()


def world(site: Site) -> None:
    """A wire feed: one entry with its full text, one teaser whose page holds the article,
    one teaser whose page is gone, one whose page robots.txt forbids, one with no text."""
    site.put(
        "/world.rss",
        rss(
            [
                item("wire-1", "INTERPOL opens its assembly", content=SEED[0]),
                item("wire-2", "Raisi praises Morocco", teaser="Short teaser.", link="/news/2"),
                item("wire-3", "A page that is gone", teaser="Teaser only.", link="/news/gone"),
                item("wire-4", "Private", teaser="Teaser only.", link="/private/4"),
                item("wire-5", "Nothing at all"),
            ]
        ),
        ETag='"w1"',
    )
    site.put("/news/2", page(SEED[4], "Raisi praises Morocco"), "text/html; charset=utf-8")
    site.put("/private/4", page(SEED[3], "Private"), "text/html")


def settings_for(tiny: dict[str, Path], out: Path, **extra: Any) -> Any:
    return load_settings(
        overrides=tiny_overrides(tiny, out, formats="json,ninjs", feed_timeout=1.0, **extra)
    )


def by_source(report: Any) -> dict[str, Any]:
    return {o.source: o for o in report.outcomes}


def test_run_a_feed_full_text_pages_and_every_entry_accounted_for(
    site: Site, tiny: dict[str, Path], tmp_path: Path
) -> None:
    world(site)
    feed = f"{site.base}/world.rss"
    report = run([feed], settings_for(tiny, tmp_path / "out"))
    outcomes = by_source(report)
    ok = {o.id for o in report.succeeded}
    assert ok == {"wire-1", "wire-2"}
    gone = outcomes[f"{feed}#wire-3"].error.message
    assert "only a teaser" in gone and "HTTP 404" in gone
    assert "robots.txt" in outcomes[f"{feed}#wire-4"].error.message
    assert "no text" in outcomes[f"{feed}#wire-5"].error.message
    doc = json.loads((tmp_path / "out" / "wire-2.json").read_text(encoding="utf-8"))
    # The linked page's article, not its navigation; the entry's metadata kept.
    assert doc["lede"] == "Raisi praises Morocco"  # the page's article, not "Home | World"
    assert doc["title"] == "Raisi praises Morocco" and doc["url"] == f"{site.base}/news/2"
    assert doc["outlet"] == "Wire World" and doc["author"].startswith("desk@example.org")
    assert doc["published"] == "2026-12-01T08:30:00Z"
    assert doc["language"]["code"] == "en"  # declared by the feed, before detection
    assert (tmp_path / "out" / "ninjs").is_dir()
    # Every request named the tool; robots.txt was read once for the host.
    assert all("summarize/" in h.get("User-Agent", "") for _, h in site.hits)
    assert [p for p, _ in site.hits].count("/robots.txt") == 1
    # A second run asks conditionally (304) and still reads every entry from the kept body.
    hits = len(site.hits)
    again = run([feed], settings_for(tiny, tmp_path / "out"))
    assert {o.id for o in again.succeeded} == ok and again.computed.get("summarize", 0) == 0
    assert any(h.get("If-None-Match") == '"w1"' for p, h in site.hits[hits:] if p == "/world.rss")


def test_bad_feeds_each_fail_alone_with_the_reason(
    site: Site, tiny: dict[str, Path], tmp_path: Path
) -> None:
    world(site)
    good = rss([item("ok-1", "INTERPOL", content=SEED[1])], title="Good")
    broken = good.replace("</item>", "</item><item><title>half & broken <b></channel>")
    site.put("/broken.rss", broken)
    site.put(
        "/page.html",
        '<html><head><link rel="alternate" type="application/rss+xml" href="/world.rss">'
        "</head><body>A home page</body></html>",
        "text/html",
    )
    site.pages["/down.rss"] = (500, "text/plain", b"oops", {})
    site.put("/slow.rss", good)
    site.put("/big.rss", good + " " * 300_000)
    rdf = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="x"><title>RDF wire</title><link>x</link><description>d</description>'
        '</channel><item rdf:about="rdf-1"><title>RDF one</title><link>/news/2</link>'
        "<description>teaser</description><dc:date>2026-12-01T09:00:00Z</dc:date></item></rdf:RDF>"
    )
    site.put("/one.rdf", rdf, "application/rdf+xml")
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en"><title>Atom wire</title><id>urn:a</id><updated>2026-12-01T09:00:00Z</updated>'
        "<entry><id>urn:atom-1</id><title>Atom one</title><updated>2026-12-01T09:00:00Z</updated>"
        f'<content type="html"><![CDATA[{SEED[2]}]]></content></entry></feed>'
    )
    site.put("/atom.xml", atom, "application/atom+xml")
    b = site.base
    report = run(
        [
            f"{b}/{name}"
            for name in (
                *("broken.rss", "page.html", "down.rss", "slow.rss", "big.rss", "loop"),
                *("one.rdf", "atom.xml", "nothing.rss"),
            )
        ],
        settings_for(tiny, tmp_path / "out", feed_max_bytes=200_000),
    )
    outcomes = by_source(report)
    assert {o.id for o in report.succeeded} == {"ok-1", "rdf-1", "urn:atom-1"}
    reasons = {s: o.error.message for s, o in outcomes.items() if o.error is not None}
    assert "malformed feed" in reasons[f"{b}/broken.rss"]  # what parsed is processed
    assert (
        reasons[f"{b}/page.html"] == f"an HTML page, not a feed; it names a feed at {b}/world.rss"
    )
    assert reasons[f"{b}/down.rss"].startswith("HTTP 500")
    assert "timed out after 1 s" in reasons[f"{b}/slow.rss"]
    assert "200,000-byte cap" in reasons[f"{b}/big.rss"]
    assert "redirects" in reasons[f"{b}/loop"]
    assert reasons[f"{b}/nothing.rss"].startswith("HTTP 404")
    assert all("Traceback" not in r for r in reasons.values())


def test_a_feed_list_and_a_feed_file(site: Site, tiny: dict[str, Path], tmp_path: Path) -> None:
    world(site)
    listing = tmp_path / "wires.opml"
    listing.write_text(
        f'<opml version="2.0"><body><outline text="World" xmlUrl="{site.base}/world.rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    local = tmp_path / "local.rss"
    local.write_text(rss([item("file-1", "From a file", content=SEED[3])], title="Local"))
    report = run([str(listing), str(local)], settings_for(tiny, tmp_path / "out"))
    assert {o.id for o in report.succeeded} == {"wire-1", "wire-2", "file-1"}


def test_polling_hands_on_only_new_or_changed_entries(site: Site, tmp_path: Path) -> None:
    """The reader a watch polls with: a second poll of an unchanged feed costs a 304 and hands
    on nothing; a changed entry comes back as a new version, a new entry once; an entry whose
    batch never finished (a crash) comes back on the next poll."""
    world(site)
    feed = f"{site.base}/world.rss"
    reader = FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(timeout=1.0))
    try:
        first = [e for e in reader.read([feed], only_new=True) if hasattr(e, "text")]
        assert [e.id for e in first] == ["wire-1", "wire-2"]
        # The teaser's page gave the article: its paragraphs, not the site's navigation.
        assert "efficiency and professionalism" in first[1].text
        assert "Home | World" not in first[1].text and "(c) Wire" not in first[1].text
        assert (first[1].outlet, first[1].lang, first[1].title) == (
            "Wire World",
            "en",
            "Raisi praises Morocco",
        )
        # The batch crashed before it was done: nothing is marked, all come back.
        again = [e for e in reader.read([feed], only_new=True) if hasattr(e, "text")]
        assert [e.id for e in again] == ["wire-1", "wire-2"]
        reader.done([e.source for e in again])
        assert [e for e in reader.read([feed], only_new=True) if hasattr(e, "text")] == []
        # The entries that gave no article were said on the first poll, not on every one.
        assert [p.source for p in reader.read([feed], only_new=True)] == []
        # wire-1 rewritten under the same id, and a new entry.
        site.put(
            "/world.rss",
            rss(
                [
                    item("wire-1", "INTERPOL opens its assembly", content=SEED[0] + " Updated."),
                    item("wire-2", "Raisi praises Morocco", teaser="t", link="/news/2"),
                    item("wire-6", "New", content=SEED[1]),
                ]
            ),
            ETag='"w2"',
        )
        changed = [e for e in reader.read([feed], only_new=True) if hasattr(e, "text")]
        assert [(e.id, e.version) for e in changed] == [("wire-1", 2), ("wire-6", 1)]
        # The linked page was fetched once, then asked for conditionally or not at all.
        assert [p for p, _ in site.hits].count("/news/2") >= 1
    finally:
        reader.close()


def test_watch_polls_feeds_and_processes_only_what_changed(
    site: Site, tiny: dict[str, Path], tmp_path: Path
) -> None:
    from summarize.watch import watch

    world(site)
    feed = f"{site.base}/world.rss"
    settings = settings_for(tiny, tmp_path / "out")
    stop = threading.Event()
    batches: list[Any] = []

    def on_batch(report: Any) -> None:
        batches.append(report)
        if len(batches) == 1:  # the wire rewrites one story between two polls
            site.put(
                "/world.rss",
                rss([item("wire-1", "INTERPOL", content=SEED[0] + " Updated at noon.")]),
                ETag='"w3"',
            )
        elif len(batches) >= 2:
            stop.set()

    thread = threading.Thread(
        target=watch,
        args=(None, settings, stop),
        kwargs={"interval": 0.1, "on_batch": on_batch, "feeds": [feed], "every": 0.5},
        daemon=True,
    )
    thread.start()
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert {o.id for o in batches[0].succeeded} == {"wire-1", "wire-2"}
    assert [o.id for o in batches[1].outcomes] == ["wire-1"]  # only the changed entry
    doc = json.loads((tmp_path / "out" / "wire-1.json").read_text(encoding="utf-8"))
    first = next(r.article.hash for r in batches[0].results if r.article.id == "wire-1")
    assert doc["hash"] == batches[1].results[0].article.hash != first  # the new version kept
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    sources = {s["source"] for s in report["sources"]}
    assert {f"{feed}#wire-3", f"{feed}#wire-5"} <= sources  # the errors stay on the record


def test_settings_for_feeds_are_checked(tmp_path: Path) -> None:
    from summarize.errors import ConfigError

    with pytest.raises(ConfigError, match="feed_timeout"):
        load_settings(overrides={"feed_timeout": 0, "output_dir": str(tmp_path)})
    from summarize.cli.watch import duration
    from summarize.errors import UsageError

    assert duration("5m") == 300 and duration("30s") == 30 and duration("90") == 90
    with pytest.raises(UsageError, match="--every"):
        duration("soon")


def test_an_entry_cannot_send_the_reader_to_a_private_address_of_another_host(
    site: Site, tmp_path: Path
) -> None:
    """A feed on one host whose entry links to a loopback address of another host name: the
    page is not fetched (a wire's entries never make the service probe its own network)."""
    site.put(
        "/probe.rss",
        rss([item("p-1", "Probe", teaser="Short.", link="http://localhost:9/admin")]),
    )
    reader = FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(timeout=1.0))
    try:
        [problem] = list(reader.read([f"{site.base}/probe.rss"]))
    finally:
        reader.close()
    assert "private address" in problem.message and "/admin" not in str(site.hits)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a\x7fb",  # httpx: InvalidURL, not an HTTPError (it ended the read)
        "http://127.0.0.1:99999/",  # a port out of range
        "http://[::1/",  # a bracket that does not close
        "http://exa mple.org/",
    ],
)
def test_an_address_no_client_can_use_is_one_fetch_error(url: str) -> None:
    """Whatever a feed's link holds, fetching it is a FetchError naming it, never an
    exception from inside httpx or urllib that ends the whole read."""
    from summarize.feeds.fetch import Fetcher, FetchError

    with (
        Fetcher(FetchPolicy(robots=False, timeout=2, deadline=3)) as fetcher,
        pytest.raises(FetchError),
    ):
        fetcher.get(url)
