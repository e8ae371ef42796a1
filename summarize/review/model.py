"""The model of what is reviewed: the fields of a result or story document, the machine text
each holds, what an edit is made against (its target), and when an edit no longer applies.

A result document (`types.result_json`) or a story document (`stories.json`) has fields an
editor may correct: `summary`, `title` (the source headline), `translation:<lang>`,
`title:<lang>` (the headline's translations) and, for a story, `story_summary:<lang>`,
`story_title` (the headline it is published under) and `story_title:<lang>` (its
translations). Every text a document publishes is one of these fields or declared as never
published as reviewed text (`documents.TEXT_KEYS`, checked by a test). An edit
applies while the article (its hash) and the machine text under it are those it was made
against. Versions of libraries, the device or the engine never make an edit stale: only the
source or the machine *text* changing does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from summarize.review.store import Edit, Target
from summarize.text import sha256

STORY_PREFIX = "story:"
# A field's language is written as targets are (`ar`, `pt`, `pt-br`, `zh-hant`).
_FIELD = re.compile(
    r"^(summary|title|story_title"
    r"|(translation|title|story_summary|story_title):[a-z]{2,3}(-[a-z0-9]{2,8})?)$"
)
# The fields that hold a source's own headline, not a model's text.
SOURCE_FIELDS = ("title", "story_title")
# An edited field longer than this is refused: no summary or headline is near it, and a huge
# paste would make every check and published document on the desk slow.
MAX_FIELD_CHARS = 20_000


def valid_field(name: str) -> bool:
    return bool(_FIELD.match(name))


def signature(text: str) -> str:
    """A digest of the machine text an edit was made against (the text alone: a library
    upgrade or another device that writes the same text changes nothing)."""
    return sha256(text)[:16]


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
        if doc.get("headline"):
            out["story_title"] = (["headline"], "story_title", headline_lang(doc))
        for target in doc.get("headline_translations", {}) or {}:
            out[f"story_title:{target}"] = (
                ["headline_translations", target],
                f"story_title:{target}",
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


def headline_lang(doc: Mapping[str, Any]) -> str:
    """The language of a story's headline: that of the member whose headline it is."""
    headline = doc.get("headline")
    for m in doc.get("members", []) or []:
        if headline and m.get("title") == headline and m.get("lang"):
            return str(m["lang"])
    return str((doc.get("summary") or {}).get("lang") or "und")


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
    """The fields a model wrote: all of them but the source's headline."""
    return [f for f in _slots(doc) if f not in SOURCE_FIELDS]


def item_fields(doc: Mapping[str, Any]) -> list[str]:
    """What approving an item approves: every field, the headline it is published under too
    (an item is not approved while its headline is unchecked)."""
    return list(_slots(doc))


def target(doc: Mapping[str, Any], field: str) -> Target | None:
    """What an edit of `field` is made against, from the machine document."""
    slot = _slots(doc).get(field)
    if slot is None:
        return None
    path, stage, lang = slot
    text = _get(doc, path)
    prov = doc.get("provenance", {})
    source = field in SOURCE_FIELDS
    record = prov.get(stage) if not source else {"stage": "source headline"}
    if is_story(doc):
        summary = doc.get("summary") or {}
        if field.startswith("story_title"):
            source_lang = headline_lang(doc)
            input_text = "" if source else str(doc.get("headline") or "")
        else:
            source_lang = summary.get("lang", "und")
            input_text = "" if stage == "story" else str(summary.get("text", ""))
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
        signature=signature(text),
        model=str((record or {}).get("model", "editor" if source else "?")),
        source_lang=str(source_lang),
        target_lang=lang,
        input_text=input_text,
        machine_text=text,
    )


# -- states ----------------------------------------------------------------------------------

APPROVED, DRAFT, STALE = "approved", "draft", "stale"


def when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def staleness(doc: Mapping[str, Any], edit: Edit) -> str | None:
    """Why `edit` no longer applies to this machine document, or None when it does: the
    source changed, or the machine text under it did."""
    found = target(doc, edit.field)
    if found is None:
        return "the result no longer has this field"
    if edit.input_hash != found.input_hash:
        return (
            "the source changed since the edit"
            if not is_story(doc)
            else "the story's articles changed"
        )
    if edit.machine_text != found.machine_text:
        return "the machine text under the edit changed"
    return None


def status(doc: Mapping[str, Any], field: str) -> str:
    """approved, draft, stale, or machine (no edit) for one field of a published document."""
    entry = doc.get("review", {}).get("fields", {}).get(field)
    return str(entry["status"]) if entry and entry.get("status") else "machine"


def word_diff(old: str, new: str) -> list[list[str]]:
    """What changed from `old` to `new`, word by word: [["=", "kept words"], ["-", "removed"],
    ["+", "added"]] (empty when nothing did)."""
    a, b = old.split(), new.split()
    if a == b:
        return []
    out: list[list[str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(["=", " ".join(a[i1:i2])])
            continue
        if i2 > i1:
            out.append(["-", " ".join(a[i1:i2])])
        if j2 > j1:
            out.append(["+", " ".join(b[j1:j2])])
    return out


# -- what an editor reads ---------------------------------------------------------------------


def field_label(field: str) -> str:
    """A field as people name it: `translation:ar` -> `Arabic translation`, `title:fr` ->
    `French headline`, `story_summary:en` -> `Story summary (English)`."""
    from summarize.languages import language_name

    kind, _, lang = field.partition(":")
    if kind == "summary":
        return "Summary"
    if kind == "title":
        return f"{language_name(lang)} headline" if lang else "Headline"
    if kind == "translation":
        return f"{language_name(lang)} translation"
    if kind == "story_summary":
        return f"Story summary ({language_name(lang)})"
    if kind == "story_title":
        return f"Story headline ({language_name(lang)})" if lang else "Story headline"
    return field


_FOR_EDITOR = {
    "number_not_in_source": "the {what} gives {span}; the article does not",
    "name_not_in_source": "the {what} names {span}; the article does not",
    "date_not_in_source": "the {what} dates it {span}; the article does not",
    "place_not_in_source": "the {what} places it in {span}; the article does not",
    "content_not_in_source": "the {what} says \u201c{span}\u201d, a word the article never uses",
    "unsupported_sentence": "the article does not support this sentence of the {what}: {span}",
    "wrong_language": "the {what} does not read as {lang}",
    "degenerate": "the {what} repeats itself or is empty: {span}",
    "truncated_output": "the {what} may be cut off at the end",
}


def for_editor(warning: Mapping[str, Any], field: str, lang: str) -> str:
    """A warning as an editor reads it ("the summary gives 7,777 delegates; the article does
    not"); the operational advice (raise max_new_tokens) stays in the message, for the report
    and the logs."""
    from summarize.languages import language_name

    template = _FOR_EDITOR.get(str(warning.get("code")))
    what = field_label(field)
    if field in ("summary", "title", "story_title") or field.startswith("story_"):
        what = what[0].lower() + what[1:]  # a common noun; a language's name keeps its capital
    if template is None:
        return str(warning.get("message", ""))
    span = str(warning.get("span") or "").strip()
    out = template.format(what=what, span=span or "(empty)", lang=language_name(lang))
    return out[0].upper() + out[1:]
