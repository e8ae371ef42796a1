"""The FastAPI application: its state, errors as JSON, the body limit, and the routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from summarize.config import Settings
from summarize.service.auth import ApiError, ApiKey, Limits, RateLimiter, load_keys

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("summarize.service")


def create_app(
    settings: Settings,
    api_keys: Sequence[str | ApiKey] | None = None,
    limits: Limits | None = None,
    start_worker: bool = True,
) -> FastAPI:
    """The FastAPI application. `start_worker=False` accepts work without processing it."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from summarize._version import __version__
    from summarize.review import EDITS_FILE, EditStore
    from summarize.service import desk, page, published, routes
    from summarize.service.body import BodyGate
    from summarize.service.jobs import JobStore
    from summarize.service.worker import Worker

    limits = limits or Limits()
    store = JobStore(settings.output_dir / "jobs.sqlite3")
    worker = Worker(settings, store)
    svc = routes.Service(
        settings,
        load_keys(api_keys or []),
        limits,
        RateLimiter(limits.rate_per_minute),
        store,
        worker,
        EditStore(settings.output_dir / EDITS_FILE),
        RateLimiter(limits.failed_auth_per_minute),
    )

    def error(
        status: int,
        kind: str,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> JSONResponse:
        return JSONResponse(
            {"error": {"type": kind, "message": message, **(extra or {})}},
            status_code=status,
            headers=headers,
        )

    if settings.notify:
        from summarize.service.notify import Notifier

        svc.notifier = Notifier(
            settings.output_dir / "outbox.sqlite3", settings.notify, settings.notify_secret
        )
        worker.on_event = svc.notifier.emit
    if settings.feeds:
        from summarize.service.feeds import FeedPoller

        svc.poller = FeedPoller(settings, store, worker)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if svc.notifier is not None:
            svc.notifier.start()
        if start_worker:
            worker.start()
            if svc.poller is not None:
                svc.poller.start()
        try:
            yield
        finally:
            if start_worker:
                if svc.poller is not None:
                    svc.poller.stop()
                worker.stop()
            if svc.notifier is not None:
                svc.notifier.stop()
            store.close()
            svc.edits.close()

    # No Swagger UI or ReDoc: they load scripts from a CDN. The schema stays at /openapi.json.
    app = FastAPI(
        title="summarize",
        version=__version__,
        lifespan=lifespan,
        description="Summaries and translated briefs of news articles.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = svc
    app.state.worker = worker
    app.state.store = store
    # Added first, so it runs inside the security headers' middleware: its refusals get them.
    app.add_middleware(
        BodyGate, keys=svc.keys, max_bytes=limits.max_body_bytes, failures=svc.failures
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.kind, exc.message, exc.headers, exc.extra)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        from summarize.service.body import in_words

        first = exc.errors()[0] if exc.errors() else {}
        return error(422, "validation_error", in_words(first))

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        return error(400, "invalid_request", "the request nests too deeply to be read")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc)
        return error(500, "internal_error", "the server failed on this request; see its log")

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Any:
        """No framing (clickjacking), no content sniffing, nothing authenticated cached."""
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        csp = "frame-ancestors 'none'"
        if request.url.path == "/":
            csp = (
                "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
            )
        response.headers.setdefault("Content-Security-Policy", csp)
        if request.url.path.startswith("/v1/") or request.url.path == "/":
            response.headers["Cache-Control"] = "no-store"
        return response

    app.include_router(routes.router)
    app.include_router(desk.router)
    app.include_router(published.router)
    app.include_router(page.router)
    return app
