"""Publishing: what the editors' edits do to a machine document. One path for runs, the desk
and the service.

`apply` is a pure function from (machine document, each field's edits) to the published
document: approved texts in place (an approved text stays published while a newer draft is
worked on), checks rerun on every approved text that differs from the machine's (a story's
against its members' texts), and a `review` block per field: status, version, who and when,
the pending draft, a stale edit offered for redo. `machine_doc` undoes it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from summarize.review.model import (
    APPROVED,
    DRAFT,
    STALE,
    _get,
    _set,
    _slots,
    is_story,
    item_fields,
    item_id,
    machine_fields,
    signature,
    staleness,
    text_of,
    when,
)
from summarize.review.store import Edit, FieldEdits
from summarize.types import Flag

Detect = Callable[[str], tuple[str, float]]
# (source, text, stage, lang, is_summary, source_lang) -> warnings: the runner's cached checks.
Check = Callable[[str, str, str, str, bool, str | None], list[Flag]]


def apply(
    doc: Mapping[str, Any],
    edits: Mapping[str, FieldEdits],
    *,
    source: str | None = None,
    detect: Detect | None = None,
    check: Check | None = None,
) -> dict[str, Any]:
    """The published document: approved texts in place (checked again against `source` when
    they differ from the machine's, with `check` when given), a `review` block for every
    edited field."""
    machine = machine_doc(doc)
    out = copy.deepcopy(machine)
    slots = _slots(machine)
    review: dict[str, Any] = {}
    for field, state in sorted(edits.items()):
        entry: dict[str, Any] = {
            "status": None,
            "version": state.version,
            "by": state.by,
            "at": when(state.at),
        }
        approved = state.approved if state.approved and field in slots else None
        draft = state.draft if state.draft and field in slots else None
        stale = [e for e in state.edits if staleness(machine, e) is not None]
        if approved is not None and approved not in stale:
            path, stage, lang = slots[field]
            entry |= {
                "status": APPROVED,
                "approved_by": approved.editor,
                "approved_at": when(approved.at),
                "edited": approved.changed,
                "machine_text": approved.machine_text,
                # What `published_text` holds the field's text to: the approved text itself.
                "approved_signature": signature(approved.text),
                "approved_version": approved.version,
            }
            if approved.acknowledged:
                entry["acknowledged"] = list(approved.acknowledged)
            if approved.changed:
                _set(out, path, approved.text)
                entry["machine_warnings"] = [
                    w for w in machine.get("warnings", []) if w["stage"] == stage
                ]
                out["warnings"] = [w for w in out.get("warnings", []) if w["stage"] != stage]
                out["warnings"] += _recheck(
                    source, approved.text, field, stage, lang, detect, _source_lang(machine), check
                )
                if source is None:
                    entry["checks"] = "not rerun: the source text is not available"
        if draft is not None and draft not in stale:
            entry["status"] = entry["status"] or DRAFT
            entry["pending"] = {"text": draft.text, "by": draft.editor, "at": when(draft.at)}
        if stale and entry["status"] is None:
            newest = max(stale, key=lambda e: e.at)
            entry["status"] = STALE
            entry["stale"] = {
                "text": newest.text,
                "was": newest.status,
                "by": newest.editor,
                "at": when(newest.at),
                "reason": staleness(machine, newest),
                "machine_text": newest.machine_text,
                "input_hash": newest.input_hash,
            }
        if entry["status"] is None:
            entry["status"] = "machine"
        review[field] = entry
    required = item_fields(machine)
    approved_fields = [f for f in required if review.get(f, {}).get("status") == APPROVED]
    touched = any(e["status"] != "machine" for e in review.values())
    state_name = (
        "approved"
        if required and len(approved_fields) == len(required)
        else ("in review" if touched else "machine draft")
    )
    sort_warnings(out)
    out["review"] = {
        "state": state_name,
        "approved": len(approved_fields),
        "of": len(required),
        "fields": review,
    }
    return out


def rechecks(edits: Mapping[str, FieldEdits]) -> bool:
    """Whether `apply` will check text against the source: an approved text differs."""
    return any(s.approved is not None and s.approved.changed for s in edits.values())


_RECHECKED: dict[tuple[str, ...], list[dict[str, Any]]] = {}


def _source_lang(doc: Mapping[str, Any]) -> str | None:
    """The language of what a document's texts were made from (a story: its summary's)."""
    if is_story(doc):
        return str((doc.get("summary") or {}).get("lang") or "") or None
    return str((doc.get("language") or {}).get("code") or "") or None


def _recheck(
    source: str | None,
    text: str,
    field: str,
    stage: str,
    lang: str,
    detect: Detect | None,
    source_lang: str | None = None,
    check: Check | None = None,
) -> list[dict[str, Any]]:
    """The checks on an approved text, computed once per (source, text): every read of the
    desk or a brief publishes again, and the checks would otherwise rerun each time."""
    from summarize.checks import check_text
    from summarize.text import sha256

    if source is None:
        return []
    is_summary = field == "summary" or stage == "story"
    if check is not None:
        flags = check(source, text, stage, lang, is_summary, source_lang)
        return [dataclasses.asdict(f) | {"edited": True} for f in flags]
    key = (sha256(source), sha256(text), field, stage, lang, source_lang or "")
    if key not in _RECHECKED:
        if len(_RECHECKED) > 4096:
            _RECHECKED.clear()
        flags = check_text(
            source,
            text,
            stage,
            lang,
            detect,
            is_summary=is_summary,
            source_lang=source_lang,
        )
        _RECHECKED[key] = [dataclasses.asdict(f) | {"edited": True} for f in flags]
    return copy.deepcopy(_RECHECKED[key])


def machine_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Undo `apply`: the machine's texts and warnings back in place, no review block."""
    out = copy.deepcopy(dict(doc))
    review = out.pop("review", None)
    if not review:
        return out
    slots = _slots(out)
    for field, entry in review["fields"].items():
        if entry.get("status") == APPROVED and entry.get("edited") and field in slots:
            path, stage, _ = slots[field]
            _set(out, path, entry["machine_text"])
            out["warnings"] = [w for w in out.get("warnings", []) if w["stage"] != stage]
            out["warnings"] += entry.get("machine_warnings", [])
    sort_warnings(out)
    return out


