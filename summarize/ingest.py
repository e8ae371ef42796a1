"""Ingest: paths, folders, JSON/JSONL files and stdin -> `Article`s, and a `SourceError` per
bad source.

Nothing here raises for bad input: each unreadable file, bad JSON record or unusable text
becomes an error naming the source and the reason, and the batch goes on.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from summarize.config import Settings
from summarize.errors import InputError, UsageError
from summarize.feeds import is_address, is_feed_file
from summarize.formats import Decoded, decode, html_text, markdown_text
from summarize.text import lone_surrogate, normalize, safe_name, text_hash
from summarize.types import Article, Skipped, SourceError

if TYPE_CHECKING:
    from summarize.feeds import FeedReader

TEXT_SUFFIXES = (".txt",)
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
# A feed file dropped in a folder is read as a feed (.xml only when named: sitemaps are XML).
FEED_SUFFIXES = (".rss", ".atom")
SUFFIXES = (
    TEXT_SUFFIXES
    + MARKDOWN_SUFFIXES
    + HTML_SUFFIXES
    + JSONL_SUFFIXES
    + JSON_SUFFIXES
    + FEED_SUFFIXES
)
_READS = "summarize reads .txt, .md, .html, .json and .jsonl files"
# What a newsroom inbox collects that is not (yet) an article, and what to do about it.
_NOT_READ = {
    ".pdf": "a PDF: not supported yet; extract its text (e.g. pdftotext) and save it as .txt",
    ".doc": "a word-processor file: not supported; save it as .txt or .html",
    ".docx": "a word-processor file: not supported; save it as .txt or .html",
    ".odt": "a word-processor file: not supported; save it as .txt or .html",
    ".rtf": "a word-processor file: not supported; save it as .txt or .html",
    ".jpg": "an image: summarize reads text",
    ".jpeg": "an image: summarize reads text",
    ".png": "an image: summarize reads text",
    ".gif": "an image: summarize reads text",
    ".webp": "an image: summarize reads text",
    ".heic": "an image: summarize reads text",
    ".tif": "an image: summarize reads text",
    ".tiff": "an image: summarize reads text",
}


def skip_reason(path: Path) -> str:
    """Why a file of this kind is not read, in the words a user needs."""
    suffix = path.suffix.lower()
    if suffix in _NOT_READ:
        return f"{_NOT_READ[suffix]} ({_READS})"
    kind = f"extension {suffix}" if suffix else "no extension"
    return f"not read: {kind} ({_READS}; --glob chooses others)"


@dataclass
class Scan:
    """A folder's article files, sorted, and what was left out with the reason."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class Ingested:
    """Articles in input order, plus one error per source that produced none."""

    articles: list[Article] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    order: list[Article | SourceError | Skipped] = field(default_factory=list)

    def add(self, item: Article | SourceError | Skipped) -> None:
        if isinstance(item, Article):
            self.articles.append(item)
        elif isinstance(item, Skipped):
            self.skipped.append(item)
        else:
            self.errors.append(item)
        self.order.append(item)


def _error(source: str, exc: InputError, article_id: str | None = None) -> SourceError:
    if article_id is not None and lone_surrogate(article_id) is not None:  # reportable as text
        article_id = article_id.encode("utf-8", "backslashreplace").decode("utf-8")
    return SourceError(source=source, type=type(exc).__name__, message=exc.reason, id=article_id)


_SENTENCE_END = (".", "!", "?", "…", "؟", "。", ";", ",", "،", ":", '"', "”", "»")
HEADLINE_MAX_CHARS = 200


def headline(text: str) -> str | None:
    """A plain-text article's first line when it is a headline: short (at most 200
    characters), not ending like a sentence, followed by a line break and more text. French
    headlines with ` : ` count; a first line that is a paragraph does not."""
    first, newline, rest = text.strip().partition("\n")
    first = " ".join(first.split())
    if not newline or not rest.strip() or not first or len(first) > HEADLINE_MAX_CHARS:
        return None
    if first.endswith(_SENTENCE_END) or not any(ch.isalpha() for ch in first):
        return None
    return first


def record_id(obj: Any) -> str | None:
    """A JSON record's `id` (a non-empty string or a number), or None."""
    raw = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)) or str(raw) == "":
        return None
    return str(raw)


# Where a record may carry its publication date, in the order they are looked for.
DATE_FIELDS = ("published", "published_at", "datePublished", "date", "pubDate")


