"""Jobs that survive a restart: SQLite (WAL) under the output folder, one row per job and one
per finished article, written as each article finishes, so a restarted service resumes a job
without redoing what it already finished (and the result cache makes even that cheap)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from summarize.errors import CacheError

# Numbered migrations (summarize.db): index + 1 is the schema version.
MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,          -- queued, running, done, cancelled, failed
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
    # 4: a wave in flight (its article indexes) and how often the worker died during one: a
    # job that stops the worker again and again is failed, not retried for ever.
    """
ALTER TABLE jobs ADD COLUMN inflight TEXT;
ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN error TEXT;
""",
]
# A job ends in one of these; the others are still to be worked on.
FINAL = ("done", "cancelled", "failed")


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
                "SELECT id, status, created, updated, total, targets, submitted_by, label, "
                "crashes, error FROM jobs WHERE id = ?",
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
            "worker_restarts": row[8],
            "error": row[9],
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
        self, job_id: str, idx: int, article_id: str | None, status: str, body: Mapping[str, Any]
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO job_results VALUES (?, ?, ?, ?, ?)",
                (job_id, idx, article_id, status, json.dumps(body, ensure_ascii=False)),
            )
            self._db.execute("UPDATE jobs SET updated = ? WHERE id = ?", (time.time(), job_id))

    def begin_wave(self, job_id: str, indexes: list[int]) -> tuple[list[int] | None, int]:
        """Mark a wave in flight; return the wave the last attempt left in flight (the worker
        died during it, else None) and how many times that has happened to this job."""
        with self._lock, self._tx() as db:
            row = db.execute(
                "SELECT inflight, crashes FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            left = json.loads(row[0]) if row and row[0] else None
            crashes = (row[1] if row else 0) + (1 if left is not None else 0)
            db.execute(
                "UPDATE jobs SET inflight = ?, crashes = ?, updated = ? WHERE id = ?",
                (json.dumps(indexes), crashes, time.time(), job_id),
            )
        return left, crashes

    def end_wave(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET inflight = NULL WHERE id = ?", (job_id,))

    def recover(self, job_id: str) -> tuple[list[int] | None, int]:
        """The wave a dead worker left in flight (None if none), counted as a crash and
        cleared, and how many times the worker has died during this job."""
        with self._lock, self._tx() as db:
            row = db.execute(
                "SELECT inflight, crashes FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                return None, 0
            left = json.loads(row[0]) if row[0] else None
            crashes = row[1] + (1 if left is not None else 0)
            if left is not None:
                db.execute(
                    "UPDATE jobs SET inflight = NULL, crashes = ? WHERE id = ?", (crashes, job_id)
                )
        return left, crashes

    def fail(self, job_id: str, reason: str) -> None:
        """End a job as failed: every article it had not finished gets the reason."""
        with self._lock, self._tx() as db:
            row = db.execute("SELECT articles FROM jobs WHERE id = ?", (job_id,)).fetchone()
            articles = json.loads(row[0]) if row else []
            finished = {
                r[0] for r in db.execute("SELECT idx FROM job_results WHERE job_id = ?", (job_id,))
            }
            for i, obj in enumerate(articles):
                if i not in finished:
                    raw = obj.get("id") if isinstance(obj, dict) else None
                    db.execute(
                        "INSERT OR REPLACE INTO job_results VALUES (?, ?, ?, 'error', ?)",
                        (
                            job_id,
                            i,
                            str(raw) if raw else f"article-{i}",
                            json.dumps({"type": "JobFailed", "message": reason}),
                        ),
                    )
            db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, inflight = NULL, updated = ? "
                "WHERE id = ?",
                (reason, time.time(), job_id),
            )

    def queued_articles(self) -> int:
        """Articles of jobs not yet finished, not yet done: what the queue holds."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(j.total), 0) - COALESCE(("
                "  SELECT COUNT(*) FROM job_results r JOIN jobs k ON k.id = r.job_id"
                "  WHERE k.status IN ('queued', 'running')), 0)"
                " FROM jobs j WHERE j.status IN ('queued', 'running')"
            ).fetchone()
        return int(row[0])

    def _tx(self) -> Any:
        from summarize.db import transaction

        return transaction(self._db)

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

    def merge_stories(self, job_id: str, stories: list[dict[str, Any]]) -> None:
        """Keep a wave's stories beside the job's earlier ones: a story the wave touched
        replaces its earlier document (it holds every member so far), the others stay."""
        with self._lock, self._tx() as db:
            row = db.execute("SELECT stories FROM jobs WHERE id = ?", (job_id,)).fetchone()
            kept = {s["id"]: s for s in (json.loads(row[0]) if row else [])}
            kept.update({s["id"]: s for s in stories})
            db.execute(
                "UPDATE jobs SET stories = ? WHERE id = ?",
                (json.dumps(list(kept.values()), ensure_ascii=False), job_id),
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
