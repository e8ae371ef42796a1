"""The review desk's API, a thin face over `summarize.review.desk`: a job's (or the output
folder's) items with their review state, one item with its source and each field, drafts
(`PATCH`) and approvals; what is published from them is `summarize.service.published`.

Every field has a version; each item view carries them (and an item ETag). A `PATCH` or an
approval names the version its editor saw (`If-Match`, or `version` in the body): without one
it is refused (428), with an old one it gets 409 with the field as it is now and who changed
it. Approving a whole item with open warnings or drafts needs `acknowledge_warnings: true`.
Editing needs an `editor` or `admin` key. Routes are plain functions, so FastAPI runs them on
its thread pool: SQLite, file reads and checks never hold the event loop.

The job id `folder` names the output folder itself (what `summarize run` and `summarize
watch` wrote there), so the watch folder's articles are reviewed on the same desk.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from summarize.errors import ReviewError
from summarize.review import FOLDER, MAX_FIELD_CHARS
from summarize.review.desk import Desk, as_shown, item_etag
from summarize.service.auth import ApiError, require_editor
from summarize.service.item_view import item_view, review_error, view_response
from summarize.service.routes import KeyDep, Service, ServiceDep, api_link

router = APIRouter()
log = logging.getLogger("summarize.service")


class JobDesk(Desk):
    """A job's articles (as the worker stored them) and the stories they are in; the job is
    the edits' scope, so two jobs never share an edit."""

    def __init__(self, svc: Service, job_id: str) -> None:
        super().__init__(svc.settings, svc.edits)
        self.svc, self.job_id = svc, job_id
        self.scope = job_id
        self._texts: dict[str, str] | None = None
        self._rows: list[dict[str, Any]] | None = None

    def machine_docs(self) -> dict[str, dict[str, Any]]:
        from summarize import review

        docs = {str(doc["id"]): doc for doc in self.job_results() if "error" not in doc}
        for story in self.svc.store.stories(self.job_id):
            docs[review.item_id(story)] = story
        return docs

    def job_results(self) -> list[dict[str, Any]]:
        """The job's results, read once per request: every view of one answer (the published
        documents, the job's order, its failures) comes from the same read, so an article
        finishing meanwhile cannot be in one and missing from the other."""
        if self._rows is None:
            self._rows = self.svc.store.results(self.job_id)
        return self._rows

    def _job_texts(self) -> dict[str, str]:
        from summarize.service.worker import article_id

        if self._texts is None:  # the job's articles, read once per request
            self._texts = {
                article_id(obj, i): str(obj["text"]).strip()
                for i, obj in enumerate(self.svc.store.articles(self.job_id))
            }
        return self._texts

    def source(self, doc: Mapping[str, Any]) -> str | None:
        if "members" in doc:
            return self.story_source(doc)
        return self._job_texts().get(str(doc["id"]))

    def story_source(self, doc: Mapping[str, Any]) -> str | None:
        texts = self._job_texts()
        found = [texts[str(m["id"])] for m in doc.get("members", []) if str(m["id"]) in texts]
        return "\n\n".join(found) or None

    def republish(self) -> None:
        """A job's results are published when read; nothing on disk to rewrite."""


def desk_for(svc: Service, job_id: str) -> Desk:
    if job_id == FOLDER:
        return Desk(svc.settings, svc.edits)
    if svc.store.get(job_id) is None:
        raise ApiError(
            404, "not_found", f"there is no job {job_id!r}; the desk lists the jobs there are"
        )
    return JobDesk(svc, job_id)


def _desk(job_id: str, svc: ServiceDep) -> Desk:
    return desk_for(svc, job_id)


DeskDep = Annotated[Desk, Depends(_desk)]


def job_rows(desk: Desk) -> list[dict[str, Any]]:
    """A job's results from the read its desk made for this request."""
    assert isinstance(desk, JobDesk)
    return desk.job_results()


IfMatch = Annotated[str | None, Header()]


class EditIn(BaseModel):
    field: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=MAX_FIELD_CHARS)
    version: int | None = None  # or If-Match
    restore: int | None = None  # the earlier version this text is restored from


