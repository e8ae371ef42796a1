"""The edits store: what editors drafted and approved, kept apart from machine output.

One SQLite file per output folder (`<output>/edits.sqlite3`, the family of the cache and the
job store: WAL, numbered migrations). An edit belongs to a *scope* (`folder` for what `summarize
run` and `watch` wrote there, or a service job's id), an item (an article id, unique within its
scope, or `story:<id>`) and a field. A field holds at most one approved text and one draft
apart: saving a draft never unpublishes what was approved. Every field has a version, raised
by each save; a save names the version its editor saw and is refused (`Conflict`) when the
field moved on since, so two editors never silently overwrite each other. Every step is also
appended to a log. The cache is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from summarize.errors import CacheError, ReviewError

EDITS_FILE = "edits.sqlite3"
FOLDER = "folder"  # the scope of an output folder's own results (run, watch)
DRAFT, APPROVED = "draft", "approved"

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS edits (
    item TEXT NOT NULL,
    field TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    model TEXT NOT NULL,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    input_text TEXT NOT NULL,
    machine_text TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    editor TEXT NOT NULL,
    updated REAL NOT NULL,
    approved_by TEXT,
    approved_at REAL,
    PRIMARY KEY (item, field)
);
CREATE TABLE IF NOT EXISTS edit_log (
    item TEXT NOT NULL,
    field TEXT NOT NULL,
    action TEXT NOT NULL,
    text TEXT NOT NULL,
    editor TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    hash TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
""",
    # 2: scopes (a job's edits are its own), a draft apart from the approved text, versions.
    # The old table is kept as edits_v1: editors' work is never deleted by an upgrade.
    """
CREATE TABLE edits_v2 (
    scope TEXT NOT NULL,           -- folder, or a service job's id
    item TEXT NOT NULL,            -- article id (unique in its scope), or story:<story id>
    field TEXT NOT NULL,           -- summary, title, translation:<lang>, title:<lang>, story_summary:<lang>
    status TEXT NOT NULL,          -- draft or approved: one of each at most
    input_hash TEXT NOT NULL,      -- the source article's hash (a story's: its members')
    signature TEXT NOT NULL,       -- a digest of the machine text under the edit
    model TEXT NOT NULL,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    input_text TEXT NOT NULL,      -- what the stage read: the summary translated, or ''
    machine_text TEXT NOT NULL,
    text TEXT NOT NULL,            -- the editor's text (the machine's, when approved unchanged)
    editor TEXT NOT NULL,          -- who saved (or approved) it
    at REAL NOT NULL,
    version INTEGER NOT NULL,      -- the field's version this save made
    acknowledged TEXT NOT NULL DEFAULT '[]',  -- warnings the approver saw and accepted
    PRIMARY KEY (scope, item, field, status)
);
INSERT INTO edits_v2
    SELECT 'folder', item, field, status, input_hash, signature, model, source_lang,
           target_lang, input_text, machine_text, text, COALESCE(approved_by, editor),
           COALESCE(approved_at, updated), 1, '[]'
    FROM edits;
ALTER TABLE edits RENAME TO edits_v1;
ALTER TABLE edits_v2 RENAME TO edits;
CREATE TABLE versions (
    scope TEXT NOT NULL,
    item TEXT NOT NULL,
    field TEXT NOT NULL,
    version INTEGER NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (scope, item, field)
);
INSERT OR IGNORE INTO versions SELECT scope, item, field, version, editor, at FROM edits;
ALTER TABLE edit_log ADD COLUMN scope TEXT NOT NULL DEFAULT 'folder';
ALTER TABLE edit_log ADD COLUMN version INTEGER;
""",
]


@dataclass(frozen=True)
class Target:
    """The machine text an edit is made against, as `review.fields.target` finds it."""

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
    """A saved text (a draft or the approved one) and the target it was made against."""

    text: str
    status: str
    editor: str
    at: float
    version: int
    scope: str = FOLDER
    acknowledged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.text != self.machine_text


@dataclass(frozen=True)
class FieldEdits:
    """One field's review state: its version (0 before any edit), who changed it last, and
    its approved text and draft, each at most one."""

    version: int = 0
    by: str | None = None
    at: float | None = None
    approved: Edit | None = None
    draft: Edit | None = None

    @property
    def edits(self) -> list[Edit]:
        return [e for e in (self.approved, self.draft) if e is not None]


@dataclass(frozen=True)
class Save:
    """One field's save: the text, what it was made against, and the version its editor saw
    (None: pinned by its text alone)."""

    target: Target
    text: str
    expected: int | None
    acknowledged: tuple[str, ...] = ()
    action: str | None = None


