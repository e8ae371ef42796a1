"""IPTC ninjs ("News in JSON"), what a newsroom's CMS ingests: versions 3.1 (default) and 2.2.

Each text is its own news item in its language, as ninjs has no field for translations: an
article's summary in the source language, and one item per translation, tied together through
`associations` (`rel` says how: `translation`, `translationOf`, `story`, `member`, `source`). A
story's summary is an item too, its members associated, and every member item names the story
in `events`. Items are identified by a stable URN per article (or story) and language, so a
re-run or an approval sends a new `version` of the same item.

What the standard offers for provenance carries it: `digitalSourceType` (IPTC's
`trainedAlgorithmicMedia`, or `compositeWithTrainedAlgorithmicMedia` once a person edited the
text), `infoSources` (the outlet that originated the article; the model, its revision, engine
and settings as the enhancer; each editor who edited or approved), `by`, and `edNote` for what
the desk has not yet approved. Only approved text is `pubStatus: usable`; machine drafts are
`withheld` unless the user asks otherwise (`ninjs_drafts`).

3.1 names properties in camelCase (`versionCreated`), 2.2 in lower case (`versioncreated`) and
has no `rel` on an association nor `id` on an event: one builder writes 3.1, `_as_version`
folds it to 2.2. `read` is a reader written against the standard (either version, or IPTC's own
examples), not against this writer, for round trips.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

VERSIONS = ("3.1", "2.2")
DEFAULT_VERSION = "3.1"
DEFAULT_URI_PREFIX = "urn:summarize:"
_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MACHINE = "trainedAlgorithmicMedia"
EDITED = "compositeWithTrainedAlgorithmicMedia"


@dataclass(frozen=True)
class NinjsOptions:
    """How items are written: the ninjs version, whether unapproved machine text is usable,
    and the prefix of every item's URI (a newsroom's own namespace)."""

    version: str = DEFAULT_VERSION
    drafts: bool = False
    uri_prefix: str = DEFAULT_URI_PREFIX


def item_uri(kind: str, ident: str, lang: str, prefix: str = DEFAULT_URI_PREFIX) -> str:
    """`urn:summarize:article:<id>:<lang>`: stable across runs and versions of the text."""
    return f"{prefix}{kind}:{quote(str(ident), safe='')}:{lang}"


def _field(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    return dict(((doc.get("review") or {}).get("fields") or {}).get(name) or {})


def _approved(doc: Mapping[str, Any], names: Iterable[str]) -> bool:
    """Every text of an item approved, as the one rule of publishing has it."""
    from summarize.review.publish import published_text

    wanted = list(names)
    return bool(wanted) and all(published_text(doc, n) is not None for n in wanted)


def _text_body(text: str) -> dict[str, Any]:
    return {
        "role": "summary",
        "contentType": "text/plain",
        "value": text,
        "charCount": len(text),
        "wordCount": len(re.findall(r"\w+", text)),
    }


def _model_source(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The model that made a text, as an enhancer: name, revision, engine, settings digest."""
    if not record:
        return None
    settings = json.dumps(record.get("settings") or {}, sort_keys=True)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:12]
    literal = (
        f"model={record.get('model')}; revision={record.get('revision')}; "
        f"engine={record.get('engine')} {record.get('compute_type') or ''}".rstrip()
        + f"; settings={digest}"
    )
    return {"name": f"summarize ({record.get('model')})", "role": "enhancer", "literal": literal}


def _people(doc: Mapping[str, Any], names: Iterable[str]) -> tuple[list[dict[str, Any]], bool]:
    """Editors who edited or approved these fields (as info sources), and whether any edited."""
    from summarize.review.publish import published_text

    out: list[dict[str, Any]] = []
    edited = False
    for name in names:
        entry = _field(doc, name)
        if published_text(doc, name) is not None:
            edited = edited or bool(entry.get("edited"))
            who = entry.get("approved_by")
            role = "editor" if entry.get("edited") else "approver"
            if who and {"name": who, "role": role} not in out:
                out.append({"name": str(who), "role": role})
    return out, edited


def _when(*stamps: Any) -> str | None:
    """The latest of the ISO times given (a review's, else the article's own)."""
    found = sorted(str(s) for s in stamps if s)
    return found[-1].replace("+00:00", "Z") if found else None


def _version(doc: Mapping[str, Any], names: Iterable[str]) -> str:
    return str(1 + max((int(_field(doc, n).get("version") or 0) for n in names), default=0))


