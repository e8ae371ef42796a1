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
from typing import Any, TypeVar, cast

from summarize.cache import Cache, CacheEntry, NullCache, signature_hash
from summarize.catalog import Catalog, ModelRef, load_catalog
from summarize.config import Settings
from summarize.documents import ResultDoc, StoryDoc
from summarize.errors import SummarizeError
from summarize.executors import Executor, get_executor
from summarize.grouping import Grouper
from summarize.hub import ensure_present
from summarize.stages import Item, Stages
from summarize.types import (
    Article,
    BatchReport,
    Flag,
    Result,
    Skipped,
    SourceError,
    SourceOutcome,
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
        from summarize.plan import Plan

        self.catalog = catalog if catalog is not None else load_catalog(settings)
        # Every route resolved once, here: the targets as the models know them, each
        # language's summariser, each pair's translator, the embedder, the entailment model.
        plan = Plan(settings, self.catalog)
        self.notices = plan.target_notes
        self.settings = settings = plan.settings
        self.cache = (
            cache
            if cache is not None
            else (Cache(settings.resolved_cache_path) if settings.cache else NullCache())
        )
        self.stages = Stages(plan, self.cache)
        self.executor = executor if executor is not None else get_executor(settings)
        self.grouper = Grouper(settings, self.stages, self.cache, plan.embedder)
        self._edit_store: Any = None

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
        started, computed_before = time.perf_counter(), dict(self.cache.computed)
        articles = [a for a in order if isinstance(a, Article)]
        items = [Item(article=a, index=i) for i, a in enumerate(articles)]
        report = self._plan(items)
        stories = self._group(report, items) if self.settings.stories and group else None
        batch = _Batch(self, items, write, progress, stories, report.stories_error)
        self._compute(batch)
        report.warnings.extend(self.executor.warnings())
        report.warnings.extend(batch.off_plan_warnings())
        report.results = batch.results()
        everything = self._story_docs(report, stories, items, known_docs, known_texts)
        report.outcomes = batch.outcomes(order, articles)
        self._account(report, started, computed_before)
        if write:
            self._write_batch(report, batch, everything)
        return report

    # -- the steps of a batch ----------------------------------------------------------------

    def _plan(self, items: list[Item]) -> BatchReport:
        """Detect each article's language and plan its stages; every model the batch needs is
        present (or fetched) before any work; the report starts with what the plan says."""
        self.stages.detect(items)
        needed = self.stages.plan(items)
        ensure_present(needed, self.settings)
        report = BatchReport(output_dir=str(self.settings.output_dir))
        report.warnings.extend(self.notices)
        report.warnings.extend(self.stages.notices)
        report.warnings.extend(licence_warnings(needed))
        return report

    def _group(self, report: BatchReport, items: list[Item]) -> Any:
        """The batch's articles joined to the folder's stories (inside the stories' own error
        boundary), and said once when that is done without an embedder."""
        stories = self._stories_step(report, lambda: self.grouper.group(items))
        if stories is not None:
            report.story_embedder = self.grouper.embedder
            if self.grouper.without_embedder:
                # Said once a run: without an embedder, stories in different languages are
                # seldom joined, and nothing else would tell the desk why.
                report.warnings.append(self.grouper.NO_EMBEDDER)
        return stories

    def _compute(self, batch: _Batch) -> None:
        """Every article finished: from the cache where it can be, by the executor where it
        cannot, and a near-duplicate of another article of the batch from its original."""
        items, copy_of = batch.items, batch.copy_of
        planned = [it for it in items if it.plan is not None and it.index not in copy_of]
        # What the cache holds is finished here; only articles with a miss go to the executor.
        self.stages.process(planned, lookup_only=True)
        for it in items:
            if not it.deferred and it.index not in copy_of:
                batch.finish(it)
        for it in self.executor.run(self.stages, [it for it in planned if it.deferred]):
            batch.finish(it)
        for index, original in copy_of.items():
            batch.finish(_copied(items[index], original))

    def _story_docs(
        self,
        report: BatchReport,
        stories: Any,
        items: list[Item],
        known_docs: Mapping[str, dict[str, Any]] | None,
        known_texts: Mapping[str, str] | None,
    ) -> list[StoryDoc] | None:
        """The story documents of this batch (report.stories) and of the whole folder
        (returned, for stories.json), inside the stories' error boundary."""
        if stories is None:
            return None

        def story_docs() -> tuple[list[StoryDoc], list[StoryDoc]]:
            docs = self.publish_stories(
                self.grouper.docs(stories, items, report.results, known_docs, known_texts)
            )
            return docs, self.grouper.all_stories(docs)

        made = self._stories_step(report, story_docs)
        if made is None:
            return None
        report.stories, report.all_stories = made
        return made[1]

    def _account(
        self, report: BatchReport, started: float, computed_before: Mapping[str, int]
    ) -> None:
        """The batch's time and what it computed (not looked up); memory handed back after a
        batch that ran models (a watch folder or service runs batch after batch)."""
        report.seconds = time.perf_counter() - started
        report.computed = {
            k: n - computed_before.get(k, 0)
            for k, n in self.cache.computed.items()
            if n > computed_before.get(k, 0)
        }
        if report.computed:
            from summarize.engines.ct2 import release_memory

            release_memory()

    def _write_batch(
        self, report: BatchReport, batch: _Batch, everything: list[StoryDoc] | None
    ) -> None:
        """The batch-wide files: briefs, ninjs, report.json, and stories.json."""
        settings = self.settings
        write_briefs(
            settings.output_dir,
            batch.documents(),
            settings.formats,
            report.stories,
            ninjs_options(settings),
        )
        write_report(settings.output_dir, report, settings_doc(settings))
        if everything is not None:
            write_stories(settings.output_dir, everything)

    def _off_plan(
        self,
        it: Item,
        entry: CacheEntry,
        planned: dict[tuple[str, str], dict[str, Any] | None],
    ) -> tuple[str, str, str, str] | None:
        """(stage, host, model there, model here) when an output computed elsewhere (a Ray
        worker plans its wave on its own node) was made otherwise than this plan says: the
        plan is the one authority on routes, and the cache is keyed by it. `planned`: the
        plan's answers so far this batch."""
        if (it.lang, entry.stage) not in planned:
            planned[(it.lang, entry.stage)] = self.stages.routes.stage_info(it.lang, entry.stage)
        info = planned[(it.lang, entry.stage)]
        if info is None or signature_hash(info) == entry.sig_hash:
            return None
        there, here = entry.signature.get("model"), info.get("model")
        if there == here:  # the same model, other settings or versions: say which differ
            keys = sorted(
                k for k in {*info, *entry.signature} if info.get(k) != entry.signature.get(k)
            )
            there, here = f"{there} ({', '.join(keys)} differing)", str(here)
        host = it.placement.host if it.placement is not None else "another machine"
        return entry.stage, host, str(there), str(here)

    # -- what is published: machine output with the editors' approved edits ------------------

    def edit_store(self) -> Any:
        """The output folder's edits, once someone has edited there (a plain run makes no file)."""
        from summarize.review import EditStore

        if self._edit_store is None:  # looked for again each time until it exists
            self._edit_store = EditStore.existing(self.settings.output_dir)
        return self._edit_store

    def document(self, result: Result) -> ResultDoc:
        """The result as published: approved edits in place and checked, drafts marked."""
        from summarize import review
        from summarize.documents import result_json

        store = self.edit_store()
        edits = store.fields(review.FOLDER, result.article.id) if store is not None else {}
        published = review.apply(
            result_json(result),
            edits,
            source=result.article.text,
            detect=self.stages.detector.detect,
            check=self._check_edit,
        )
        return cast(ResultDoc, published)  # the same keys, with a `review` block

    def publish_stories(self, stories: Sequence[StoryDoc]) -> list[StoryDoc]:
        """The stories as published: approved edits in place and checked, drafts marked."""
        from summarize import review

        store = self.edit_store()
        edits = (
            store.items(review.FOLDER, (review.item_id(s) for s in stories))
            if store is not None
            else {}
        )
        published = review.publish(
            stories,
            edits,
            lambda story: self.grouper.sources.get(story["id"]),
            detect=self.stages.detector.detect,
            check=self._check_edit,
        )
        return cast(list[StoryDoc], published)  # the same keys, with a `review` block

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

    def close(self) -> None:
        self.executor.close()
        self.cache.close()
        self.grouper.close()
        if self._edit_store is not None:
            self._edit_store.close()


class _Batch:
    """One batch's bookkeeping: what each article became (its result, document and outcome,
    by its place), how many are done, and outputs computed off this plan. `finish` is the one
    place an article ends: its cache entries stored first, then its result written."""

    def __init__(
        self,
        pipeline: Pipeline,
        items: list[Item],
        write: bool,
        progress: ProgressFn | None,
        stories: Any,
        stories_error: str | None = None,
    ) -> None:
        self.pipeline, self.items, self.write, self.progress = pipeline, items, write, progress
        # A stories step that failed is said on every result it left without a story.
        self.no_story = (
            (Flag("stories_not_updated", "story", f"not placed in a story: {stories_error}", ""),)
            if stories_error
            else ()
        )
        self.story_of = stories.story_of if stories else {}
        self.copy_of: dict[int, Item] = stories.copy_of if stories else {}
        self.outcome_of: dict[int, SourceOutcome] = {}
        self.result_of: dict[int, Result] = {}
        self.doc_of: dict[int, ResultDoc] = {}
        self.done = 0
        self.off_plan: dict[tuple[str, str, str, str], int] = {}
        self.planned_info: dict[tuple[str, str], dict[str, Any] | None] = {}

    def finish(self, it: Item) -> None:
        self.done += 1
        self._store(it)
        if it.error is None:
            outcome = self._result(it)
        else:
            outcome = SourceOutcome(it.article.id, it.article.source, "error", error=it.error)
        outcome = dataclasses.replace(outcome, placement=it.placement)
        self.outcome_of[it.index] = outcome
        if self.progress is not None:
            event = ProgressEvent(self.done, len(self.items), it.article.id, outcome.status)
            self.progress(event)

    def _store(self, it: Item) -> None:
        """Entries computed elsewhere are stored before the result is written, so a result
        on disk always has its stages in the cache."""
        for entry in it.entries:
            self.pipeline.cache.put(entry)
            strayed = self.pipeline._off_plan(it, entry, self.planned_info)
            if strayed is not None:
                self.off_plan[strayed] = self.off_plan.get(strayed, 0) + 1

    def _result(self, it: Item) -> SourceOutcome:
        """A finished article's result: checked, placed in its story, written."""
        pipeline, settings = self.pipeline, self.pipeline.settings
        assert it.detection is not None and it.summary is not None
        result = Result(
            it.article,
            it.detection,
            it.summary,
            it.translations,
            it.pivot,
            warnings=pipeline.stages.review(
                it.article.text, it.summary, it.translations, it.detection.code
            )
            + self.no_story,
            titles=it.titles,
            story=self.story_of.get(it.article.hash),
            duplicate_of=self.copy_of[it.index].article.id if it.index in self.copy_of else None,
        )
        path = None
        if self.write:
            self.doc_of[it.index] = doc = pipeline.document(result)
            if "json" in settings.formats:
                path = write_result(settings.output_dir, result, doc)
        result = dataclasses.replace(result, output=str(path) if path else None)
        self.result_of[it.index] = result
        return SourceOutcome(
            it.article.id, it.article.source, "ok", output=result.output, cached=result.all_cached
        )

    def results(self) -> list[Result]:
        return [self.result_of[i] for i in sorted(self.result_of)]

    def documents(self) -> list[ResultDoc]:
        return [self.doc_of[i] for i in sorted(self.result_of)]

    def outcomes(
        self, order: Sequence[Article | SourceError | Skipped], articles: list[Article]
    ) -> list[SourceOutcome]:
        """Every source's outcome in input order: ingest's errors and skips in their places."""
        index_of = {id(a): i for i, a in enumerate(articles)}
        out = []
        for entry in order:
            if isinstance(entry, SourceError):
                out.append(SourceOutcome(entry.id, entry.source, "error", error=entry))
            elif isinstance(entry, Skipped):
                out.append(SourceOutcome(None, entry.source, "skipped", reason=entry.reason))
            else:
                out.append(self.outcome_of[index_of[id(entry)]])
        return out

    def off_plan_warnings(self) -> list[str]:
        return [
            f"{n} {stage} outputs were computed on {host} with {there}, where this machine's "
            f"plan runs {here}: they are kept, but a re-run from here will not find them in "
            "the cache; give every node the same models, settings and versions"
            for (stage, host, there, here), n in self.off_plan.items()
        ]


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
