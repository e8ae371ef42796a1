"""Polite, bounded HTTP for feeds and article pages: one fetch policy at every hop.

Every request names the tool (User-Agent), honours robots.txt (a setting), waits its turn per
host (a few requests at a time), refuses a body over the size cap while it arrives, follows a
bounded number of redirects, and asks conditionally (ETag, Last-Modified) so an unchanged feed
or page costs a 304.

What a feed may make us fetch is decided here, at every hop (the first request, each
redirect, robots.txt) and on the address actually connected to, not on a name checked
before: a loopback, private, link-local or otherwise non-public address is refused unless it
is a trusted origin (host and port) — the feed the operator named. A fetch has an overall
deadline (`feed_deadline`) and a minimum transfer rate (`feed_min_rate`), so a server that
trickles a byte at a time cannot hold a run: per-phase timeouts alone restart with each byte.
httpx does the HTTP (streaming, per-phase timeouts); its trace hook hands over the socket the
moment it connects, which is where the address is checked and the deadline armed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from summarize._version import __version__

USER_AGENT = f"summarize/{__version__} (newsroom summariser; feeds and their linked articles)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)

Origin = tuple[str, int]  # (host, port): what "the feed's own host" means


@dataclass(frozen=True)
class FetchPolicy:
    """The bounds of every fetch (settings feed_timeout, feed_deadline, feed_min_rate, ...)."""

    timeout: float = 10.0  # connect, and each wait for bytes
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host: int = 2
    robots: bool = True
    user_agent: str = USER_AGENT
    deadline: float = 30.0  # the whole fetch, redirects and robots.txt included
    min_rate: int = 512  # bytes a second, on average, once `timeout` seconds have passed


@dataclass(frozen=True)
class Request:
    """One fetch, planned: where it starts, what it sends, and its bounds. Every hop of it (a
    redirect, the robots.txt it asks first) is checked against the same plan."""

    url: str  # the first address; the hops follow from it
    headers: dict[str, str]
    cap: int  # bytes
    any_type: bool  # False: a web page only (text/html)
    trusted: Collection[Origin]  # origins that may be on a private address
    deadline: float  # time.monotonic() by which the whole fetch is done
    robots: bool  # ask robots.txt before each hop


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


class Refused(FetchError):
    """An address the policy does not let a feed reach."""


def origin(url: str) -> Origin:
    """(host, port) of an address, the port spelled out."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise FetchError(f"not a valid port in {url}") from None
    return (parts.hostname or "", port or (443 if parts.scheme == "https" else 80))


def trusted_origins(feed: str) -> frozenset[Origin]:
    """The origins a feed named by the operator may reach even on a private address: its own
    host and port (and https on the same host, when the feed is plain http)."""
    if urlsplit(feed).scheme not in ("http", "https"):
        return frozenset()
    host, port = origin(feed)
    upgrade = {(host, 443)} if urlsplit(feed).scheme == "http" and port == 80 else set()
    return frozenset({(host, port), *upgrade})


def is_public(address: str) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, shared,
    reserved, multicast or unspecified; an IPv4-mapped IPv6 address is judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    try:
        return sorted({str(i[4][0]) for i in socket.getaddrinfo(host, port, proto=6)})
    except (OSError, UnicodeError):
        return []  # the connection will fail, with its own reason


