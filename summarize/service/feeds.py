"""The service polls the feeds of its configuration (`serve --feed URL`), never an address a
client sends (no server-side request forgery): each feed on its own thread, so a slow one
never holds another; each poll's new or changed entries become one job, worked on and
reviewed like any other, owned by "feeds". The entries are marked seen
once their job is stored (a job survives a restart), so a crash loses none."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from summarize.config import Settings
from summarize.types import Article, SourceError

log = logging.getLogger("summarize.service")

OWNER = "feeds"


class FeedPoller:
    """Each configured feed (or feed list) is polled on its own thread, with its own reader:
    a feed that trickles bytes or times out holds only itself, never the others' polls."""

    def __init__(self, settings: Settings, store: Any, worker: Any) -> None:
        self.settings = settings
        self.store = store
        self.worker = worker
        # The latest poll of any feed, and each feed's own latest poll.
        self.last: dict[str, Any] = {
            "at": None,
            "job": None,
            "entries": 0,
            "errors": [],
            "feeds": {},
        }
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number, feed in enumerate(self.settings.feeds, start=1):
            thread = threading.Thread(
                target=self._loop, args=(feed,), name=f"feed-poller-{number}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self, feed: str) -> None:
        from summarize.ingest import Reader

        reader = Reader(self.settings)
        try:
            while not self._stop.is_set():
                try:
                    self.poll(reader, [feed])
                except Exception:  # the next poll tries again; the service goes on
                    log.error("polling the feed %s failed", feed, exc_info=True)
                self._stop.wait(self.settings.feed_every)
        finally:
            reader.close()

    def poll(self, reader: Any, feeds: list[str] | None = None) -> str | None:
        """One poll of `feeds` (all configured ones by default): a job of the entries new or
        changed since the last, or None."""
        feeds = list(self.settings.feeds) if feeds is None else feeds
        articles: list[dict[str, Any]] = []
        sources: list[str] = []
        errors: list[str] = []
        for item in reader.feeds(feeds, only_new=True):
            if isinstance(item, Article):
                sources.append(item.source)
                articles.append(
                    {
                        "id": item.id,
                        "text": item.text,
                        "title": item.title,
                        "url": item.url,
                        "lang": item.lang,
                        "published": item.published
                        or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "outlet": item.outlet,
                        "author": item.author,
                    }
                )
            elif isinstance(item, SourceError):
                errors.append(f"{item.source}: {item.message}")
                log.warning("feed: %s: %s", item.source, item.message)
        job = None
        if articles:
            label = f"feeds {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
            job = self.store.create(articles, list(self.settings.targets), OWNER, label)
            self.worker.submit_job(job)
        reader.feeds_done(sources)
        poll = {"at": time.time(), "job": job, "entries": len(articles), "errors": errors}
        with self._lock:
            each = {**self.last["feeds"], **{feed: poll for feed in feeds}}
            self.last = {**poll, "feeds": each}
        return job
