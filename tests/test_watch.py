"""Watch folder: files are processed once complete, the brief follows, restarts redo nothing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from conftest import SEEDS, tiny_overrides

from summarize import load_settings
from summarize.watch import watch


def run_until(inbox: Path, settings: Any, condition: Any, timeout: float = 90) -> list[Any]:
    stop = threading.Event()
    batches: list[Any] = []
    thread = threading.Thread(
        target=watch,
        args=(inbox, settings, stop),
        kwargs={"interval": 0.2, "on_batch": batches.append},
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not condition(batches) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    return batches


def test_watch_processes_complete_files_and_keeps_the_brief(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    # The brief checked below is per article (two seeds would be one story).
    settings = load_settings(
        overrides=tiny_overrides(tiny, out, formats="json,html", stories=False)
    )
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    # One file written in two halves: it must not be processed half-written.
    (inbox / "a.txt").write_text(texts[0][:200], encoding="utf-8")
    (inbox / "broken.txt").write_text("", encoding="utf-8")
    writer_done = threading.Event()

    def writer() -> None:
        time.sleep(0.1)
        with (inbox / "a.txt").open("a", encoding="utf-8") as fh:
            fh.write(texts[0][200:])
        tmp = inbox / "b.txt.part"
        tmp.write_text(texts[1], encoding="utf-8")
        os.replace(tmp, inbox / "b.txt")  # a rename into the folder
        writer_done.set()

    threading.Thread(target=writer).start()

    def both_done(batches: list[Any]) -> bool:
        ids = {r.article.id for b in batches for r in b.results}
        return writer_done.is_set() and {"a.txt", "b.txt"} <= ids

    batches = run_until(inbox, settings, both_done)
    # Each file processed once: a half-written a.txt processed first would show up twice.
    processed = [r.article.id for b in batches for r in b.results]
    assert sorted(processed) == ["a.txt", "b.txt"], processed
    results = {r.article.id: r for b in batches for r in b.results}
    assert results["a.txt"].article.text == texts[0].strip()  # the whole file, not half
    errors = [o for b in batches for o in b.failed]
    assert any("empty" in o.error.message for o in errors)  # reported, and watching went on
    assert (out / "a.txt.json").exists() and (out / "b.txt.json").exists()
    # Two Arabic summaries, and b.txt's headline in Arabic (seed 001 has one).
    assert (out / "brief.html").read_text(encoding="utf-8").count('dir="rtl" lang="ar"') == 3

    # A restart redoes nothing that has not changed.
    again = run_until(inbox, settings, lambda b: len(b) >= 1)
    assert again and all(r.all_cached for r in again[0].results)


def test_a_file_the_watch_folder_cannot_read_is_reported_once(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.7")
    (inbox / "story.txt").write_text(
        (SEEDS / "001_91f3ff2c96f99f79.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    settings = load_settings(overrides=tiny_overrides(tiny, out))

    def story_done(batches: list[Any]) -> bool:
        return any(r.article.id == "story.txt" for b in batches for r in b.results)

    batches = run_until(inbox, settings, story_done)
    skipped = [o for b in batches for o in b.skipped]
    assert [Path(o.source).name for o in skipped] == ["scan.pdf"]  # once, not every scan
    assert "PDF: not supported yet" in (skipped[0].reason or "")