def iso_date(value: str | float) -> str | None:
    """A date as ISO 8601 in UTC (`2026-11-30T08:00:00Z`), from ISO 8601 (a date alone is
    midnight UTC), RSS's RFC 2822 (`Mon, 30 Nov 2026 08:00:00 GMT`) or epoch seconds; None
    when it is none of these."""
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    when: datetime | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            when = datetime.fromtimestamp(float(value), UTC)
        except (ValueError, OverflowError, OSError):
            return None  # NaN, or past the calendar's years
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (ValueError, OverflowError):
        return None  # year 1 or 9999 pushed out of range by its offset


def file_date(path: Path) -> str | None:
    """A file's modification time: when it reached the folder, for an article without a date."""
    try:
        return iso_date(path.stat().st_mtime)
    except OSError:
        return None


def record_date(obj: dict[str, Any], where: str) -> str | None:
    """A record's publication date from the first date field it has; a field that is there but
    is not a date is an error naming it, never silently today."""
    for key in DATE_FIELDS:
        value = obj.get(key)
        if value is None or value == "":
            continue
        found = iso_date(value) if isinstance(value, (str, int, float)) else None
        if found is None:
            raise InputError(
                where,
                f"field {key!r} is not a date: {str(value)[:40]!r} "
                "(use ISO 8601, e.g. 2026-11-30T08:00:00Z)",
            )
        return found
    return None


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(where, f"field {key!r} must be a string")
    return value


