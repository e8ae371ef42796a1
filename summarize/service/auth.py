"""Who may call the service, and how much: bearer keys, a rate per key, body and queue limits,
and the JSON error every refusal is."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2_000_000
    rate_per_minute: int = 120
    max_queue: int = 64


def load_keys(keys_given: Sequence[str], key_file: Path | None) -> list[str]:
    """The keys from the settings plus those in a key file (one per line, # comments)."""
    keys = [k.strip() for k in keys_given if k.strip()]
    if key_file is not None:
        keys += [
            line.strip()
            for line in key_file.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return keys


class ApiError(Exception):
    """A refusal: HTTP status, a machine-readable kind, a message, extra headers."""

    def __init__(
        self, status: int, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, headers


class RateLimiter:
    """A token bucket per key: `rate` requests a minute, bursts up to `rate`."""

    def __init__(self, rate_per_minute: int) -> None:
        self.rate = rate_per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed, else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / 60.0)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) * 60.0 / self.rate


def authorise(request: Any, keys: Sequence[str], limiter: RateLimiter) -> str:
    """The caller's key (checked in constant time) after its rate, or its address when no
    keys are set; raises ApiError (401, 429)."""
    if not keys:
        return str(request.client.host) if request.client else "anonymous"
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    ok = False
    for key in keys:  # compare against every key, so timing says nothing
        ok |= hmac.compare_digest(given.strip().encode(), key.encode())
    if scheme.lower() != "bearer" or not ok:
        raise ApiError(
            401, "unauthorized", "send Authorization: Bearer <key>", {"WWW-Authenticate": "Bearer"}
        )
    wait = limiter.take(given)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; retry in {wait:.0f} s",
            {"Retry-After": str(max(1, round(wait)))},
        )
    return str(given)
