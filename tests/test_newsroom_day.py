"""A newsroom day through every face: what guards the core in CI.

A day's inbox is built from real news no one here wrote (`../shared/data/stories-dev`, seven
languages; skipped cleanly when absent): articles as .txt, .md, .html, a JSON array and a JSONL
feed; the same wire story from a second feed under other ids (exact copies); rewrites (near
copies); and the junk an inbox collects (empty, binary, too short, numbers only, a PDF, a
hidden file, a page with no article, bad JSONL lines, a repeated id, a Latin-1 file).

It goes through `run`, then `run` again, then `watch` on the same folder, then one `serve` job
of the same articles, each a real process, and must hold:
- no traceback anywhere; every source accounted for in the report;
- the same result documents and the same stories from all three faces;
- a second run computes nothing (the report says so);
- a file corrected in the inbox is computed alone on the next run and leaves its story;
- kill -9 in the middle of a run and of a job, then a restart: nothing lost, nothing finished
  redone.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argos_packages import make_package
from conftest import ROOT, free_port, polite, tiny_args
from loopback import SECRET, Receiver

DATA = ROOT.parent / "shared" / "data" / "stories-dev"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DATA / "articles.jsonl").is_file(), reason="needs ../shared/data/stories-dev"
    ),
]
pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

ARTICLES = 80  # real ones; copies, rewrites and junk come on top
KEY = "day-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}
AMAL, LINA = "day-amal-1", "day-lina-1"  # an editor and a reader beside the desk's admin key
KEYS = f"{KEY} name=desk role=admin,{AMAL} name=amal role=editor,{LINA} name=lina role=reader"
DAY = 1_577_000_000  # the articles' day (a date of the data's own time), epoch seconds
FORMATS = ("txt", "md", "html", "jsonl", "json")


@dataclass
class Day:
    inbox: Path
    ok_ids: set[str] = field(default_factory=set)  # sources that must give a result
    bad: dict[str, str] = field(default_factory=dict)  # source -> what its error must say
    skipped: set[str] = field(default_factory=set)
    exact: dict[str, str] = field(default_factory=dict)  # copy id -> original id
    near: dict[str, str] = field(default_factory=dict)  # rewrite id -> original id
    lines: int = 0  # non-blank JSONL lines, each its own source


def _pick(n: int) -> list[dict[str, Any]]:
    """Real articles: both sides of same-story pairs (so stories form, German with English
    among them), then others, every language there."""
    arts = {
        a["id"]: a
        for a in map(json.loads, (DATA / "articles.jsonl").read_text().splitlines())
        if a.get("quality", "ok") == "ok" and len(a["text"]) > 300
    }
    pairs = [json.loads(p) for p in (DATA / "pairs.jsonl").read_text().splitlines()]
    chosen: dict[str, dict[str, Any]] = {}
    for p in pairs:
        if p["same_story"] and p["id1"] in arts and p["id2"] in arts and len(chosen) < n // 2:
            chosen[p["id1"]], chosen[p["id2"]] = arts[p["id1"]], arts[p["id2"]]
    rng = random.Random(7)
    rest = [a for a in arts.values() if a["id"] not in chosen]
    rng.shuffle(rest)
    for lang in ("fr", "ar", "tr", "pl", "es", "de", "en"):  # every language at least twice
        for a in [a for a in rest if a["lang"] == lang][:2]:
            chosen.setdefault(a["id"], a)
    for a in rest:
        if len(chosen) >= n:
            break
        chosen.setdefault(a["id"], a)
    return list(chosen.values())


def build_day(inbox: Path, n: int = ARTICLES) -> Day:
    from html import escape

    inbox.mkdir(parents=True)
    day = Day(inbox)
    feed: list[str] = []
    batch: list[dict[str, Any]] = []
    arts = _pick(n)
    for i, a in enumerate(arts):
        stamp = DAY + 60 * i
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
        title = a["title"] or None
        kind = FORMATS[i % len(FORMATS)]
        name = f"{a['lang']}-{a['id']}.{kind}"
        if kind == "txt":
            body = (f"{title}\n\n" if title else "") + a["text"]
            (inbox / name).write_text(body, encoding="utf-8")
        elif kind == "md":
            (inbox / name).write_text(f"# {title or 'Report'}\n\n{a['text']}\n", encoding="utf-8")
        elif kind == "html":
            page = (
                f"<html><head><title>{escape(title or 'News')}</title></head><body>"
                "<nav>Home | World | Sport</nav><article><h1>"
                f"{escape(title or 'News')}</h1><p>{escape(a['text'])}</p></article>"
                "<footer>Cookie settings</footer></body></html>"
            )
            (inbox / name).write_text(page, encoding="utf-8")
        if kind in ("txt", "md", "html"):
            os.utime(inbox / name, (stamp, stamp))
            day.ok_ids.add(name)
        record = {"id": a["id"], "text": a["text"], "published": published}
        if title:
            record["title"] = title
        if kind == "jsonl":
            feed.append(json.dumps(record, ensure_ascii=False))
            day.ok_ids.add(a["id"])
        elif kind == "json":
            batch.append(record)
            day.ok_ids.add(a["id"])
    # The same wire stories from a second feed, under its own ids; and rewrites of some.
    wire: list[str] = []
    originals = sorted(i for i in day.ok_ids if i.endswith(".txt"))
    for orig in originals[:6]:
        text = (inbox / orig).read_text(encoding="utf-8")
        copy_id = f"wire-b-{orig}"
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(DAY + 86_000))
        wire.append(json.dumps({"id": copy_id, "text": text, "published": published}))
        day.exact[copy_id] = orig
        day.ok_ids.add(copy_id)
    for orig in originals[6:10]:
        text = (inbox / orig).read_text(encoding="utf-8")
        words = text.split(" ")
        words[len(words) // 2] = words[len(words) // 2].upper() + "S"
        name = f"rewrite-{orig}"
        (inbox / name).write_text(" ".join(words), encoding="utf-8")
        stamp = DAY + 86_000
        os.utime(inbox / name, (stamp, stamp))
        day.near[name] = orig
        day.ok_ids.add(name)
    # What an inbox collects besides articles.
    feed += [
        "{not json at all",
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "number-text", "text": 5}),
        json.dumps({"id": arts[3]["id"], "text": "A second record under an id already used. " * 5}),
    ]
    day.bad.update(
        {
            f"feed.jsonl:{len(feed) - 3}": "not valid JSON",
            f"feed.jsonl:{len(feed) - 2}": "missing the 'text' field",
            f"feed.jsonl:{len(feed) - 1}": "'text' must be a string",
            f"feed.jsonl:{len(feed)}": "duplicate id",
        }
    )
    (inbox / "feed.jsonl").write_text("\n".join(feed) + "\n\n", encoding="utf-8")
    (inbox / "wire-b.jsonl").write_text("\n".join(wire) + "\n", encoding="utf-8")
    (inbox / "batch.json").write_text(json.dumps(batch, ensure_ascii=False), encoding="utf-8")
    day.lines = len(feed) + len(wire)
    wire_feed(day, inbox, n)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "junk.txt").write_bytes(random.Random(3).randbytes(3000))
    (inbox / "numbers.txt").write_text("12 345 678\n2026 1999 42\n", encoding="utf-8")
    (inbox / "short.txt").write_text("Too short.", encoding="utf-8")
    (inbox / "empty-page.html").write_text(
        "<html><head><script>var a = 1;</script></head><body></body></html>"
    )
    (inbox / "notes.pdf").write_bytes(b"%PDF-1.4 not an article")
    (inbox / ".hidden.txt").write_text("A hidden draft no one meant to publish.")
    day.bad.update(
        {
            "empty.txt": "empty",
            "numbers.txt": "no letters",
            "short.txt": "too short",
            "empty-page.html": "no article text",
        }
    )
    day.skipped |= {"notes.pdf", ".hidden.txt"}
    # A French article saved by an old editor in Latin-1: read right, not an error.
    french = next(a for a in arts if a["lang"] == "fr")
    (inbox / "latin1-fr.txt").write_bytes(french["text"].encode("latin-1", "replace"))
    day.ok_ids.add("latin1-fr.txt")
    return day


def wire_feed(day: Day, inbox: Path, n: int) -> None:
    """An RSS wire dropped in the inbox: new stories with their full text, a copy of one of
    the day's files under the wire's own id, and an entry that gives only a teaser (no link)."""
    from html import escape

    extra = _pick(n + 3)[n:]
    items = [(f"wire-c-{a['id']}", a["title"] or "Wire", a["text"]) for a in extra]
    orig = sorted(i for i in day.ok_ids if i.endswith(".txt"))[0]
    copy_id = f"wire-c-copy-{orig}"
    items.append((copy_id, "Copy", (inbox / orig).read_text(encoding="utf-8")))
    day.exact[copy_id] = orig
    entries = "".join(
        f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
        "<pubDate>Mon, 23 Dec 2019 08:00:00 GMT</pubDate>"
        f"<content:encoded><![CDATA[{text}]]></content:encoded></item>"
        for guid, title, text in items
    )
    entries += "<item><guid>wire-c-teaser</guid><title>Teaser</title><description>More soon."
    entries += "</description></item>"
    (inbox / "wire-c.rss").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Wire C'
        f"</title><link>http://wire.invalid/</link><description>d</description>{entries}"
        "</channel></rss>",
        encoding="utf-8",
    )
    day.ok_ids |= {guid for guid, _, _ in items}
    day.bad["wire-c.rss#wire-c-teaser"] = "only a teaser"


def ninjs_for_a_cms(out: Path, docs: dict[str, dict[str, Any]]) -> None:
    """Every text of the day is an IPTC ninjs item, valid against IPTC's schema, and read back
    by the independent reader gives the result's text."""
    from summarize import ninjs

    items = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "ninjs").glob("*.json")]
    read = {r.uri: r for r in map(ninjs.read, items)}
    for doc in docs.values():
        uri = ninjs.item_uri("article", doc["id"], doc["summary"]["lang"])
        assert read[uri].body == doc["summary"]["text"] and not read[uri].usable
    schema = ROOT.parent / "shared" / "schemas" / "ninjs" / "ninjs-schema_3.1.json"
    if schema.is_file():
        loaded = json.loads(schema.read_text(encoding="utf-8"))
        assert all(ninjs.validate(i, loaded) == [] for i in items)


