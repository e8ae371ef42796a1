"""Who may call the service, and how much: bearer keys (each with a name and a role), a rate
per key, body and queue limits, and the JSON error every refusal is.

A key is written `SECRET [NAME] [ROLE]` (in the key file, one per line; in SUMMARIZE_API_KEYS,
comma-separated). The name is what the review desk records as the editor, never the secret;
the role is `editor` (may edit and approve; the default) or `reader` (may read only)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")
ROLES = ("editor", "reader")


@dataclass(frozen=True)
class ApiKey:
    secret: str
    name: str
    role: str = "editor"

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


def parse_key(spec: str, where: str = "key") -> ApiKey:
    """`SECRET [NAME] [ROLE]`; an unnamed key is named by a digest of its secret."""
    import hashlib

    parts = spec.split()
    if not parts or len(parts) > 3:
        raise ValueError(f"{where}: expected 'SECRET [NAME] [ROLE]', got {len(parts)} words")
    secret = parts[0]
    name = parts[1] if len(parts) > 1 else "key-" + hashlib.sha256(secret.encode()).hexdigest()[:8]
    role = parts[2] if len(parts) > 2 else "editor"
    if role not in ROLES:
        raise ValueError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    return ApiKey(secret, name, role)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2_000_000
    rate_per_minute: int = 120
    max_queue: int = 64


def load_keys(keys_given: Sequence[str | ApiKey], key_file: Path | None = None) -> list[ApiKey]:
    """The keys from the settings plus those in a key file (one per line, # comments).
    Raises ValueError naming the line of a malformed key or a name used twice."""
    keys = [
        k if isinstance(k, ApiKey) else parse_key(k, f"API key {i + 1}")
        for i, k in enumerate(keys_given)
        if isinstance(k, ApiKey) or k.strip()
    ]
    if key_file is not None:
        for number, line in enumerate(key_file.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                keys.append(parse_key(line, f"{key_file}:{number}"))
    names = [k.name for k in keys]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"API key names must differ: {', '.join(twice)} is used twice")
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


def authorise(request: Any, keys: Sequence[ApiKey], limiter: RateLimiter) -> ApiKey:
    """The caller's key (checked in constant time) after its rate, or, when no keys are set
    (loopback only), an editor named after its address; raises ApiError (401, 429)."""
    if not keys:
        return ApiKey("", str(request.client.host) if request.client else "local")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    found: ApiKey | None = None
    for key in keys:  # compare against every key, so timing says nothing
        if hmac.compare_digest(given.strip().encode(), key.secret.encode()):
            found = key
    if scheme.lower() != "bearer" or found is None:
        raise ApiError(
            401, "unauthorized", "send Authorization: Bearer <key>", {"WWW-Authenticate": "Bearer"}
        )
    wait = limiter.take(found.name)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; retry in {wait:.0f} s",
            {"Retry-After": str(max(1, round(wait)))},
        )
    return found


def require_editor(key: ApiKey) -> None:
    if not key.can_edit:
        raise ApiError(
            403, "forbidden", f"key {key.name!r} is a reader: it may read but not edit or approve"
        )
