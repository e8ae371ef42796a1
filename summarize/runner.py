"""The runner: plans a batch, looks every stage up in the cache, computes the misses in
batches per model, stores each result as soon as it exists, writes, and reports.

It never prints or exits. A source that fails is recorded in the report and the batch goes
on; only problems that would fail every article (a model that is missing and cannot be
downloaded, an unreadable cache) raise, and they do so before any model work.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from summarize.cache import Cache, NullCache, cache_key, signature_hash
from summarize.catalog import Catalog, ModelRef, load_catalog, resolve
from summarize.checks import check_text, dedupe
from summarize.config import Settings, load_settings
from summarize.detect import UND, Detector, get_detector
from summarize.errors import LanguageError, ModelLoadError, SummarizeError
from summarize.hub import ensure_present
from summarize.ingest import collect
from summarize.summarise import Seq2SeqSummarizer, SummaryPlan, choose_summarizer
from summarize.text import text_hash
from summarize.translate import Router, Translator
from summarize.types import (
    Article,
    BatchReport,
    Detection,
    Flag,
    Result,
    Route,
    SourceError,
    SourceOutcome,
    StageRecord,
    Summary,
    Translation,
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


@dataclass
class _Item:
    """An article on its way through the pipeline."""

    article: Article
    index: int
    detection: Detection | None = None
    plan: SummaryPlan | None = None
    pivot_text: str | None = None
    pivot: StageRecord | None = None
    summary: Summary | None = None
    translations: dict[str, Translation] = field(default_factory=dict)
    error: SourceError | None = None

    @property
    def lang(self) -> str:
        return self.detection.code if self.detection else UND

    def fail(self, stage: str, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, SummarizeError) else f"{type(exc).__name__}: {exc}"
        self.error = SourceError(
            source=self.article.source,
            id=self.article.id,
            type=type(exc).__name__,
            message=f"{stage}: {message}",
        )


class Stage:
    """One stage's cache lookups and batched computation, for any backend.

    `info` is the backend's description (model, revision, engine, settings); its hash is the
    stage signature. Identical inputs within a batch are computed once.
    """

    def __init__(self, name: str, info: dict[str, Any], cache: Cache) -> None:
        self.name = name
        self.info = info
        self.sig_hash = signature_hash(info)
        self.cache = cache

    def record(self, seconds: float, cached: bool) -> StageRecord:
        return StageRecord(
            model=str(self.info["model"]),
            revision=str(self.info["revision"]),
            engine=str(self.info["engine"]),
            settings=dict(self.info["settings"]),
            seconds=round(seconds, 4),
            cached=cached,
            versions=str(self.info.get("engine_version", "")),
            device=str(self.info.get("device", "")),
        )

    def run(
        self,
        inputs: Sequence[str],
        compute: Callable[[list[str]], list[dict[str, Any]]],
    ) -> list[tuple[dict[str, Any], StageRecord] | BaseException]:
        """For each input: (value, record) from the cache or from `compute`, or the exception
        that computing it raised. Each computed value is stored before this returns."""
        keys = [cache_key(self.sig_hash, text_hash(t)) for t in inputs]
        out: list[tuple[dict[str, Any], StageRecord] | BaseException | None] = [None] * len(inputs)
        misses: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            start = time.perf_counter()
            hit = self.cache.get(key)
            if hit is not None:
                out[i] = (hit, self.record(time.perf_counter() - start, True))
            else:
                misses.setdefault(key, []).append(i)
        if misses:
            todo = [inputs[idx[0]] for idx in misses.values()]
            for key, text, result in zip(misses, todo, self._compute(todo, compute), strict=True):
                for i in misses[key]:
                    out[i] = result
                if not isinstance(result, BaseException):
                    self.cache.put(
                        key, self.name, self.sig_hash, self.info, text_hash(text), result[0]
                    )
        return [r for r in out if r is not None]

    def _compute(
        self, texts: list[str], compute: Callable[[list[str]], list[dict[str, Any]]]
    ) -> list[tuple[dict[str, Any], StageRecord] | BaseException]:
        start = time.perf_counter()
        try:
            values = compute(texts)
        except ModelLoadError:
            raise
        except Exception:
            if len(texts) == 1:
                raise
            # Find the article that failed: the others still get their results.
            return [self._one(t, compute) for t in texts]
        elapsed = time.perf_counter() - start
        total = sum(len(t) for t in texts) or 1
        # Batch time is shared out by input length: an estimate, said so in the README.
        return [
            (v, self.record(elapsed * len(t) / total, False))
            for v, t in zip(values, texts, strict=True)
        ]

    def _one(
        self, text: str, compute: Callable[[list[str]], list[dict[str, Any]]]
    ) -> tuple[dict[str, Any], StageRecord] | BaseException:
        start = time.perf_counter()
        try:
            value = compute([text])[0]
        except ModelLoadError:
            raise
        except Exception as exc:
            return exc
        return value, self.record(time.perf_counter() - start, False)


class Pipeline:
    """The stages wired together for one set of settings; reusable across batches."""

    def __init__(
        self, settings: Settings, catalog: Catalog | None = None, cache: Cache | None = None
    ) -> None:
        self.settings = settings
        self.catalog = catalog if catalog is not None else load_catalog(settings)
        self.cache = (
            cache
            if cache is not None
            else (Cache(settings.resolved_cache_path) if settings.cache else NullCache())
        )
        self.detector: Detector = get_detector(settings)
        self.router = Router(settings, self.catalog)
        self._summarizers: dict[tuple[str, tuple[str, ...]], Seq2SeqSummarizer] = {}
        self._check_model_options()

    def _check_model_options(self) -> None:
        """Resolve every model named in an option now, so a typo fails before any work."""
        choose_summarizer(self.settings.pivot_lang, self.settings, self.catalog, self._summarizers)
        for lang in self.settings.summarizers:
            choose_summarizer(lang, self.settings, self.catalog, self._summarizers)
        for pair, value in self.settings.translators.items():
            src, _, tgt = pair.partition("-")
            resolve(
                value, self.catalog, task="translation", pair=(src, tgt) if pair != "*" else None
            )

    # -- planning ----------------------------------------------------------------

    def detect(self, items: list[_Item]) -> None:
        auto = [it for it in items if not (it.article.lang or self.settings.lang)]
        for it in items:
            declared = it.article.lang or self.settings.lang
            if declared:
                method = "jsonl" if it.article.lang else "option"
                rec = StageRecord(
                    model="declared",
                    revision="",
                    engine="none",
                    settings={"method": method},
                    seconds=0.0,
                    cached=False,
                )
                it.detection = Detection(declared, 1.0, method, rec)
        info = {
            "engine_version": f"langdetect {self.detector.signature()['version']}",
            "model": "langdetect",
            "revision": self.detector.signature()["version"],
            "engine": "langdetect",
            "settings": self.detector.signature(),
        }
        stage = Stage("detect", info, self.cache)

        def compute(texts: list[str]) -> list[dict[str, Any]]:
            return [
                dict(zip(("code", "confidence"), self.detector.detect(t), strict=True))
                for t in texts
            ]

        for it, res in zip(auto, stage.run([it.article.text for it in auto], compute), strict=True):
            if isinstance(res, BaseException):
                it.fail("detect", res)
                continue
            value, rec = res
            it.detection = Detection(value["code"], value["confidence"], "langdetect", rec)

    def plan(self, items: list[_Item]) -> list[ModelRef]:
        """Choose every article's summariser and translators; return the models they need."""
        needed: dict[Path, ModelRef] = {}
        for it in items:
            if it.error or it.detection is None:
                continue
            lang = it.detection.code
            if lang == UND:
                it.fail(
                    "detect",
                    LanguageError(
                        f"language undetermined (confidence {it.detection.confidence:.2f}, or too "
                        "little text); pass --lang CODE, or a 'lang' field in JSONL"
                    ),
                )
                continue
            try:
                it.plan = choose_summarizer(lang, self.settings, self.catalog, self._summarizers)
                refs = [it.plan.summarizer.ref]
                summary_lang = it.plan.pivot or lang
                if it.plan.pivot:
                    refs += self.router.models(self.router.choose(lang, it.plan.pivot))
                for target in self.settings.targets:
                    refs += self.router.models(self.router.choose(summary_lang, target))
            except SummarizeError as exc:
                it.plan = None
                it.fail("route", exc)
                continue
            for ref in refs:
                needed.setdefault(ref.path, ref)
        return list(needed.values())

    # -- computing -----------------------------------------------------------------

    def _stage(
        self,
        name: str,
        info: dict[str, Any],
        group: list[_Item],
        inputs: list[str],
        compute: Callable[[list[str]], list[dict[str, Any]]],
        on_result: Callable[[_Item, dict[str, Any], StageRecord], None],
    ) -> None:
        """Run one stage for a group of articles; each gets its result or its error."""
        results = Stage(name, info, self.cache).run(inputs, compute)
        for it, res in zip(group, results, strict=True):
            if isinstance(res, BaseException):
                it.fail(name, res)
            else:
                on_result(it, *res)

    def _translate(
        self,
        name: str,
        translator: Translator,
        group: list[_Item],
        inputs: list[str],
        on_result: Callable[[_Item, dict[str, Any], StageRecord], None],
    ) -> None:
        self._stage(
            name,
            translator.info(),
            group,
            inputs,
            lambda batch: [{"text": t} for t in translator.translate(batch)],
            on_result,
        )

    def process(self, items: list[_Item]) -> None:
        """Run pivot, summary and translations for a wave of planned articles, each stage
        batched per model across the whole wave."""
        live = [it for it in items if it.plan is not None and not it.error]

        # Pivot: articles whose language has no summariser are translated into one that has.
        def pivoted(it: _Item, value: dict[str, Any], rec: StageRecord) -> None:
            it.pivot_text, it.pivot = value["text"], rec

        for (src, pivot), group in _group(
            live, lambda it: (it.lang, it.plan.pivot) if it.plan and it.plan.pivot else None
        ):
            self._translate(
                "pivot",
                self.router.choose(src, pivot),
                group,
                [it.article.text for it in group],
                pivoted,
            )

        # Summaries, one batch per summariser.
        def summarised(it: _Item, value: dict[str, Any], rec: StageRecord) -> None:
            lang = it.plan.pivot if it.plan and it.plan.pivot else it.lang
            it.summary = Summary(value["text"], lang, int(value["chunks"]), rec)

        live = [it for it in live if not it.error]
        by_model = _group(live, lambda it: it.plan.summarizer if it.plan else None)
        for summarizer, group in by_model:
            self._stage(
                "summarize",
                summarizer.info(),
                group,
                [it.pivot_text or it.article.text for it in group],
                partial(_summaries, summarizer),
                summarised,
            )

        # Translations: one batch per language pair.
        live = [it for it in live if not it.error]
        for src, group in _group(live, lambda it: it.summary.lang if it.summary else None):
            for target in self.settings.targets:
                translator = self.router.choose(src, target)

                def translated(
                    it: _Item,
                    value: dict[str, Any],
                    rec: StageRecord,
                    target: str = target,
                    route: Route = translator.route,
                ) -> None:
                    it.translations[target] = Translation(target, value["text"], route, rec)

                ok = [it for it in group if not it.error]
                self._translate(
                    f"translate:{target}",
                    translator,
                    ok,
                    [it.summary.text for it in ok if it.summary],
                    translated,
                )

    def review(
        self, source: str, summary: Summary, translations: dict[str, Translation]
    ) -> tuple[Flag, ...]:
        """Warnings for one result: what an editor must check before publishing."""
        detect = self.detector.detect
        flags = check_text(source, summary.text, "summarize", summary.lang, detect, is_summary=True)
        for target, tr in translations.items():
            if tr.route != "copy":
                flags += check_text(source, tr.text, f"translate:{target}", target, detect)
        return tuple(dedupe(flags))

    def run_batch(
        self,
        order: Sequence[Article | SourceError],
        *,
        progress: ProgressFn | None = None,
        write: bool = True,
    ) -> BatchReport:
        """Run ingested articles (and carry ingest's errors) through every stage, in waves."""
        started = time.perf_counter()
        settings = self.settings
        articles = [a for a in order if isinstance(a, Article)]
        items = [_Item(article=a, index=i) for i, a in enumerate(articles)]
        self.detect(items)
        needed = self.plan(items)
        ensure_present(needed, settings)
        report = BatchReport(output_dir=str(settings.output_dir))
        report.warnings.extend(licence_warnings(needed))
        outcome_of: dict[int, SourceOutcome] = {}
        done = 0

        def finish(it: _Item) -> None:
            nonlocal done
            done += 1
            if it.error is None:
                assert it.detection is not None and it.summary is not None
                result = Result(
                    it.article,
                    it.detection,
                    it.summary,
                    it.translations,
                    it.pivot,
                    warnings=self.review(it.article.text, it.summary, it.translations),
                )
                path = (
                    write_result(settings.output_dir, result)
                    if write and "json" in settings.formats
                    else None
                )
                result = dataclasses.replace(result, output=str(path) if path else None)
                report.results.append(result)
                outcome = SourceOutcome(
                    it.article.id,
                    it.article.source,
                    "ok",
                    output=result.output,
                    cached=result.all_cached,
                )
            else:
                outcome = SourceOutcome(it.article.id, it.article.source, "error", error=it.error)
            outcome_of[id(it.article)] = outcome
            if progress is not None:
                progress(ProgressEvent(done, len(items), it.article.id, outcome.status))

        for it in items:
            if it.plan is None:
                finish(it)
        planned = [it for it in items if it.plan is not None]
        for start in range(0, len(planned), settings.batch_size):
            wave = planned[start : start + settings.batch_size]
            self.process(wave)
            for it in wave:
                finish(it)
        for entry in order:
            if isinstance(entry, SourceError):
                report.outcomes.append(SourceOutcome(entry.id, entry.source, "error", error=entry))
            else:
                report.outcomes.append(outcome_of[id(entry)])
        report.seconds = time.perf_counter() - started
        if write:
            write_briefs(settings.output_dir, report.results, settings.formats)
            write_report(settings.output_dir, report, settings_doc(settings))
        return report

    def close(self) -> None:
        self.cache.close()


def _summaries(summarizer: Seq2SeqSummarizer, batch: list[str]) -> list[dict[str, Any]]:
    return [{"text": o.text, "chunks": o.chunks} for o in summarizer.summarize(batch)]


def _group(items: Iterable[_Item], key: Callable[[_Item], Any]) -> list[tuple[Any, list[_Item]]]:
    groups: dict[Any, list[_Item]] = {}
    for it in items:
        k = key(it)
        if k is not None:
            groups.setdefault(k, []).append(it)
    return list(groups.items())


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
