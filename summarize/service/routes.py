"""The `/v1` API, health and readiness: each route checks its input and makes one library
call; the work itself runs on the worker thread."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from summarize.config import Settings, parse_targets
from summarize.errors import InputError, SummarizeError
from summarize.review import EditStore
from summarize.service.auth import (
    ApiError,
    ApiKey,
    Limits,
    RateLimiter,
    authorise,
    require_admin,
    require_editor,
)
from summarize.service.feeds import FeedPoller
from summarize.service.jobs import JobStore
from summarize.service.notify import Notifier
from summarize.service.presence import Presence
from summarize.service.worker import Worker

if TYPE_CHECKING:
    from summarize.plan import Router


@dataclass
class Service:
    """What the routes share: settings, keys and limits, the job store, the worker, and the
    output folder's edits."""

    settings: Settings
    keys: list[ApiKey]
    limits: Limits
    limiter: RateLimiter
    store: JobStore
    worker: Worker
    edits: EditStore
    failures: RateLimiter | None = None  # failed authentication, per client address
    presence: Presence = field(default_factory=Presence)  # who has which item open
    notifier: Notifier | None = None  # signed webhooks (serve --notify)
    poller: FeedPoller | None = None  # the configuration's feeds (serve --feed)

    @cached_property
    def router(self) -> Router:
        """The plan's translation routes, resolved once for the service's life: which
        targets a request may ask for."""
        from summarize.catalog import load_catalog
        from summarize.plan import Router

        return Router(self.settings, load_catalog(self.settings))


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def authorised(request: Request) -> ApiKey:
    svc = service(request)
    return authorise(request, svc.keys, svc.limiter, svc.failures)


class ArticleIn(BaseModel):
    text: str = Field(min_length=1)
    id: str | None = None
    title: str | None = None
    lang: str | None = None
    url: str | None = None
    # When it was published (ISO 8601, RFC 2822 or epoch seconds): stories and briefs use it.
    published: str | float | None = None
    outlet: str | None = None
    author: str | None = None
    targets: list[str] | None = None


class JobIn(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1)
    targets: list[str] | None = None
    label: str | None = Field(default=None, max_length=200)


