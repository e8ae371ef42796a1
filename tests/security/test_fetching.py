"""What a feed can make us fetch, and for how long. One policy at every hop: the first
request, each redirect and robots.txt, judged on the address actually connected to, with the
port in the same-host rule; and a deadline on the whole fetch, so a server that trickles a
byte at a time cannot hold a run, a watch or the service.

Reproduced before: a teaser link on the feed's host that redirected to 127.0.0.2 was fetched
and the private page became the article's lede; a link to the feed's IP on another port was
fetched; a feed trickling a byte every 2 s held `run` past 100 s, and `serve --feed` never
polled the healthy second feed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import SEED, Site, item, page, rss

from summarize.feeds import FeedProblem, FeedReader, FetchPolicy
from summarize.feeds.fetch import Fetcher, FetchError, is_public, trusted_origins

PUBLIC = "93.184.216.34"  # what a stub resolver says a public name is


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def inside() -> Iterator[Site]:
    """A private service on 127.0.0.2 that no feed may reach: its hits must stay empty."""
    s = Site(host="127.0.0.2")
    s.put("/secret", page("The staff salaries are in the admin panel.", "Admin"), "text/html")
    yield s
    s.close()


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A stub resolver: each name maps to the answers it gives, one per lookup (the last one
    repeats), so a name can change between the check and the connect."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in names:
            answers = names[host]
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return names


def test_the_address_rule() -> None:
    refused = [
        "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "224.0.0.1", "255.255.255.255", "192.0.2.1", "not an address",
    ]  # fmt: skip
    assert [a for a in refused if is_public(a)] == []
    assert all(is_public(a) for a in (PUBLIC, "8.8.8.8", "2606:4700:4700::1111"))


def links(site: Site, inside: Site) -> dict[str, str]:
    """Every way a feed's entry might point inside: the attack matrix."""
    secret_port = inside.base.rsplit(":", 1)[1]
    feed_port = site.base.rsplit(":", 1)[1]
    own_ip_other_port = Site()
    own_ip_other_port.put("/secret", page("Other port secret.", "x"), "text/html")
    site.extra.append(own_ip_other_port)
    other = own_ip_other_port.base.rsplit(":", 1)[1]
    return {
        "other private host": f"{inside.base}/secret",
        "the feed's IP on another port": f"http://127.0.0.1:{other}/secret",
        "localhost on another port": f"http://localhost:{other}/secret",
        "decimal IPv4": f"http://2130706434:{secret_port}/secret",
        "hex IPv4": f"http://0x7f.0.0.2:{secret_port}/secret",
        "IPv4-mapped IPv6": f"http://[::ffff:127.0.0.2]:{secret_port}/secret",
        "a name for loopback": f"http://evil.test:{secret_port}/secret",
        "a name that rebinds": f"http://rebind.test:{secret_port}/secret",
        "redirect to a private host": f"{site.base}/redir?to={inside.base}/secret",
        "redirect to the feed's IP on another port": (
            f"{site.base}/redir?to=http://127.0.0.1:{other}/secret"
        ),
        "redirect to a name for loopback": (
            f"{site.base}/redir?to=http://evil.test:{secret_port}/secret"
        ),
        "redirect twice": (
            f"http://localhost:{feed_port}/redir?to={site.base}/redir?to={inside.base}/secret"
        ),
    }


def test_no_entry_reaches_a_private_address_by_any_route(
    site: Site, inside: Site, resolver: dict[str, list[str]], tmp_path: Path
) -> None:
    resolver["evil.test"] = ["127.0.0.2"]
    resolver["rebind.test"] = [PUBLIC, "127.0.0.2"]  # public when checked, private at connect
    matrix = links(site, inside)
    entries = [
        item(f"e-{i}", name, teaser="Short.", link=link)
        for i, (name, link) in enumerate(matrix.items())
    ]
    site.put("/probe.rss", rss(entries))
    site.put("/own", page(SEED[0], "Own page"), "text/html")
    site.put("/probe-ok.rss", rss([item("ok", "Own", teaser="Short.", link=f"{site.base}/own")]))
    feed = f"{site.base}/probe.rss"
    reader = FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(timeout=2.0, robots=False))
    try:
        got = list(reader.read([feed, f"{site.base}/probe-ok.rss"]))
    finally:
        reader.close()
    problems = {p.source: p.message for p in got if isinstance(p, FeedProblem)}
    for i, name in enumerate(matrix):
        message = problems.get(f"{feed}#e-{i}", "")
        assert "private address" in message, f"{name}: {message or 'fetched'}"
    assert inside.hits == [] and all(s.hits == [] for s in site.extra)
    # The feed's own host and port is still read: a wire on the newsroom's network works.
    assert [e.id for e in got if not isinstance(e, FeedProblem)] == ["ok"]


