"""Briefs: what editors read. A Markdown brief, a self-contained HTML brief (Arabic right to
left), and a JSONL file of results. Built from the same JSON documents as the per-article
files, so every format says the same thing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from summarize.languages import (  # noqa: F401  (names briefs have always offered)
    LANG_NAMES,
    NATIVE_NAMES,
    RTL_LANGS,
    language_name,
)

# A story's copy of a member's own summary is the machine's (its article's reviewed texts are
# shown apart, under "reviewed"), so it is marked as every unreviewed text is.
MEMBER_DRAFT = "Machine draft, not reviewed (this article’s own summary)"


def provenance_line(doc: Mapping[str, Any]) -> str:
    """One line: which models wrote the summary and each translation, and by which route."""
    prov = doc.get("provenance", {})
    parts = []
    if "pivot" in prov:
        parts.append(f"pivot to English: {prov['pivot']['model']}")
    if "summarize" in prov:
        parts.append(f"summary: {prov['summarize']['model']}")
    for target, tr in doc.get("translations", {}).items():
        rec = prov.get(f"translate:{target}", {})
        parts.append(f"{target}: {rec.get('model', '?')} ({tr['route']})")
    return "; ".join(parts)


def review_note(doc: Mapping[str, Any], field: str) -> tuple[str, str] | None:
    """(state, words) for one text of a reviewed document: approved by whom and when, or a
    machine draft (with a pending or stale edit said); None for a document with no review."""
    found = _review_state(doc, field)
    if found is None:
        return None
    state, words, when = found
    return state, words + (f", {utc_time(when)}" if when else "") + _edited(doc, field, state)


def _review_state(doc: Mapping[str, Any], field: str) -> tuple[str, str, str | None] | None:
    """(state, words, the review's time) for a text: approved only where the one rule of
    publishing (`review.published_text`) says so."""
    from summarize.review.publish import published_text

    review = doc.get("review")
    if not isinstance(review, dict):
        return None
    entry = review.get("fields", {}).get(field)
    if entry and published_text(doc, field) is not None:
        who = entry.get("approved_by") or entry.get("by")
        return "approved", f"Reviewed by {who}", entry.get("approved_at") or entry.get("at")
    if entry and entry.get("status") == "stale":
        stale = entry.get("stale") or {}
        return (
            "stale",
            f"Machine draft: an edit by {stale.get('by')} no longer applies "
            f"({stale.get('reason')})",
            None,
        )
    if entry and entry.get("status") == "draft":
        pending = entry.get("pending") or {}
        return "draft", f"Machine draft: an edit by {pending.get('by')} awaits approval", None
    return "machine", "Machine draft, not reviewed", None


def _edited(doc: Mapping[str, Any], field: str, state: str) -> str:
    if state != "approved":
        return ""
    entry = doc["review"]["fields"][field]
    return " (edited)" if entry.get("edited") else " (unchanged)"


def _title(doc: Mapping[str, Any]) -> str:
    """An article's headline, else its first line or sentence, never its id but as a last
    resort."""
    return str(doc.get("title") or doc.get("lede") or doc["id"])


def _split(
    docs: Sequence[Mapping[str, Any]], stories: Sequence[Mapping[str, Any]] | None
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Stories of two or more articles (with a summary), and the articles in no such story."""
    multi = [s for s in stories or () if s.get("size", 0) >= 2 and "summary" in s]
    grouped = {m["id"] for s in multi for m in s["members"]}
    return multi, [d for d in docs if d["id"] not in grouped]


def _reviewed_members(
    story: Mapping[str, Any], docs: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """A story's articles with text an editor approved: shown under the story, since the
    story stands for them in the brief."""
    ids = {m["id"] for m in story["members"]}
    return [d for d in docs if d["id"] in ids and (_approved_texts(d) or _stale_fields(d))]


def _stale_fields(doc: Mapping[str, Any]) -> list[str]:
    fields = (doc.get("review") or {}).get("fields", {})
    return [f for f, entry in fields.items() if entry.get("status") == "stale"]


def _approved_texts(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, language, text) of each approved article field, in brief order: as the one
    rule of publishing (`review.published_text`) has them."""
    from summarize.review.publish import published_text

    out = []
    for field in ("summary", *(f"translation:{t}" for t in doc.get("translations", {}))):
        text = published_text(doc, field)
        if text is not None:
            lang = doc["summary"]["lang"] if field == "summary" else field.split(":", 1)[1]
            out.append((field, lang, text))
    return out


def _field_stage(field: str) -> str:
    """The stage whose warnings a field's text carries."""
    kind, _, lang = field.partition(":")
    return "summarize" if kind == "summary" else f"translate:{lang}"


def _field_name(field: str) -> str:
    kind, _, lang = field.partition(":")
    if kind == "title":
        return f"{language_name(lang)} headline" if lang else "Headline"
    return "Summary" if kind == "summary" else f"{language_name(lang)} translation"


def _story_heading(story: Mapping[str, Any]) -> str:
    """A story by its headline (a member's, else a member's first line), never its id but as
    a last resort."""
    members = story.get("members", [])
    found = story.get("headline") or next(
        (m.get(k) for k in ("title", "lede") for m in members if m.get(k)), None
    )
    return str(found or f"Story {story['id']}")


def _more(story: Mapping[str, Any]) -> str:
    n = story["more_in_folder"]
    return f"{n} more article{'s' if n != 1 else ''} in the folder are in this story"


def _member_line(member: Mapping[str, Any], when: bool = True) -> str:
    named = member.get("title") or member.get("lede")
    parts = [str(named or member["id"])]
    if member.get("outlet"):
        parts.append(str(member["outlet"]))
    parts.append(f"{member['lang']}, {member['id']}" if named else member["lang"])
    stamp = utc_time(member.get("published")) if when else ""
    if stamp:
        parts.append(stamp)
    if member.get("duplicate_of"):
        parts.append(f"copy of {member['duplicate_of']}")
    return " · ".join(parts)


def _instant(published: str | float | None) -> datetime | None:
    if published is None or published == "":
        return None
    try:
        if isinstance(published, int | float):
            return datetime.fromtimestamp(float(published), tz=UTC)
        found = datetime.fromisoformat(str(published).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def utc_time(published: str | float | None) -> str:
    """A time as a reader outside any one zone reads it ("2 Dec 2026, 07:14 UTC"); the HTML
    brief shows it again in the reader's own zone."""
    found = _instant(published)
    return f"{found.astimezone(UTC):%-d %b %Y, %H:%M} UTC" if found else ""


def _after_dot(part: str) -> str:
    """` · part` to follow a meta line, or nothing when there is no part."""
    return f" · {part}" if part else ""


def _html_time(published: str | float | None) -> str:
    """A <time> the brief's script rewrites in the reader's zone (the UTC text without it)."""
    found = _instant(published)
    if found is None:
        return ""
    stamp = found.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f'<time datetime="{stamp}">{html.escape(utc_time(published))}</time>'


# -- Markdown --------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Article text is data: neutralise Markdown and HTML markup it may contain."""
    text = html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", text)


def _warnings(doc: Mapping[str, Any], stage: str) -> list[dict[str, Any]]:
    return [w for w in doc.get("warnings", []) if w["stage"] == stage]


def _worded(doc: Mapping[str, Any], stage: str) -> list[tuple[str, str]]:
    """(code, words) of each warning on a stage's text, worded for the brief's reader (the
    desk's wording); the operator's advice stays in the report and the logs."""
    from summarize.review.model import for_editor, stages

    field, lang = next(
        ((f, lang) for f, (st, lang) in stages(doc).items() if st == stage), ("summary", "und")
    )
    return [(str(w["code"]), for_editor(w, field, lang)) for w in _warnings(doc, stage)]


def _md_warnings(doc: Mapping[str, Any], stage: str) -> list[str]:
    return [f"> ⚠ {_md_escape(words)}" for _, words in _worded(doc, stage)]


def _md_rtl(target: str, body: str) -> str:
    # Markdown has no direction; the HTML it becomes keeps this block right to left.
    return f'<div dir="rtl" lang="{target}">\n\n{body}\n\n</div>' if target in RTL_LANGS else body


def _md_note(doc: Mapping[str, Any], field: str) -> list[str]:
    note = review_note(doc, field)
    return [f"*{'✓ ' if note[0] == 'approved' else ''}{_md_escape(note[1])}*", ""] if note else []


def _md_story(
    story: Mapping[str, Any], reviewed: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    summary = story["summary"] or {"lang": "und", "text": ""}
    lines = [
        f"## {_md_escape(_story_heading(story))}",
        "",
        f"*Story {story['id']}: {story['size']} articles, "
        f"{', '.join(language_name(x) for x in story['languages'])}"
        + (f"; {', '.join(story['outlets'])}" if story.get("outlets") else "")
        + "*",
        "",
    ]
    if story["summary"] is not None:
        lines += [
            f"### Story summary ({language_name(summary['lang'])})",
            "",
            _md_escape(summary["text"]) or "_(empty)_",
            "",
            *_md_note(story, f"story_summary:{summary['lang']}"),
        ]
        if _md_warnings(story, "story"):
            lines += [*_md_warnings(story, "story"), ""]
    for target, tr in story.get("translations", {}).items():
        lines += [f"### {language_name(target)}", "", _md_rtl(target, _md_escape(tr["text"])), ""]
        lines += _md_note(story, f"story_summary:{target}")
        if _md_warnings(story, f"story:{target}"):
            lines += [*_md_warnings(story, f"story:{target}"), ""]
    if story.get("only_some_report"):
        some = ", ".join(
            f"{_md_escape(x['value'])} ({x['members']} of {story['size']})"
            for x in story["only_some_report"]
        )
        lines += ["", f"> Reported by only some: {some}"]
    lines += ["", "### Articles", ""]
    if story.get("more_in_folder"):
        lines += [f"*{_more(story)}*", ""]
    for m in story["members"]:
        lines.append(f"- {_md_escape(_member_line(m))}")
        # Each member's own summary stays reachable: the grouping may be wrong.
        own = m.get("summary")
        if own and not m.get("duplicate_of"):
            lines += ["", f"  {_md_escape(own['text'])}", "", f"  *{_md_escape(MEMBER_DRAFT)}*", ""]
    for doc in reviewed or ():
        lines += ["", f"#### {_md_escape(_title(doc))}: reviewed", ""]
        for field, lang, text in _approved_texts(doc):
            lines += [
                f"*{_md_escape(_field_name(field))}*",
                "",
                _md_rtl(lang, _md_escape(text)),
                "",
                *_md_note(doc, field),
            ]
            if _md_warnings(doc, _field_stage(field)):
                lines += [*_md_warnings(doc, _field_stage(field)), ""]
        for field in _stale_fields(doc):
            lines += [f"*{_md_escape(_field_name(field))}*", "", *_md_note(doc, field)]
    return [*lines, "", "---", ""]


def markdown_brief(
    docs: Sequence[Mapping[str, Any]], stories: Sequence[Mapping[str, Any]] | None = None
) -> str:
    lines = ["# Brief", ""]
    multi, singles = _split(docs, stories)
    for story in multi:
        lines += _md_story(story, _reviewed_members(story, docs))
    for doc in singles:
        lang = doc["language"]["code"]
        lines += [
            f"## {_md_escape(_title(doc))}",
            "",
            f"*{_md_escape(doc['id'])} · Source language: {language_name(lang)} ({lang}, "
            f"confidence {doc['language']['confidence']:.2f})"
            + _after_dot(utc_time(doc.get("published")))
            + "*",
            "",
        ]
        if doc.get("summary") is not None:
            lines += [
                "### Summary",
                "",
                _md_escape(doc["summary"]["text"]) or "_(empty)_",
                "",
                *_md_note(doc, "summary"),
            ]
            if _md_warnings(doc, "summarize"):
                lines += [*_md_warnings(doc, "summarize"), ""]
        for target, tr in doc["translations"].items():
            lines += [f"### {language_name(target)}", ""]
            title = (doc.get("title_translations") or {}).get(target)
            body = (f"**{_md_escape(title)}**\n\n" if title else "") + (
                _md_escape(tr["text"]) or "_(empty)_"
            )
            lines += [_md_rtl(target, body), "", *_md_note(doc, f"translation:{target}")]
            if _md_warnings(doc, f"translate:{target}"):
                lines += [*_md_warnings(doc, f"translate:{target}"), ""]
        lines += [f"> Provenance: {_md_escape(provenance_line(doc))}", "", "---", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- HTML -----------------------------------------------------------------------------------

_LATIN_RUN = re.compile(
    r"[A-Za-z0-9\u00c0-\u024f][A-Za-z0-9\u00c0-\u024f.,%:/'’\- ]*"
    r"[A-Za-z0-9\u00c0-\u024f%]|[A-Za-z0-9]"
)

# Times are written in UTC; in a browser this script shows them in the reader's own zone (the
# UTC text stays as the tooltip). The page's CSP allows this one script by its hash.
LOCAL_TIMES = (
    "document.addEventListener('DOMContentLoaded',()=>{"
    "const f=new Intl.DateTimeFormat(undefined,{day:'numeric',month:'short',year:'numeric',"
    "hour:'2-digit',minute:'2-digit',timeZoneName:'short'});"
    "for(const t of document.querySelectorAll('time[datetime]')){"
    "const d=new Date(t.getAttribute('datetime'));"
    "if(!isNaN(d)){t.title=t.textContent;t.textContent=f.format(d);}}});"
)
_LOCAL_TIMES_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(LOCAL_TIMES.encode()).digest()).decode()
)

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif;
       max-width: 48rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.55; color: #1b1b1b; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #1b1b1b; padding-bottom: .3rem; }
article { border-bottom: 1px solid #ccc; padding: 1rem 0 1.5rem; break-inside: avoid; }
h2 { font-size: 1.25rem; margin: 0 0 .3rem; }
h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #555;
     margin: 1rem 0 .2rem; }
.meta, .provenance { font-size: .8rem; color: #4a4a4a; }
.warnings { margin: .3rem 0 0; padding: .3rem .6rem; list-style: none; background: #fff4e5;
            border-left: 3px solid #b35c00; font-size: .85rem; }
.warnings code { font-weight: 600; }
.text { margin: 0; white-space: pre-wrap; }
.id { font-size: .75rem; color: #4a4a4a; }
section.story { border: 2px solid #1b1b1b; padding: .5rem 1rem 1rem; margin: 1rem 0 2rem; }
section.story ul.members { font-size: .85rem; padding-left: 1.2rem; }
.only-some { font-size: .85rem; color: #555; }
.review { font-size: .8rem; margin: .2rem 0 0; }
.review.approved { color: #0a6b2d; }
.review.approved::before { content: "✓ "; }
.review.machine, .review.draft, .review.stale { color: #6b4500; font-style: italic; }
.rtl { direction: rtl; text-align: right; unicode-bidi: isolate;
       font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Amiri", "Scheherazade New",
       "Geeza Pro", "Arabic Typesetting", "Traditional Arabic", "Segoe UI", Tahoma, Arial,
       sans-serif; font-size: 1.1rem; line-height: 1.8; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def _rtl_html(text: str) -> str:
    """Escape, and isolate Latin names and numbers so they keep their order inside Arabic."""
    out: list[str] = []
    last = 0
    for match in _LATIN_RUN.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        out.append(f"<bdi>{html.escape(match.group(0))}</bdi>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _block(lang: str, text: str) -> str:
    if lang in RTL_LANGS:
        return f'<p class="text rtl" dir="rtl" lang="{html.escape(lang)}">{_rtl_html(text)}</p>'
    return f'<p class="text" dir="auto" lang="{html.escape(lang)}">{html.escape(text)}</p>'


def stage_label(stage: str) -> str:
    """A stage as people name the text it made: `translate:fr` -> `French translation`."""
    family, _, target = stage.partition(":")
    name = {"summarize": "summary", "translate": "translation", "title": "headline"}.get(
        family, "story summary" if family == "story" else family
    )
    if family == "translate" or (family == "story" and target) or (family == "title" and target):
        return f"{language_name(target)} {name}"
    return name.capitalize() if family != "story" else "Story summary"


def _html_warnings(doc: Mapping[str, Any], stage: str) -> list[str]:
    items = [
        f'<li data-code="{html.escape(code)}">{html.escape(words)}</li>'
        for code, words in _worded(doc, stage)
    ]
    label = html.escape(f"Warnings on the {stage_label(stage)}".replace("the Story", "the story"))
    return (
        [
            f'<ul class="warnings" data-stage="{html.escape(stage)}" aria-label="{label}">'
            f"{''.join(items)}</ul>"
        ]
        if items
        else []
    )


def _html_note(doc: Mapping[str, Any], field: str) -> list[str]:
    found = _review_state(doc, field)
    if found is None:
        return []
    state, words, when = found
    stamp = _after_dot(_html_time(when)).replace(" · ", ", ", 1) if when else ""
    return [
        f'<p class="review {state}" data-field="{html.escape(field)}">{html.escape(words)}'
        f"{stamp}{html.escape(_edited(doc, field, state))}</p>"
    ]


def _html_own_summary(member: Mapping[str, Any]) -> str:
    """A member's own summary and translations, collapsed under the story (the grouping may
    be wrong, so each article's own text stays one click away)."""
    own = member.get("summary")
    if not own or member.get("duplicate_of"):
        return ""
    blocks = [_block(own["lang"], own["text"])]
    blocks += [_block(t, text) for t, text in member.get("translations", {}).items()]
    note = f'<p class="review machine">{html.escape(MEMBER_DRAFT)}</p>'
    return f'<details class="own"><summary>Own summary</summary>{"".join(blocks)}{note}</details>'


def _html_story(
    story: Mapping[str, Any], reviewed: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    summary = story["summary"] or {"lang": "und", "text": ""}
    meta = (
        f"Story {story['id']}: {story['size']} articles, "
        + ", ".join(language_name(x) for x in story["languages"])
        + (f"; {', '.join(story['outlets'])}" if story.get("outlets") else "")
    )
    parts = [
        f'<section class="story" id="{html.escape(story["id"])}">',
        f'<h2 dir="auto">{html.escape(_story_heading(story))}</h2>',
        f'<p class="meta">{html.escape(meta)}</p>',
    ]
    if story["summary"] is not None:
        parts += [
            f"<h3>Story summary · {html.escape(language_name(summary['lang']))}</h3>",
            _block(summary["lang"], summary["text"]),
            *_html_note(story, f"story_summary:{summary['lang']}"),
            *_html_warnings(story, "story"),
        ]
    for target, tr in story.get("translations", {}).items():
        native = NATIVE_NAMES.get(target)
        heading = language_name(target) + (f" · {native}" if native else "")
        parts += [f"<h3>{html.escape(heading)}</h3>", _block(target, tr["text"])]
        parts += _html_note(story, f"story_summary:{target}")
        parts += _html_warnings(story, f"story:{target}")
    if story.get("only_some_report"):
        # Each name and its count isolated: inside Arabic, "(1 of 2)" keeps its own order.
        some = ", ".join(
            f"<bdi>{html.escape(str(x['value']))}</bdi> <bdi>({x['members']} of {story['size']})</bdi>"
            for x in story["only_some_report"]
        )
        parts.append(f'<p class="only-some">Reported by only some: {some}</p>')
    members = "".join(
        f'<li dir="auto">{html.escape(_member_line(m, when=False))}'
        + _after_dot(_html_time(m.get("published")))
        + f"{_html_own_summary(m)}</li>"
        for m in story["members"]
    )
    if story.get("more_in_folder"):
        parts.append(f'<p class="meta more">{html.escape(_more(story))}</p>')
    parts.append(f'<ul class="members">{members}</ul>')
    for doc in reviewed or ():
        parts.append(
            f'<div class="reviewed-member" id="{html.escape(doc["id"])}">'
            f'<h3 dir="auto">{html.escape(_title(doc))}: reviewed</h3>'
        )
        for field, lang, text in _approved_texts(doc):
            parts += [
                f'<p class="meta">{html.escape(_field_name(field))}</p>',
                _block(lang, text),
                *_html_note(doc, field),
                *_html_warnings(doc, _field_stage(field)),
            ]
        for field in _stale_fields(doc):
            parts += [
                f'<p class="meta">{html.escape(_field_name(field))}</p>',
                *_html_note(doc, field),
            ]
        parts.append("</div>")
    parts.append("</section>")
    return parts


def html_brief(
    docs: Sequence[Mapping[str, Any]],
    page_lang: str = "en",
    stories: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """One self-contained page: inline CSS, no scripts, no external fetches."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(page_lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src 'unsafe-inline'; script-src '{_LOCAL_TIMES_HASH}'\">",
        "<title>Brief</title>",
        f"<style>{CSS}</style>",
        f"<script>{LOCAL_TIMES}</script>",
        "</head>",
        "<body>",
        "<h1>Brief</h1>",
    ]
    multi, singles = _split(docs, stories)
    for story in multi:
        parts += _html_story(story, _reviewed_members(story, docs))
    for doc in singles:
        lang = doc["language"]["code"]
        parts += [
            f'<article id="{html.escape(doc["id"])}">',
            f'<h2 dir="auto">{html.escape(_title(doc))}</h2>',
            f'<p class="meta"><span class="id">{html.escape(doc["id"])}</span> · '
            f"Source language: {html.escape(language_name(lang))} "
            f"({html.escape(lang)}, confidence {doc['language']['confidence']:.2f})"
            + _after_dot(_html_time(doc.get("published")))
            + (f' · <a href="{html.escape(doc["url"])}">source</a>' if doc.get("url") else "")
            + "</p>",
        ]
        if doc.get("summary") is not None:
            parts += [
                "<h3>Summary</h3>",
                _block(doc["summary"]["lang"], doc["summary"]["text"]),
                *_html_note(doc, "summary"),
                *_html_warnings(doc, "summarize"),
            ]
        for target, tr in doc["translations"].items():
            native = NATIVE_NAMES.get(target)
            heading = language_name(target) + (f" · {native}" if native else "")
            title = (doc.get("title_translations") or {}).get(target)
            parts += [
                f"<h3>{html.escape(heading)}</h3>",
                *(
                    [_block(target, title).replace('class="text', 'class="text headline', 1)]
                    if title
                    else []
                ),
                _block(target, tr["text"]),
                *_html_note(doc, f"translation:{target}"),
                *_html_warnings(doc, f"translate:{target}"),
            ]
        parts += [f'<p class="provenance">{html.escape(provenance_line(doc))}</p>', "</article>"]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def jsonl_results(docs: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
