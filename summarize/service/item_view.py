"""One desk item as the page reads it (the published document, its source, each field with
its version, the signature of what approving it would take, its pending draft, a stale edit
with what changed, its warnings in an editor's words, the item's history), and how the desk's
errors are answered over HTTP."""

from __future__ import annotations

import logging
from typing import Any

from fastapi.responses import JSONResponse

from summarize.checks import severity
from summarize.errors import ReviewError, ReviewNotFound
from summarize.languages import is_rtl
from summarize.review import Conflict, signature
from summarize.review.desk import Desk, NeedsAcknowledgement, NeedsText, item_etag
from summarize.review.queue import queue_line
from summarize.service.auth import ApiError

log = logging.getLogger("summarize.service")


def review_error(exc: ReviewError, item: str | None = None) -> ApiError:
    if isinstance(exc, ReviewNotFound):  # no paths or other ids in a 404
        return ApiError(404, "not_found", f"no item {item}" if item else "nothing to review yet")
    if isinstance(exc, Conflict):
        return ConflictError(exc)
    if isinstance(exc, NeedsText):
        return ApiError(428, "text_required", str(exc))
    if isinstance(exc, NeedsAcknowledgement):
        err = ApiError(409, "acknowledgement_required", str(exc))
        err.extra = {"acknowledge": exc.items, "details": exc.details}
        return err
    return ApiError(422, "invalid_edit", str(exc))


class ConflictError(ApiError):
    def __init__(self, exc: Conflict) -> None:
        super().__init__(409, "version_conflict", str(exc))
        current = exc.current
        latest = current.draft or current.approved
        self.extra = {
            "field": exc.field,
            "your_version": exc.expected,
            "version": current.version,
            "changed_by": current.by,
            "text": exc.text,
            "seen": signature(exc.text) if exc.text is not None else None,
            "status": latest.status if latest else None,
        }


def item_view(desk: Desk, item: str) -> dict[str, Any]:
    """One item for the desk: the published document, its source and each field laid out
    (published and machine text, version, pending draft, a stale edit with what changed,
    state, who, the warnings on it), the item's edit history."""
    from summarize import review

    try:
        machine = desk.machine_doc(item)
    except ReviewError as exc:
        raise review_error(exc, item) from None
    doc = desk.publish({item: machine})[item]
    source = desk.source(machine)
    from summarize.review.publish import from_machine_summary

    out_fields = []
    from_old_summary = set(from_machine_summary(doc))
    for name, (stage, lang) in review.stages(machine).items():
        entry = doc["review"]["fields"].get(name, {})
        machine_text = review.text_of(machine, name)
        stale = entry.get("stale")
        if stale:
            stale = dict(stale)
            stale["machine_diff"] = review.word_diff(stale.pop("machine_text"), machine_text)
            old_source = desk.store.source(stale.pop("input_hash"))
            stale["source_diff"] = (
                review.word_diff(old_source, source) if old_source and source else None
            )
        out_fields.append(
            {
                "field": name,
                "lang": lang,
                "stage": stage,
                "text": review.text_of(doc, name),
                # What Approve takes as it stands, and its signature: the approver names it.
                "to_approve": (to_approve := desk.to_approve(doc, name)),
                "seen": review.signature(to_approve) if to_approve is not None else None,
                "machine_text": machine_text,
                "edit_diff": review.word_diff(machine_text, review.text_of(doc, name)),
                "status": review.status(doc, name),
                "version": entry.get("version", 0),
                "by": entry.get("approved_by") or entry.get("by"),
                "at": entry.get("approved_at") or entry.get("at"),
                "edited": entry.get("edited", False),
                "pending": entry.get("pending"),
                "stale": stale,
                "acknowledged": entry.get("acknowledged", []),
                # A translation of the summary before an editor changed it.
                "from_machine_summary": name in from_old_summary,
                "label": review.field_label(name),
                "rtl": is_rtl(lang),
                "warnings": [
                    w
                    | {
                        "for_editor": review.for_editor(w, name, lang),
                        "severity": severity(str(w.get("code"))),
                    }
                    for w in doc.get("warnings", [])
                    if w["stage"] == stage
                ],
            }
        )
    return {
        "item": item,
        "etag": item_etag(
            {f["field"]: f"{f['version']}:{f['seen'] or 'stale'}" for f in out_fields}
        ),
        "line": queue_line(doc),
        "source": source,
        "document": doc,
        "fields": out_fields,
        "open": review.open_items(doc),
        "open_details": review.open_details(doc),
        "history": history_with_diffs(
            desk.store.log(desk.scope, item) if desk.store_exists() else [], machine
        ),
    }


def history_with_diffs(
    log_rows: list[dict[str, Any]], machine: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each step of an item's history with a word diff against the field's text before it
    (the machine text before the first edit), and the field's name for people."""
    from summarize import review

    before: dict[str, str] = {}
    out = []
    for row in log_rows:
        field = str(row["field"])
        if field not in before:
            try:
                before[field] = review.text_of(machine, field)
            except (KeyError, TypeError):
                before[field] = ""
        text = str(row["text"])
        step = dict(row) | {"label": review.field_label(field)}
        if row["action"] in ("edit", "approve", "withdraw", "restore"):
            step["diff"] = review.word_diff(before[field], text)
            before[field] = text
        out.append(step)
    return out


def view_response(view: dict[str, Any]) -> JSONResponse:
    return JSONResponse(view, headers={"ETag": view["etag"]})