def env_for(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZE_")}
    env.update({"SUMMARIZE_CACHE_PATH": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def cli(tiny: dict[str, Path], *args: str) -> list[str]:
    return [sys.executable, "-m", "summarize", *args, *tiny_args(tiny)]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


def results(out: Path) -> dict[str, dict[str, Any]]:
    skip = {"report.json", "stories.json"}
    docs = (
        json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json") if p.name not in skip
    )
    return {str(d["id"]): d for d in docs}


def essence(doc: dict[str, Any]) -> dict[str, Any]:
    """What a face must agree on, as the machine wrote it (an editor's approved edit aside):
    language, summary, translations, warnings, copies."""
    from summarize.review import machine_doc

    doc = machine_doc(doc)
    return {
        "lang": doc["language"]["code"],
        "summary": doc["summary"]["text"],
        "translations": {t: tr["text"] for t, tr in doc["translations"].items()},
        "warnings": [(w["code"], w["stage"], w["span"]) for w in doc["warnings"]],
        "duplicate_of": doc["duplicate_of"],
    }


def partition(stories: list[dict[str, Any]], ids: set[str] | None = None) -> set[frozenset[str]]:
    """Stories as sets of member ids (of two or more), whatever their ids."""
    out = set()
    for s in stories:
        members = frozenset(m["id"] for m in s["members"] if ids is None or m["id"] in ids)
        if len(members) >= 2:
            out.add(members)
    return out


def accounted(day: Day, report: dict[str, Any]) -> None:
    """Every file and every JSONL line has its outcome, and the outcome it must have."""
    sources = report["sources"]
    by_source = {s["source"]: s for s in sources}
    names = {Path(re.split(r"[:\[#]", s["source"])[0]).name for s in sources}
    files = {p.name for p in day.inbox.iterdir()}
    assert files <= names, files - names
    lines = [s for s in sources if ".jsonl:" in s["source"]]
    assert len(lines) == day.lines
    ok = {s["id"] for s in sources if s["status"] == "ok"}
    assert ok == day.ok_ids, ok ^ day.ok_ids
    for where, why in day.bad.items():
        [found] = [s for s in sources if s["source"].endswith(where)]
        assert found["status"] == "error" and why in found["error"]["message"], found
    for name in day.skipped:
        [found] = [s for s in sources if s["source"].endswith(name)]
        assert found["status"] == "skipped"
    assert not any(
        s["status"] == "error" and "duplicate id" not in s["error"]["message"]
        for s in sources
        if s["id"] in day.ok_ids
    )
    assert len(by_source) == len(sources)


class Server:
    """`summarize serve` as a real process."""

    def __init__(self, tiny: dict[str, Path], out: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = out.parent / f"serve-{self.port}.log"
        out.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            cli(tiny, "serve", "--port", str(self.port), "-o", str(out)),
            env={**env, "SUMMARIZE_API_KEYS": KEYS},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def get(self, path: str) -> Any:
        return polite(lambda: httpx.get(self.base + path, headers=AUTH, timeout=60)).json()

    def call(self, method: str, path: str, key: str = KEY, body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )

    def submit(self, articles: list[dict[str, Any]]) -> str:
        answer = httpx.post(
            f"{self.base}/v1/jobs", json={"articles": articles}, headers=AUTH, timeout=60
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def wait(self, job: str, until: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + until
        while True:
            info = self.get(f"/v1/jobs/{job}")
            if info["status"] in ("done", "failed", "cancelled"):
                return info  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, info
            time.sleep(0.3)

    def stop(self, sig: int = signal.SIGTERM) -> float:
        started = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        return time.monotonic() - started


def a_shift_on_the_desk(server: Server, job: str, items: list[dict[str, Any]]) -> None:
    """The desk on the day's job: a queue that reads like a newsroom's, two editors on one
    story (a draft, a stale approval refused, an approval over the draft kept on the record),
    presence, a reader who may not edit, the approved-only brief, times, a withdrawal."""

    def field(view: dict[str, Any], name: str) -> dict[str, Any]:
        return next(f for f in view["fields"] if f["field"] == name)

    # Every queue line a headline (never the id), with its language and date.
    assert all(i["title"] and i["title"] != i["item"] for i in items), items
    assert all(i["lang"] and i["published"] for i in items if i["kind"] == "article")
    story = next(i for i in items if i["kind"] == "story" and i["members"] >= 2)
    url = f"/v1/jobs/{job}/items/{story['item']}"
    view = server.call("GET", url).json()
    doc = view["document"]
    # What only some report: each value a name or figure, once, never an empty word.
    shown = [x["value"] for x in doc.get("only_some_report", [])]
    assert all(v.strip() for v in shown) and len(shown) == len({v.casefold() for v in shown})
    name = f"story_summary:{doc['summary']['lang']}"  # the story summary, in its language
    version = field(view, name)["version"]
    drafted = server.call(
        "PATCH", url, KEY, {"field": name, "text": "The desk's draft.", "version": version}
    )
    assert drafted.status_code == 200, drafted.text
    server.call("POST", f"{url}/presence", KEY, {"field": name})
    here = server.call("POST", f"{url}/presence", AMAL, {"field": None}).json()["here"]
    assert {"name": "desk", "field": name}.items() <= here[0].items(), here
    stale = server.call(
        "POST", f"{url}/approve", AMAL, {"field": name, "version": version, "text": "Mine."}
    )
    assert stale.status_code == 409, stale.text  # a colleague's draft is never replaced unseen
    now = field(server.call("GET", url, AMAL).json(), name)
    assert now["pending"]["text"] == "The desk's draft." and now["pending"]["by"] == "desk"
    approved = server.call(
        "POST",
        f"{url}/approve",
        AMAL,
        {"field": name, "version": now["version"], "text": "Amal's story summary."},
    )
    assert approved.status_code == 200, approved.text
    history = approved.json()["history"]
    assert any(h["action"] == "superseded a draft by desk" for h in history), history
    refused = server.call("PATCH", url, LINA, {"field": name, "text": "x", "version": 0})
    assert refused.status_code == 403
    brief = server.call("GET", f"/v1/jobs/{job}/brief.md?approved=only", LINA).text
    assert "Amal's story summary." in brief and "The desk's draft." not in brief
    page = server.call("GET", f"/v1/jobs/{job}/brief.html", LINA).text
    assert "<time datetime=" in page  # times the reader's browser shows in its own zone
    after = field(approved.json(), name)
    withdrawn = server.call(
        "POST", f"{url}/withdraw", AMAL, {"field": name, "version": after["version"]}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    brief = server.call("GET", f"/v1/jobs/{job}/brief.md?approved=only", LINA).text
    assert "Amal's story summary." not in brief
    approved: set[str] = set()

    # A whole article approved by each field's version: refused until each field's signature,
    # as the page showed it, is sent with it (a version names no text).
    article = next(  # an article of another story: this one's members are checked below
        i for i in items if i["kind"] == "article" and i["story"] != story["story"]
    )
    aurl = f"/v1/jobs/{job}/items/{article['item']}"
    aview = server.call("GET", aurl, AMAL).json()
    versions = {f["field"]: f["version"] for f in aview["fields"]}
    body = {"acknowledge_warnings": True, "versions": versions}
    alone = server.call("POST", f"{aurl}/approve", AMAL, body)
    assert alone.status_code == 428 and "seen" in alone.text, alone.text
    seen = {f["field"]: f["seen"] for f in aview["fields"]}
    whole = server.call("POST", f"{aurl}/approve", AMAL, body | {"seen": seen})
    assert whole.status_code == 200, whole.text
    approved |= {f["to_approve"] for f in aview["fields"]}
    only_approved_text_leaves(server, job, approved)

    from summarize.briefs import _md_escape

    # A subset of the story approved (its translations, as they are shown, named by their
    # signature): the approved-only briefs hold those texts and no member's machine text.
    view = server.call("GET", url).json()
    subset = [f for f in view["fields"] if f["field"] != name and f["seen"]]
    assert subset, view["fields"]
    for f in subset:
        answer = server.call(
            "POST",
            f"{url}/approve",
            AMAL,
            {"field": f["field"], "version": f["version"], "seen": f["seen"]},
        )
        assert answer.status_code == 200, answer.text
    machine = [
        text
        for m in doc["members"]
        for text in [(m.get("summary") or {}).get("text"), *(m.get("translations") or {}).values()]
        if text and len(text) >= 20 and text not in {f["to_approve"] for f in subset} | approved
    ]
    assert machine, "the members' own summaries are what must not leak"
    for fmt in ("md", "html"):
        brief = server.call("GET", f"/v1/jobs/{job}/brief.{fmt}?approved=only", LINA).text
        brief = html.unescape(re.sub(r"<[^>]+>", "", brief)) if fmt == "html" else brief
        assert all(f["to_approve"] in brief for f in subset if fmt == "html")
        leaked = [t for t in machine if (_md_escape(t) if fmt == "md" else t) in brief]
        assert not leaked, (fmt, leaked[:2])
    approved |= {f["to_approve"] for f in subset}
    only_approved_text_leaves(server, job, approved)


def only_approved_text_leaves(server: Server, job: str, approved: set[str]) -> None:
    """The rule as a scan: no machine text of the job (every reviewable text of its documents,
    and the stories' copies of their members' summaries) is in an approved-only output —
    results `approved=only`, ninjs `usable` items, the approved-only briefs — unless an editor
    approved that text."""
    from summarize import review

    docs = [review.machine_doc(d) for d in server.get(f"/v1/jobs/{job}/results")]
    for line in server.get(f"/v1/jobs/{job}/items")["items"]:
        if line["kind"] == "story":
            docs.append(server.get(f"/v1/jobs/{job}/items/{line['item']}")["document"])
    machine = {review.text_of(d, f) for d in docs for f in review.machine_fields(d)}
    for d in docs:
        for m in d.get("members", []):
            machine |= {(m.get("summary") or {}).get("text") or ""}
            machine |= set((m.get("translations") or {}).values())
    machine = {t for t in machine - approved if len(t) >= 20}
    assert machine
    usable = [
        i for i in server.get(f"/v1/jobs/{job}/results?format=ninjs") if i["pubStatus"] == "usable"
    ]
    outputs = {
        "results approved=only": json.dumps(
            server.get(f"/v1/jobs/{job}/results?approved=only"), ensure_ascii=False
        ),
        "ninjs usable": json.dumps(usable, ensure_ascii=False),
        "brief.md approved=only": server.call(
            "GET", f"/v1/jobs/{job}/brief.md?approved=only", LINA
        ).text,
        "brief.html approved=only": html.unescape(
            server.call("GET", f"/v1/jobs/{job}/brief.html?approved=only", LINA).text
        ),
    }
    assert usable, "an approved article's items are usable"
    for where, text in outputs.items():
        found = [t for t in machine if t in text or json.dumps(t, ensure_ascii=False)[1:-1] in text]
        assert not found, (where, found[:2])


def approve_from_the_cli(env: dict[str, str], out: Path) -> None:
    """An editor at a terminal approves an article as `review show` showed it (by its sha):
    refused without one, refused once a colleague's draft changed it, then approved; the
    folder's ninjs drop folder makes exactly that article's items usable, with its texts."""

    def review(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "summarize", "review", *args, "-o", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        no_traceback(done.stderr)
        return done

    def show(item: str) -> dict[str, Any]:
        done = review("show", item, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    listed = review("list", "--json")
    assert listed.returncode == 0, listed.stderr
    item = next(i["item"] for i in json.loads(listed.stdout) if i["kind"] == "article")
    shown = show(item)
    sha = shown["approve"]["fields"]["summary"]
    unnamed = review("approve", item, "summary", "--editor", "amal")
    assert unnamed.returncode == 2 and "--sha" in unnamed.stderr, unnamed.stderr
    draft = review("edit", item, "summary", "--text", "999 people evacuated.", "--editor", "omar")
    assert draft.returncode == 0, draft.stderr
    stale = review("approve", item, "summary", "--sha", sha, "--editor", "amal")
    assert stale.returncode == 2 and "changed" in stale.stderr, stale.stderr
    assert show(item)["review"]["fields"]["summary"]["status"] == "draft"
    shown = show(item)
    whole = review(
        "approve", item, "--sha", shown["approve"]["item_sha"], "--force", "--editor", "amal"
    )
    assert whole.returncode == 0, whole.stderr
    doc = show(item)
    assert (
        doc["review"]["state"] == "approved" and doc["summary"]["text"] == "999 people evacuated."
    )
    usable = [
        n
        for p in sorted((out / "ninjs").glob("*.json"))
        if (n := json.loads(p.read_text(encoding="utf-8")))["pubStatus"] == "usable"
    ]
    texts = {doc["summary"]["text"], *(t["text"] for t in doc["translations"].values())}
    assert usable and all(n["bodies"][0]["value"] in texts for n in usable), usable[:1]


def job_articles(day: Day, out: Path) -> list[dict[str, Any]]:
    """The day's articles as ingest reads them, as a job sends them."""
    from summarize import load_settings
    from summarize.ingest import collect
    from summarize.types import Article

    got = collect([day.inbox], load_settings(overrides={"output_dir": str(out)}))
    return [
        {
            "id": a.id,
            "text": a.text,
            "title": a.title,
            "url": a.url,
            "lang": a.lang,
            "published": a.published,
            "outlet": a.outlet,
            "author": a.author,
        }
        for a in got.order
        if isinstance(a, Article)
    ]


def run_day(
    tiny: dict[str, Path], env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`summarize run` as a user starts it (a real process); its stderr holds no traceback."""
    done = subprocess.run(
        cli(tiny, "run", *args), env=env, capture_output=True, text=True, timeout=timeout
    )
    no_traceback(done.stderr)
    return done


def test_a_newsroom_day_through_run_watch_and_serve(tiny: dict[str, Path], tmp_path: Path) -> None:
    day = build_day(tmp_path / "inbox")
    cache = tmp_path / "cache.sqlite3"  # one cache for the three faces
    # The stories' embedder: the catalogue model's architecture (tiny, random), on CTranslate2.
    # LibreTranslate's shelf: an installed Argos de→en package becomes German's pivot route
    # (no de-en model is named), run as Argos runs it.
    shelf = tmp_path / "argos-packages"
    shelf.mkdir()
    make_package(tiny, shelf, "de", "en")
    env = env_for(
        cache,
        SUMMARIZE_STORY_EMBEDDER=str(tiny["encoder"]),
        SUMMARIZE_ARGOS_PACKAGES_DIR=str(shelf),
    )

    # run
    out1 = tmp_path / "run"
    first = run_day(
        tiny, env, str(day.inbox), "-o", str(out1), "--to", "ar,fr", "-f", "json,ninjs", timeout=900
    )
    assert first.returncode == 1, first.stderr[-3000:]  # the junk failed; nothing else did
    report = json.loads((out1 / "report.json").read_text(encoding="utf-8"))
    accounted(day, report)
    assert report["stories"]["error"] is None
    assert report["stories"]["embedder"].startswith("tiny-encoder@")
    # Each text embedded once: an exact copy (another id, the same text) is not embedded again.
    assert 0 < report["summary"]["computed"]["embed"] <= len(day.ok_ids) - len(day.exact)
    docs = results(out1)
    wire_copy = next(k for k in day.exact if k.startswith("wire-c-copy-"))
    assert docs[wire_copy]["outlet"] == "Wire C"  # the feed's title
    ninjs_for_a_cms(out1, docs)
    assert set(docs) == day.ok_ids
    german = [d for d in docs.values() if d["language"]["code"] == "de"]
    assert german and all(d["provenance"]["pivot"]["engine"] == "argos.v1" for d in german)
    assert Counter(d["language"]["code"] for d in docs.values()).keys() >= {
        "en",
        "de",
        "es",
        "tr",
        "pl",
        "ar",
        "fr",
    }
    for copy_id, orig in {**day.exact, **day.near}.items():
        assert docs[copy_id]["duplicate_of"] == orig, (copy_id, docs[copy_id]["duplicate_of"])
        assert docs[copy_id]["story"]["id"] == docs[orig]["story"]["id"]
    stories = json.loads((out1 / "stories.json").read_text(encoding="utf-8"))["stories"]
    listed = [m["id"] for s in stories for m in s["members"]]
    assert sorted(listed) == sorted(day.ok_ids)  # a partition of the articles
    assert any(len(s["languages"]) > 1 for s in stories) or len(partition(stories)) >= 5

    # run again: nothing computed, nothing failed that did not fail before
    again = run_day(tiny, env, str(day.inbox), "-o", str(out1), "--to", "ar,fr", "-f", "json,ninjs")
    assert "nothing computed" in again.stderr
    report2 = json.loads((out1 / "report.json").read_text(encoding="utf-8"))
    assert set(report2["summary"]["computed"].values()) == {0}
    assert report2["summary"]["fully_cached"] == len(day.ok_ids)
    assert {k: essence(v) for k, v in results(out1).items()} == {
        k: essence(v) for k, v in docs.items()
    }
    approve_from_the_cli(env, out1)

    # watch the same folder
    out2 = tmp_path / "watch"
    watcher = subprocess.Popen(
        cli(tiny, "watch", str(day.inbox), "-o", str(out2), "--to", "ar,fr", "--interval", "0.3"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while True:
        try:
            watched = json.loads((out2 / "report.json").read_text(encoding="utf-8"))
            if len(watched["sources"]) >= len(report["sources"]):
                break
        except (OSError, ValueError):
            pass
        assert watcher.poll() is None and time.monotonic() < deadline
        time.sleep(0.3)
    watcher.send_signal(signal.SIGINT)
    _, watch_err = watcher.communicate(timeout=60)
    no_traceback(watch_err)
    accounted(day, watched)
    assert {k: essence(v) for k, v in results(out2).items()} == {
        k: essence(v) for k, v in docs.items()
    }
    watch_stories = json.loads((out2 / "stories.json").read_text(encoding="utf-8"))["stories"]
    assert partition(watch_stories) == partition(stories)

    # one serve job of the same articles, in one wave (the batch the other faces had)
    out3 = tmp_path / "serve"
    hook = free_port()
    receiver = Receiver(hook, ["500", "500"])  # a receiver that fails twice, then recovers
    server = Server(
        tiny,
        out3,
        env_for(
            cache,
            SUMMARIZE_STORY_EMBEDDER=str(tiny["encoder"]),
            SUMMARIZE_ARGOS_PACKAGES_DIR=str(shelf),
            SUMMARIZE_BATCH_SIZE="1000",
            SUMMARIZE_TARGETS="ar,fr",
            SUMMARIZE_NOTIFY=f"http://127.0.0.1:{hook}/hook",
            SUMMARIZE_NOTIFY_SECRET=SECRET,
        ),
    )
    try:
        arts = job_articles(day, tmp_path / "read")
        assert {a["id"] for a in arts} == day.ok_ids  # the repeated id refused, as by run
        job = server.submit(arts)
        info = server.wait(job)
        assert info["status"] == "done" and info["failed"] == 0, info
        served = {str(d["id"]): d for d in server.get(f"/v1/jobs/{job}/results")}
        assert {k: essence(v) for k, v in served.items()} == {
            k: essence(v) for k, v in docs.items()
        }
        items = server.get(f"/v1/jobs/{job}/items")["items"]
        job_stories = [
            server.get(f"/v1/jobs/{job}/items/{i['item']}")["document"]
            for i in items
            if i["kind"] == "story"
        ]
        assert partition(job_stories) == {p for p in partition(stories) if len(p) >= 2}
        a_shift_on_the_desk(server, job, items)
        # The receiver heard of the job, its stories and the approval, each verified, once.
        deadline = time.monotonic() + 60
        while not {"job.finished", "story.changed", "item.approved", "item.withdrawn"} <= {
            e["type"] for e in receiver.verified
        }:
            assert time.monotonic() < deadline, server.get("/v1/deliveries")
            time.sleep(0.2)
        assert receiver.verified[0]["data"]["job"] == job
        assert len({e["id"] for e in receiver.verified}) == len(receiver.verified)
        assert server.stop() < 15  # SIGTERM ends within seconds
    finally:
        receiver.close()
        if server.proc.poll() is None:
            server.proc.kill()
    no_traceback(server.log.read_text())

    # An editor corrects a file of the morning's inbox (another report now stands under its
    # name): the next run computes that text alone, and it leaves the story it was in.
    kin = set(day.exact) | set(day.near) | set(day.exact.values()) | set(day.near.values())
    story_of = {m["id"]: s for s in stories for m in s["members"]}
    corrected = next(
        i
        for i in sorted(day.ok_ids)
        if i.endswith(".txt") and i not in kin and story_of[i]["size"] >= 2
    )
    was = story_of[corrected]
    other = next(
        a
        for a in map(json.loads, (DATA / "articles.jsonl").read_text().splitlines())
        if a["lang"] == "en" and len(a["text"]) > 600 and not any(a["id"] in i for i in day.ok_ids)
    )
    (day.inbox / corrected).write_text(other["text"], encoding="utf-8")
    fixed = run_day(tiny, env, str(day.inbox), "-o", str(out1), "--to", "ar,fr", "-f", "json,ninjs")
    assert fixed.returncode == 1, fixed.stderr[-3000:]  # the junk still fails, nothing else
    report3 = json.loads((out1 / "report.json").read_text(encoding="utf-8"))
    accounted(day, report3)
    computed = report3["summary"]["computed"]
    assert computed["summarize"] == 1 and computed["embed"] == 1, computed
    after = json.loads((out1 / "stories.json").read_text(encoding="utf-8"))["stories"]
    assert sorted(m["id"] for s in after for m in s["members"]) == sorted(day.ok_ids)
    [now] = [s for s in after if corrected in [m["id"] for m in s["members"]]]
    assert now["id"] != was["id"]
    left = {m["id"] for m in was["members"]} - {corrected}
    assert {m["id"] for s in after if s["id"] == was["id"] for m in s["members"]} == left


def test_kill_9_in_the_middle_of_a_run_and_of_a_job_loses_nothing(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    day = build_day(tmp_path / "inbox", n=30)

    # A run killed mid-batch, then run again.
    out = tmp_path / "run"
    env = env_for(tmp_path / "run-cache.sqlite3", SUMMARIZE_BATCH_SIZE="4")
    proc = subprocess.Popen(
        cli(tiny, "run", str(day.inbox), "-o", str(out), "--to", "fr", "-q"),
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while len(results(out)) < 8 if out.exists() else True:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {k: essence(v) for k, v in results(out).items()}
    assert 8 <= len(before) < len(day.ok_ids)
    run_day(tiny, env, str(day.inbox), "-o", str(out), "--to", "fr", timeout=600)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    accounted(day, report)
    after = {k: essence(v) for k, v in results(out).items()}
    assert {k: after[k] for k in before} == before  # what was finished is kept as it was
    # Only what had not finished was summarised again (copies are summarised once, as
    # their originals).
    fresh = {d for d in day.ok_ids - set(before) if d not in day.exact and d not in day.near}
    assert report["summary"]["computed"]["summarize"] <= len(fresh)

    # A job killed mid-way, then the service started again.
    out3 = tmp_path / "serve"
    senv = env_for(
        tmp_path / "serve-cache.sqlite3", SUMMARIZE_BATCH_SIZE="4", SUMMARIZE_TARGETS="fr"
    )
    server = Server(tiny, out3, senv)
    arts = [a for a in job_articles(day, tmp_path / "read") if a["id"] in day.ok_ids]
    try:
        job = server.submit(arts)
        deadline = time.monotonic() + 300
        while server.get(f"/v1/jobs/{job}")["done"] < 8:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    import sqlite3

    with sqlite3.connect(out3 / "jobs.sqlite3") as db:
        kept = dict(db.execute("SELECT idx, body FROM job_results WHERE job_id = ?", (job,)))
    assert 8 <= len(kept) < len(arts)
    server = Server(tiny, out3, senv)
    try:
        # SIGTERM while the job is being worked on ends the service within seconds.
        while server.get(f"/v1/jobs/{job}")["done"] <= len(kept):
            time.sleep(0.05)
        assert server.stop() < 15
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    no_traceback(server.log.read_text())
    server = Server(tiny, out3, senv)
    try:
        info = server.wait(job)
        assert info["status"] == "done" and info["failed"] == 0 and info["total"] == len(arts)
        assert info["worker_restarts"] <= 1
    finally:
        server.stop()
    with sqlite3.connect(out3 / "jobs.sqlite3") as db:
        final = dict(db.execute("SELECT idx, body FROM job_results WHERE job_id = ?", (job,)))
    assert {i: final[i] for i in kept} == kept  # finished articles were not redone
    assert len(final) == len(arts)
    no_traceback(server.log.read_text())