class Reader:
    """Reads sources with one set of rules (length limits, folder glob, stdin format)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._feeds: FeedReader | None = None

    def feeds_done(self, sources: Sequence[str]) -> None:
        """Feed entries whose batch went through (see `FeedReader.done`)."""
        if self._feeds is not None:
            self._feeds.done(sources)

    def close(self) -> None:
        if self._feeds is not None:
            self._feeds.close()
            self._feeds = None

    # -- feeds ---------------------------------------------------------------------------

    def feeds(
        self, sources: Sequence[str], *, only_new: bool = False
    ) -> Iterator[Article | SourceError | Skipped]:
        """Each entry of these feeds (addresses, files, lists) as an article, or why not;
        `only_new`: only entries not handed on before, or whose text changed (watch)."""
        from summarize.feeds import FeedProblem, FeedReader, FetchPolicy

        if self._feeds is None:
            s = self.settings
            policy = FetchPolicy(
                timeout=s.feed_timeout,
                deadline=s.feed_deadline,
                min_rate=s.feed_min_rate,
                max_bytes=s.feed_max_bytes,
                max_redirects=s.feed_max_redirects,
                per_host=s.feed_per_host,
                robots=s.feed_robots,
            )
            self._feeds = FeedReader(s.output_dir / "feeds.sqlite3", policy)
        for item in self._feeds.read(sources, only_new=only_new):
            if isinstance(item, FeedProblem):
                if item.skipped:
                    yield Skipped(item.source, item.message)
                else:
                    yield SourceError(item.source, "InputError", item.message)
                continue
            try:
                yield self.article(
                    item.id,
                    item.text,
                    item.source,
                    title=item.title,
                    url=item.url,
                    lang=item.lang,
                    published=item.published,
                    outlet=item.outlet,
                    author=item.author,
                )
            except InputError as exc:
                yield _error(item.source, exc, item.id)

    # -- articles ------------------------------------------------------------------

    def article(
        self,
        article_id: str,
        text: str,
        source: str,
        *,
        title: str | None = None,
        url: str | None = None,
        lang: str | None = None,
        line: int | None = None,
        decoded: Decoded | None = None,
        published: str | None = None,
        outlet: str | None = None,
        author: str | None = None,
    ) -> Article:
        """An article, or an InputError saying why this text cannot be one."""
        flat = normalize(text)
        if not flat:
            raise InputError(source, "empty: no text to summarise")
        if not any(ch.isalpha() for ch in flat):
            raise InputError(source, "no letters: numbers or noise only, nothing to summarise")
        if len(flat) < self.settings.min_chars:
            raise InputError(
                source,
                f"too short: {len(flat)} characters, fewer than the "
                f"minimum of {self.settings.min_chars} (min_chars)",
            )
        if len(flat) > self.settings.max_chars:
            raise InputError(
                source,
                f"too long: {len(flat)} characters, more than the maximum "
                f"of {self.settings.max_chars} (max_chars)",
            )
        return Article(
            id=article_id,
            safe_name=safe_name(article_id),
            text=text.strip(),
            hash=text_hash(text),
            source=source,
            title=title.strip() if title and title.strip() else None,
            url=url,
            lang=lang.strip().lower() if lang else None,
            line=line,
            encoding=decoded.encoding if decoded else "utf-8",
            encoding_method=decoded.method if decoded else "text",
            encoding_confidence=decoded.confidence if decoded else 1.0,
            published=published,
            outlet=outlet or None,
            author=author or None,
        )

    # -- JSON and JSONL ------------------------------------------------------------------

    def record(
        self,
        obj: Any,
        where: str,
        number: int,
        decoded: Decoded | None = None,
        fallback_date: str | None = None,
    ) -> Article:
        if not isinstance(obj, dict):
            raise InputError(where, "each record must be a JSON object with 'id' and 'text'")
        broken = lone_surrogate(obj)
        if broken is not None:
            raise InputError(
                where,
                f"'{broken}' holds a lone surrogate (an unpaired \\ud800-\\udfff escape), "
                "which is not text",
            )
        if "text" not in obj:
            raise InputError(where, "missing the 'text' field")
        if not isinstance(obj["text"], str):
            raise InputError(where, "'text' must be a string")
        article_id = record_id(obj)
        if article_id is None:
            raise InputError(where, "missing an 'id' (a non-empty string or number)")
        return self.article(
            article_id,
            obj["text"],
            where,
            title=_optional_str(obj, "title", where),
            url=_optional_str(obj, "url", where),
            lang=_optional_str(obj, "lang", where),
            line=number,
            decoded=decoded,
            published=record_date(obj, where) or fallback_date,
        )

    def jsonl(
        self, lines: Iterator[str] | IO[str], source: str, fallback_date: str | None = None
    ) -> Iterator[Article | SourceError]:
        """One article per line: `id`, `text`, optional `title`, `lang`, `url`, `published`."""
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{source}:{number}"
            try:
                if line.startswith("\x00"):
                    raise InputError(where, line[1:] + "; save the file as UTF-8")
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        where, f"not valid JSON ({exc.msg} at column {exc.colno})"
                    ) from None
            except InputError as exc:
                yield _error(where, exc)  # unparsable: known by file and line alone
                continue
            try:
                yield self.record(obj, where, number, fallback_date=fallback_date)
            except InputError as exc:
                yield _error(where, exc, record_id(obj))

    def json_array(
        self, text: str, source: str, decoded: Decoded, fallback_date: str | None = None
    ) -> Iterator[Article | SourceError]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield _error(
                source, InputError(source, f"not valid JSON ({exc.msg} at line {exc.lineno})")
            )
            return
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            yield _error(source, InputError(source, "expected an array of {id, text} objects"))
            return
        for number, obj in enumerate(data, start=1):
            where = f"{source}[{number - 1}]"
            try:
                yield self.record(obj, where, number, decoded, fallback_date)
            except InputError as exc:
                yield _error(where, exc, record_id(obj))

    # -- files ---------------------------------------------------------------------------

    def file(self, path: Path, article_id: str) -> Iterator[Article | SourceError | Skipped]:
        """A file's articles (a JSON or JSONL file may hold many), or why it has none: a file
        is always accounted for, an empty feed file included."""
        if is_feed_file(path):
            yield from self.feeds([str(path)])
            return
        found = False
        for item in self._file(path, article_id):
            found = True
            yield item
        if not found:
            yield Skipped(str(path), "no records in this file (JSONL: one {id, text} per line)")

    def _file(self, path: Path, article_id: str) -> Iterator[Article | SourceError]:
        source = str(path)
        suffix = path.suffix.lower()
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield _error(source, InputError(source, f"cannot be read ({exc.strerror})"), article_id)
            return
        modified = file_date(path)
        if suffix in JSONL_SUFFIXES:
            yield from self.jsonl(_decoded_lines(data), source, modified)
            return
        try:
            decoded = decode(data, source)
            if suffix in JSON_SUFFIXES:
                yield from self.json_array(decoded.text, source, decoded, modified)
                return
            title, published = None, None
            text = decoded.text
            if suffix in TEXT_SUFFIXES:
                title = headline(text)
            if suffix in MARKDOWN_SUFFIXES:
                text, title = markdown_text(text)
            elif suffix in HTML_SUFFIXES:
                text, title, page_date = html_text(text)
                published = iso_date(page_date) if page_date else None
                if not normalize(text):
                    raise InputError(source, "no article text found in this HTML page")
            yield self.article(
                article_id,
                text,
                source,
                title=title,
                decoded=decoded,
                published=published or modified,
            )
        except InputError as exc:
            yield _error(source, exc, article_id)

    def walk(self, folder: Path) -> Scan:
        """Files under `folder` that look like articles (or match --glob), sorted, and every
        file left out with the reason; hidden folders are not entered (each is one entry)."""
        import os

        pattern = self.settings.glob
        scan = Scan()
        for root, dirs, names in os.walk(folder):
            base = Path(root)
            for name in sorted(d for d in dirs if d.startswith(".")):
                scan.skipped.append(
                    Skipped(str(base / name), "hidden folder (its name starts with '.'): not read")
                )
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in names:
                path = base / name
                rel = path.relative_to(folder).as_posix()
                if name.startswith("."):
                    reason: str | None = "hidden file (its name starts with '.'): not read"
                elif pattern:
                    matches = fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(name, pattern)
                    reason = None if matches else f"does not match --glob {pattern!r}"
                else:
                    reason = None if path.suffix.lower() in SUFFIXES else skip_reason(path)
                if reason is None:
                    scan.files.append(path)
                else:
                    scan.skipped.append(Skipped(str(path), reason))
        scan.files.sort(key=lambda p: p.relative_to(folder).as_posix())
        scan.skipped.sort(key=lambda s: s.source)
        return scan

    def sources(
        self, sources: Sequence[str | Path], stdin: IO[str] | None
    ) -> Iterator[Article | SourceError | Skipped]:
        for raw in sources:
            if str(raw) == "-":
                stream = stdin if stdin is not None else sys.stdin
                if self.settings.stdin_format == "jsonl":
                    yield from self.jsonl(stream, "stdin")
                else:
                    try:
                        text = stream.read()
                        yield self.article("stdin", text, "stdin", title=headline(text))
                    except InputError as exc:
                        yield _error("stdin", exc, "stdin")
                continue
            path = Path(raw)
            if is_address(str(raw)) or (path.is_file() and is_feed_file(path)):
                yield from self.feeds([str(raw)])
                continue
            if path.is_dir():
                scan = self.walk(path)
                if not scan.files:
                    wanted = self.settings.glob or ", ".join(SUFFIXES)
                    yield SourceError(
                        source=str(path),
                        type="InputError",
                        message=f"no files matching {wanted} in this folder",
                    )
                yield from scan.skipped
                for file in scan.files:
                    yield from self.file(file, file.relative_to(path).as_posix())
            elif path.is_file():
                yield from self.file(path, path.name)
            else:
                yield SourceError(
                    source=str(path), type="InputError", message="no such file or folder"
                )


def _decoded_lines(data: bytes) -> Iterator[str]:
    """JSONL is decoded line by line, so one bad byte costs one line, not the file."""
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A NUL-prefixed line is not JSON; Reader.jsonl reports it with its line number.
            yield f"\x00not UTF-8 (byte {exc.start} of line {number})"


def collect(
    sources: Sequence[str | Path], settings: Settings, stdin: IO[str] | None = None
) -> Ingested:
    """Read every source. Ids: a file's path relative to the folder given (or its name), a
    JSON record's `id`, or `stdin`. A repeated id is an error for the later source."""
    if not sources:
        raise UsageError("no sources given: pass files, folders, JSONL files or - for stdin")
    out = Ingested()
    reader = Reader(settings)
    try:
        for item in unique_ids(reader.sources(sources, stdin), {}):
            out.add(item)
    finally:
        reader.close()
    return out


def _file_of(source: str) -> str:
    """The file a source is in (`feed.jsonl:3` and `batch.json[2]` are in their files)."""
    import re

    return re.sub(r"(:\d+|\[\d+\])$", "", source)


def unique_ids(
    items: Iterable[Article | SourceError | Skipped], owners: dict[str, str]
) -> Iterator[Article | SourceError | Skipped]:
    """Articles with an id seen before become an error for the later source: within these
    items always, and against `owners` (id -> the file that holds it, from earlier batches:
    the watch folder's) when another file holds it. `owners` is updated."""
    here: dict[str, str] = {}
    for item in items:
        if isinstance(item, Article):
            first = here.get(item.id)
            owner = owners.get(item.id)
            if first is None and owner is not None and owner != _file_of(item.source):
                first = owner
            if first is not None:
                item = SourceError(
                    source=item.source,
                    type="InputError",
                    id=item.id,
                    message=f"duplicate id {item.id!r} (first seen in {first})",
                )
            else:
                here[item.id] = item.source
                owners[item.id] = _file_of(item.source)
        yield item