Signature = Annotated[str, Field(max_length=64)]


class ApproveIn(BaseModel):
    field: str | None = None  # none: every field the machine wrote
    text: str | None = Field(default=None, max_length=MAX_FIELD_CHARS)
    # What is approved is named, always. One field: the text the approver sent (`text`) or
    # the signature of the text shown (`seen`, the field's `seen` in the item view). A whole
    # item: the item's ETag (If-Match), or each field's version *and* signature as shown
    # (`versions` and `seen`, both by field).
    seen: Signature | dict[str, Signature] | None = None
    version: int | None = None  # one field: its version (or If-Match)
    versions: dict[str, int] | None = None  # the whole item: each field's, with `seen`
    acknowledge_warnings: bool = False


def _version(header: str | None, body: int | None, what: str) -> int:
    """The version the editor saw: If-Match (an ETag `"v3"` or `3`) or the body's."""
    if header:
        raw = header.strip().removeprefix("W/").strip('"').removeprefix("v")
        if raw.isdigit():
            return int(raw)
    if body is not None:
        return body
    raise ApiError(
        428,
        "version_required",
        f"{what}: send the version you saw (If-Match, or version in the body), so an edit "
        "made meanwhile by someone else is never overwritten",
    )


@router.get("/v1/desk")
def desk_jobs(svc: ServiceDep, _: KeyDep) -> dict[str, Any]:
    """What can be reviewed: the newest jobs (named, with who submitted them), and the folder."""
    return {"jobs": svc.store.recent(), "folder": FOLDER}


_ITEM = {"job_id": "$request.path.job_id", "item": "$response.body#/items/0/item"}
_ITEM_PATH = "/v1/jobs/{job_id}/items/{item}"
ITEM_LINKS = {
    "item": api_link(_ITEM_PATH, "get", **_ITEM),
    "edit": api_link(_ITEM_PATH, "patch", **_ITEM),
    "approve": api_link(_ITEM_PATH + "/approve", "post", **_ITEM),
    "presence": api_link(_ITEM_PATH + "/presence", "post", **_ITEM),
    "withdraw": api_link(_ITEM_PATH + "/withdraw", "post", **_ITEM),
}


@router.get(
    "/v1/jobs/{job_id}/items",
    responses={200: {"description": "The job's items and failures", "links": ITEM_LINKS}},
)
def job_items(job_id: str, desk: DeskDep, svc: ServiceDep, _: KeyDep) -> dict[str, Any]:
    note = None
    try:
        items = desk.items()
    except ReviewError as exc:
        if job_id == FOLDER:
            items = []
        else:
            raise review_error(exc) from None
    failed: list[dict[str, Any]] = []
    if job_id == FOLDER:
        note = desk.missing_results_note()
        failed = desk.failed_sources()
    else:  # each failed article with its reason: the desk's counts add up to the job's
        titles = {i: str(a.get("title") or "") for i, a in enumerate(svc.store.articles(job_id))}
        failed = [
            {
                "id": r["id"],
                "title": titles.get(int(r.get("index", -1)), "") or None,
                "error": (r.get("error") or {}).get("message")
                if isinstance(r.get("error"), dict)
                else str(r.get("error")),
            }
            for r in job_rows(desk)
            if "error" in r
        ]
    info = svc.store.get(job_id) if job_id != FOLDER else {"id": FOLDER}
    grouping = svc.worker.grouping_note()
    note = "; ".join(n for n in (note, grouping) if n) or None
    return {"job": info, "items": items, "failed": failed, "note": note, "stories": grouping}