def _item(
    *,
    uri: str,
    lang: str,
    text: str,
    headline: str | None,
    doc: Mapping[str, Any],
    fields: Sequence[str],
    provenance: Mapping[str, Any] | None,
    published: str | None,
    options: NinjsOptions,
    profile: str,
) -> dict[str, Any]:
    editors, edited = _people(doc, fields)
    approved = _approved(doc, fields)
    review_times = [_field(doc, f).get("approved_at") or _field(doc, f).get("at") for f in fields]
    item: dict[str, Any] = {
        "uri": uri,
        "type": "text",
        "profile": profile,
        "version": _version(doc, fields),
        "language": lang,
        "pubStatus": "usable" if approved or options.drafts else "withheld",
    }
    created = _when(*review_times) or _when(published)
    if created:
        item["versionCreated"] = created
    if published:
        item["contentCreated"] = _when(published)
    if headline:
        item["headlines"] = [{"role": "main", "contentType": "text/plain", "value": headline}]
    item["bodies"] = [_text_body(text)]
    machine = _model_source(provenance)
    item["infoSources"] = [*([machine] if machine else []), *editors]
    who = ", ".join(e["name"] for e in editors)
    item["by"] = f"summarize (machine {profile.split('-')[-1]})" + (
        f", {'edited' if edited else 'approved'} by {who}" if who else ""
    )
    if not approved:
        from summarize.review.model import for_editor, stages

        item["edNote"] = "Machine draft, not reviewed: check it against the source before use."
        slots = stages(doc)
        notes = [
            for_editor(w, name, slots[name][1])
            for name in fields
            if name in slots
            for w in doc.get("warnings", [])
            if w.get("stage") == slots[name][0]
        ]
        if notes:
            item["edNote"] += " Open warnings: " + "; ".join(dict.fromkeys(notes)) + "."
    item["digitalSourceType"] = {
        "uri": _SOURCE_TYPES + (EDITED if edited else MACHINE),
        "name": EDITED if edited else MACHINE,
    }
    return item


def _assoc(name: str, rel: str, uri: str, lang: str | None = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "rel": rel, "uri": uri, "type": "text"}
    if lang:
        out["language"] = lang
    return out | more


def article_items(
    doc: Mapping[str, Any], story: Mapping[str, Any] | None, options: NinjsOptions
) -> list[dict[str, Any]]:
    """An article's summary item in its language, then one item per translation."""
    summary = doc.get("summary")
    if not isinstance(summary, dict) or not summary.get("text"):
        return []
    src = str(summary.get("lang") or doc["language"]["code"])
    ident = str(doc["id"])
    uris = {src: item_uri("article", ident, src, options.uri_prefix)}
    translations = {
        t: tr for t, tr in (doc.get("translations") or {}).items() if (tr or {}).get("text")
    }
    for target in translations:
        uris[target] = item_uri("article", ident, target, options.uri_prefix)
    provenance = doc.get("provenance") or {}
    source_link = _assoc(
        "source",
        "source",
        str(doc.get("url") or item_uri("source", ident, src, options.uri_prefix)),
        src,
        altIds=[{"role": "source-id", "value": ident}],
    )
    outlet = _outlet(doc)
    if doc.get("title"):
        source_link["headlines"] = [{"role": "main", "value": str(doc["title"])}]
    story_links: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    if story and int(story.get("size") or 0) >= 2:
        sid = str(story["id"])
        events = [_event(story, options)]
        story_links = [_assoc("story", "story", item_uri("story", sid, src, options.uri_prefix))]
    base: dict[str, Any] = {"doc": doc, "published": doc.get("published"), "options": options}
    items = []
    original = _item(
        uri=uris[src],
        lang=src,
        text=str(summary["text"]),
        headline=doc.get("title"),
        fields=["summary", *(["title"] if doc.get("title") else [])],
        provenance=provenance.get("summarize"),
        profile="summarize-summary",
        **base,
    )
    original["associations"] = [
        source_link,
        *(_assoc(f"translation-{t}", "translation", uris[t], t) for t in translations),
        *story_links,
    ]
    items.append(original)
    titles = doc.get("title_translations") or {}
    for target, tr in translations.items():
        item = _item(
            uri=uris[target],
            lang=target,
            text=str(tr["text"]),
            headline=titles.get(target),
            fields=[f"translation:{target}", *([f"title:{target}"] if titles.get(target) else [])],
            provenance=provenance.get(f"translate:{target}"),
            profile="summarize-translation",
            **base,
        )
        item["associations"] = [
            _assoc("original", "translationOf", uris[src], src),
            source_link,
            *story_links,
        ]
        items.append(item)
    for item in items:
        if events:
            item["events"] = events
        if outlet:
            item["infoSources"].insert(0, outlet)
        item["altIds"] = [{"role": "source-id", "value": ident}]
    return items


def _event(story: Mapping[str, Any], options: NinjsOptions) -> dict[str, Any]:
    """The event a story's items are about (ninjs `events`), named by its headline."""
    sid = str(story["id"])
    return {
        "id": sid,
        "name": str(story.get("headline") or sid),
        "rel": "about",
        "uri": item_uri("event", sid, "und", options.uri_prefix),
    }


