"""Edits: what editors changed and approved, kept apart from machine output.

One SQLite file per output folder (`<output>/edits.sqlite3`, the same family as the cache and
the job store: WAL, numbered migrations). Each row is the current edit of one field of one
item (an article id, or `story:<id>`): the machine text it replaces with that text's stage
signature and the input hash, the edited text, who, when, and `draft` or `approved`. Every
change is also appended to a log, so nothing an editor did is lost. The cache is never
touched: a re-run recomputes (or looks up) the same machine text, and the edit applies again
as long as its input hash and signature still match (see `summarize.review`).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from summarize.errors import CacheError

EDITS_FILE = "edits.sqlite3"
STATUSES = ("draft", "approved")

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS edits (
    item TEXT NOT NULL,            -- article id, or story:<story id>
    field TEXT NOT NULL,           -- summary, title, translation:<lang>, title:<lang>, story_summary:<lang>
    input_hash TEXT NOT NULL,      -- the source article's hash (a story's: its members')
    signature TEXT NOT NULL,       -- the machine text's stage signature (summarize.review)
    model TEXT NOT NULL,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    input_text TEXT NOT NULL,      -- what the stage read: the article, or the summary translated
    machine_text TEXT NOT NULL,
    text TEXT NOT NULL,            -- the editor's text (the machine's, when approved unchanged)
    status TEXT NOT NULL,          -- draft or approved
    editor TEXT NOT NULL,
    updated REAL NOT NULL,
    approved_by TEXT,
    approved_at REAL,
    PRIMARY KEY (item, field)
);
CREATE TABLE IF NOT EXISTS edit_log (
    item TEXT NOT NULL,
    field TEXT NOT NULL,
    action TEXT NOT NULL,          -- edit or approve
    text TEXT NOT NULL,
    editor TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    hash TEXT PRIMARY KEY,         -- the article text the checks compare an edit with
    text TEXT NOT NULL
);
""",
]


@dataclass(frozen=True)
class Target:
    """The machine text an edit is made against, as `summarize.review` finds it in a result."""

    item: str
    field: str
    input_hash: str
    signature: str
    model: str
    source_lang: str
    target_lang: str
    input_text: str
    machine_text: str


@dataclass(frozen=True)
class Edit(Target):
    """An edit: its target, then the editor's text and its state (columns in this order)."""

    text: str
    status: str
    editor: str
    updated: float
    approved_by: str | None = None
    approved_at: float | None = None

    @property
    def changed(self) -> bool:
        return self.text != self.machine_text


_COLUMNS = ", ".join(Edit.__dataclass_fields__)


class EditStore:
    """The edits of one output folder. Safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        from summarize.db import NewerSchema, connect

        self.path = path
        try:
            self._db = connect(path, MIGRATIONS)
        except (NewerSchema, sqlite3.DatabaseError) as exc:
            raise CacheError(
                f"edits file {path} cannot be opened ({exc}); it holds editors' work: "
                "upgrade summarize or restore it from a backup, do not delete it"
            ) from None
        self._lock = threading.Lock()

    @classmethod
    def existing(cls, output_dir: Path) -> EditStore | None:
        """The folder's store if anyone ever edited there (a plain run creates no file)."""
        path = output_dir / EDITS_FILE
        return cls(path) if path.exists() else None

    def get(self, item: str, field: str) -> Edit | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM edits WHERE item = ? AND field = ?", (item, field)
            ).fetchone()
        return Edit(*row) if row else None

    def for_item(self, item: str) -> dict[str, Edit]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM edits WHERE item = ?", (item,)
            ).fetchall()
        return {row[1]: Edit(*row) for row in rows}

    def for_items(self, items: Iterable[str]) -> dict[str, dict[str, Edit]]:
        wanted = set(items)
        out: dict[str, dict[str, Edit]] = {}
        for edit in self.all():
            if edit.item in wanted:
                out.setdefault(edit.item, {})[edit.field] = edit
        return out

    def all(self, status: str | None = None) -> list[Edit]:
        query = f"SELECT {_COLUMNS} FROM edits"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY item, field", args).fetchall()
        return [Edit(*row) for row in rows]

    def source(self, input_hash: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM sources WHERE hash = ?", (input_hash,)
            ).fetchone()
        return str(row[0]) if row else None

    def save(
        self, target: Target, text: str, editor: str, *, approve: bool, source: str | None = None
    ) -> Edit:
        """Keep `text` as the field's draft, or approve it. An edit made against other machine
        text (a stale one) is replaced; the log keeps every step."""
        from summarize.db import transaction

        now = time.time()
        status = "approved" if approve else "draft"
        edit = Edit(
            **dataclasses.asdict(target),
            text=text,
            status=status,
            editor=editor,
            updated=now,
            approved_by=editor if approve else None,
            approved_at=now if approve else None,
        )
        with self._lock, transaction(self._db):
            self._db.execute(
                f"INSERT OR REPLACE INTO edits ({_COLUMNS}) VALUES "
                f"({', '.join('?' * len(Edit.__dataclass_fields__))})",
                tuple(getattr(edit, name) for name in Edit.__dataclass_fields__),
            )
            self._db.execute(
                "INSERT INTO edit_log VALUES (?, ?, ?, ?, ?, ?)",
                (edit.item, edit.field, status if approve else "edit", text, editor, now),
            )
            if source is not None:
                self._db.execute(
                    "INSERT OR IGNORE INTO sources VALUES (?, ?)", (target.input_hash, source)
                )
        return edit

    def log(self, item: str | None = None) -> list[dict[str, object]]:
        query = "SELECT item, field, action, text, editor, at FROM edit_log"
        args: tuple[str, ...] = ()
        if item is not None:
            query, args = query + " WHERE item = ?", (item,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid", args).fetchall()
        keys = ("item", "field", "action", "text", "editor", "at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