@router.post("/v1/jobs/{job_id}/items/{item:path}/approve")
def approve_item(
    job_id: str,
    item: str,
    body: ApproveIn,
    desk: DeskDep,
    svc: ServiceDep,
    key: KeyDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    require_editor(key)
    try:
        if body.field is None:
            versions, seen = _item_approval(desk, item, body, if_match)
            desk.approve_all(
                item, key.name, versions=versions, seen=seen, force=body.acknowledge_warnings
            )
        else:
            version = _version(if_match, body.version, f"{item} {body.field}")
            if isinstance(body.seen, dict):
                raise ApiError(
                    422,
                    "invalid_edit",
                    f"{item} {body.field}: seen is the one field's signature here (a mapping "
                    "of signatures names a whole item's fields)",
                )
            if body.text is None and body.seen is None:
                raise ApiError(
                    428,
                    "text_required",
                    f"{item} {body.field}: name the text you approve: send it (text), or its "
                    "signature as the item view gave it (seen), so nothing you did not see is "
                    "approved",
                )
            desk.approve(
                item, body.field, key.name, version=version, text=body.text, seen=body.seen
            )
    except ReviewError as exc:
        raise review_error(exc, item) from None
    svc.presence.done_editing(job_id, item, key.name)
    if svc.notifier is not None:
        svc.notifier.emit(
            "item.approved",
            {
                "job": job_id,
                "item": item,
                "field": body.field,  # None: the whole item
                "by": key.name,
                # The texts this approval published, as the one rule has them.
                "texts": _published_texts(desk, item, body.field),
                "links": {
                    "item": f"/v1/jobs/{job_id}/items/{item}",
                    "ninjs": f"/v1/jobs/{job_id}/items/{item}?format=ninjs",
                },
            },
            job_id,
        )
    return _after_write(desk, item)


def _item_approval(
    desk: Desk, item: str, body: ApproveIn, if_match: str | None
) -> tuple[dict[str, int], dict[str, str]]:
    """(versions, signatures) a whole item's approval is pinned to: the item's ETag as it was
    shown (If-Match), or each field's version and signature sent in the body. Versions alone
    name no text (a re-run changes the machine text, not the version), so they are refused."""
    if if_match is not None:
        state = desk.item_state(item)
        etag = item_etag(state)
        if if_match.strip() != etag:
            err = ApiError(409, "version_conflict", f"{item} changed since you loaded it")
            err.extra = {"etag": etag}
            raise err
        return as_shown(state)
    if body.versions is None or not isinstance(body.seen, dict):
        raise ApiError(
            428,
            "text_required",
            f"{item}: name what you approve: the item's ETag as you loaded it (If-Match), or "
            "each field's version and signature as shown (versions and seen), so nothing "
            "changed meanwhile is approved unseen",
        )
    return body.versions, dict(body.seen)


def _published_texts(desk: Desk, item: str, field: str | None) -> dict[str, str]:
    """field -> published text, for the fields an approval named (all, for a whole item)."""
    from summarize import review

    try:
        doc = desk.published(item)
    except ReviewError:
        return {}
    names = [field] if field is not None else review.fields(doc)
    return {name: text for name in names if (text := review.published_text(doc, name)) is not None}


class PresenceIn(BaseModel):
    field: str | None = None  # the field being edited, if any
    leaving: bool = False


@router.post("/v1/jobs/{job_id}/items/{item:path}/presence")
def presence(
    job_id: str, item: str, body: PresenceIn, desk: DeskDep, svc: ServiceDep, key: KeyDep
) -> dict[str, Any]:
    """A desk page's heartbeat while it has `item` open: who else is there, and what they are
    editing (a page beats every 10 s; one silent for 25 s has left). Editors only, on items
    that exist: a reader never shows as editing, and no one holds a made-up item."""
    from summarize import review

    require_editor(key)
    doc = _published_item(desk, item)  # 404 for an item the job does not have
    if body.field is not None and body.field not in review.fields(doc):
        raise ApiError(422, "invalid_field", f"{item} has no field {body.field!r}")
    if body.leaving:
        svc.presence.leave(job_id, item, key.name)
        return {"here": []}
    return {"here": svc.presence.beat(job_id, item, key.name, body.field)}


class WithdrawIn(BaseModel):
    field: str = Field(min_length=1)
    version: int | None = None  # or If-Match


@router.post("/v1/jobs/{job_id}/items/{item:path}/withdraw")
def withdraw_approval(
    job_id: str,
    item: str,
    body: WithdrawIn,
    desk: DeskDep,
    svc: ServiceDep,
    key: KeyDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Withdraw a field's approval: back to a draft, recorded in the history; a signed
    `item.withdrawn` event tells the CMS to stop publishing it (through the same outbox as
    approvals, so in order per item)."""
    require_editor(key)
    version = _version(if_match, body.version, f"{item} {body.field}")
    try:
        desk.withdraw(item, body.field, key.name, version=version)
    except ReviewError as exc:
        raise review_error(exc, item) from None
    if svc.notifier is not None:
        svc.notifier.emit(
            "item.withdrawn",
            {
                "job": job_id,
                "item": item,
                "field": body.field,
                "by": key.name,
                # What stays published of the item after the withdrawal, as the one rule has it.
                "texts": _published_texts(desk, item, None),
                "links": {
                    "item": f"/v1/jobs/{job_id}/items/{item}",
                    "ninjs": f"/v1/jobs/{job_id}/items/{item}?format=ninjs",
                },
            },
            job_id,
        )
    return _after_write(desk, item)


@router.get("/v1/jobs/{job_id}/items/{item:path}")
def get_item(
    item: str,
    desk: DeskDep,
    _: KeyDep,
    format: str = "view",
    ninjs_version: str | None = None,
    drafts: bool | None = None,
) -> JSONResponse:
    """The desk's view of an item; `format=ninjs`: its texts as IPTC ninjs items."""
    if format == "ninjs":
        from summarize import review

        doc = _published_item(desk, item)
        story = review.is_story(doc)
        stories = [doc] if story else _stories_of(desk, doc)
        return ninjs_response(desk, [] if story else [doc], stories, ninjs_version, drafts)
    if format != "view":
        raise ApiError(422, "invalid_query", "format is view (the default) or ninjs")
    return view_response(item_view(desk, item))


def _published_item(desk: Desk, item: str) -> dict[str, Any]:
    try:
        return desk.published(item)
    except ReviewError as exc:
        raise review_error(exc, item) from None


def _stories_of(desk: Desk, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The story an article is in, as published (its item links to the story's)."""
    sid = (doc.get("story") or {}).get("id")
    if not sid:
        return []
    from summarize.review.model import STORY_PREFIX

    try:
        return [desk.published(f"{STORY_PREFIX}{sid}")]
    except ReviewError:
        return []


@router.patch("/v1/jobs/{job_id}/items/{item:path}")
def edit_item(
    job_id: str,
    item: str,
    body: EditIn,
    desk: DeskDep,
    svc: ServiceDep,
    key: KeyDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    require_editor(key)
    version = _version(if_match, body.version, f"{item} {body.field}")
    try:
        desk.edit(item, body.field, key.name, body.text, version=version, restore=body.restore)
    except ReviewError as exc:
        raise review_error(exc, item) from None
    svc.presence.done_editing(job_id, item, key.name)
    return _after_write(desk, item)


def _after_write(desk: Desk, item: str) -> JSONResponse:
    """The item after a committed write. The write is saved whatever happens next: should the
    view fail to build, the answer still says it was saved (never a 500 for a saved change)."""
    try:
        return view_response(item_view(desk, item))
    except Exception:
        log.exception("the view of %s after a saved write failed", item)
        versions = desk.versions(item) if desk.store_exists() else {}
        return JSONResponse(
            {
                "item": item,
                "saved": True,
                "versions": versions,
                "note": "saved; the item view could not be built, reload it",
            },
            headers={"ETag": item_etag(desk.item_state(item))},
        )


def ninjs_response(
    desk: Desk,
    docs: list[dict[str, Any]],
    stories: list[dict[str, Any]],
    version: str | None,
    drafts: bool | None,
) -> JSONResponse:
    """ninjs items as the server's settings write them, the version and drafts overridable."""
    from dataclasses import replace

    from summarize import ninjs
    from summarize.write import ninjs_options

    options = ninjs_options(desk.settings)
    if version is not None:
        if version not in ninjs.VERSIONS:
            raise ApiError(422, "invalid_query", "ninjs_version is 3.1 or 2.2")
        options = replace(options, version=version)
    if drafts is not None:
        options = replace(options, drafts=drafts)
    return JSONResponse(ninjs.items(docs, stories, options))
