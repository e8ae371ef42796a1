"""Watch folder: process each new or changed file once it is completely written.

A file counts as complete when its size and modification time are the same on two scans in a
row (a file renamed into the folder is complete at once, and stable on the next scan).
Results and the briefs are written after each batch; errors are recorded and watching goes on.
A restart processes only what changed: the cache already holds everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from summarize.config import Settings
from summarize.types import BatchReport, Result

# Names that editors' tools and downloads use while a file is still being written.
PARTIAL = (".part", ".partial", ".tmp", ".crdownload", ".download", "~")


@dataclass
class WatchState:
    seen: dict[Path, tuple[int, int]] = field(default_factory=dict)
    done: dict[Path, tuple[int, int]] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)


def scan(inbox: Path, settings: Settings, state: WatchState) -> list[Path]:
    """Files that are complete (unchanged since the last scan) and not yet processed as such."""
    from summarize.ingest import Reader

    ready = []
    current: dict[Path, tuple[int, int]] = {}
    for path in Reader(settings).walk(inbox):
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
    return ready


def watch(
    inbox: Path,
    settings: Settings,
    stop: threading.Event,
    *,
    interval: float = 1.0,
    on_batch: Callable[[BatchReport], None] | None = None,
) -> WatchState:
    """Run until `stop` is set. Raises only for problems that stop all work (a missing model)."""
    from summarize.ingest import Reader
    from summarize.runner import Pipeline, settings_doc
    from summarize.write import write_briefs, write_report, write_result

    state = WatchState()
    pipeline = Pipeline(settings)
    reader = Reader(settings)
    try:
        while not stop.is_set():
            ready = scan(inbox, settings, state)
            if ready:
                order = [
                    item
                    for path in ready
                    for item in reader.file(path, path.relative_to(inbox).as_posix())
                ]
                report = pipeline.run_batch(order, write=False)
                for result in report.results:
                    if "json" in settings.formats:
                        write_result(settings.output_dir, result)
                    state.results[result.article.id] = result
                for path in ready:
                    state.done[path] = state.seen[path]
                write_briefs(settings.output_dir, list(state.results.values()), settings.formats)
                write_report(settings.output_dir, report, settings_doc(settings))
                if on_batch is not None:
                    on_batch(report)
            stop.wait(interval)
    finally:
        pipeline.close()
    return state
