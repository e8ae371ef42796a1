"""Signed webhooks: the service tells a newsroom's systems when a job finishes, an item is
approved or a story changes.

Signing follows the Standard Webhooks convention (standardwebhooks.com): headers `webhook-id`,
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`{id}.{timestamp}.{body}`, with the secret given as `whsec_<base64>` (or any other string,
used as its UTF-8 bytes). A receiver checks the signature and the timestamp's age, and keeps
the ids it has seen: a delivery whose answer was lost is sent again, under the same id.

Every event goes into an outbox in `<output>/outbox.sqlite3` before anything is sent, one
delivery per receiver, so a receiver's outage or the service's restart loses nothing. Each
receiver gets its events in order, one at a time: a later event waits until the earlier one
is delivered (or given up after MAX_ATTEMPTS, about a day of retries), and every attempt's
outcome is kept (`GET /v1/deliveries`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.db import connect, transaction

log = logging.getLogger("summarize.service")

MIGRATIONS = [
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, type TEXT NOT NULL,
        job TEXT, created REAL NOT NULL, body TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        event INTEGER NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_status INTEGER,
        last_error TEXT, delivered_at REAL, PRIMARY KEY (event, url)
    );
    CREATE INDEX deliveries_due ON deliveries (url, status, event)
    """
]
MAX_ATTEMPTS = 20
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 3600.0
TIMEOUT_S = 10.0


def secret_key(secret: str) -> bytes:
    """The HMAC key: `whsec_<base64>` decoded, as Standard Webhooks writes secrets."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode("utf-8")


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""
    content = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: float = 300) -> bool:
    """What a receiver does (the README shows it): the signature matches and is recent."""
    low = {k.lower(): v for k, v in headers.items()}
    try:
        stamp = int(low["webhook-timestamp"])
        expected = sign(secret, low["webhook-id"], stamp, body)
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance_s:
        return False
    return any(hmac.compare_digest(expected, s) for s in low.get("webhook-signature", "").split())


def backoff(attempts: int) -> float:
    return float(min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** max(0, attempts - 1)))


class Notifier:
    """The outbox and the thread that delivers it."""

    def __init__(
        self, path: Path, urls: Sequence[str], secret: str, timeout: float = TIMEOUT_S
    ) -> None:
        self.urls = tuple(urls)
        self.secret = secret
        self.timeout = timeout
        self._db = connect(path, MIGRATIONS)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the outbox ------------------------------------------------------------------------

    def emit(self, kind: str, data: dict[str, Any], job: str | None = None) -> str | None:
        """Store an event for every receiver; the thread sends it. Never raises: a failure to
        record an event is logged, and the work that caused it stands."""
        if not self.urls:
            return None
        event_id = f"evt_{uuid.uuid4().hex}"
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = json.dumps(
            {"id": event_id, "type": kind, "timestamp": stamp, "data": data},
            ensure_ascii=False,
            sort_keys=True,
        )
        try:
            with self._lock, transaction(self._db) as db:
                seq = db.execute(
                    "INSERT INTO events (id, type, job, created, body) VALUES (?, ?, ?, ?, ?)",
                    (event_id, kind, job, now, body),
                ).lastrowid
                for url in self.urls:
                    db.execute(
                        "INSERT INTO deliveries (event, url, next_at) VALUES (?, ?, ?)",
                        (seq, url, now),
                    )
        except Exception:
            log.error("could not record the %s event", kind, exc_info=True)
            return None
        self._wake.set()
        return event_id

    def deliveries(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT e.id, e.type, e.job, e.created, d.url, d.status, d.attempts, "
                "d.last_status, d.last_error, d.delivered_at, d.next_at FROM deliveries d "
                "JOIN events e ON e.seq = d.event ORDER BY d.event DESC, d.url LIMIT ?",
                (limit,),
            ).fetchall()
        keys = (
            "event",
            "type",
            "job",
            "created",
            "url",
            "status",
            "attempts",
            "last_status",
            "last_error",
            "delivered_at",
            "next_at",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- delivery --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._db.close()

    def _loop(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    wait = min((self._step(client, url) for url in self.urls), default=60.0)
                except Exception:
                    log.error("webhook delivery failed", exc_info=True)
                    wait = 5.0
                self._wake.wait(timeout=max(0.05, min(wait, 60.0)))
                self._wake.clear()

    def _step(self, client: Any, url: str) -> float:
        """Send this receiver's events that are due, in order; seconds until the next is."""
        while not self._stop.is_set():
            with self._lock:
                row = self._db.execute(
                    "SELECT d.event, d.attempts, d.next_at, e.id, e.body FROM deliveries d "
                    "JOIN events e ON e.seq = d.event WHERE d.url = ? AND d.status = 'pending' "
                    "ORDER BY d.event LIMIT 1",
                    (url,),
                ).fetchone()
            if row is None:
                return 60.0
            seq, attempts, next_at, event_id, body = row
            if next_at > time.time():
                return float(next_at - time.time())
            status, error = self._send(client, url, event_id, body.encode("utf-8"))
            attempts += 1
            with self._lock, transaction(self._db) as db:
                if status is not None and 200 <= status < 300:
                    db.execute(
                        "UPDATE deliveries SET status = 'delivered', attempts = ?, "
                        "last_status = ?, last_error = NULL, delivered_at = ? "
                        "WHERE event = ? AND url = ?",
                        (attempts, status, time.time(), seq, url),
                    )
                    continue
                gave_up = attempts >= MAX_ATTEMPTS
                db.execute(
                    "UPDATE deliveries SET status = ?, attempts = ?, last_status = ?, "
                    "last_error = ?, next_at = ? WHERE event = ? AND url = ?",
                    (
                        "failed" if gave_up else "pending",
                        attempts,
                        status,
                        error,
                        time.time() + backoff(attempts),
                        seq,
                        url,
                    ),
                )
            log.warning("webhook %s to %s: %s (attempt %d)", event_id, url, error, attempts)
            if not gave_up:
                return backoff(attempts)
        return 0.0

    def _send(self, client: Any, url: str, event_id: str, body: bytes) -> tuple[int | None, str]:
        import httpx

        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(self.secret, event_id, stamp, body),
            "user-agent": "summarize-webhooks",
        }
        try:
            answer = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, f"timed out after {self.timeout:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if 200 <= answer.status_code < 300:
            return answer.status_code, ""
        return answer.status_code, f"HTTP {answer.status_code}"