def test_robots_txt_is_fetched_under_the_same_policy(
    site: Site, inside: Site, tmp_path: Path
) -> None:
    site.redirect("/robots.txt", f"{inside.base}/secret")
    site.put("/own", page(SEED[0], "Own page"), "text/html")
    site.put("/f.rss", rss([item("r", "Own", teaser="Short.", link=f"{site.base}/own")]))
    with FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(timeout=2.0)) as reader:
        got = list(reader.read([f"{site.base}/f.rss"]))
    assert inside.hits == []
    assert [e.id for e in got if not isinstance(e, FeedProblem)] == ["r"]


def test_a_trickling_feed_or_page_meets_the_deadline(site: Site, tmp_path: Path) -> None:
    site.trickle("/trickle.rss", rss([item("s", "Slow", content=SEED[0])]).encode(), every=0.3)
    site.trickle("/slow-page", page(SEED[1], "Slow page").encode(), every=0.3, kind="text/html")
    site.put("/f.rss", rss([item("t", "Teaser", teaser="Short.", link=f"{site.base}/slow-page")]))
    policy = FetchPolicy(timeout=1.0, deadline=2.5, min_rate=1, robots=False)
    with FeedReader(tmp_path / "feeds.sqlite3", policy) as reader:
        start = time.monotonic()
        got = list(reader.read([f"{site.base}/trickle.rss", f"{site.base}/f.rss"]))
        spent = time.monotonic() - start
    messages = [p.message for p in got if isinstance(p, FeedProblem)]
    assert len(messages) == 2 and all("2.5-second deadline (feed_deadline)" in m for m in messages)
    assert spent < 2 * 2.5 + 2, spent  # each fetch stopped at its deadline


def test_a_feed_slower_than_the_minimum_rate_is_given_up(site: Site) -> None:
    site.trickle("/trickle.rss", b"<rss>" + b" " * 400, every=0.1)
    with Fetcher(FetchPolicy(timeout=0.5, deadline=60, min_rate=100, robots=False)) as fetcher:
        start = time.monotonic()
        with pytest.raises(FetchError, match="slower than 100 bytes a second"):
            url = f"{site.base}/trickle.rss"
            fetcher.get(url, trusted=trusted_origins(url))
    assert time.monotonic() - start < 5


def test_the_service_polls_each_feed_on_its_own(site: Site, tmp_path: Path) -> None:
    """A feed that trickles never holds the healthy one: each is polled by itself."""
    from summarize import load_settings
    from summarize.service.feeds import FeedPoller

    site.trickle("/trickle.rss", rss([item("s", "Slow", content=SEED[0])]).encode(), every=0.5)
    site.put("/ok.rss", rss([item("k", "Healthy", content=SEED[1])]))
    settings = load_settings(
        overrides={
            "output_dir": str(tmp_path / "out"),
            "feeds": [f"{site.base}/trickle.rss", f"{site.base}/ok.rss"],
            "feed_every": 3600,
            "feed_timeout": 5,
            "feed_deadline": 20,
            "feed_min_rate": 0,  # only the deadline stops the trickle: 20 s
            "feed_robots": False,
        }
    )

    class Jobs:
        def __init__(self) -> None:
            self.made: list[tuple[str, list[dict[str, Any]]]] = []

        def create(self, articles: list[dict[str, Any]], *_: Any) -> str:
            self.made.append((threading.current_thread().name, articles))
            return f"job-{len(self.made)}"

    class Worker:
        def submit_job(self, job: str) -> None:
            pass

    jobs = Jobs()
    poller = FeedPoller(settings, jobs, Worker())
    poller.start()
    try:
        deadline = time.monotonic() + 4
        while not jobs.made and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [a["id"] for a in jobs.made[0][1]] == ["k"], jobs.made
        assert time.monotonic() < deadline
        last = poller.last
        assert last["feeds"][f"{site.base}/ok.rss"]["entries"] == 1
    finally:
        poller.stop()


def test_an_entry_lost_to_a_malformed_spot_is_named(site: Site, tmp_path: Path) -> None:
    """feedparser skips the entry right after garbage between entries: it gets its own line
    (it vanished without one before)."""
    entries = [item(f"g{i}", f"Story {i}", content=SEED[i]) for i in range(5)]
    site.put("/bad.rss", rss([*entries[:3], "<<<>>>&&", *entries[3:]]))
    feed = f"{site.base}/bad.rss"
    with FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(robots=False)) as reader:
        got = list(reader.read([feed]))
    read = [e.id for e in got if not isinstance(e, FeedProblem)]
    problems = {p.source: p.message for p in got if isinstance(p, FeedProblem)}
    assert read == ["g0", "g1", "g2", "g4"]
    assert "malformed feed" in problems[feed]
    assert "could not be read" in problems[f"{feed}#g3"]


