"""Jobs that survive a restart: SQLite (WAL) under the output folder, one row per job and one
per finished article, written as each article finishes, so a restarted service resumes a job
without redoing what it already finished (and the result cache makes even that cheap)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from summarize.errors import CacheError

# Numbered migrations (summarize.db): index + 1 is the schema version.
MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,          -- queued, running, done, cancelled
    created REAL NOT NULL,
    updated REAL NOT NULL,
    total INTEGER NOT NULL,
    targets TEXT NOT NULL,
    articles TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_results (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    article_id TEXT,
    status TEXT NOT NULL,          -- ok or error
    body TEXT NOT NULL,            -- the result document, or the error
    PRIMARY KEY (job_id, idx)
);
""",
    # 2: the stories a job's articles belong to (as the machine wrote them), for the desk.
    "ALTER TABLE jobs ADD COLUMN stories TEXT NOT NULL DEFAULT '[]'",
    # 3: who submitted a job, and the label it was given (the desk names jobs by them).
    """
ALTER TABLE jobs ADD COLUMN submitted_by TEXT;
ALTER TABLE jobs ADD COLUMN label TEXT;
""",
]


class JobStore:
    def __init__(self, path: Path) -> None:
        from summarize.db import NewerSchema, connect

        try:
            self._db = connect(path, MIGRATIONS)
        except (NewerSchema, sqlite3.DatabaseError) as exc:
            raise CacheError(
                f"job store {path} cannot be opened ({exc}); move it aside to start afresh"
            ) from None
        self._lock = threading.Lock()

    def create(
        self,
        articles: list[dict[str, Any]],
        targets: list[str],
        submitted_by: str | None = None,
        label: str | None = None,
    ) -> str:
        job_id = uuid.uuid4().hex
        now = time.time()
        if not label:  # named by its first headline (or first line), as the desk lists it
            first = articles[0] if articles else {}
            lines = str(first.get("title") or first.get("text") or "").strip().splitlines()
            label = (lines[0][:80] if lines else None) or None
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, created, updated, total, targets, articles, "
                "submitted_by, label) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    now,
                    now,
                    len(articles),
                    json.dumps(targets),
                    json.dumps(articles, ensure_ascii=False),
                    submitted_by,
                    label,
                ),
            )
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, status, created, updated, total, targets, submitted_by, label "
                "FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
            if row is None:
                return None
            counts = dict(
                self._db.execute(
                    "SELECT status, COUNT(*) FROM job_results WHERE job_id = ? GROUP BY status",
                    (job_id,),
                ).fetchall()
            )
        done = sum(counts.values())
        return {
            "id": row[0],
            "status": row[1],
            "created": row[2],
            "updated": row[3],
            "total": row[4],
            "targets": json.loads(row[5]),
            "submitted_by": row[6],
            "label": row[7],
            "done": done,
            "failed": counts.get("error", 0),
            "progress": round(done / row[4], 4) if row[4] else 1.0,
        }

    def articles(self, job_id: str) -> list[dict[str, Any]]:
        with self._lock:
            row = self._db.execute("SELECT articles FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def finished_indexes(self, job_id: str) -> set[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idx FROM job_results WHERE job_id = ?", (job_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def record(
        self, job_id: str, idx: int, article_id: str | None, status: str, body: dict[str, Any]
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO job_results VALUES (?, ?, ?, ?, ?)",
                (job_id, idx, article_id, status, json.dumps(body, ensure_ascii=False)),
            )
            self._db.execute("UPDATE jobs SET updated = ? WHERE id = ?", (time.time(), job_id))

    def set_status(self, job_id: str, status: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = ?, updated = ? WHERE id = ?",
                (status, time.time(), job_id),
            )

    def results(self, job_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, article_id, status, body FROM job_results WHERE job_id = ? "
                "ORDER BY idx",
                (job_id,),
            ).fetchall()
        out = []
        for idx, article_id, status, body in rows:
            doc = json.loads(body)
            out.append(doc if status == "ok" else {"id": article_id, "index": idx, "error": doc})
        return out

    def set_stories(self, job_id: str, stories: list[dict[str, Any]]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET stories = ? WHERE id = ?",
                (json.dumps(stories, ensure_ascii=False), job_id),
            )

    def stories(self, job_id: str) -> list[dict[str, Any]]:
        with self._lock:
            row = self._db.execute("SELECT stories FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest jobs, for the desk's job list."""
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
                ).fetchall()
            ]
        return [info for info in (self.get(i) for i in ids) if info is not None]

    def unfinished(self) -> list[str]:
        """Jobs a previous process accepted and did not finish, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created"
            ).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
