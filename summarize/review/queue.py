"""What a queue shows of an item: its headline (never its id but as a last resort),
language, outlet, date, kind, state, each field's state, and its open warnings by severity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from summarize.review import model as review
from summarize.review.model import APPROVED


def headline_of(doc: Mapping[str, Any]) -> str:
    """What a desk names an item by: its headline, else its first line or sentence (never
    its id, but as a last resort)."""
    from summarize.text import lede

    if review.is_story(doc):
        members = doc.get("members", [])
        for key in ("title", "lede"):  # a member's headline, else its first line
            for m in members:
                if m.get(key):
                    return str(m[key])
        summary = doc.get("summary") or {}
        return lede(str(summary.get("text") or "")) or f"Story {doc['id']}"
    return str(doc.get("title") or doc.get("lede") or doc["id"])


def queue_line(doc: dict[str, Any]) -> dict[str, Any]:
    """What a queue shows of a published document: its headline, language, outlet, date,
    kind and state, each field's state, and the warnings still open (on fields not yet
    approved) by severity."""
    from summarize.checks import severity
    from summarize.stories import outlet

    rev = doc.get("review", {})
    story = review.is_story(doc)
    statuses = {f: review.status(doc, f) for f in review.fields(doc)}
    open_stages = {stage for f, (stage, _) in review.stages(doc).items() if statuses[f] != APPROVED}
    open_warnings = [w for w in doc.get("warnings", []) if w.get("stage") in open_stages]
    by_severity = {"high": 0, "medium": 0, "low": 0}
    for w in open_warnings:
        by_severity[severity(str(w.get("code")))] += 1
    line = {
        "item": review.item_id(doc),
        "kind": "story" if story else "article",
        "title": headline_of(doc),
        "lang": _story_lang(doc) if story else doc["language"]["code"],
        "state": rev.get("state", "machine draft"),
        "approved": rev.get("approved", 0),
        "of": rev.get("of", 0),
        "fields": statuses,
        "warnings": len(open_warnings),
        "severity": by_severity,
    }
    if story:
        line |= {
            "published": doc.get("first"),
            "outlet": ", ".join(doc.get("outlets", [])[:3]) or None,
            # One count everywhere: the story's articles (as briefs say), and those listed here.
            "members": int(doc.get("size") or len(doc.get("members", []))),
            "members_here": len(doc.get("members", [])),
            "languages": doc.get("languages", []),
            "story": doc["id"],
        }
    else:
        line |= {
            "published": doc.get("published"),
            "outlet": doc.get("outlet") or outlet(doc.get("url"), str(doc.get("source") or "")),
            "url": doc.get("url"),
            "story": (doc.get("story") or {}).get("id"),
        }
    return line


def _story_lang(doc: Mapping[str, Any]) -> str | None:
    """A story's language as its articles have it: the most common among its members (their
    first on a tie), not its summary's (often the pivot's English)."""
    from collections import Counter

    langs = [str(m["lang"]) for m in doc.get("members", []) if m.get("lang")]
    if not langs:
        return (doc.get("summary") or {}).get("lang")
    counts = Counter(langs)
    return max(langs, key=lambda lang: (counts[lang], -langs.index(lang)))
