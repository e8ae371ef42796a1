"""Watch folder: process each new or changed file once it is completely written.

A file counts as complete when its size and modification time are the same on two scans in a
row (a file renamed into the folder is complete at once, and stable on the next scan).
Results and the briefs are written after each batch; errors are recorded and watching goes on.
A file that is not read (a PDF, an image, a hidden file) is reported once, with the reason.
A restart processes only what changed: the cache already holds everything else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.config import Settings
from summarize.errors import ModelNotAvailable
from summarize.types import BatchReport, Skipped, SourceError, SourceOutcome

log = logging.getLogger("summarize")

# Names that editors' tools and downloads use while a file is still being written.
PARTIAL = (".part", ".partial", ".tmp", ".crdownload", ".download", "~")


@dataclass
class WatchState:
    seen: dict[Path, tuple[int, int]] = field(default_factory=dict)
    done: dict[Path, tuple[int, int]] = field(default_factory=dict)
    docs: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # results as published
    skipped: set[str] = field(default_factory=set)  # already reported
    # The latest outcome of every source seen (file, JSONL line): report.json lists them all.
    outcomes: dict[tuple[str, str | None], SourceOutcome] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # article id -> the file holding it


def scan(inbox: Path, settings: Settings, state: WatchState) -> tuple[list[Path], list[Skipped]]:
    """Files that are complete (unchanged since the last scan) and not yet processed as such,
    and the files left out that have not been reported yet (partial downloads are not)."""
    from summarize.ingest import Reader

    ready = []
    current: dict[Path, tuple[int, int]] = {}
    found = Reader(settings).walk(inbox)
    fresh = [
        s for s in found.skipped if s.source not in state.skipped and not s.source.endswith(PARTIAL)
    ]
    state.skipped.update(s.source for s in fresh)
    for path in found.files:
        if path.name.endswith(PARTIAL):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        sig = (stat.st_size, stat.st_mtime_ns)
        current[path] = sig
        if state.seen.get(path) == sig and state.done.get(path) != sig:
            ready.append(path)
    state.seen = current
    return ready, fresh


def watch(
    inbox: Path | None,
    settings: Settings,
    stop: threading.Event,
    *,
    interval: float = 1.0,
    on_batch: Callable[[BatchReport], None] | None = None,
    feeds: Sequence[str] = (),
    every: float | None = None,
) -> WatchState:
    """Run until `stop` is set: the inbox scanned every `interval` seconds, the feeds polled
    every `every` (feed_every) for entries new or changed. Raises only for problems that stop
    all work (a missing model)."""
    from summarize.ingest import Reader, unique_ids
    from summarize.runner import settings_doc
    from summarize.write import (
        ninjs_options,
        write_briefs,
        write_report,
        write_result,
        write_stories,
    )

    state = WatchState()
    from summarize.api import Summarizer
    from summarize.executors import get_executor

    summarizer = Summarizer(settings, executor=get_executor(settings, long_lived=True))
    pipeline = summarizer.pipeline()
    reader = Reader(settings)
    every = settings.feed_every if every is None else every
    polled = float("-inf")
    try:
        while not stop.is_set():
            ready, skipped = scan(inbox, settings, state) if inbox is not None else ([], [])
            entries: list[Any] = []
            if feeds and time.monotonic() - polled >= every:
                polled = time.monotonic()
                entries = _poll(reader, feeds)
            if ready or skipped or entries:
                order: list[Any] = [*skipped]
                order += unique_ids(
                    (
                        *(
                            item
                            for path in ready
                            for item in reader.file(path, _relative(path, inbox))
                        ),
                        *entries,
                    ),
                    state.owners,
                )
                report = _run_safely(pipeline, order)
                for result in report.results:
                    doc = pipeline.document(result)
                    if "json" in settings.formats:
                        write_result(settings.output_dir, result, doc)
                    state.docs[result.article.id] = doc
                for path in ready:
                    state.done[path] = state.seen[path]
                reader.feeds_done([str(e.source) for e in entries])
                for outcome in report.outcomes:
                    state.outcomes[(outcome.source, outcome.id)] = outcome
                if report.stories_error is None and settings.stories:
                    write_stories(settings.output_dir, report.all_stories)
                write_briefs(
                    settings.output_dir,
                    list(state.docs.values()),
                    settings.formats,
                    report.all_stories or None,
                    ninjs_options(settings),
                )
                everything = BatchReport(
                    outcomes=sorted(state.outcomes.values(), key=lambda o: (o.source, o.id or "")),
                    seconds=report.seconds,
                    output_dir=report.output_dir,
                    warnings=report.warnings,
                    stories=report.all_stories,
                    stories_error=report.stories_error,
                    computed=report.computed,
                )
                write_report(settings.output_dir, everything, settings_doc(settings))
                if on_batch is not None:
                    on_batch(report)
            stop.wait(interval)
    finally:
        reader.close()
        summarizer.close(models=False)
    return state


def _poll(reader: Any, feeds: Sequence[str]) -> list[Any]:
    """One poll of the feeds inside the watch's error boundary: whatever goes wrong is one
    error per feed, and the next poll tries again."""
    try:
        return list(reader.feeds(feeds, only_new=True))
    except Exception as exc:
        log.error("polling the feeds failed", exc_info=True)
        return [SourceError(feed, type(exc).__name__, f"polling failed: {exc}") for feed in feeds]


def _relative(path: Path, inbox: Path | None) -> str:
    return path.relative_to(inbox).as_posix() if inbox is not None else path.name


def _run_safely(pipeline: Any, order: list[Any]) -> BatchReport:
    """One scan's batch inside the watch loop's error boundary: when it fails as a whole, each
    file is run on its own, and a file that still fails is one error naming it; watching goes
    on. Only a model every article needs, missing, stops the watch (one line)."""
    try:
        report: BatchReport = pipeline.run_batch(order, write=False)
        return report
    except ModelNotAvailable:
        raise
    except Exception as exc:
        log.warning("a batch failed as a whole (%s); its files one at a time", exc, exc_info=True)
    by_file: dict[str, list[Any]] = {}
    for item in order:
        source = str(item.source)
        whole = source.split("#")[0] if "#" in source else source.split(":")[0].split("[")[0]
        by_file.setdefault(whole, []).append(item)
    merged = BatchReport(output_dir=str(pipeline.settings.output_dir))
    for items in by_file.values():
        try:
            part: BatchReport = pipeline.run_batch(items, write=False)
        except ModelNotAvailable:
            raise
        except Exception as exc:
            log.error("%s failed", items[0].source, exc_info=True)
            for item in items:
                error = SourceError(
                    getattr(item, "source", "?"),
                    type(exc).__name__,
                    f"{type(exc).__name__}: {exc}",
                    getattr(item, "id", None),
                )
                merged.outcomes.append(SourceOutcome(error.id, error.source, "error", error=error))
            continue
        merged.outcomes += part.outcomes
        merged.results += part.results
        merged.warnings += [w for w in part.warnings if w not in merged.warnings]
        merged.stories, merged.all_stories = part.stories, part.all_stories
        merged.seconds += part.seconds
    return merged
