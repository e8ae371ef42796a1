"""Feeds in: RSS 2.0, RSS 1.0 and Atom (feedparser, what Superdesk ingests with), from a URL or
a file, or a list of them (OPML, or a `.feeds` file of one address per line).

Each entry becomes an article: its id from the entry's guid/id (stable across polls), title,
link, author, published and updated dates, the feed's title as outlet, the language the entry,
its content or the feed declares (`xml:lang`, `<language>`) before detection. The full text is
the entry's own content when it carries the article; when it carries only a teaser, the linked
page is fetched (politely: see `fetch`) and its article extracted with trafilatura.

A poll is exact: an unchanged feed costs a 304 (its last body is kept, so `run` still sees
every entry), and `only_new` hands on only entries not seen before or whose text changed under
the same id (a new version of the same article). Nothing about one feed or entry stops the
others: each problem is one line naming the feed or entry and the reason.

This package knows nothing of the pipeline: ingest turns its entries into articles.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from summarize.feeds.fetch import Fetched, Fetcher, FetchError, FetchPolicy, trusted_origins
from summarize.feeds.store import FeedStore

FEED_SUFFIXES = (".rss", ".atom", ".xml")
LIST_SUFFIXES = (".opml", ".feeds")
# A description or summary this long (in characters of text) is the article itself when its
# linked page cannot give it; shorter, it is a teaser.
FULL_TEXT_CHARS = 600


@dataclass(frozen=True)
class FeedEntry:
    id: str
    text: str
    source: str  # feed#entry, as reports name it
    title: str | None = None
    url: str | None = None
    author: str | None = None
    published: str | None = None
    updated: str | None = None
    lang: str | None = None
    outlet: str | None = None
    version: int = 1  # 2 and up: the same entry with changed text


@dataclass(frozen=True)
class FeedProblem:
    source: str
    message: str
    skipped: bool = False  # nothing wrong (an entry already handed on by another feed)


def is_address(raw: str) -> bool:
    return urlsplit(raw).scheme in ("http", "https")


def is_feed_file(path: Path) -> bool:
    """A feed or a list of feeds by its name (.rss, .atom, .xml, .opml, .feeds)."""
    return path.suffix.lower() in FEED_SUFFIXES + LIST_SUFFIXES


def expand(raw: str) -> tuple[list[str], list[FeedProblem]]:
    """A feed address or file, or every feed a list file names."""
    path = Path(raw)
    if is_address(raw) or path.suffix.lower() not in LIST_SUFFIXES:
        return [raw], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return [], [FeedProblem(raw, f"cannot be read ({exc.strerror})")]
    if path.suffix.lower() == ".opml":
        found = re.findall(r"""xmlUrl\s*=\s*["']([^"']+)["']""", text)
    else:
        found = [
            line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] != "#"
        ]
    found = [f if is_address(f) else str(path.parent / f) for f in found]
    if not found:
        return [], [FeedProblem(raw, "lists no feeds (OPML: outlines with xmlUrl)")]
    return found, []


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return stamp.isoformat().replace("+00:00", "Z")


def _lang(*values: Any) -> str | None:
    """`en-US` -> `en`: the first language declared."""
    for value in values:
        if isinstance(value, str) and re.match(r"^[A-Za-z]{2,3}([-_].*)?$", value.strip()):
            return re.split(r"[-_]", value.strip())[0].lower()
    return None


def fragment_text(markup: str) -> str:
    """Text of an HTML fragment (a feed's content), paragraphs kept apart."""
    import lxml.html

    if "<" not in markup:
        return markup.strip()
    try:
        root = lxml.html.fromstring(f"<div>{markup}</div>")
    except (ValueError, lxml.etree.ParserError):
        return re.sub(r"<[^<>]*>", " ", markup).strip()  # a tag ends before the next "<"
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    blocks = root.xpath("//p|//li|//h1|//h2|//h3|//h4|//blockquote")
    if blocks:
        parts = [re.sub(r"\s+", " ", b.text_content()).strip() for b in blocks]
        return "\n\n".join(p for p in parts if p)
    return re.sub(r"\s+", " ", root.text_content()).strip()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FeedReader:
    """Reads feeds for a run or a watch: one HTTP client, one state file."""

    def __init__(self, state: Path, policy: FetchPolicy | None = None) -> None:
        self.store = FeedStore(state)
        self.fetcher = Fetcher(policy)
        self._ids: dict[str, str] = {}  # entry id -> the feed it came from, this read
        # Entries read but not yet done (watch): source -> (feed, id, text hash). A poll marks
        # them seen only once their batch is through, so a crash in between loses none.
        self.pending: dict[str, tuple[str, str, str]] = {}

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()

    def __enter__(self) -> FeedReader:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def done(self, sources: Sequence[str]) -> None:
        """These entries went through: a later poll hands them on only if their text changes."""
        for source in sources:
            found = self.pending.pop(source, None)
            if found is not None:
                self.store.handed_on(*found)

    def read(
        self, sources: Sequence[str], *, only_new: bool = False
    ) -> Iterator[FeedEntry | FeedProblem]:
        from concurrent.futures import ThreadPoolExecutor

        self._ids = {}
        listed: list[tuple[list[FeedProblem], list[str]]] = []
        for raw in sources:
            feeds, problems = expand(raw)
            listed.append((problems, feeds))
        addresses = list(dict.fromkeys(f for _, feeds in listed for f in feeds if is_address(f)))
        # Every feed is fetched at once (each within its deadline; the per-host turns still
        # hold), so a feed that trickles holds only itself, not the feeds after it.
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(addresses)))) as pool:
            fetches: dict[str, Future[Fetched | FetchError]] = {
                feed: pool.submit(self._fetch_feed, feed, *self.store.validators(feed))
                for feed in addresses
            }
            for problems, feeds in listed:
                yield from problems
                for feed in feeds:
                    yield from self._feed(feed, only_new, fetches.get(feed))

    def _fetch_feed(
        self, feed: str, etag: str | None, modified: str | None, kept: bytes | None
    ) -> Fetched | FetchError:
        """A feed's answer, or why none (run on a pool thread: no store access here)."""
        try:
            return self.fetcher.get(  # the operator named this feed: its own origin is trusted
                feed,
                etag=etag if kept else None,
                modified=modified if kept else None,
                trusted=trusted_origins(feed),
            )
        except FetchError as exc:
            return exc

    def _body(
        self, feed: str, fetch: Future[Fetched | FetchError] | None = None
    ) -> tuple[bytes | None, str, FeedProblem | None]:
        """The feed's bytes (the kept ones when it answers 304) and its content type."""
        if not is_address(feed):
            try:
                return Path(feed).read_bytes(), "", None
            except OSError as exc:
                return None, "", FeedProblem(feed, f"cannot be read ({exc.strerror})")
        etag, modified, kept = self.store.validators(feed)
        got = fetch.result() if fetch is not None else self._fetch_feed(feed, etag, modified, kept)
        if isinstance(got, FetchError):
            self.store.failed(feed, str(got))
            return None, "", FeedProblem(feed, str(got))
        if got.not_modified and kept is not None:
            return kept, "", None
        self.store.fetched(feed, got.etag, got.last_modified, got.body)
        return got.body, got.content_type, None

    def _feed(
        self, feed: str, only_new: bool, fetch: Future[Fetched | FetchError] | None = None
    ) -> Iterator[FeedEntry | FeedProblem]:
        import feedparser

        body, kind, problem = self._body(feed, fetch)
        if problem is not None or body is None:
            yield problem or FeedProblem(feed, "no body")
            return
        parsed = feedparser.parse(body, resolve_relative_uris=False, sanitize_html=True)
        if not parsed.version and not parsed.entries:
            yield FeedProblem(feed, _not_a_feed(body, kind, parsed, feed))
            return
        if parsed.bozo and parsed.entries:
            yield FeedProblem(
                feed,
                f"malformed feed ({_bozo(parsed)}): the {len(parsed.entries)} entries that "
                "could be read are processed",
            )
            yield from _lost(feed, body, parsed.entries)
        info = parsed.feed
        outlet = info.get("title") or urlsplit(feed).netloc or Path(feed).stem
        feed_lang = _lang(info.get("language"), (info.get("title_detail") or {}).get("language"))
        if not parsed.entries:
            yield FeedProblem(feed, "no entries in this feed", skipped=True)
        for number, entry in enumerate(parsed.entries, start=1):
            yield from self._entry(feed, number, entry, outlet, feed_lang, only_new)

    def _entry(
        self, feed: str, number: int, entry: Any, outlet: str, feed_lang: str | None, only_new: bool
    ) -> Iterator[FeedEntry | FeedProblem]:
        link = entry.get("link")
        if link and is_address(feed):
            link = urljoin(feed, link)
        entry_id = str(entry.get("id") or entry.get("guid") or link or "").strip()
        if not entry_id:
            basis = f"{entry.get('title', '')}|{entry.get('published', '')}"
            entry_id = "entry-" + _sha(basis)[:16]
        where = f"{feed}#{entry_id}"
        if entry_id in self._ids and self._ids[entry_id] != feed:
            yield FeedProblem(
                where, f"the same entry as in {self._ids[entry_id]}: read once", skipped=True
            )
            return
        self._ids[entry_id] = feed
        contents = entry.get("content") or []
        best = max(contents, key=lambda c: len(c.get("value", "")), default=None)
        text = fragment_text(best.get("value", "")) if best else ""
        teaser = fragment_text(entry.get("summary", "") or "")
        lang = _lang(
            (best or {}).get("language"),
            (entry.get("title_detail") or {}).get("language"),
            entry.get("language"),
            feed_lang,
        )
        title = (entry.get("title") or "").strip() or None
        # dict.get: feedparser's own get maps a missing updated_parsed to published (deprecated)
        updated = _iso(dict.get(entry, "updated_parsed"))
        published = _iso(dict.get(entry, "published_parsed")) or updated
        # Content (content:encoded, Atom content) is the article; a teaser alone (description,
        # summary) is completed from the linked page.
        if not text:
            page, why = self._page(link, feed) if link else (None, "the entry has no link")
            if page:
                text = page
            elif len(teaser) >= FULL_TEXT_CHARS:  # a feed that carries the article whole
                text = teaser
            else:
                reason = f"only a teaser ({len(teaser)} characters)" if teaser else "no text"
                message = f"{reason}, and its page gave no article: {why}"
                # Said once while it stays so: a watch does not repeat it every poll.
                said = _sha("problem\n" + message)
                if only_new and not self.store.is_new(feed, entry_id, said):
                    return
                if only_new:
                    self.store.handed_on(feed, entry_id, said)
                yield FeedProblem(where, message)
                return
        key = _sha(text)
        changed = self.store.is_new(feed, entry_id, key)
        if only_new and not changed:
            return
        version = self.store.versions(feed, entry_id) + (1 if changed else 0)
        if only_new:
            self.pending[where] = (feed, entry_id, key)
        else:
            self.store.handed_on(feed, entry_id, key)
        yield FeedEntry(
            id=entry_id,
            text=text,
            source=where,
            title=title,
            url=link,
            author=entry.get("author"),
            published=published,
            updated=updated,
            lang=lang,
            outlet=outlet,
            version=max(version, 1),
        )

    def _page(self, url: str, feed: str) -> tuple[str | None, str]:
        """The article on a linked page (fetched once, then asked conditionally)."""
        from summarize.errors import InputError
        from summarize.formats import decode, html_text

        if not is_address(url):
            return None, f"its link is not a web address ({url})"
        etag, modified, kept = self.store.page(url)
        try:
            got = self.fetcher.get(
                url,
                etag=etag if kept else None,
                modified=modified if kept else None,
                html_only=True,
                trusted=trusted_origins(feed) if is_address(feed) else (),
            )
        except FetchError as exc:
            return None, str(exc)
        if got.not_modified and kept:
            return kept, ""
        try:
            text, _, _ = html_text(decode(got.body, url).text)
        except InputError as exc:  # what is missing to read pages at all, in its words
            return None, exc.reason
        except Exception as exc:  # a page trafilatura cannot read is that entry's problem only
            return None, f"its page could not be read ({type(exc).__name__})"
        if not text.strip():
            return None, "no article text found on its page"
        self.store.keep_page(url, got.etag, got.last_modified, text)
        return text, ""


