"""Review: what an editor's edits do to a result.

A result document (`types.result_json`) or a story document (`stories.json`) has fields an
editor may correct: `summary`, `title` (the source headline), `translation:<lang>`,
`title:<lang>` (the headline's translations) and, for a story, `story_summary:<lang>`. Each
machine field has a signature: its stage record (model, revision, settings) and its text. An
edit applies only while the article's hash and the field's signature are those it was made
against; otherwise it is stale, shown as such and never applied to new text.

`apply` is a pure function from (machine document, edits) to the published document: approved
texts in place, the checks rerun on them, and a `review` block saying who approved what and
when, with the machine text kept so `machine_doc` can undo it. Drafts and stale edits are
listed there, not published.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from summarize.edits import Edit, EditStore, Target
from summarize.errors import ReviewError
from summarize.text import sha256

STORY_PREFIX = "story:"
_FIELD = re.compile(r"^(summary|title|(translation|title|story_summary):[a-z]{2,3})$")
# Volatile parts of a stage record: a change in them alone is no change of the text's origin.
_VOLATILE = ("seconds", "cached")

APPROVED, DRAFT, STALE = "approved", "draft", "stale"
Detect = Callable[[str], tuple[str, float]]


def valid_field(name: str) -> bool:
    return bool(_FIELD.match(name))


def signature(record: Mapping[str, Any] | None, text: str) -> str:
    """The stage record (less timings) and the text: a new model, revision, setting or output
    gives a new signature."""
    stable = {k: v for k, v in (record or {}).items() if k not in _VOLATILE}
    return sha256(json.dumps([stable, text], sort_keys=True, ensure_ascii=False))[:16]


def is_story(doc: Mapping[str, Any]) -> bool:
    return "members" in doc


def item_id(doc: Mapping[str, Any]) -> str:
    return f"{STORY_PREFIX}{doc['id']}" if is_story(doc) else str(doc["id"])


def input_hash(doc: Mapping[str, Any]) -> str:
    """An article's text hash; a story's members (a new member changes the story)."""
    if is_story(doc):
        return sha256("\n".join(sorted(str(m["id"]) for m in doc.get("members", []))))[:16]
    return str(doc["hash"])


# -- where each field lives ---------------------------------------------------------------


def _slots(doc: Mapping[str, Any]) -> dict[str, tuple[list[Any], str, str]]:
    """field -> (path to its text, stage of its record and warnings, language)."""
    out: dict[str, tuple[list[Any], str, str]] = {}
    summary = doc.get("summary")
    if is_story(doc):
        if isinstance(summary, dict):
            out[f"story_summary:{summary['lang']}"] = (
                ["summary", "text"],
                "story",
                summary["lang"],
            )
        for target in doc.get("translations", {}):
            out[f"story_summary:{target}"] = (
                ["translations", target, "text"],
                f"story:{target}",
                target,
            )
        return out
    if isinstance(summary, dict):
        out["summary"] = (["summary", "text"], "summarize", summary["lang"])
    if doc.get("title"):
        out["title"] = (["title"], "title", str(doc.get("language", {}).get("code", "und")))
    for target in doc.get("translations", {}):
        out[f"translation:{target}"] = (
            ["translations", target, "text"],
            f"translate:{target}",
            target,
        )
    for target in doc.get("title_translations", {}) or {}:
        out[f"title:{target}"] = (["title_translations", target], f"title:{target}", target)
    return out


def _get(doc: Mapping[str, Any], path: list[Any]) -> str:
    node: Any = doc
    for key in path:
        node = node[key]
    return str(node)


def _set(doc: dict[str, Any], path: list[Any], text: str) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = text


def text_of(doc: Mapping[str, Any], field: str) -> str:
    """The text a document holds for `field` (KeyError when it has none)."""
    return _get(doc, _slots(doc)[field][0])


def stages(doc: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """field -> (the stage whose record and warnings it has, its language)."""
    return {f: (stage, lang) for f, (_, stage, lang) in _slots(doc).items()}


def fields(doc: Mapping[str, Any]) -> list[str]:
    """The fields of a (machine or published) document an editor can work on."""
    return list(_slots(doc))


def machine_fields(doc: Mapping[str, Any]) -> list[str]:
    """The fields a model wrote: all of them but the source headline."""
    return [f for f in _slots(doc) if f != "title"]


def target(doc: Mapping[str, Any], field: str) -> Target | None:
    """What an edit of `field` is made against, from the machine document."""
    slot = _slots(doc).get(field)
    if slot is None:
        return None
    path, stage, lang = slot
    text = _get(doc, path)
    prov = doc.get("provenance", {})
    record = prov.get(stage) if field != "title" else {"stage": "source headline"}
    if is_story(doc):
        source_lang = doc["summary"]["lang"]
        input_text = "" if stage == "story" else doc["summary"]["text"]
    else:
        source_lang = (
            doc["summary"]["lang"] if field.startswith("translation:") else doc["language"]["code"]
        )
        if field.startswith("translation:"):
            input_text = doc["summary"]["text"]
        elif field.startswith("title:"):
            input_text = str(doc.get("title") or "")
        else:
            input_text = ""  # the article itself, kept once in the edits' sources table
    return Target(
        item=item_id(doc),
        field=field,
        input_hash=input_hash(doc),
        signature=signature(record, text),
        model=str((record or {}).get("model", "editor" if field == "title" else "?")),
        source_lang=str(source_lang),
        target_lang=lang,
        input_text=input_text,
        machine_text=text,
    )


# -- applying edits ---------------------------------------------------------------------------


def when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def staleness(doc: Mapping[str, Any], edit: Edit) -> str | None:
    """Why `edit` no longer applies to this machine document, or None when it does."""
    found = target(doc, edit.field)
    if found is None:
        return "the result no longer has this field"
    if edit.input_hash != found.input_hash:
        return (
            "the source changed since the edit"
            if not is_story(doc)
            else "the story's articles changed"
        )
    if edit.signature != found.signature:
        return "the machine text under the edit changed (another model, setting or output)"
    return None


def apply(
    doc: Mapping[str, Any],
    edits: Mapping[str, Edit],
    *,
    source: str | None = None,
    detect: Detect | None = None,
) -> dict[str, Any]:
    """The published document: approved texts in place (checked again against `source` when
    they differ from the machine's), a `review` block for every field."""
    machine = machine_doc(doc)
    out = copy.deepcopy(machine)
    slots = _slots(machine)
    review: dict[str, Any] = {}
    for field, edit in sorted(edits.items()):
        reason = staleness(machine, edit)
        entry: dict[str, Any] = {"status": edit.status, "by": edit.editor, "at": when(edit.updated)}
        if reason is not None:
            entry |= {"status": STALE, "reason": reason, "text": edit.text}
        elif edit.status == APPROVED:
            path, stage, lang = slots[field]
            entry |= {
                "by": edit.approved_by,
                "at": when(edit.approved_at),
                "edited": edit.changed,
                "machine_text": edit.machine_text,
            }
            if edit.changed:
                _set(out, path, edit.text)
                entry["machine_warnings"] = [
                    w for w in machine.get("warnings", []) if w["stage"] == stage
                ]
                out["warnings"] = [w for w in out.get("warnings", []) if w["stage"] != stage]
                out["warnings"] += _recheck(source, edit.text, field, stage, lang, detect)
                if source is None:
                    entry["checks"] = "not rerun: the source text is not available"
        else:
            entry["text"] = edit.text
        review[field] = entry
    required = machine_fields(machine)
    approved = [f for f in required if review.get(f, {}).get("status") == APPROVED]
    state = (
        "approved"
        if required and len(approved) == len(required)
        else ("in review" if review else "machine draft")
    )
    out["review"] = {
        "state": state,
        "approved": len(approved),
        "of": len(required),
        "fields": review,
    }
    return out


def rechecks(edits: Mapping[str, Edit]) -> bool:
    """Whether `apply` will check text against the source: an approved text differs."""
    return any(e.status == APPROVED and e.changed for e in edits.values())


def _recheck(
    source: str | None, text: str, field: str, stage: str, lang: str, detect: Detect | None
) -> list[dict[str, Any]]:
    import dataclasses

    from summarize.checks import check_text

    if source is None:
        return []
    flags = check_text(
        source, text, stage, lang, detect, is_summary=field == "summary" or stage == "story"
    )
    return [dataclasses.asdict(f) | {"edited": True} for f in flags]


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
    if "warnings" in out and isinstance(out["warnings"], list):
        order = {w["stage"]: i for i, w in enumerate(doc.get("warnings", []))}
        out["warnings"].sort(key=lambda w: order.get(w["stage"], len(order)))
    return out


def status(doc: Mapping[str, Any], field: str) -> str:
    """approved, draft, stale, or machine (no edit) for one field of a published document."""
    entry = doc.get("review", {}).get("fields", {}).get(field)
    return str(entry["status"]) if entry else "machine"


def approved_only(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The approved fields of a published document, nothing else (None when none is)."""
    if not any(status(doc, f) == APPROVED for f in machine_fields(doc)):
        return None
    out = copy.deepcopy(dict(doc))
    if (
        status(doc, "summary" if not is_story(doc) else f"story_summary:{doc['summary']['lang']}")
        != APPROVED
    ):
        out["summary"] = None
    key = "story_summary" if is_story(doc) else "translation"
    out["translations"] = {
        t: tr
        for t, tr in doc.get("translations", {}).items()
        if status(doc, f"{key}:{t}") == APPROVED
    }
    if not is_story(doc):
        out["title_translations"] = {
            t: text
            for t, text in (doc.get("title_translations") or {}).items()
            if status(doc, f"title:{t}") == APPROVED
        }
    return out


def publish(
    docs: Iterable[Mapping[str, Any]],
    edits: Mapping[str, Mapping[str, Edit]],
    source: Callable[[Mapping[str, Any]], str | None],
    detect: Detect | None = None,
) -> list[dict[str, Any]]:
    """`apply` over many documents (by item id); documents with no edit get a review block too.
    `source` is asked only for a document whose approved text differs from the machine's."""
    out = []
    for doc in docs:
        mine = edits.get(item_id(doc), {})
        text = source(doc) if rechecks(mine) else None
        out.append(apply(doc, mine, source=text, detect=detect))
    return out


def save_edit(
    store: EditStore,
    doc: Mapping[str, Any],
    field: str,
    editor: str,
    *,
    text: str | None = None,
    approve: bool = False,
    source: str | None = None,
) -> Edit:
    """Keep an editor's `text` for `field` of a machine document as a draft, or approve it.
    Approving with no text approves the pending draft if it still applies, else the machine
    text unchanged. Raises ReviewError naming the item and what to do."""
    item = item_id(doc)
    if not valid_field(field):
        raise ReviewError(
            f"{item}: {field!r} is not a field; use summary, title, translation:<lang>, "
            "title:<lang> or story_summary:<lang>"
        )
    found = target(doc, field)
    if found is None:
        raise ReviewError(f"{item} has no {field}; its fields are: {', '.join(fields(doc))}")
    if text is None:
        if not approve:
            raise ReviewError(f"{item} {field}: give the new text")
        pending = store.get(item, field)
        usable = pending is not None and staleness(doc, pending) is None
        text = pending.text if pending is not None and usable else found.machine_text
    if not text.strip():
        raise ReviewError(f"{item} {field}: the text is empty; an edit cannot remove a field")
    return store.save(found, text.strip(), editor, approve=approve, source=source)
