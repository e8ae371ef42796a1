"""The runner (the driver): plans a batch, looks every stage up in the cache, has an executor
compute the misses (here, or on a Ray cluster), stores each result as soon as it exists,
writes, and reports.

It never prints or exits. A source that fails is recorded in the report and the batch goes
on; only problems that would fail every article (a model that is missing and cannot be
downloaded, an unreadable cache) raise, and they do so before any model work.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from summarize.cache import Cache, NullCache
from summarize.catalog import Catalog, ModelRef, load_catalog
from summarize.config import Settings, load_settings
from summarize.executors import Executor, get_executor
from summarize.hub import ensure_present
from summarize.ingest import collect
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
from summarize.write import write_briefs, write_report, write_result


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
        self.settings = settings
        self.catalog = catalog if catalog is not None else load_catalog(settings)
        self.cache = (
            cache
            if cache is not None
            else (Cache(settings.resolved_cache_path) if settings.cache else NullCache())
        )
        self.stages = Stages(settings, self.catalog, self.cache)
        self.executor = executor if executor is not None else get_executor(settings)

    def run_batch(
        self,
        order: Sequence[Article | SourceError | Skipped],
        *,
        progress: ProgressFn | None = None,
        write: bool = True,
    ) -> BatchReport:
        """Run ingested articles (and carry ingest's errors) through every stage. Each result
        is written as soon as it is complete; the report keeps the input order."""
        started = time.perf_counter()
        settings = self.settings
        stages = self.stages
        articles = [a for a in order if isinstance(a, Article)]
        items = [Item(article=a, index=i) for i, a in enumerate(articles)]
        stages.detect(items)
        needed = stages.plan(items)
        ensure_present(needed, settings)
        report = BatchReport(output_dir=str(settings.output_dir))
        report.warnings.extend(licence_warnings(needed))
        outcome_of: dict[int, SourceOutcome] = {}
        result_of: dict[int, Result] = {}
        done = 0

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
                    warnings=stages.review(it.article.text, it.summary, it.translations),
                )
                path = (
                    write_result(settings.output_dir, result)
                    if write and "json" in settings.formats
                    else None
                )
                result = dataclasses.replace(result, output=str(path) if path else None)
                result_of[it.index] = result
                outcome = SourceOutcome(
                    it.article.id,
                    it.article.source,
                    "ok",
                    output=result.output,
                    cached=result.all_cached,
                )
            else:
                outcome = SourceOutcome(it.article.id, it.article.source, "error", error=it.error)
            outcome_of[it.index] = outcome
            if progress is not None:
                progress(ProgressEvent(done, len(items), it.article.id, outcome.status))

        planned = [it for it in items if it.plan is not None]
        # What the cache holds is finished here; only articles with a miss go to the executor.
        stages.process(planned, lookup_only=True)
        for it in items:
            if not it.deferred:
                finish(it)
        for it in self.executor.run(stages, [it for it in planned if it.deferred]):
            finish(it)
        report.warnings.extend(self.executor.warnings())
        report.results = [result_of[i] for i in sorted(result_of)]
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
        if write:
            write_briefs(settings.output_dir, report.results, settings.formats)
            write_report(settings.output_dir, report, settings_doc(settings))
        return report

    def close(self) -> None:
        self.executor.close()
        self.cache.close()


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


def run(
    sources: Sequence[str | Path],
    settings: Settings | None = None,
    *,
    stdin: IO[str] | None = None,
    progress: ProgressFn | None = None,
    write: bool = True,
) -> BatchReport:
    """Summarise and translate every article in `sources`; return what happened to each.

    Results are written to `settings.output_dir` as they complete (unless `write` is false)
    and the report to `report.json`. Raises only for problems that would fail every article.
    """
    settings = settings if settings is not None else load_settings()
    ingested = collect(sources, settings, stdin)
    pipeline = Pipeline(settings)
    try:
        return pipeline.run_batch(ingested.order, progress=progress, write=write)
    finally:
        pipeline.close()


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
            why = first.message if isinstance(first, SourceError) else "no such file"
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
        )
    )
