"""The HTTP service: the same pipeline as the CLI, behind FastAPI.

One worker thread owns all model work (so the event loop never blocks and each model is in
memory once): it serves `/v1/summarize` requests first, batching those that arrive together,
then persisted jobs, a wave of articles at a time. Every `/v1/` route needs a bearer key when
keys are configured; limits answer with JSON errors and `Retry-After`.
"""

import hmac
import json
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from summarize.config import Settings, parse_targets
from summarize.errors import InputError, SummarizeError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2_000_000
    rate_per_minute: int = 120
    max_queue: int = 64


def load_keys(env_value: str | None, key_file: Path | None) -> list[str]:
    keys = [k.strip() for k in (env_value or "").split(",") if k.strip()]
    if key_file is not None:
        keys += [
            line.strip()
            for line in key_file.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return keys


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


class Worker:
    """Runs all model work on one thread: single requests (batched together) before jobs."""

    def __init__(self, settings: Settings, store: Any) -> None:
        from summarize.ingest import Reader

        self.settings = settings
        self.store = store
        self.reader = Reader(settings)
        self.singles: queue.Queue[tuple[dict[str, Any], tuple[str, ...], Future[Any]]] = (
            queue.Queue()
        )
        self.jobs: deque[str] = deque(store.unfinished())
        self.wake = threading.Event()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.failure: str | None = None
        self._pipelines: dict[tuple[str, ...], Any] = {}
        self.thread = threading.Thread(target=self._loop, name="summarize-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=30)
        for pipeline in self._pipelines.values():
            pipeline.close()

    def depth(self) -> int:
        return self.singles.qsize() + len(self.jobs)

    def submit(self, article: dict[str, Any], targets: tuple[str, ...]) -> Future[Any]:
        future: Future[Any] = Future()
        self.singles.put((article, targets, future))
        self.wake.set()
        return future

    def submit_job(self, job_id: str) -> None:
        self.jobs.append(job_id)
        self.wake.set()

    # -- the thread ---------------------------------------------------------------

    def pipeline(self, targets: tuple[str, ...]) -> Any:
        from summarize.runner import Pipeline

        if targets not in self._pipelines:
            self._pipelines[targets] = Pipeline(replace(self.settings, targets=targets))
        return self._pipelines[targets]

    def _article(self, obj: dict[str, Any], idx: int, source: str) -> Any:
        return self.reader.article(
            str(obj.get("id") or f"article-{idx}"),
            obj["text"],
            source,
            title=obj.get("title"),
            url=obj.get("url"),
            lang=obj.get("lang"),
        )

    def _loop(self) -> None:
        try:
            self._warm_up()
        except Exception as exc:  # reported by /readyz; requests get the same message
            self.failure = str(exc)
        self.ready.set()
        while not self.stopping.is_set():
            self.wake.wait(timeout=0.5)
            self.wake.clear()
            while not self.stopping.is_set() and (not self.singles.empty() or self.jobs):
                if not self.singles.empty():
                    self._serve_singles()
                else:
                    self._work_on_job(self.jobs[0])

    def _warm_up(self) -> None:
        """Load the default models now, so /readyz means ready."""
        pipeline = self.pipeline(self.settings.targets)
        article = self.reader.article(
            "warm-up",
            "The service is starting and loads its models with this sentence.",
            "warm-up",
            lang=self.settings.pivot_lang,
        )
        pipeline.run_batch([article], write=False)

    def _serve_singles(self) -> None:
        batch: dict[tuple[str, ...], list[tuple[Any, Future[Any]]]] = {}
        taken = 0
        while taken < self.settings.batch_size:
            try:
                obj, targets, future = self.singles.get_nowait()
            except queue.Empty:
                break
            taken += 1
            try:
                batch.setdefault(targets, []).append(
                    (self._article(obj, taken, obj.get("id") or "request"), future)
                )
            except InputError as exc:
                future.set_exception(exc)
        for targets, entries in batch.items():
            try:
                report = self.pipeline(targets).run_batch([a for a, _ in entries], write=False)
            except Exception as exc:
                for _, future in entries:
                    future.set_exception(exc)
                continue
            by_article = {id(r.article): r for r in report.results}
            failures = {o.id: o.error for o in report.failed}
            for article, future in entries:
                result = by_article.get(id(article))
                if result is not None:
                    future.set_result(result)
                else:
                    error = failures.get(article.id)
                    future.set_exception(SummarizeError(error.message if error else "failed"))

    def _work_on_job(self, job_id: str) -> None:
        from summarize.errors import InputError as _InputError
        from summarize.types import result_json

        info = self.store.get(job_id)
        if info is None or info["status"] in ("done", "cancelled"):
            self.jobs.popleft()
            return
        self.store.set_status(job_id, "running")
        articles = self.store.articles(job_id)
        finished = self.store.finished_indexes(job_id)
        todo = [i for i in range(len(articles)) if i not in finished][: self.settings.batch_size]
        if not todo:
            self.store.set_status(job_id, "done")
            self.jobs.popleft()
            return
        wave = []
        for i in todo:
            try:
                wave.append((i, self._article(articles[i], i, f"job:{job_id}[{i}]")))
            except _InputError as exc:
                self.store.record(
                    job_id,
                    i,
                    articles[i].get("id"),
                    "error",
                    {"type": "InputError", "message": exc.reason},
                )
        if wave:
            report = self.pipeline(tuple(info["targets"])).run_batch(
                [a for _, a in wave], write=False
            )
            results = {id(r.article): r for r in report.results}
            errors = {o.id: o.error for o in report.failed}
            for i, article in wave:
                if id(article) in results:
                    self.store.record(
                        job_id, i, article.id, "ok", result_json(results[id(article)])
                    )
                else:
                    error = errors.get(article.id)
                    self.store.record(
                        job_id,
                        i,
                        article.id,
                        "error",
                        {
                            "type": error.type if error else "Error",
                            "message": error.message if error else "failed",
                        },
                    )


def create_app(
    settings: Settings,
    api_keys: list[str] | None = None,
    limits: Limits | None = None,
    start_worker: bool = True,
) -> Any:
    """The FastAPI application. `start_worker=False` accepts work without processing it."""
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException

    from summarize._version import __version__
    from summarize.briefs import html_brief, jsonl_results, markdown_brief
    from summarize.service.jobs import JobStore
    from summarize.types import result_json

    keys = list(api_keys or [])
    limits = limits or Limits()
    store = JobStore(settings.output_dir / "jobs.sqlite3")
    worker = Worker(settings, store)
    limiter = RateLimiter(limits.rate_per_minute)

    class ApiError(Exception):
        def __init__(
            self, status: int, kind: str, message: str, headers: dict[str, str] | None = None
        ) -> None:
            self.status, self.kind, self.message, self.headers = status, kind, message, headers

    def error(
        status: int, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            {"error": {"type": kind, "message": message}}, status_code=status, headers=headers
        )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if start_worker:
            worker.start()
        try:
            yield
        finally:
            if start_worker:
                worker.stop()
            store.close()

    app = FastAPI(
        title="summarize",
        version=__version__,
        lifespan=lifespan,
        description="Summaries and translated briefs of news articles.",
    )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.kind, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(422, "validation_error", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal_error", "the server failed on this request; see its log")

    @app.middleware("http")
    async def _body_limit(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limits.max_body_bytes:
            return error(
                413,
                "payload_too_large",
                f"request body is {length} bytes; the limit is {limits.max_body_bytes}",
            )
        return await call_next(request)

    def authorised(request: Request) -> str:
        """The caller's key (checked in constant time), or its address when no keys are set."""
        if not keys:
            return request.client.host if request.client else "anonymous"
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        ok = False
        for key in keys:  # compare against every key, so timing says nothing
            ok |= hmac.compare_digest(given.strip().encode(), key.encode())
        if scheme.lower() != "bearer" or not ok:
            raise ApiError(
                401,
                "unauthorized",
                "send Authorization: Bearer <key>",
                {"WWW-Authenticate": "Bearer"},
            )
        wait = limiter.take(given)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; retry in {wait:.0f} s",
                {"Retry-After": str(max(1, round(wait)))},
            )
        return given

    def check_capacity() -> None:
        if worker.depth() >= limits.max_queue:
            raise ApiError(503, "busy", "the queue is full; retry shortly", {"Retry-After": "5"})

    class ArticleIn(BaseModel):
        text: str = Field(min_length=1)
        id: str | None = None
        title: str | None = None
        lang: str | None = None
        url: str | None = None
        targets: list[str] | None = None

    class JobIn(BaseModel):
        articles: list[ArticleIn] = Field(min_length=1)
        targets: list[str] | None = None

    def targets_of(values: list[str] | None) -> tuple[str, ...]:
        try:
            return parse_targets(values, "targets") if values else settings.targets
        except SummarizeError as exc:
            raise ApiError(422, "invalid_targets", str(exc)) from None

    def check_length(text: str) -> None:
        if len(text) > settings.max_chars:
            raise ApiError(
                422,
                "article_too_long",
                f"article is {len(text)} characters; the limit is {settings.max_chars}",
            )

    @app.post("/v1/summarize")
    async def summarize_one(body: ArticleIn, _: str = Depends(authorised)) -> JSONResponse:
        import asyncio

        check_length(body.text)
        check_capacity()
        future = worker.submit(body.model_dump(), targets_of(body.targets))
        try:
            result = await asyncio.wrap_future(future)
        except InputError as exc:
            raise ApiError(422, "invalid_article", exc.reason) from None
        except SummarizeError as exc:
            raise ApiError(422, type(exc).__name__, str(exc)) from None
        return JSONResponse(result_json(result))

    @app.post("/v1/jobs", status_code=202)
    async def create_job(request: Request, _: str = Depends(authorised)) -> JSONResponse:
        raw = await request.body()
        if len(raw) > limits.max_body_bytes:
            raise ApiError(413, "payload_too_large", "request body too large")
        kind = request.headers.get("content-type", "")
        try:
            if "jsonl" in kind or "ndjson" in kind:
                items = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
                job = JobIn(articles=items)
            else:
                data = json.loads(raw or b"null")
                job = JobIn(articles=data) if isinstance(data, list) else JobIn.model_validate(data)
        except (ValueError, TypeError) as exc:
            raise ApiError(
                422,
                "invalid_job",
                f"expected {{articles: [...]}}, a JSON list or "
                f"JSONL of {{id, text}} ({str(exc)[:200]})",
            ) from None
        for article in job.articles:
            check_length(article.text)
        check_capacity()
        targets = targets_of(job.targets)
        job_id = store.create([a.model_dump() for a in job.articles], list(targets))
        worker.submit_job(job_id)
        return JSONResponse(
            {"id": job_id, "status": "queued", "total": len(job.articles)},
            status_code=202,
            headers={"Location": f"/v1/jobs/{job_id}"},
        )

    def job_or_404(job_id: str) -> dict[str, Any]:
        info = store.get(job_id)
        if info is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        return info

    @app.get("/v1/jobs/{job_id}")
    async def job_status(job_id: str, _: str = Depends(authorised)) -> dict[str, Any]:
        return job_or_404(job_id)

    @app.get("/v1/jobs/{job_id}/results")
    async def job_results(
        job_id: str, format: str = "json", _: str = Depends(authorised)
    ) -> Response:
        job_or_404(job_id)
        results = store.results(job_id)
        if format == "jsonl":
            return PlainTextResponse(jsonl_results(results), media_type="application/jsonl")
        return JSONResponse(results)

    @app.get("/v1/jobs/{job_id}/brief.{fmt}")
    async def job_brief(job_id: str, fmt: str, _: str = Depends(authorised)) -> Response:
        job_or_404(job_id)
        docs = [r for r in store.results(job_id) if "error" not in r]
        if fmt == "html":
            return HTMLResponse(html_brief(docs))
        if fmt == "md":
            return PlainTextResponse(markdown_brief(docs), media_type="text/markdown")
        raise ApiError(404, "not_found", "briefs are brief.html or brief.md")

    @app.delete("/v1/jobs/{job_id}")
    async def cancel_job(job_id: str, _: str = Depends(authorised)) -> dict[str, Any]:
        info = job_or_404(job_id)
        if info["status"] not in ("done", "cancelled"):
            store.set_status(job_id, "cancelled")
        return job_or_404(job_id)

    @app.post("/v1/briefs/{fmt}")
    async def make_brief(fmt: str, request: Request, _: str = Depends(authorised)) -> Response:
        docs = json.loads(await request.body() or b"[]")
        if not isinstance(docs, list):
            raise ApiError(422, "invalid_results", "send a list of result documents")
        try:
            if fmt == "html":
                return HTMLResponse(html_brief(docs))
            if fmt == "md":
                return PlainTextResponse(markdown_brief(docs), media_type="text/markdown")
        except (KeyError, TypeError):
            raise ApiError(422, "invalid_results", "not result documents") from None
        raise ApiError(404, "not_found", "briefs are html or md")

    @app.get("/v1/models")
    async def models(_: str = Depends(authorised)) -> list[dict[str, Any]]:
        from summarize.catalog import load_catalog
        from summarize.engines import _POOL

        catalog = load_catalog(settings)
        loaded = {key[1] for key in _POOL}
        return [
            {
                "name": e.name,
                "task": e.task,
                "license": e.license,
                "commercial": e.commercial,
                "revision": e.revision or "unpinned",
                "present": catalog.ref(e.name).present,
                "loaded": str(catalog.ref(e.name).path) in loaded,
            }
            for e in catalog.entries.values()
        ]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if worker.failure:
            return error(503, "not_ready", worker.failure)
        if not worker.ready.is_set():
            return error(503, "not_ready", "models are loading", {"Retry-After": "5"})
        return JSONResponse({"status": "ready"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = resources.files("summarize.service").joinpath("page.html").read_text("utf-8")
        return HTMLResponse(html.replace("{{TARGETS}}", ",".join(settings.targets)))

    app.state.worker = worker
    app.state.store = store
    return app