class Fetcher:
    """One HTTP client for a run or a watch: its robots files and per-host turns. Connections
    are not kept alive: each request's address is checked as it connects."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        import httpx

        self.policy = policy or FetchPolicy()
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout),
            follow_redirects=False,  # each hop is checked here
            limits=httpx.Limits(max_keepalive_connections=0),
            trust_env=False,  # a proxy would hide the address connected to
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

    def allowed(
        self, url: str, trusted: Collection[Origin] = (), deadline: float | None = None
    ) -> bool:
        """robots.txt says this tool may fetch `url` (no robots file, or an unreadable one,
        allows all, as crawlers do). The robots file is fetched under the same policy."""
        if not self.policy.robots:
            return True
        robots = self._robots_of(url, trusted, deadline or time.monotonic() + self.policy.deadline)
        return robots is None or robots.can_fetch(self.policy.user_agent, url)

    def _robots_of(
        self, url: str, trusted: Collection[Origin], deadline: float
    ) -> urllib.robotparser.RobotFileParser | None:
        """The robots file of `url`'s origin, fetched once (a plan that asks no robots file
        of its own), kept for the fetcher's life; None when there is none or it is unreadable."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            if key in self._robots:
                return self._robots[key]
        plan = Request(f"{key}/robots.txt", {}, 100_000, True, trusted, deadline, robots=False)
        robots = None
        try:
            answer = self._fetch(plan)
            if answer.status == 200:
                robots = urllib.robotparser.RobotFileParser()
                robots.parse(answer.body.decode("utf-8", "replace").splitlines())
        except FetchError:  # a refused robots.txt is an unreadable one: never fetched
            robots = None
        with self._lock:
            self._robots[key] = robots
        return robots

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        modified: str | None = None,
        html_only: bool = False,
        trusted: Collection[Origin] = (),
    ) -> Fetched:
        """GET `url` within the policy; 304 when unchanged since `etag`/`modified`.
        `trusted`: origins that may be on a private address (the feed's own)."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        plan = Request(
            url=url,
            headers=headers,
            cap=self.policy.max_bytes,
            any_type=not html_only,
            trusted=trusted,
            deadline=time.monotonic() + self.policy.deadline,
            robots=self.policy.robots,
        )
        return self._fetch(plan)

    def _fetch(self, plan: Request) -> Fetched:
        """Each hop checked (address, then robots.txt), then requested in its host's turn,
        until an answer that is not a redirect."""
        hop = plan.url
        for _ in range(self.policy.max_redirects + 1):
            self._check(hop, plan.url, plan.trusted)
            if plan.robots and not self.allowed(hop, plan.trusted, plan.deadline):
                raise FetchError(
                    "robots.txt does not allow this tool to fetch it (feed_robots)"
                    + ("" if hop == plan.url else f"; it redirected to {hop}")
                )
            with self._turn(hop):
                got = self._once(hop, plan)
            if isinstance(got, Fetched):
                return got
            hop = got
        raise FetchError(f"more than {self.policy.max_redirects} redirects (a loop?)")

    def _check(self, url: str, first: str, trusted: Collection[Origin]) -> None:
        """Refuse before connecting: not http(s), or a name whose addresses are not all public
        (unless its origin is trusted). The connection is checked again as it is made."""
        try:
            if urlsplit(url).scheme not in ("http", "https"):
                raise Refused(f"not an http(s) address: {url}")
            where = origin(url)
        except ValueError as exc:  # a port out of range, brackets that do not close, ...
            raise Refused(f"not a valid address ({exc}): {url[:200]!r}") from None
        if where in trusted:
            return
        private = [a for a in _resolve(*where) if not is_public(a)]
        if private:
            raise Refused(_refusal(url, first, private[0]))

    def _once(self, url: str, plan: Request) -> Fetched | str:
        """One request of `plan` (to `url`, a hop of it): the answer, or the address it
        redirects to."""
        import httpx

        first, headers, cap, deadline = plan.url, plan.headers, plan.cap, plan.deadline
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(self._late())
        expired = threading.Event()
        timers: list[threading.Timer] = []
        check = origin(url) not in plan.trusted

        def guard(event: str, info: dict[str, Any]) -> None:
            if event != "connection.connect_tcp.complete":
                return
            stream = info["return_value"]
            sock = stream.get_extra_info("socket")
            peer = str(sock.getpeername()[0])
            if check and not is_public(peer):
                stream.close()
                raise Refused(_refusal(url, first, peer))

            def expire() -> None:
                expired.set()
                with contextlib.suppress(OSError):  # wakes the read that waits for a byte
                    sock.shutdown(socket.SHUT_RDWR)

            timer = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
            timer.daemon = True
            timers.append(timer)
            timer.start()

        start = time.monotonic()
        try:
            with self._client.stream(
                "GET",
                url,
                headers=headers,
                timeout=httpx.Timeout(min(self.policy.timeout, left)),
                extensions={"trace": guard},
            ) as answer:
                if answer.status_code in _REDIRECTS and answer.headers.get("location"):
                    return urljoin(url, answer.headers["location"])
                kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
                if answer.status_code == 304:
                    return Fetched(url, 304, b"", kind, None, None)
                if answer.status_code >= 400:
                    raise FetchError(f"HTTP {answer.status_code} {answer.reason_phrase}".strip())
                if not plan.any_type and kind not in HTML_TYPES:
                    raise FetchError(f"not a web page (Content-Type {kind or 'missing'})")
                declared = answer.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise FetchError(f"larger than the {cap:,}-byte cap (feed_max_bytes)")
                body = bytearray()
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        raise FetchError(f"larger than the {cap:,}-byte cap (feed_max_bytes)")
                    spent = time.monotonic() - start
                    if spent > self.policy.timeout and len(body) / spent < self.policy.min_rate:
                        raise FetchError(
                            f"slower than {self.policy.min_rate} bytes a second "
                            f"({len(body):,} bytes in {spent:.0f} s; feed_min_rate)"
                        )
                return Fetched(
                    url,
                    answer.status_code,
                    bytes(body),
                    kind,
                    answer.headers.get("etag"),
                    answer.headers.get("last-modified"),
                )
        except httpx.TimeoutException:
            if expired.is_set() or time.monotonic() >= deadline:
                raise FetchError(self._late()) from None
            raise FetchError(f"timed out after {self.policy.timeout:g} s (feed_timeout)") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            # Every error httpx raises (InvalidURL and StreamError are not HTTPErrors): one
            # entry's bad link costs that entry, never the read.
            if expired.is_set():
                raise FetchError(self._late()) from None
            raise FetchError(f"cannot be fetched: {type(exc).__name__}: {exc}") from None
        finally:
            for timer in timers:
                timer.cancel()

    def _late(self) -> str:
        return f"took longer than the {self.policy.deadline:g}-second deadline (feed_deadline)"


def _refusal(url: str, first: str, address: str) -> str:
    where = f"{url} is" if url == first else f"it redirected to {url},"
    return f"{where} on a private address ({address}), not the feed's own host and port"
