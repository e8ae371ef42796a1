"""Who may call the service, and how much: bearer keys (each with a name and a role), a rate
per key, body and queue limits, and the JSON error every refusal is.

A key is written `SECRET name=NAME role=ROLE` (in the key file, one per line; in
SUMMARIZE_API_KEYS, comma-separated); both are optional, and nothing else is accepted, so a
role can never be read as a name. The name is what the desk records as the editor or
submitter, never the secret. Roles: `reader` (reads jobs, items and briefs), `editor` (also
edits and approves), `admin` (also submits and cancels jobs; the default for a key given no
role, as a lone key has always done everything). Failed authentication is throttled per
client address."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")
ROLES = ("reader", "editor", "admin")  # each may do what the one before it may, and more
KEY_FORMAT = "SECRET name=NAME role=reader|editor|admin"


@dataclass(frozen=True)
class ApiKey:
    secret: str
    name: str
    role: str = "admin"

    @property
    def can_edit(self) -> bool:
        return self.role in ("editor", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def parse_key(spec: str, where: str = "key") -> ApiKey:
    """`SECRET name=NAME role=ROLE`; an unnamed key is named by a digest of its secret."""
    import hashlib

    secret, *rest = spec.split() or [""]
    if not secret or "=" in secret:
        raise ValueError(f"{where}: expected '{KEY_FORMAT}', starting with the secret")
    given: dict[str, str] = {}
    for word in rest:
        key, sep, value = word.partition("=")
        if not sep or key not in ("name", "role") or not value or key in given:
            raise ValueError(
                f"{where}: {word!r} is not name=... or role=...; write keys as '{KEY_FORMAT}'"
            )
        given[key] = value
    name = given.get("name") or "key-" + hashlib.sha256(secret.encode()).hexdigest()[:8]
    role = given.get("role", "admin")
    if role not in ROLES:
        raise ValueError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    return ApiKey(secret, name, role)


@dataclass(frozen=True)
class Limits:
    """What one client and the whole queue may send. Pass by name (they are all ints)."""

    max_body_bytes: int = 2_000_000  # bytes of one request body, counted as they arrive
    rate_per_minute: int = 120  # requests per key
    failed_auth_per_minute: int = 10  # per client address, before 429s
    max_queue: int = 64  # single requests and jobs waiting for the worker
    max_job_articles: int = 1000  # articles in one job
    max_queued_articles: int = 10_000  # articles of all unfinished jobs together


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
        self.extra: dict[str, Any] | None = None  # more of the answer, beside type and message


class RateLimiter:
    """A token bucket per key (or per client address, for failed authentication): `rate`
    requests a minute, bursts up to `rate`."""

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

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again (0 when it has one), taking none."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / 60.0)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * 60.0 / self.rate

    def blocked(self, key: str) -> bool:
        return self.wait(key) > 0


def _too_many(wait: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429, "rate_limited", f"{what}; retry in {seconds} s", {"Retry-After": str(seconds)}
    )


def authenticate(
    request: Any, keys: Sequence[ApiKey], failures: RateLimiter | None = None
) -> ApiKey:
    """The caller's key, checked in constant time against every key; raises ApiError (401, or
    429 for an address that sent wrong keys too often, counted per address). Reads headers only, so it
    runs before any body is read."""
    client = str(request.client.host) if request.client else "local"
    if failures is not None and failures.blocked(client):
        raise _too_many(failures.wait(client), "too many failed attempts to authenticate")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    found: ApiKey | None = None
    for key in keys:  # compare against every key, so timing says nothing
        if hmac.compare_digest(given.strip().encode(), key.secret.encode()):
            found = key
    if scheme.lower() != "bearer" or found is None:
        # Only a wrong key is a failed attempt: a request that sends none (a fresh desk tab,
        # a health probe) guesses nothing, so it never locks colleagues behind one address out.
        if failures is not None and header.strip():
            failures.take(client)
        raise ApiError(
            401, "unauthorized", "send Authorization: Bearer <key>", {"WWW-Authenticate": "Bearer"}
        )
    return found


def authorise(
    request: Any,
    keys: Sequence[ApiKey],
    limiter: RateLimiter,
    failures: RateLimiter | None = None,
) -> ApiKey:
    """The caller's key after its rate, or, when no keys are set (loopback only), an admin
    named after its address; raises ApiError (401, 429)."""
    if not keys:
        client = str(request.client.host) if request.client else "local"
        return ApiKey("", client)
    found = authenticate(request, keys, failures)
    # A desk tab's heartbeats have a budget of their own: a dozen idle tabs of one editor
    # never spend the requests the editor's work needs.
    beat = str(getattr(getattr(request, "url", None), "path", "")).endswith("/presence")
    wait = limiter.take(found.name + (" (presence)" if beat else ""))
    if wait > 0:
        raise _too_many(wait, "too many requests")
    return found


def require_editor(key: ApiKey) -> None:
    if not key.can_edit:
        raise ApiError(
            403, "forbidden", f"key {key.name!r} is a reader: it may read but not edit or approve"
        )


def require_admin(key: ApiKey) -> None:
    if not key.is_admin:
        raise ApiError(
            403,
            "forbidden",
            f"key {key.name!r} is {'an' if key.role[:1] in 'aeiou' else 'a'} {key.role}: "
            "submitting and cancelling jobs needs an admin key",
        )
