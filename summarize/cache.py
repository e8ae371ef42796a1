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
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

from summarize.db import NewerSchema, connect, transaction
from summarize.errors import CacheError
from summarize.text import sha256

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


class StageStats(TypedDict):
    entries: int
    bytes: int
    oldest: float | None
    newest: float | None


class CacheStats(TypedDict):
    """What `summarize cache stats` shows."""

    path: str
    bytes: int
    entries: int
    signatures: int
    stages: dict[str, StageStats]


class CacheEntry(NamedTuple):
    """One stored stage output: what `Cache.put` takes (and how a worker's results travel to
    the driver)."""

    key: str
    stage: str
    sig_hash: str
    signature: Mapping[str, Any]
    input_hash: str
    value: Mapping[str, Any]


def stage_family(stage: str) -> str:
    """`translate:fr` -> `translate`: what a report counts computed outputs by."""
    return stage.split(":", 1)[0]


class Cache:
    """get/put by key. Thread-safe; one connection per instance. `computed` counts what was
    stored, by stage family: what this process computed (a run with a warm cache stores
    nothing)."""

    computed: Counter[str]

    def __init__(self, path: Path) -> None:
        self.path = path
        self.computed = Counter()
        self._lock = threading.Lock()
        try:
            self._db = connect(path, MIGRATIONS)
        except NewerSchema as exc:
            raise CacheError(
                f"cache {path} is from a newer summarize ({exc}); "
                "upgrade summarize or use another --output folder"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"cache {path} cannot be opened ({exc}); remove it or pass --no-cache"
            ) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def put(self, entry: CacheEntry) -> None:
        self.computed[stage_family(entry.stage)] += 1
        with self._lock, transaction(self._db) as db:
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

    def stats(self) -> CacheStats:
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
            with transaction(self._db) as db:
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
        self.computed = Counter()

    def get(self, key: str) -> dict[str, Any] | None:
        return None

    def put(self, entry: CacheEntry) -> None:
        self.computed[stage_family(entry.stage)] += 1

    def stats(self) -> CacheStats:
        return {"path": "", "bytes": 0, "entries": 0, "signatures": 0, "stages": {}}

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
