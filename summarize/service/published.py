"""What the desk publishes, over HTTP: a job's (or the output folder's) results, brief and
ninjs items with the editors' approved edits in place, each field marked; `?approved=only`
gives approved text alone (the one rule is `summarize.review.approved_only`).

Routes are plain functions, so FastAPI runs them on its thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from summarize.errors import ReviewNotFound
from summarize.review import FOLDER
from summarize.review.desk import Desk
from summarize.service.auth import ApiError
from summarize.service.desk import DeskDep, job_rows, ninjs_response
from summarize.service.routes import KeyDep, ServiceDep

router = APIRouter()


def published(desk: Desk, approved_only: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(articles, stories) as published; with `approved_only`, approved text only."""
    from summarize import review

    try:
        docs = desk.machine_docs()
    except ReviewNotFound:
        docs = {}
    out = list(desk.publish(docs).values())
    if approved_only:
        articles = {str(d["id"]): d for d in out if not review.is_story(d)}
        views = (review.approved_only(doc, articles) for doc in out)
        out = [d for d in views if d is not None]
    return (
        [d for d in out if not review.is_story(d)],
        [d for d in out if review.is_story(d)],
    )


@router.get("/v1/jobs/{job_id}/brief.{fmt}")
def job_brief(fmt: str, desk: DeskDep, _: KeyDep, approved: str | None = None) -> Response:
    """The brief of a job (or the folder) as published; `?approved=only`: approved text only,
    nothing a person has not approved."""
    from summarize.briefs import html_brief, markdown_brief

    if approved not in (None, "only"):
        raise ApiError(422, "invalid_query", "approved takes one value: only")
    docs, stories = published(desk, approved == "only")
    if fmt == "html":
        return HTMLResponse(html_brief(docs, stories=stories))
    if fmt == "md":
        return PlainTextResponse(markdown_brief(docs, stories), media_type="text/markdown")
    raise ApiError(404, "not_found", "briefs are html or md")


@router.get("/v1/jobs/{job_id}/results")
def job_results(
    job_id: str,
    desk: DeskDep,
    svc: ServiceDep,
    _: KeyDep,
    format: str = "json",
    ninjs_version: str | None = None,
    drafts: bool | None = None,
    approved: str | None = None,
) -> Response:
    """A job's results as published (approved edits in place, each marked), its failures too;
    `format=ninjs`: IPTC ninjs items (`ninjs_version`, `drafts`: machine text usable);
    `approved=only`: the published views alone (`review.approved_only`), no failure, nothing
    a person has not approved."""
    from summarize.briefs import jsonl_results

    if format not in ("json", "jsonl", "ninjs"):
        raise ApiError(422, "invalid_query", "format is json, jsonl or ninjs")
    if approved not in (None, "only"):
        raise ApiError(422, "invalid_query", "approved takes one value: only")
    docs, stories = published(desk, approved == "only")
    if format == "ninjs":
        return ninjs_response(desk, docs, stories, ninjs_version, drafts and not approved)
    if job_id != FOLDER and approved is None:  # in the job's order, its failures in place
        by_id = {str(d["id"]): d for d in docs}
        docs = [r if "error" in r else by_id[str(r["id"])] for r in job_rows(desk)]
    if format == "jsonl":
        return PlainTextResponse(jsonl_results(docs), media_type="application/jsonl")
    return JSONResponse(docs)