def _outlet(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    from summarize.stories import outlet

    name = doc.get("outlet") or outlet(doc.get("url"), str(doc.get("source") or ""))
    if not name:
        return None
    found: dict[str, Any] = {"name": name, "role": "originator"}
    if doc.get("url"):
        found["uri"] = str(doc["url"])
    return found


def story_items(story: Mapping[str, Any], options: NinjsOptions) -> list[dict[str, Any]]:
    """A story's summary in each of its languages, its members associated."""
    summary = story.get("summary")
    if not isinstance(summary, dict) or not summary.get("text"):
        return []
    sid = str(story["id"])
    src = str(summary["lang"])
    texts = {src: (str(summary["text"]), story.get("headline"))}
    heads = story.get("headline_translations") or {}
    for target, tr in (story.get("translations") or {}).items():
        if (tr or {}).get("text"):
            texts[target] = (str(tr["text"]), heads.get(target))
    uris = {lang: item_uri("story", sid, lang, options.uri_prefix) for lang in texts}
    members = [
        _assoc(
            f"member-{i}",
            "member",
            item_uri("article", str(m["id"]), str(m["lang"]), options.uri_prefix),
            str(m["lang"]),
        )
        for i, m in enumerate(story.get("members") or [], 1)
        if not m.get("duplicate_of")
    ]
    event = _event(story, options)
    items = []
    provenance = story.get("provenance") or {}
    for lang, (text, headline) in texts.items():
        # The headline is a text of the item too: usable only when it is approved as well.
        head = "story_title" if lang == src else f"story_title:{lang}"
        item = _item(
            uri=uris[lang],
            lang=lang,
            text=text,
            headline=headline,
            doc=story,
            fields=[f"story_summary:{lang}", *([head] if headline else [])],
            provenance=provenance.get("story" if lang == src else f"story:{lang}")
            or provenance.get("story"),
            published=story.get("last"),
            options=options,
            profile="summarize-story",
        )
        item["associations"] = [
            *(
                _assoc(f"translation-{t}", "translation", uris[t], t)
                if lang == src
                else _assoc("original", "translationOf", uris[src], src)
                for t in ([x for x in texts if x != src] if lang == src else [src])
            ),
            *members,
        ]
        item["events"] = [event]
        item["altIds"] = [{"role": "story-id", "value": sid}]
        items.append(item)
    return items


def items(
    docs: Sequence[Mapping[str, Any]],
    stories: Sequence[Mapping[str, Any]] | None = None,
    options: NinjsOptions | None = None,
) -> list[dict[str, Any]]:
    """Every ninjs item of a batch: its stories (of two or more) first, then its articles."""
    options = options or NinjsOptions()
    if options.version not in VERSIONS:
        raise ValueError(f"ninjs version {options.version!r}: choose {' or '.join(VERSIONS)}")
    by_id = {str(s["id"]): s for s in stories or ()}
    out: list[dict[str, Any]] = []
    for story in stories or ():
        if int(story.get("size") or 0) >= 2:
            out += story_items(story, options)
    for doc in docs:
        if "error" in doc or doc.get("summary") is None:
            continue
        sid = (doc.get("story") or {}).get("id")
        out += article_items(doc, by_id.get(str(sid)) if sid else None, options)
    return [_as_version(i, options.version) for i in out]


def _as_version(item: dict[str, Any], version: str) -> dict[str, Any]:
    """3.1 as written, or folded to 2.2: lower-case names, no `rel`, events without `id`."""
    if version == "3.1":
        return item
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "associations":
            value = [
                {k: v for k, v in _as_version(a, version).items() if k != "rel"} for a in value
            ]
        elif key == "events":
            value = [
                {k.lower(): v for k, v in e.items() if k != "id"} | {"literal": e["id"]}
                for e in value
            ]
        elif isinstance(value, list):
            value = [
                {k.lower(): v for k, v in x.items()} if isinstance(x, dict) else x for x in value
            ]
        elif isinstance(value, dict):
            value = {k.lower(): v for k, v in value.items()}
        out[key.lower()] = value
    return out


# -- reading ninjs back ----------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """What a consumer takes from a ninjs item: its identity, language, texts and links."""

    uri: str
    language: str | None
    headline: str | None
    body: str | None
    usable: bool
    associations: tuple[tuple[str, str], ...]  # (name, uri)


def read(item: Mapping[str, Any]) -> Read:
    """Read any ninjs item (2.x or 3.x, IPTC's examples too) by the standard's names."""
    low = {k.lower(): v for k, v in item.items()}

    def first(key: str) -> str | None:
        values = low.get(key) or []
        return str(values[0]["value"]) if values and "value" in values[0] else None

    assoc = low.get("associations") or []
    if isinstance(assoc, dict):  # ninjs 1.x: an object keyed by name
        assoc = [{"name": k, **v} for k, v in assoc.items()]
    return Read(
        uri=str(low["uri"]),
        language=low.get("language"),
        headline=first("headlines") or low.get("headline"),
        body=first("bodies") or low.get("body_text"),
        usable=low.get("pubstatus", "usable") == "usable",
        associations=tuple((str(a.get("name")), str(a.get("uri"))) for a in assoc),
    )


def validate(item: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every way `item` breaks IPTC's JSON Schema (formats checked too); [] when valid."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    checker = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(item)'}: {e.message}"
        for e in checker.iter_errors(item)
    ]


def file_name(item: Mapping[str, Any]) -> str:
    """A file per item: its URI made safe for any file system."""
    uri = str(item["uri"])
    tail = re.sub(r"[^\w.-]+", "_", uri.split(":", 2)[-1])[:120]
    return f"{tail}-{hashlib.sha256(uri.encode()).hexdigest()[:8]}.json"