# Where entries start in a feed's bytes, and an entry's own id: bounded patterns, so a hostile
# feed cannot make the scan backtrack (each match looks at most a few thousand bytes ahead).
_ENTRY_START = re.compile(rb"<(?:item|entry)[\s>]", re.I)
_ENTRY_ID = re.compile(rb"<(?:guid|id)\b[^>]{0,200}>\s{0,50}([^<\s]{1,2000})", re.I)


def _lost(feed: str, body: bytes, entries: Sequence[Any]) -> Iterator[FeedProblem]:
    """Entries a malformed feed holds that the parser could not read (it skips the one after
    a broken spot): one line each, by id when the bytes give one, so none vanishes unsaid."""
    starts = [m.start() for m in _ENTRY_START.finditer(body)]
    if len(starts) <= len(entries):
        return
    read = {str(e.get("id") or e.get("guid") or "") for e in entries}
    unnamed = len(starts) - len(entries)
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        found = _ENTRY_ID.search(body, start, min(end, start + 20_000))
        if found is None:
            continue
        entry_id = html.unescape(found.group(1).decode("utf-8", "replace"))
        if entry_id not in read:
            unnamed -= 1
            yield FeedProblem(
                f"{feed}#{entry_id}",
                "this entry could not be read: the feed is malformed at or just before it",
            )
    if unnamed > 0:
        yield FeedProblem(
            feed, f"{unnamed} more entries could not be read where the feed is malformed"
        )


def _bozo(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "not well-formed"


def _not_a_feed(body: bytes, kind: str, parsed: Any, feed: str) -> str:
    """Why this is not a feed, and where its feed is when an HTML page names one."""
    head = body[:2048].lstrip().lower()
    if kind in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html")
    ):
        found = re.search(
            rb"""<link[^>]{1,500}type=["']application/(?:rss|atom)\+xml["'][^>]{0,500}"""
            rb"""href=["']([^"']{1,2000})""",
            body,
            re.I,
        )
        hint = f"; it names a feed at {urljoin(feed, found.group(1).decode())}" if found else ""
        return f"an HTML page, not a feed{hint}"
    if parsed.bozo:
        return f"not a feed: {_bozo(parsed)}"
    return "not an RSS or Atom feed"


__all__ = [
    "FeedEntry",
    "FeedProblem",
    "FeedReader",
    "FetchPolicy",
    "expand",
    "is_address",
    "is_feed_file",
]
