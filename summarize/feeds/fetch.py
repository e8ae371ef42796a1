"""Polite, bounded HTTP for feeds and article pages.

Every request names the tool (User-Agent), honours robots.txt (a setting), waits its turn per
host (a few requests at a time), gives up after a timeout, refuses a body over the size cap
while it arrives, follows a bounded number of redirects, and asks conditionally (ETag,
Last-Modified) so an unchanged feed or page costs a 304. httpx does the HTTP: per-phase
timeouts, streaming, redirect limits and a connection pool, well kept and already the
project's test client.
"""

from __future__ import annotations

import threading
import urllib.robotparser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from summarize._version import __version__

USER_AGENT = f"summarize/{__version__} (newsroom summariser; feeds and their linked articles)"
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class FetchPolicy:
    """The bounds of every request (settings: feed_timeout, feed_max_bytes, ...)."""

    timeout: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host: int = 2
    robots: bool = True
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A request that gave nothing usable, with the reason in words."""


class Fetcher:
    """One HTTP client for a run or a watch: its pool, robots files and per-host turns."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        import httpx

        self.policy = policy or FetchPolicy()
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout),
            follow_redirects=True,
            max_redirects=self.policy.max_redirects,
            headers={"User-Agent": self.policy.user_agent},
        )
        self._lock = threading.Lock()
        self._turns: dict[str, threading.BoundedSemaphore] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @contextmanager
    def _turn(self, url: str) -> Iterator[None]:
        host = urlsplit(url).netloc
        with self._lock:
            turn = self._turns.setdefault(host, threading.BoundedSemaphore(self.policy.per_host))
        with turn:
            yield

    def allowed(self, url: str) -> bool:
        """robots.txt says this tool may fetch `url` (no robots file, or an unreadable one,
        allows all, as crawlers do)."""
        if not self.policy.robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            known = origin in self._robots
            robots = self._robots.get(origin)
        if not known:
            robots = None
            try:
                answer = self._get(f"{origin}/robots.txt", {}, 100_000, any_type=True)
                if answer.status == 200:
                    robots = urllib.robotparser.RobotFileParser()
                    robots.parse(answer.body.decode("utf-8", "replace").splitlines())
            except FetchError:
                robots = None
            with self._lock:
                self._robots[origin] = robots
        return robots is None or robots.can_fetch(self.policy.user_agent, url)

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        modified: str | None = None,
        html_only: bool = False,
    ) -> Fetched:
        """GET `url` within the policy; 304 when unchanged since `etag`/`modified`."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) address: {url}")
        if not self.allowed(url):
            raise FetchError("robots.txt does not allow this tool to fetch it (feed_robots)")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        with self._turn(url):
            return self._get(url, headers, self.policy.max_bytes, any_type=not html_only)

    def _get(self, url: str, headers: dict[str, str], cap: int, *, any_type: bool) -> Fetched:
        import httpx

        try:
            with self._client.stream("GET", url, headers=headers) as answer:
                kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
                if answer.status_code == 304:
                    return Fetched(str(answer.url), 304, b"", kind, None, None)
                if answer.status_code >= 400:
                    raise FetchError(f"HTTP {answer.status_code} {answer.reason_phrase}".strip())
                if not any_type and kind not in HTML_TYPES:
                    raise FetchError(f"not a web page (Content-Type {kind or 'missing'})")
                declared = answer.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise FetchError(f"larger than the {cap:,}-byte cap (feed_max_bytes)")
                body = bytearray()
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise FetchError(f"larger than the {cap:,}-byte cap (feed_max_bytes)")
                return Fetched(
                    str(answer.url),
                    answer.status_code,
                    bytes(body),
                    kind,
                    answer.headers.get("etag"),
                    answer.headers.get("last-modified"),
                )
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {self.policy.max_redirects} redirects (a loop?)") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.policy.timeout:g} s (feed_timeout)") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot be fetched: {type(exc).__name__}: {exc}") from None