def api_link(path: str, method: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to another operation, so clients and the stateful API tests can follow
    an answer's ids (a job's id to its status, results, items and briefs)."""
    ref = "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method
    return {"operationRef": ref, "parameters": parameters}


_JOB = "$response.body#/id"
JOB_LINKS = {
    "status": api_link("/v1/jobs/{job_id}", "get", job_id=_JOB),
    "cancel": api_link("/v1/jobs/{job_id}", "delete", job_id=_JOB),
    "results": api_link("/v1/jobs/{job_id}/results", "get", job_id=_JOB),
    "items": api_link("/v1/jobs/{job_id}/items", "get", job_id=_JOB),
    "brief": api_link("/v1/jobs/{job_id}/brief.{fmt}", "get", job_id=_JOB),
}

ServiceDep = Annotated[Service, Depends(service)]
KeyDep = Annotated[ApiKey, Depends(authorised)]
router = APIRouter()


def _targets(svc: Service, values: list[str] | None) -> tuple[str, ...]:
    """A request's targets as the models know them (`pt-br` is `pt`); 422 for one that no
    configured model translates into."""
    if not values:
        return svc.settings.targets
    try:
        return svc.router.resolve_targets(parse_targets(values, "targets"))[0]
    except SummarizeError as exc:
        raise ApiError(422, "invalid_targets", str(exc)) from None


def _check_length(svc: Service, text: str) -> None:
    if len(text) > svc.settings.max_chars:
        raise ApiError(
            422,
            "article_too_long",
            f"article is {len(text)} characters; the limit is {svc.settings.max_chars}",
        )


def _check_capacity(svc: Service, articles: int = 0) -> None:
    """Room in the queue: requests and jobs waiting (max_queue), and for a job, its articles
    beside those of every unfinished job (max_queued_articles)."""
    if svc.worker.depth() >= svc.limits.max_queue:
        raise ApiError(503, "busy", "the queue is full; retry shortly", {"Retry-After": "5"})
    if articles:
        waiting = svc.store.queued_articles()
        if waiting + articles > svc.limits.max_queued_articles:
            raise ApiError(
                503,
                "busy",
                f"{waiting} articles are waiting and this job adds {articles}; the queue takes "
                f"{svc.limits.max_queued_articles}: retry later or send a smaller job",
                {"Retry-After": "30"},
            )


def _check_job_size(svc: Service, count: int) -> None:
    if count > svc.limits.max_job_articles:
        raise ApiError(
            413,
            "too_many_articles",
            f"the job has {count} articles; a job may have {svc.limits.max_job_articles}: "
            "split it into several jobs",
        )


def _job(svc: Service, job_id: str) -> dict[str, Any]:
    info = svc.store.get(job_id)
    if info is None:
        raise ApiError(
            404, "not_found", f"there is no job {job_id!r}; the desk lists the jobs there are"
        )
    return info


def _json_body(raw: bytes, default: bytes, what: str) -> Any:
    try:
        return json.loads(raw or default)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(422, "invalid_json", f"{what}: not valid JSON ({str(exc)[:200]})") from None


@router.post("/v1/summarize")
async def summarize_one(body: ArticleIn, svc: ServiceDep, key: KeyDep) -> JSONResponse:
    from summarize.documents import result_json

    require_editor(key)
    _check_length(svc, body.text)
    _check_capacity(svc)
    future = svc.worker.submit(body.model_dump(), _targets(svc, body.targets))
    try:
        result = await asyncio.wrap_future(future)
    except InputError as exc:
        raise ApiError(422, "invalid_article", exc.reason) from None
    except SummarizeError as exc:
        raise ApiError(422, type(exc).__name__, str(exc)) from None
    from summarize.review import apply

    return JSONResponse(apply(result_json(result), {}))  # one pasted article: a machine draft


def _unique_ids(job: JobIn) -> None:
    """Edits are kept per article of a job: two articles with one id would share them."""
    from collections import Counter

    from summarize.service.worker import article_id

    ids = Counter(article_id(a.model_dump(), i) for i, a in enumerate(job.articles))
    twice = sorted(i for i, n in ids.items() if n > 1)
    if twice:
        raise ApiError(
            422,
            "duplicate_ids",
            f"article ids must differ within a job: {', '.join(twice[:10])} "
            f"{'is' if len(twice) == 1 else 'are'} given more than once",
        )


def _job_schema() -> dict[str, Any]:
    """JobIn as the OpenAPI document states it (the route reads JSON or JSONL itself)."""
    schema = JobIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # ArticleIn is a component already (POST /v1/summarize)
    return {"content": {"application/json": {"schema": schema}}, "required": True}


@router.post(
    "/v1/jobs",
    status_code=202,
    responses={202: {"description": "The job, queued", "links": JOB_LINKS}},
    openapi_extra={"requestBody": _job_schema()},
)
async def create_job(request: Request, svc: ServiceDep, key: KeyDep) -> JSONResponse:
    require_admin(key)
    raw = await request.body()
    if len(raw) > svc.limits.max_body_bytes:
        raise ApiError(413, "payload_too_large", "request body too large")
    kind = request.headers.get("content-type", "")
    try:
        if "jsonl" in kind or "ndjson" in kind:
            lines = [line for line in raw.decode().splitlines() if line.strip()]
            _check_job_size(svc, len(lines))
            job = JobIn(articles=[_json_body(line.encode(), b"", "a JSONL line") for line in lines])
        else:
            data = _json_body(raw, b"null", "the body")
            listed = data if isinstance(data, list) else (data or {}).get("articles")
            if isinstance(listed, list):
                _check_job_size(svc, len(listed))
            job = JobIn(articles=data) if isinstance(data, list) else JobIn.model_validate(data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ApiError(
            422,
            "invalid_job",
            f"expected {{articles: [...]}}, a JSON list or JSONL of {{id, text}} ({str(exc)[:200]})",
        ) from None
    for article in job.articles:
        _check_length(svc, article.text)
    _unique_ids(job)
    _check_capacity(svc, len(job.articles))
    targets = _targets(svc, job.targets)
    # An article that gives no date was published, for the desk, when it was submitted (not
    # when a worker, perhaps after a restart, reached it).
    submitted = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    articles = [a.model_dump() | {"published": a.published or submitted} for a in job.articles]
    job_id = svc.store.create(articles, list(targets), key.name, job.label)
    svc.worker.submit_job(job_id)
    return JSONResponse(
        {"id": job_id, "status": "queued", "total": len(job.articles)},
        status_code=202,
        headers={"Location": f"/v1/jobs/{job_id}"},
    )


@router.get("/v1/me")
def me(key: KeyDep) -> dict[str, Any]:
    """Who the key is, and what it may do (the page hides what a reader cannot use)."""
    return {"name": key.name, "role": key.role, "can_edit": key.can_edit, "is_admin": key.is_admin}


@router.get("/v1/jobs/{job_id}")
def job_status(job_id: str, svc: ServiceDep, _: KeyDep) -> dict[str, Any]:
    return _job(svc, job_id)


def _brief(fmt: str, docs: list[dict[str, Any]]) -> Response:
    from summarize.briefs import html_brief, markdown_brief

    if fmt == "html":
        return HTMLResponse(html_brief(docs))
    if fmt == "md":
        return PlainTextResponse(markdown_brief(docs), media_type="text/markdown")
    raise ApiError(404, "not_found", "briefs are html or md")


@router.delete("/v1/jobs/{job_id}")
def cancel_job(job_id: str, svc: ServiceDep, key: KeyDep) -> dict[str, Any]:
    require_admin(key)
    info = _job(svc, job_id)
    if info["status"] not in ("done", "cancelled"):
        svc.store.set_status(job_id, "cancelled")
    return _job(svc, job_id)


@router.post("/v1/briefs/{fmt}")
async def make_brief(fmt: str, request: Request, _: KeyDep) -> Response:
    """A brief of the result documents sent. The server holds no approval of them, so each is
    rendered as a machine draft, every text marked so: a review block sent with a document
    (anyone can write one) is dropped, never shown as "Reviewed by"."""
    from summarize.review.publish import apply, machine_doc

    docs = _json_body(await request.body(), b"[]", "the body")
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise ApiError(422, "invalid_results", "send a list of result documents")
    try:
        drafts = [apply(machine_doc(d | {"review": None}), {}) for d in docs]
        return _brief(fmt, drafts)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        raise ApiError(422, "invalid_results", "not result documents") from None


@router.get("/v1/models")
async def models(svc: ServiceDep, _: KeyDep) -> list[dict[str, Any]]:
    from summarize.catalog import load_catalog, model_rows
    from summarize.engines import loaded_models

    rows = model_rows(load_catalog(svc.settings), loaded=loaded_models())
    return [asdict(row) for row in rows]


@router.get("/v1/deliveries")
def deliveries(svc: ServiceDep, key: KeyDep, limit: int = 200) -> dict[str, Any]:
    """Every webhook delivery's outcome, newest first (admin): delivered, pending with its
    next attempt and last error, or failed after the last retry."""
    require_admin(key)
    if svc.notifier is None:
        return {"receivers": [], "deliveries": []}
    return {
        "receivers": list(svc.notifier.urls),
        "deliveries": svc.notifier.deliveries(max(1, min(limit, 1000))),
    }


@router.get("/v1/feeds")
def feeds(svc: ServiceDep, key: KeyDep) -> dict[str, Any]:
    """The feeds this service polls (from its configuration) and the last poll (admin)."""
    require_admin(key)
    last = svc.poller.last if svc.poller is not None else None
    return {"feeds": list(svc.settings.feeds), "every": svc.settings.feed_every, "last": last}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: ServiceDep) -> JSONResponse:
    """Ready when the models are loaded and the worker thread is alive; a thread found gone is
    reported (503) and a new one started."""
    worker = svc.worker
    if worker.failure:
        raise ApiError(503, "not_ready", worker.failure)
    if not worker.ready.is_set():
        raise ApiError(503, "not_ready", "models are loading", {"Retry-After": "5"})
    if not worker.alive():
        why = worker.last_error or "it ended"
        worker.ensure_alive()
        raise ApiError(
            503,
            "worker_stopped",
            f"the worker thread had stopped ({why}); a new one was started",
            {"Retry-After": "1"},
        )
    return JSONResponse(
        {
            "status": "ready",
            "stories_note": worker.grouping_note(),  # a run's note on its stories, or null
            "worker": {
                "alive": True,
                "queued": worker.depth(),
                "errors_caught": worker.errors,
                "restarts": worker.restarts,
            },
        }
    )