def test_the_feed_scans_stay_linear_on_hostile_bytes() -> None:
    """The patterns that look into a feed's bytes (entry starts and ids, an HTML page's feed
    link) on inputs built to make them backtrack: 8 times the bytes, not 64 times the time."""
    from summarize.feeds import _lost, _not_a_feed, fragment_text

    def timed(work: Any) -> float:
        best = float("inf")
        for _ in range(5):  # the best of five: other work on the machine only adds time
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
        return best

    hostile = {
        "ids without an end": lambda n: b"<item>" + b"<guid " * n,
        "starts without ids": lambda n: b"<item>" * n,
        "a feed link that never closes": lambda n: (
            b"<html><link type='application/rss+xml'" + b" x" * n
        ),
        "many link starts": lambda n: b"<html>" + b"<link " * n,
        "tags that never close": lambda n: b"<" * n + b"\x00",
    }
    for name, make in hostile.items():
        times = {}
        for kib in (20, 160):
            body = make(kib * 1024 // 6)
            times[kib] = timed(
                lambda b=body: (
                    list(_lost("f", b, [])),
                    _not_a_feed(b, "text/html", {}, "f"),
                    fragment_text(b.decode("latin-1")),
                )
            )
        assert times[160] / max(times[20], 1e-5) < 32, (name, times)  # quadratic: 64


def test_a_run_on_trickling_feeds_ends_with_a_line_each(
    site: Site, tiny: dict[str, Path], tmp_path: Path
) -> None:
    """`run` on two trickling feeds and a healthy one: the healthy feed's articles are done and
    each slow feed is one line naming it (it was still going after 100 s before)."""
    from conftest import tiny_overrides

    from summarize import load_settings, run

    slow = rss([item("s", "Slow", content=SEED[0])]).encode()
    site.trickle("/trickle-1.rss", slow, every=0.5)
    site.trickle("/trickle-2.rss", slow, every=0.5)
    site.put("/ok.rss", rss([item("k", "Healthy", content=SEED[1])]))
    feeds = [f"{site.base}/trickle-1.rss", f"{site.base}/trickle-2.rss", f"{site.base}/ok.rss"]
    settings = load_settings(
        overrides=tiny_overrides(
            tiny, tmp_path / "out", feed_deadline=3, feed_min_rate=0, feed_robots=False
        )
    )
    report = run(feeds, settings)
    assert {o.id for o in report.succeeded} == {"k"}
    failed = {o.source: o.error.message for o in report.outcomes if o.error is not None}
    assert set(failed) == set(feeds[:2])
    assert all("3-second deadline" in m for m in failed.values())


def test_slow_feeds_wait_out_one_deadline_together(site: Site, tmp_path: Path) -> None:
    """Feeds are fetched at once: four trickling feeds cost one deadline, not four."""
    slow = rss([item("s", "Slow", content=SEED[0])]).encode()
    feeds = []
    for n in range(4):
        site.trickle(f"/trickle-{n}.rss", slow, every=0.5)
        feeds.append(f"{site.base}/trickle-{n}.rss")
    policy = FetchPolicy(timeout=1.0, deadline=2.0, min_rate=0, robots=False, per_host=4)
    with FeedReader(tmp_path / "feeds.sqlite3", policy) as reader:
        start = time.monotonic()
        got = list(reader.read(feeds))
        spent = time.monotonic() - start
    assert [p.source for p in got if isinstance(p, FeedProblem)] == feeds
    assert spent < 2.0 * 2, spent  # one after another it would be 8 s


def test_entity_tricks_in_a_feed_expand_nothing(site: Site, tmp_path: Path) -> None:
    """Billion laughs and an external entity (XXE): nothing expands, no file is read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PAYROLL", encoding="utf-8")
    tens = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    laughs = '<!ENTITY l0 "lol">' + tens  # &l9; would be a billion lols
    bombs = {
        "laughs.rss": f'<?xml version="1.0"?><!DOCTYPE rss [{laughs}]>',
        "xxe.rss": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
    }
    body = rss([item("b", "Bomb &l9; &x;", content=SEED[0] + " &l9; &x;")]).split("\n", 1)[1]
    for name, head in bombs.items():
        site.put(f"/{name}", head + body)
    with FeedReader(tmp_path / "feeds.sqlite3", FetchPolicy(robots=False)) as reader:
        start = time.monotonic()
        got = list(reader.read([f"{site.base}/{name}" for name in bombs]))
    assert time.monotonic() - start < 10
    texts = " ".join(e.text + (e.title or "") for e in got if not isinstance(e, FeedProblem))
    assert "TOP-SECRET" not in texts and "lollollol" not in texts
