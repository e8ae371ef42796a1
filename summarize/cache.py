"""The result cache: SQLite in WAL mode, one row per stage output, keyed by signature + input.

A key is sha256(stage signature, input hash): change one stage's model or setting and only
that stage misses. Each write is its own short transaction, so a run killed at any moment
keeps everything it finished, and two runs sharing a folder wait for each other briefly
(busy timeout) instead of failing or corrupting the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from summarize.errors import CacheError
from summarize.text import sha256

BUSY_TIMEOUT_S = 30.0

# Numbered migrations: index + 1 is the schema version they bring the file to.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE entries (
        key TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        signature TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        value TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX entries_stage ON entries(stage);
    CREATE TABLE signatures (
        hash TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def signature_hash(signature: Mapping[str, Any]) -> str:
    return sha256(canonical(signature))


def cache_key(sig_hash: str, input_hash: str) -> str:
    return sha256(f"{sig_hash}\n{input_hash}")


class CacheEntry(NamedTuple):
    """One stored stage output: what `Cache.put` takes (and how a worker's results travel to
    the driver)."""

    key: str
    stage: str
    sig_hash: str
    signature: Mapping[str, Any]
    input_hash: str
    value: Mapping[str, Any]


class Cache:
    """get/put by key. Thread-safe; one connection per instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._setup()
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"cache {path} cannot be opened ({exc}); remove it or pass --no-cache"
            ) from exc

    def _setup(self) -> None:
        """WAL mode and migrations. Switching a new file to WAL can fail with "database is
        locked" without waiting on the busy timeout when another process does the same, so
        that step is retried with backoff."""
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.01
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; IMMEDIATE takes the write lock up front (waiting on the
        busy timeout) so two processes never deadlock upgrading a read lock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise CacheError(
                f"cache {self.path} is from a newer summarize (schema {version}); "
                "upgrade summarize or use another --output folder"
            )
        for number in range(version, len(MIGRATIONS)):
            # Two processes opening a new cache migrate it once, in turn.
            with self._transaction() as db:
                if db.execute("PRAGMA user_version").fetchone()[0] == number:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {number + 1}")

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def put(self, entry: CacheEntry) -> None:
        with self._lock, self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO signatures(hash, stage, body) VALUES (?, ?, ?)",
                (entry.sig_hash, entry.stage, canonical(entry.signature)),
            )
            db.execute(
                "INSERT OR REPLACE INTO entries(key, stage, signature, input_hash, value, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.key,
                    entry.stage,
                    entry.sig_hash,
                    entry.input_hash,
                    canonical(entry.value),
                    time.time(),
                ),
            )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stage, COUNT(*), COALESCE(SUM(LENGTH(value)), 0), MIN(created), MAX(created)"
                " FROM entries GROUP BY stage ORDER BY stage"
            ).fetchall()
            models = self._db.execute("SELECT COUNT(*) FROM signatures").fetchone()[0]
        size = sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()
        )
        return {
            "path": str(self.path),
            "bytes": size,
            "entries": sum(r[1] for r in rows),
            "signatures": models,
            "stages": {
                r[0]: {"entries": r[1], "bytes": r[2], "oldest": r[3], "newest": r[4]} for r in rows
            },
        }

    def clear(self, stage: str | None = None) -> int:
        with self._lock:
            with self._transaction() as db:
                if stage is None:
                    removed = db.execute("DELETE FROM entries").rowcount
                    db.execute("DELETE FROM signatures")
                else:
                    removed = db.execute("DELETE FROM entries WHERE stage = ?", (stage,)).rowcount
                    db.execute("DELETE FROM signatures WHERE stage = ?", (stage,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
        return int(removed)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class NullCache(Cache):
    """--no-cache: every lookup misses and nothing is stored."""

    def __init__(self) -> None:  # no file at all
        self.path = Path("/dev/null")

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, entry: CacheEntry) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {"path": None, "bytes": 0, "entries": 0, "signatures": 0, "stages": {}}

    def clear(self, stage: str | None = None) -> int:
        return 0

    def close(self) -> None:
        return None


class RecordingCache(NullCache):
    """A cluster worker's cache: every lookup misses (the driver already looked) and every
    computed value is kept, to be sent back for the driver to store."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[CacheEntry] = []

    def put(self, entry: CacheEntry) -> None:
        self.entries.append(entry)

    def take(self) -> list[CacheEntry]:
        """The entries recorded since the last call."""
        out, self.entries = self.entries, []
        return out