def sort_warnings(doc: dict[str, Any]) -> None:
    """A document's warnings in the one documented order (`checks.warning_key`), whatever
    edits moved: by stage, then where in its text, then code."""
    from summarize.checks import warning_key

    warnings = doc.get("warnings")
    if not isinstance(warnings, list):
        return
    texts: dict[str, str] = {}
    for path, stage, _ in _slots(doc).values():
        try:
            texts[stage] = _get(doc, path)
        except (KeyError, TypeError, IndexError):
            continue
    warnings.sort(
        key=lambda w: warning_key(
            str(w.get("stage", "")),
            str(w.get("span", "")),
            str(w.get("code", "")),
            texts.get(str(w.get("stage", ""))),
        )
    )


def published_text(doc: Mapping[str, Any], field: str) -> str | None:
    """The one rule of what is published as approved: the text `field` holds in a published
    document if, and only if, it is the text of the field's latest approval (the approver sent
    it, or named it by its signature); None otherwise. Approved-only briefs, ninjs `usable`,
    `item.approved` webhooks, results and the desk all ask this, story members included."""
    entry = ((doc.get("review") or {}).get("fields") or {}).get(field) or {}
    if entry.get("status") != APPROVED or not entry.get("approved_signature"):
        return None
    try:
        text = text_of(doc, field)
    except (KeyError, TypeError, IndexError):
        return None
    return text if signature(text) == entry["approved_signature"] else None


def is_published(doc: Mapping[str, Any], field: str) -> bool:
    return published_text(doc, field) is not None


def approved_only(
    doc: Mapping[str, Any], members: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The published view of a published document: every reviewable text (`review.fields`)
    either the text of its field's latest approval, verbatim, or absent; None when no text a
    model wrote is approved. The approved-only briefs and results (`approved=only`) render
    from this; ninjs and webhooks ask the same rule (`published_text`) of every text they
    print, so a `usable` item's body and headline and a webhook's texts are approved ones.

    A source's own headline (`title`, `story_title`) stays as the source wrote it unless an
    approved edit replaced it; a story's members keep their headline (their approved one when
    `members`, their published documents by id, has it), outlet and date, never the story's
    copy of their machine summaries. The review block keeps who approved what and when, never
    a draft's or the machine's text."""
    if not any(is_published(doc, f) for f in machine_fields(doc)):
        return None
    out = copy.deepcopy(dict(doc))
    story = is_story(doc)
    slots = _slots(doc)
    shown = {f for f in slots if is_published(doc, f)}
    main = f"story_summary:{(doc.get('summary') or {}).get('lang')}" if story else "summary"
    if main not in shown:
        out["summary"] = None
    key = "story_summary" if story else "translation"
    out["translations"] = {
        t: tr for t, tr in doc.get("translations", {}).items() if f"{key}:{t}" in shown
    }
    heads = "headline_translations" if story else "title_translations"
    head = "story_title" if story else "title"
    out[heads] = {t: x for t, x in (doc.get(heads) or {}).items() if f"{head}:{t}" in shown}
    if story:
        out["members"] = [
            _member_view(m, (members or {}).get(str(m.get("id")))) for m in doc.get("members", [])
        ]
        out.pop("summary_error", None)
    # Only the warnings of the texts shown: a hidden, unapproved text's are not this view's.
    stages = {slots[f][1] for f in shown}
    out["warnings"] = [w for w in doc.get("warnings", []) if w.get("stage") in stages]
    fields = ((doc.get("review") or {}).get("fields")) or {}
    out["review"] = {
        **{k: v for k, v in (doc.get("review") or {}).items() if k != "fields"},
        "fields": {
            f: {k: fields[f][k] for k in _VIEW_KEYS if k in fields[f]}
            for f in sorted(shown)
            if f in fields
        },
    }
    return out


# What a published view keeps of a field's review: who approved which version, and when.
_VIEW_KEYS = (
    "status",
    "version",
    "approved_by",
    "approved_at",
    "edited",
    "approved_signature",
    "approved_version",
    "acknowledged",
)


def _member_view(member: Mapping[str, Any], published: Mapping[str, Any] | None) -> dict[str, Any]:
    """A story's member in a published view: no summary or translation of its own (those are
    its article's, published apart), its headline as its article publishes it when approved."""
    out = {k: v for k, v in member.items() if k not in ("summary", "translations")}
    if published is not None and (title := published_text(published, "title")) is not None:
        out["title"] = title
    return out


