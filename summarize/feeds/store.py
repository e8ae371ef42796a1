"""What the feeds have told us, in `<output>/feeds.sqlite3`: each feed's validators (ETag,
Last-Modified) and last body, each entry's text hash (so a poll redoes only what is new or
changed), and article pages by URL with their validators (a page is fetched once)."""

from __future__ import annotations

import time
from pathlib import Path

from summarize.db import connect, transaction

MIGRATIONS = [
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY, etag TEXT, modified TEXT, body BLOB, checked REAL, error TEXT
    );
    CREATE TABLE entries (
        feed TEXT NOT NULL, id TEXT NOT NULL, hash TEXT NOT NULL, seen REAL NOT NULL,
        versions INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (feed, id)
    );
    CREATE TABLE pages (
        url TEXT PRIMARY KEY, etag TEXT, modified TEXT, text TEXT, fetched REAL
    )
    """
]


class FeedStore:
    def __init__(self, path: Path) -> None:
        self._db = connect(path, MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    # -- feeds ---------------------------------------------------------------------------

    def validators(self, url: str) -> tuple[str | None, str | None, bytes | None]:
        row = self._db.execute(
            "SELECT etag, modified, body FROM feeds WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def fetched(self, url: str, etag: str | None, modified: str | None, body: bytes | None) -> None:
        with transaction(self._db) as db:
            db.execute(
                "INSERT INTO feeds VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(url) DO UPDATE SET "
                "etag = excluded.etag, modified = excluded.modified, body = excluded.body, "
                "checked = excluded.checked, error = NULL",
                (url, etag, modified, body, time.time()),
            )

    def failed(self, url: str, error: str) -> None:
        with transaction(self._db) as db:
            db.execute(
                "INSERT INTO feeds (url, checked, error) VALUES (?, ?, ?) ON CONFLICT(url) "
                "DO UPDATE SET checked = excluded.checked, error = excluded.error",
                (url, time.time(), error),
            )

    # -- entries -------------------------------------------------------------------------

    def is_new(self, feed: str, entry_id: str, text_hash: str) -> bool:
        """Whether this entry, with this text, has not been handed on before."""
        row = self._db.execute(
            "SELECT hash FROM entries WHERE feed = ? AND id = ?", (feed, entry_id)
        ).fetchone()
        return row is None or row[0] != text_hash

    def handed_on(self, feed: str, entry_id: str, text_hash: str) -> None:
        with transaction(self._db) as db:
            db.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, 1) ON CONFLICT(feed, id) DO UPDATE SET "
                "versions = versions + (hash != excluded.hash), hash = excluded.hash, "
                "seen = excluded.seen",
                (feed, entry_id, text_hash, time.time()),
            )

    def versions(self, feed: str, entry_id: str) -> int:
        row = self._db.execute(
            "SELECT versions FROM entries WHERE feed = ? AND id = ?", (feed, entry_id)
        ).fetchone()
        return int(row[0]) if row else 0

    # -- pages ---------------------------------------------------------------------------

    def page(self, url: str) -> tuple[str | None, str | None, str | None]:
        """(etag, modified, article text) of a page fetched before."""
        row = self._db.execute(
            "SELECT etag, modified, text FROM pages WHERE url = ?", (url,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def keep_page(self, url: str, etag: str | None, modified: str | None, text: str) -> None:
        with transaction(self._db) as db:
            db.execute(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
                (url, etag, modified, text, time.time()),
            )
