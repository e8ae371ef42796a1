"""Ingest: paths, folders, JSONL files and stdin -> `Article`s, and a `SourceError` per bad source.

Nothing here raises for bad input: each unreadable file or JSONL line becomes an error record
and the batch goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from summarize.config import Settings
from summarize.errors import InputError, UsageError
from summarize.text import normalize, safe_name, text_hash
from summarize.types import Article, SourceError

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES


@dataclass
class Ingested:
    """Articles in input order, plus one error per source that produced none."""

    articles: list[Article] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    order: list[Article | SourceError] = field(default_factory=list)

    def add(self, item: Article | SourceError) -> None:
        (self.articles if isinstance(item, Article) else self.errors).append(item)  # type: ignore[arg-type]
        self.order.append(item)


def decode(data: bytes, source: str) -> str:
    """UTF-8 or a BOM-marked UTF-16 (the BOM dropped); binary or other encodings are this
    source's error."""
    text: str | None = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    elif b"\x00" in data:
        raise InputError(source, "not a text file (it contains NUL bytes)")
    if text is None:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                source, f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
    controls = sum(1 for ch in text if not ch.isprintable() and not ch.isspace())
    if text and controls > 0.1 * len(text):
        raise InputError(source, "not a text file (mostly non-printable characters)")
    return text


def make_article(
    article_id: str,
    text: str,
    source: str,
    *,
    title: str | None = None,
    url: str | None = None,
    lang: str | None = None,
    line: int | None = None,
) -> Article:
    if not normalize(text):
        raise InputError(source, "empty: no text to summarise")
    return Article(
        id=article_id,
        safe_name=safe_name(article_id),
        text=text.strip(),
        hash=text_hash(text),
        source=source,
        title=title,
        url=url,
        lang=lang.strip().lower() if lang else None,
        line=line,
    )


def _error(source: str, exc: Exception, article_id: str | None = None) -> SourceError:
    message = exc.reason if isinstance(exc, InputError) else str(exc)
    return SourceError(source=source, type=type(exc).__name__, message=message, id=article_id)


def _optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(where, f"field {key!r} must be a string")
    return value


def _decoded_lines(data: bytes, source: str) -> Iterator[str]:
    """JSONL is decoded line by line, so one bad byte costs one line, not the file."""
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Not JSON, so read_jsonl reports it with its line number.
            yield f"\x00not UTF-8 (byte {exc.start} of line {number})"


def read_jsonl(lines: Iterator[str] | IO[str], source: str) -> Iterator[Article | SourceError]:
    """One article per line: `id`, `text`, optional `title`, `lang`, `url`. Blank lines skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            yield _jsonl_article(line, where, number)
        except InputError as exc:
            yield _error(where, exc)


def _jsonl_article(line: str, where: str, number: int) -> Article:
    if line.startswith("\x00"):
        raise InputError(where, line[1:] + "; save the file as UTF-8")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise InputError(where, "each line must be a JSON object with 'id' and 'text'")
    if "text" not in obj:
        raise InputError(where, "missing the 'text' field")
    if not isinstance(obj["text"], str):
        raise InputError(where, "'text' must be a string")
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id) == "":
        raise InputError(where, "missing an 'id' (a non-empty string or number)")
    return make_article(
        str(raw_id),
        obj["text"],
        where,
        title=_optional_str(obj, "title", where),
        url=_optional_str(obj, "url", where),
        lang=_optional_str(obj, "lang", where),
        line=number,
    )


def read_file(path: Path, article_id: str) -> Iterator[Article | SourceError]:
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield _error(source, InputError(source, f"cannot be read ({exc.strerror})"), article_id)
        return
    if path.suffix.lower() in JSONL_SUFFIXES:
        yield from read_jsonl(_decoded_lines(data, source), source)
        return
    try:
        text = decode(data, source)
    except InputError as exc:
        yield _error(source, exc, article_id)
        return
    try:
        yield make_article(article_id, text, source)
    except InputError as exc:
        yield _error(source, exc, article_id)


def walk(folder: Path) -> list[Path]:
    """Files under `folder` that look like articles, in a stable (sorted) order; hidden skipped."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def collect(
    sources: Sequence[str | Path], settings: Settings, stdin: IO[str] | None = None
) -> Ingested:
    """Read every source. Ids: a file's path relative to the folder given (or its name), a
    JSONL line's `id`, or `stdin`. A repeated id is an error for the later source."""
    if not sources:
        raise UsageError("no sources given: pass files, folders, JSONL files or - for stdin")
    out = Ingested()
    seen: dict[str, str] = {}
    for item in _iter_sources(sources, settings, stdin):
        if isinstance(item, Article):
            if item.id in seen:
                item = SourceError(
                    source=item.source,
                    type="InputError",
                    id=item.id,
                    message=f"duplicate id {item.id!r} (first seen in {seen[item.id]})",
                )
            else:
                seen[item.id] = item.source
        out.add(item)
    return out


def _iter_sources(
    sources: Sequence[str | Path], settings: Settings, stdin: IO[str] | None
) -> Iterator[Article | SourceError]:
    for raw in sources:
        if str(raw) == "-":
            stream = stdin if stdin is not None else sys.stdin
            if settings.stdin_format == "jsonl":
                yield from read_jsonl(stream, "stdin")
            else:
                try:
                    yield make_article("stdin", stream.read(), "stdin")
                except InputError as exc:
                    yield _error("stdin", exc, "stdin")
            continue
        path = Path(raw)
        if path.is_dir():
            files = walk(path)
            if not files:
                yield SourceError(
                    source=str(path),
                    type="InputError",
                    message=f"no {', '.join(SUFFIXES)} files in this folder",
                )
            for file in files:
                yield from read_file(file, file.relative_to(path).as_posix())
        elif path.is_file():
            yield from read_file(path, path.name)
        else:
            yield SourceError(source=str(path), type="InputError", message="no such file or folder")