class Conflict(ReviewError):
    """A save against a version that is no longer the field's: someone changed it meanwhile."""

    def __init__(
        self,
        item: str,
        field: str,
        expected: int,
        current: FieldEdits,
        text: str | None = None,
    ) -> None:
        self.item, self.field, self.expected, self.current = item, field, expected, current
        latest = current.draft or current.approved
        # The field's text now: what the approver would approve instead of what they saw.
        self.text = text if text is not None else (latest.text if latest else None)
        super().__init__(item, field)

    def __str__(self) -> str:
        who = f" by {self.current.by}" if self.current.by else ""
        if self.expected == self.current.version:
            return (
                f"{self.item} {self.field}: its text changed since you loaded it (the source "
                "or the machine text was updated); look at it again and approve what you see"
            )
        return (
            f"{self.item} {self.field}: changed{who} since you loaded it; look at the text "
            "as it is now and choose again (nothing of yours was saved or approved)"
        )


_COLUMNS = (
    "item, field, input_hash, signature, model, source_lang, target_lang, input_text, "
    "machine_text, text, status, editor, at, version, scope, acknowledged"
)


_NAMES = [n.strip() for n in _COLUMNS.split(",")]


def _edit(row: Sequence[object]) -> Edit:
    values = dict(zip(_NAMES, row, strict=True))
    values["acknowledged"] = tuple(json.loads(str(values["acknowledged"])))
    return Edit(**values)  # type: ignore[arg-type]


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

    # -- reading -------------------------------------------------------------------------------

    def fields(self, scope: str, item: str) -> dict[str, FieldEdits]:
        return self.items(scope, [item]).get(item, {})

    def items(self, scope: str, items: Iterable[str]) -> dict[str, dict[str, FieldEdits]]:
        """Each item's fields with their review state (items with no edit left out)."""
        with self._lock:
            return self._read(scope, list(dict.fromkeys(items)))

    def _read(self, scope: str, wanted: list[str]) -> dict[str, dict[str, FieldEdits]]:
        out: dict[str, dict[str, FieldEdits]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            versions = self._db.execute(
                f"SELECT item, field, version, by, at FROM versions "
                f"WHERE scope = ? AND item IN ({marks})",
                (scope, *chunk),
            ).fetchall()
            edits = self._db.execute(
                f"SELECT {_COLUMNS} FROM edits WHERE scope = ? AND item IN ({marks})",
                (scope, *chunk),
            ).fetchall()
            for item, name, version, by, at in versions:
                out.setdefault(item, {})[name] = FieldEdits(version, by, at)
            for row in edits:
                e = _edit(row)
                current = out.setdefault(e.item, {}).get(e.field, FieldEdits(e.version))
                out[e.item][e.field] = (
                    dataclasses.replace(current, approved=e)
                    if e.status == APPROVED
                    else dataclasses.replace(current, draft=e)
                )
        return out

    def all(self, status: str | None = None) -> list[Edit]:
        """Every kept text (of one status), all scopes: what `edits export` and `eval
        --from-edits` read."""
        query = f"SELECT {_COLUMNS} FROM edits"
        args: tuple[str, ...] = ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY scope, item, field", args).fetchall()
        return [_edit(row) for row in rows]

    def source(self, input_hash: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM sources WHERE hash = ?", (input_hash,)
            ).fetchone()
        return str(row[0]) if row else None

    def log(self, scope: str, item: str | None = None) -> list[dict[str, object]]:
        """Every step on the scope's items (or one item), oldest first: the edit history."""
        query = (
            "SELECT item, field, action, text, editor, at, version FROM edit_log WHERE scope = ?"
        )
        args: tuple[str, ...] = (scope,)
        if item is not None:
            query, args = query + " AND item = ?", (scope, item)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid", args).fetchall()
        keys = ("item", "field", "action", "text", "editor", "at", "version")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- writing -------------------------------------------------------------------------------

    def save(
        self,
        scope: str,
        target: Target,
        text: str,
        editor: str,
        *,
        approve: bool,
        expected: int | None,
        source: str | None = None,
        acknowledged: Sequence[str] = (),
        action: str | None = None,
    ) -> FieldEdits:
        """Keep `text` as the field's draft, or approve it (the draft, if any, is then done
        with). `expected`: the field version the editor saw; another one raises `Conflict`
        with the field as it is now. None skips the check (the approval is then pinned by
        its text alone: the caller checked that it is the one its approver saw)."""
        save = Save(target, text, expected, tuple(acknowledged), action)
        return self.save_all(scope, [save], editor, approve=approve, source=source)[0]

    def save_all(
        self,
        scope: str,
        saves: Sequence[Save],
        editor: str,
        *,
        approve: bool,
        source: str | None = None,
    ) -> list[FieldEdits]:
        """Several fields of one item saved in one transaction: all of them, or (on a
        `Conflict` in any) none, so an item is never left half approved."""
        from summarize.db import transaction

        now = time.time()
        status = APPROVED if approve else DRAFT
        out_fields: list[str] = []
        with self._lock, transaction(self._db) as db:
            for one in saves:
                target = one.target
                row = db.execute(
                    "SELECT version FROM versions WHERE scope = ? AND item = ? AND field = ?",
                    (scope, target.item, target.field),
                ).fetchone()
                current = int(row[0]) if row else 0
                if one.expected is not None and one.expected != current:
                    state = self._read(scope, [target.item]).get(target.item, {})
                    raise Conflict(
                        target.item,
                        target.field,
                        one.expected,
                        state.get(target.field, FieldEdits()),
                    )
                self._write(db, scope, one, editor, status, current + 1, now)
                if source is not None:
                    db.execute(
                        "INSERT OR IGNORE INTO sources VALUES (?, ?)", (target.input_hash, source)
                    )
                out_fields.append(target.field)
            if not saves:
                return []
            state = self._read(scope, [saves[0].target.item])[saves[0].target.item]
            return [state[f] for f in out_fields]

    def _write(
        self,
        db: sqlite3.Connection,
        scope: str,
        one: Save,
        editor: str,
        status: str,
        version: int,
        now: float,
    ) -> None:
        target, text = one.target, one.text
        edit = Edit(
            **dataclasses.asdict(target),
            text=text,
            status=status,
            editor=editor,
            at=now,
            version=version,
            scope=scope,
            acknowledged=one.acknowledged,
        )
        db.execute(
            f"INSERT OR REPLACE INTO edits ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
            (
                *(getattr(edit, k) for k in _NAMES[:-1]),
                json.dumps(list(edit.acknowledged)),
            ),
        )
        if status == APPROVED:
            # A draft this approval does not take is superseded: said in the history.
            for by, draft_text in db.execute(
                "SELECT editor, text FROM edits WHERE scope = ? AND item = ? AND field = ? "
                "AND status = ?",
                (scope, target.item, target.field, DRAFT),
            ).fetchall():
                if draft_text != text:
                    db.execute(
                        "INSERT INTO edit_log (item, field, action, text, editor, at, scope, "
                        "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            target.item,
                            target.field,
                            f"superseded a draft by {by}",
                            draft_text,
                            editor,
                            now,
                            scope,
                            version,
                        ),
                    )
            db.execute(
                "DELETE FROM edits WHERE scope = ? AND item = ? AND field = ? AND status = ?",
                (scope, target.item, target.field, DRAFT),
            )
        db.execute(
            "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?)",
            (scope, target.item, target.field, version, editor, now),
        )
        db.execute(
            "INSERT INTO edit_log (item, field, action, text, editor, at, scope, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                target.item,
                target.field,
                one.action or ("approve" if status == APPROVED else "edit"),
                text,
                editor,
                now,
                scope,
                version,
            ),
        )

    def withdraw(self, scope: str, item: str, field: str, editor: str, expected: int) -> None:
        """Withdraw a field's approval: its text goes back to being a draft (unless a newer
        draft is already there), recorded in the log; the field's version rises."""
        from summarize.db import transaction

        now = time.time()
        with self._lock, transaction(self._db) as db:
            row = db.execute(
                "SELECT version FROM versions WHERE scope = ? AND item = ? AND field = ?",
                (scope, item, field),
            ).fetchone()
            current = int(row[0]) if row else 0
            if expected != current:
                state = self._read(scope, [item]).get(item, {})
                raise Conflict(item, field, expected, state.get(field, FieldEdits()))
            approved = db.execute(
                f"SELECT {_COLUMNS} FROM edits WHERE scope = ? AND item = ? AND field = ? "
                "AND status = ?",
                (scope, item, field, APPROVED),
            ).fetchone()
            if approved is None:
                raise ReviewError(f"{item} {field}: nothing approved to withdraw")
            edit = _edit(approved)
            version = current + 1
            db.execute(
                "DELETE FROM edits WHERE scope = ? AND item = ? AND field = ? AND status = ?",
                (scope, item, field, APPROVED),
            )
            draft = dataclasses.replace(
                edit, status=DRAFT, editor=editor, at=now, version=version, acknowledged=()
            )
            db.execute(
                f"INSERT OR IGNORE INTO edits ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                (*(getattr(draft, k) for k in _NAMES[:-1]), "[]"),
            )
            db.execute(
                "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                (scope, item, field, version, editor, now),
            )
            db.execute(
                "INSERT INTO edit_log (item, field, action, text, editor, at, scope, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item, field, "withdraw", edit.text, editor, now, scope, version),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