def publish(
    docs: Iterable[Mapping[str, Any]],
    edits: Mapping[str, Mapping[str, FieldEdits]],
    source: Callable[[Mapping[str, Any]], str | None],
    detect: Detect | None = None,
    check: Check | None = None,
) -> list[dict[str, Any]]:
    """`apply` over many documents (by item id); documents with no edit get a review block too.
    `source` is asked only for a document whose approved text differs from the machine's."""
    out = []
    for doc in docs:
        mine = edits.get(item_id(doc), {})
        text = source(doc) if rechecks(mine) else None
        out.append(apply(doc, mine, source=text, detect=detect, check=check))
    return out


FROM_MACHINE_SUMMARY = "translated from the machine summary"


def from_machine_summary(doc: Mapping[str, Any]) -> list[str]:
    """The translations (a story's too) made from a summary an editor has changed since (an
    approved edit, or a pending draft): approving them approves a translation of the old text."""
    story = is_story(doc)
    main = f"story_summary:{(doc.get('summary') or {}).get('lang')}" if story else "summary"
    entry = ((doc.get("review") or {}).get("fields") or {}).get(main) or {}
    if not (entry.get("status") == APPROVED and entry.get("edited")) and not entry.get("pending"):
        return []
    key = "story_summary:" if story else "translation:"
    return [f for f in _slots(doc) if f.startswith(key) and f != main]


def open_items(doc: Mapping[str, Any]) -> list[str]:
    """What approving a whole published item would let through unseen: each field's open
    warnings (`field: code`), pending drafts (`field: draft`), and translations of a summary
    an editor changed (`field: translated from the machine summary`)."""
    found = (
        f"{d['field']}: {d['code'] if d['kind'] == 'warning' else d['kind']}"
        for d in open_details(doc)
    )
    return list(dict.fromkeys(found))


def open_details(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What approving a whole item would let through unseen, in full, for the approver to
    see before confirming: each draft's text, author and time, each warning's message and the
    text it is about, each translation of a summary an editor changed."""
    stage_of = {f: stage for f, (_, stage, _) in _slots(doc).items()}
    fields_review = doc.get("review", {}).get("fields", {})
    stale_source = from_machine_summary(doc)
    out: list[dict[str, Any]] = []
    for field in item_fields(doc):
        entry = fields_review.get(field, {})
        if entry.get("status") == APPROVED and not entry.get("pending"):
            continue
        if field in stale_source:
            out.append(
                {
                    "field": field,
                    "kind": FROM_MACHINE_SUMMARY,
                    "code": FROM_MACHINE_SUMMARY,
                    "message": "translated from the machine summary, not from the edited one: "
                    "edit it to match, or approve it knowing so",
                    "span": "",
                }
            )
        for w in doc.get("warnings", []):
            if w["stage"] == stage_of[field]:
                out.append(
                    {
                        "field": field,
                        "kind": "warning",
                        "code": w["code"],
                        "message": w["message"],
                        "span": w.get("span", ""),
                    }
                )
        pending = entry.get("pending")
        if pending:
            out.append(
                {
                    "field": field,
                    "kind": "draft",
                    "text": pending["text"],
                    "by": pending["by"],
                    "at": pending["at"],
                }
            )
    return out


__all__ = [
    "Edit",
    "apply",
    "approved_only",
    "from_machine_summary",
    "is_published",
    "machine_doc",
    "open_details",
    "open_items",
    "publish",
    "published_text",
    "rechecks",
]
