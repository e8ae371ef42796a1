"""Loopback servers for the tests (no test touches any address but 127.0.0.1): a web site that
serves feeds and article pages with faults on given paths, and a webhook receiver whose
answers a test scripts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import SEEDS

from summarize.service.notify import verify

SEED = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtdGVzdHMtMzItYnl0ZXMhIQ=="


def rss(items: list[str], title: str = "Wire World", lang: str = "en") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>http://127.0.0.1/</link>"
        f"<language>{lang}</language><description>d</description>{''.join(items)}"
        "</channel></rss>"
    )


def item(guid: str, title: str, *, content: str = "", teaser: str = "", link: str = "") -> str:
    def cdata(text: str) -> str:
        return f"<![CDATA[{text}]]>"

    return (
        f"<item><guid>{guid}</guid><title>{title}</title>"
        + (f"<link>{link}</link>" if link else "")
        + "<author>desk@example.org (Amal Haddad)</author>"
        + "<pubDate>Tue, 01 Dec 2026 08:30:00 GMT</pubDate>"
        + (f"<description>{cdata(teaser)}</description>" if teaser else "")
        + (f"<content:encoded>{cdata(content)}</content:encoded>" if content else "")
        + "</item>"
    )


def page(text: str, title: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n") if p.strip())
    return (
        f"<html><head><title>{title}</title></head><body><nav>Home | World</nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article><footer>(c) Wire</footer></body></html>"
    )


class Site:
    """A loopback web site whose pages the test sets, with faults on given paths."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.pages: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.hits: list[tuple[str, dict[str, str]]] = []
        self.redirects: dict[str, str] = {}
        self.trickles: dict[str, tuple[bytes, float, str]] = {}
        self.extra: list[Site] = []  # more sites a test made, closed with this one
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append((self.path, dict(self.headers)))
                to = site.redirects.get(self.path)
                if to is None and self.path.startswith("/redir?to="):
                    to = self.path.removeprefix("/redir?to=")
                if to is not None:
                    self.send_response(302)
                    self.send_header("Location", to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path in site.trickles:  # a byte at a time, slower than any deadline
                    body, every, kind = site.trickles[self.path]
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in body:
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return
                        time.sleep(every)
                    return
                if self.path == "/slow.rss":
                    time.sleep(3)
                if self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.end_headers()
                    return
                status, kind, body, headers = site.pages.get(
                    self.path, (404, "text/plain", b"not here", {})
                )
                etag = headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(
        self, path: str, body: str | bytes, kind: str = "application/rss+xml", **hdr: str
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.pages[path] = (200, kind, data, dict(hdr))

    def redirect(self, path: str, to: str) -> None:
        self.redirects[path] = to

    def trickle(
        self, path: str, body: bytes, every: float, kind: str = "application/rss+xml"
    ) -> None:
        self.trickles[path] = (body, every, kind)

    def close(self) -> None:
        for other in self.extra:
            other.close()
        self.server.shutdown()
        self.server.server_close()


class Receiver:
    """A webhook receiver on 127.0.0.1 whose behaviour the test scripts: `plan` holds what the
    next requests get ("slow", "500", "ok"); once it is empty, every request is "ok"."""

    def __init__(self, port: int, plan: list[str] | None = None) -> None:
        self.plan = list(plan or [])
        self.requests = 0
        self.verified: list[dict[str, Any]] = []  # first arrivals, in order, deduplicated
        self.seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                step = receiver.plan.pop(0) if receiver.plan else "ok"
                if step == "slow":
                    time.sleep(1.0)
                if step == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                ok = verify(SECRET, dict(self.headers), body)
                event = json.loads(body)
                if ok and event["id"] not in receiver.seen:  # receivers dedupe by webhook-id
                    receiver.seen.add(event["id"])
                    receiver.verified.append(event)
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
