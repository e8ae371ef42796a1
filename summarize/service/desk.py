"""The review desk's API: a job's (or the output folder's) items with their review state, one
item with its source and each field, edits (`PATCH`, a draft) and approvals, and the brief of
approved text only. Editing needs a key with the `editor` role; a reader gets 403.

The job id `folder` names the output folder itself (what `summarize run` and `summarize
watch` wrote there), so the watch folder's articles are reviewed on the same desk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from summarize.desk import Desk, queue_line
from summarize.errors import ReviewError, ReviewNotFound
from summarize.service.auth import ApiError, require_editor
from summarize.service.routes import KeyDep, Service, ServiceDep

FOLDER = "folder"
router = APIRouter()


class JobDesk(Desk):
    """A job's articles (as the worker stored them) and the stories they are in; edits go to
    the output folder's edits file, shared with `summarize review`."""

    def __init__(self, svc: Service, job_id: str) -> None:
        super().__init__(svc.settings, svc.edits)
        self.svc, self.job_id = svc, job_id
        self._texts: dict[str, str] | None = None

    def machine_docs(self) -> dict[str, dict[str, Any]]:
        from summarize import review

        docs = {
            str(doc["id"]): doc for doc in self.svc.store.results(self.job_id) if "error" not in doc
        }
        for story in self.svc.store.stories(self.job_id):
            docs[review.item_id(story)] = story
        return docs

    def source(self, doc: Mapping[str, Any]) -> str | None:
        from summarize.service.worker import article_id

        if "members" in doc:
            return None
        if self._texts is None:  # the job's articles, read once per request
            self._texts = {
                article_id(obj, i): str(obj["text"]).strip()
                for i, obj in enumerate(self.svc.store.articles(self.job_id))
            }
        return self._texts.get(str(doc["id"]))

    def republish(self) -> None:
        """A job's results are published when read; nothing on disk to rewrite."""


def desk_for(svc: Service, job_id: str) -> Desk:
    if job_id == FOLDER:
        return Desk(svc.settings, svc.edits)
    if svc.store.get(job_id) is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    return JobDesk(svc, job_id)


def _desk(job_id: str, svc: ServiceDep) -> Desk:
    return desk_for(svc, job_id)


DeskDep = Annotated[Desk, Depends(_desk)]


class EditIn(BaseModel):
    field: str = Field(min_length=1)
    text: str = Field(min_length=1)


class ApproveIn(BaseModel):
    field: str | None = None  # none: every field the machine wrote
    text: str | None = None


def _review_error(exc: ReviewError) -> ApiError:
    if isinstance(exc, ReviewNotFound):
        return ApiError(404, "not_found", str(exc))
    return ApiError(422, "invalid_edit", str(exc))


def item_view(desk: Desk, item: str) -> dict[str, Any]:
    """One item for the desk: the published document, its source and each field laid out
    (published text, machine text, pending draft, state, who, the warnings on it)."""
    from summarize import review

    try:
        machine = desk.machine_doc(item)
    except ReviewError as exc:
        raise _review_error(exc) from None
    doc = desk.publish({item: machine})[item]
    out_fields = []
    for name, (stage, lang) in review.stages(machine).items():
        entry = doc["review"]["fields"].get(name, {})
        out_fields.append(
            {
                "field": name,
                "lang": lang,
                "stage": stage,
                "text": review.text_of(doc, name),
                "machine_text": review.text_of(machine, name),
                "status": review.status(doc, name),
                "by": entry.get("by"),
                "at": entry.get("at"),
                "edited": entry.get("edited", False),
                "pending": entry.get("text"),
                "reason": entry.get("reason"),
                "warnings": [w for w in doc.get("warnings", []) if w["stage"] == stage],
            }
        )
    return {
        "item": item,
        "line": queue_line(doc),
        "source": desk.source(machine),
        "document": doc,
        "fields": out_fields,
    }


@router.get("/v1/desk")
async def desk_jobs(svc: ServiceDep, _: KeyDep) -> dict[str, Any]:
    """What can be reviewed: the newest jobs, and the output folder."""
    return {"jobs": svc.store.recent(), "folder": FOLDER}


@router.get("/v1/jobs/{job_id}/items")
async def job_items(job_id: str, desk: DeskDep, svc: ServiceDep, _: KeyDep) -> dict[str, Any]:
    try:
        items = desk.items()
    except ReviewError as exc:
        if job_id == FOLDER:
            items = []
        else:
            raise _review_error(exc) from None
    info = svc.store.get(job_id) if job_id != FOLDER else {"id": FOLDER}
    return {"job": info, "items": items}


@router.post("/v1/jobs/{job_id}/items/{item:path}/approve")
async def approve_item(item: str, body: ApproveIn, desk: DeskDep, key: KeyDep) -> dict[str, Any]:
    require_editor(key)
    try:
        if body.field is None:
            desk.approve_all(item, key.name)
        else:
            desk.edit(item, body.field, key.name, text=body.text, approve=True)
    except ReviewError as exc:
        raise _review_error(exc) from None
    return item_view(desk, item)


@router.get("/v1/jobs/{job_id}/items/{item:path}")
async def get_item(item: str, desk: DeskDep, _: KeyDep) -> dict[str, Any]:
    return item_view(desk, item)


@router.patch("/v1/jobs/{job_id}/items/{item:path}")
async def edit_item(item: str, body: EditIn, desk: DeskDep, key: KeyDep) -> dict[str, Any]:
    require_editor(key)
    try:
        desk.edit(item, body.field, key.name, text=body.text)
    except ReviewError as exc:
        raise _review_error(exc) from None
    return item_view(desk, item)


def published(desk: Desk, approved_only: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(articles, stories) as published; with `approved_only`, approved text only."""
    from summarize import review

    try:
        docs = desk.machine_docs()
    except ReviewNotFound:
        docs = {}
    out = list(desk.publish(docs).values())
    if approved_only:
        out = [d for d in (review.approved_only(doc) for doc in out) if d is not None]
    return (
        [d for d in out if not review.is_story(d)],
        [d for d in out if review.is_story(d)],
    )


@router.get("/v1/jobs/{job_id}/brief.{fmt}")
async def job_brief(fmt: str, desk: DeskDep, _: KeyDep, approved: str | None = None) -> Response:
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
async def job_results(
    job_id: str, desk: DeskDep, svc: ServiceDep, _: KeyDep, format: str = "json"
) -> Response:
    """A job's results as published (approved edits in place, each marked), its failures too."""
    from summarize.briefs import jsonl_results

    docs, _stories = published(desk, False)
    if job_id != FOLDER:  # in the job's order, its failures in their places
        by_id = {str(d["id"]): d for d in docs}
        docs = [r if "error" in r else by_id[str(r["id"])] for r in svc.store.results(job_id)]
    if format == "jsonl":
        return PlainTextResponse(jsonl_results(docs), media_type="application/jsonl")
    return JSONResponse(docs)
