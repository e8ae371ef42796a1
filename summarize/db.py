"""SQLite files that several processes share: WAL mode, a busy timeout, numbered migrations,
short IMMEDIATE transactions. The result cache and the service's job store both open theirs
here, so they behave alike under concurrency and upgrade alike."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

BUSY_TIMEOUT_S = 30.0


class NewerSchema(Exception):
    """The file was written by a newer summarize (its schema version is past ours)."""


def connect(
    path: Path, migrations: Sequence[str], page_size: int | None = None
) -> sqlite3.Connection:
    """Open (creating) `path`, in WAL mode, migrated to `len(migrations)`. `page_size` applies
    to a new file only (rows of a few KB waste half a 4 KB page each).

    Switching a new file to WAL can fail with "database is locked" without waiting on the busy
    timeout when another process does the same at that moment, so set-up is retried with
    backoff. Raises sqlite3.DatabaseError for a file that is not a database, NewerSchema for
    one from a newer version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if page_size:
        db.execute(f"PRAGMA page_size = {int(page_size)}")  # before WAL: a no-op once made
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db, migrations)
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short write transaction; IMMEDIATE takes the write lock up front (waiting on the busy
    timeout) so two processes never deadlock upgrading a read lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # Ctrl-C can land after COMMIT took effect: then there is nothing to roll back, and
        # the interrupt (not "cannot rollback") is what the caller must see.
        if db.in_transaction:
            with suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


def migrate(db: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Numbered migrations: index + 1 is the schema version each brings the file to. Two
    processes opening a new file migrate it once, in turn."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise NewerSchema(f"schema {version}, this summarize knows {len(migrations)}")
    for number in range(version, len(migrations)):
        with transaction(db):
            if db.execute("PRAGMA user_version").fetchone()[0] == number:
                for statement in migrations[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")
