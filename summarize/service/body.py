"""The gate every request body passes before the application sees it (pure ASGI, outermost
but for the security headers).

A body is read only from a caller whose key is valid, on every route (not only `/v1/`):
without one the answer is 401 (or 429 for an address that keeps failing) before a byte of it
is read. The size limit is enforced on the bytes as they arrive, whatever `Content-Length` says
or whether it is sent at all (chunked uploads), so a 30 MB body is never held. A JSON body
nested deeper than any request of ours can be is refused (400) before a parser recurses into
it, and one whose strings hold a lone surrogate (`"\ud800"`, which no UTF-8 text can carry) is
refused (422, naming the field) before any route stores or hashes it. That work is linear in
the body's size and runs on a worker thread, never on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from summarize.service.auth import ApiError, ApiKey, RateLimiter, authenticate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No request of this API nests deeper (a job is {articles: [{...}]}, a brief a list of
# result documents); parsers recurse once per level.
MAX_JSON_DEPTH = 32
# A string from its opening quote to its closing one, or to the end of an unclosed one. The
# possessive loop never backtracks and every match ends a string, so the scan is linear (the
# backtracking form took 27 s on 80 KB of `\"`).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_WITH_BODY = {"POST", "PUT", "PATCH"}


def json_depth(raw: bytes) -> int:
    """How deep the brackets of a JSON (or JSONL) text nest, strings left out."""
    import numpy as np

    brackets = np.frombuffer(_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS), np.uint8)
    if not brackets.size:
        return 0
    opening = (brackets == ord("[")) | (brackets == ord("{"))
    return int(np.cumsum(np.where(opening, 1, -1)).max())


class BodyGate:
    """Authentication before a body is read, its size counted as it arrives, its nesting
    bounded. `keys` empty: no authentication (a loopback service)."""

    def __init__(
        self,
        app: ASGIApp,
        keys: list[ApiKey],
        max_bytes: int,
        failures: RateLimiter | None,
    ) -> None:
        self.app, self.keys, self.max_bytes, self.failures = app, keys, max_bytes, failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except ApiError as exc:
            await _refuse(exc, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        from starlette.requests import Request

        request = Request(scope)
        if self.keys:  # every route: no work on a body before its key is checked
            authenticate(request, self.keys, self.failures)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _too_large(f"request body is {declared} bytes", self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _too_large(f"request body passed {self.max_bytes} bytes", self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        kind = request.headers.get("content-type", "")
        if body and ("json" in kind or not kind):
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(check_json, body)
        return body


def check_json(body: bytes) -> None:
    """Refuse a JSON (or JSONL) body nested too deep (400) or holding a lone surrogate (422).
    A body that does not parse is left for its route to refuse in its own words."""
    import json

    if json_depth(body) > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            "invalid_json",
            f"the JSON nests deeper than {MAX_JSON_DEPTH} levels; no request of this API does",
        )
    if b"\\u" not in body:
        return  # a lone surrogate in JSON is always an escape
    from summarize.text import lone_surrogate

    try:
        docs = [json.loads(body)]
    except ValueError:
        try:  # JSONL: a document a line
            docs = [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            return
    for doc in docs:
        where = lone_surrogate(doc)
        if where is not None:
            raise ApiError(
                422,
                "invalid_text",
                f"{where or 'the body'}: holds a lone surrogate (an unpaired \\ud800-\\udfff "
                "escape), which is not text; send valid Unicode",
            )


def _too_large(what: str, limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"{what}; the limit is {limit} bytes")


async def _refuse(exc: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import JSONResponse

    response = JSONResponse(
        {"error": {"type": exc.kind, "message": exc.message, **(exc.extra or {})}},
        status_code=exc.status,
        headers={**(exc.headers or {}), "Connection": "close"},
    )
    await response(scope, receive, send)


def in_words(problem: Mapping[str, Any]) -> str:
    """A request's first validation problem as people say it ("text: too long, 25,000
    characters; at most 20,000"), the field named as the body names it, not as pydantic does
    (`body.text: String should have at most 20000 characters`)."""
    loc = [str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path")]
    where = ".".join(loc) or "the request"
    kind, ctx = str(problem.get("type", "")), problem.get("ctx") or {}
    given = problem.get("input")
    size = f"{len(given):,} characters; " if isinstance(given, str) else ""
    words = {
        "missing": "missing: send it",
        "string_too_long": f"too long, {size}at most {ctx.get('max_length', 0):,}",
        "string_too_short": "empty: write something",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "dict_type": "must be an object",
        "list_type": "must be a list",
        "extra_forbidden": "is not a field this takes",
    }.get(kind)
    return f"{where}: {words or str(problem.get('msg', 'not valid'))}"
