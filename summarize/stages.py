"""The stages wired together: detect, plan, then pivot, summarise and translate each article.

`Stages.process` fills in whatever an article still lacks, each stage looked up in the cache
first and computed in batches per model. It runs in the driver (the local executor) and, with
a recording cache, inside each cluster worker (the Ray executor); a lookup-only pass lets the
driver find what is cached before anything is sent out.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from summarize.cache import Cache, CacheEntry, cache_key, signature_hash
from summarize.catalog import ModelRef
from summarize.checks import check_text, dedupe, ordered, truncated_output
from summarize.detect import UND, Detector, get_detector
from summarize.errors import LanguageError, ModelLoadError, ModelNotAvailable, SummarizeError
from summarize.summarise import Seq2SeqSummarizer
from summarize.text import text_hash
from summarize.translate import Translator
from summarize.types import (
    CHECK,
    PIVOT,
    STORY,
    SUMMARIZE,
    TITLE,
    TRANSLATE,
    Article,
    Detection,
    Flag,
    Placement,
    Route,
    SourceError,
    StageRecord,
    Summary,
    Translation,
    stage_key,
)

if TYPE_CHECKING:
    from summarize.plan import Plan, SummaryPlan

Compute = Callable[[list[str]], list[dict[str, Any]]]
StageResult = tuple[dict[str, Any], StageRecord] | BaseException


@dataclass
class Item:
    """An article on its way through the pipeline: what each stage has produced so far.

    `deferred` marks an article a lookup-only pass could not finish from the cache; `entries`
    are the cache entries a worker computed for it, for the driver to store, and `placement`
    where that worker ran.
    """

    article: Article
    index: int
    detection: Detection | None = None
    plan: SummaryPlan | None = None
    pivot_text: str | None = None
    pivot: StageRecord | None = None
    summary: Summary | None = None
    translations: dict[str, Translation] = field(default_factory=dict)
    titles: dict[str, Translation] = field(default_factory=dict)
    error: SourceError | None = None
    deferred: bool = False
    entries: list[CacheEntry] = field(default_factory=list)
    placement: Placement | None = None

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

    def stage_inputs(self) -> dict[str, str]:
        """Each stage this article has reached, with the text that was its input."""
        out = {PIVOT: self.article.text, SUMMARIZE: self.pivot_text or self.article.text}
        if self.summary is not None:
            out.update({stage_key(TRANSLATE, t): self.summary.text for t in self.translations})
        if self.article.title:
            out.update({stage_key(TITLE, t): self.article.title for t in self.titles})
        return out


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
            compute_type=str(self.info.get("compute_type", "")),
        )

    def run(self, inputs: Sequence[str], compute: Compute | None) -> list[StageResult | None]:
        """For each input: (value, record) from the cache or from `compute`, or the exception
        that computing it raised; None for a miss when `compute` is None (lookup only).
        Each computed value is stored before this returns."""
        keys = [cache_key(self.sig_hash, text_hash(t)) for t in inputs]
        out: list[StageResult | None] = [None] * len(inputs)
        misses: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            start = time.perf_counter()
            hit = self.cache.get(key)
            if hit is not None:
                out[i] = (hit, self.record(time.perf_counter() - start, True))
            else:
                misses.setdefault(key, []).append(i)
        if misses and compute is not None:
            todo = [inputs[idx[0]] for idx in misses.values()]
            for key, text, result in zip(misses, todo, self._compute(todo, compute), strict=True):
                for i in misses[key]:
                    out[i] = result
                if not isinstance(result, BaseException):
                    self.cache.put(
                        CacheEntry(
                            key, self.name, self.sig_hash, self.info, text_hash(text), result[0]
                        )
                    )
        return out

    def _compute(self, texts: list[str], compute: Compute) -> list[StageResult]:
        start = time.perf_counter()
        try:
            values = compute(texts)
        except ModelLoadError:
            raise
        except Exception as exc:
            if len(texts) == 1:
                return [exc]  # this article's error (a batch of one raised it)
            # Find the article that failed: the others still get their results.
            return [self._one(t, compute) for t in texts]
        elapsed = time.perf_counter() - start
        total = sum(len(t) for t in texts) or 1
        # Batch time is shared out by input length: an estimate, said so in the README.
        return [
            (v, self.record(elapsed * len(t) / total, False))
            for v, t in zip(values, texts, strict=True)
        ]

    def _one(self, text: str, compute: Compute) -> StageResult:
        start = time.perf_counter()
        try:
            value = compute([text])[0]
        except ModelLoadError:
            raise
        except Exception as exc:
            return exc
        return value, self.record(time.perf_counter() - start, False)


class Stages:
    """The stages wired together for one set of settings; reusable across batches."""

    def __init__(self, plan: Plan, cache: Cache) -> None:
        # Every route, resolved once in the plan (and every model named in an option, then):
        # the stages read it and never choose a model themselves.
        self.routes = plan
        self.settings = plan.settings
        self.catalog = plan.catalog
        self.cache = cache
        self.detector: Detector = get_detector(self.settings)
        self.notices: list[str] = []  # what the last plan's routes gave way to

    @cached_property
    def entailment(self) -> Any:
        """The optional entailment checker, loaded once when its model is present (else None:
        the check is off, and nothing is downloaded for it)."""
        from summarize.checks.entailment import load

        return load(self.routes.entailment, self.settings)

    # -- planning ----------------------------------------------------------------

    def detect(self, items: list[Item]) -> None:
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
            assert res is not None
            value, rec = res
            it.detection = Detection(value["code"], value["confidence"], "langdetect", rec)

    def plan(self, items: list[Item]) -> list[ModelRef]:
        """Give every article its routes (from the plan); return the models they need. An
        article no route serves fails with the reason; the others go on."""
        langs: list[str] = []
        pairs: list[tuple[str, str]] = []
        unavailable: list[ModelNotAvailable] = []
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
                it.plan = self.routes.summary(lang)
                mine = self.routes.pairs(lang, titled=bool(it.article.title))
                for pair in mine:
                    self.routes.translator(*pair)
            except SummarizeError as exc:
                it.plan = None
                it.fail("route", exc)
                if isinstance(exc, ModelNotAvailable):
                    unavailable.append(exc)
                continue
            langs.append(lang)
            pairs += mine
        self.notices = [
            self.routes.notices[p] for p in dict.fromkeys(pairs) if p in self.routes.notices
        ]
        if unavailable and not langs:
            # A model every article needs is missing and cannot be had: one line, before
            # any work, rather than the same error on every article.
            raise unavailable[0]
        return self.routes.models(langs, pairs)

    # -- computing -----------------------------------------------------------------

    def _stage(
        self,
        name: str,
        info: dict[str, Any],
        group: list[Item],
        inputs: list[str],
        compute: Compute | None,
        on_result: Callable[[Item, dict[str, Any], StageRecord], None],
    ) -> None:
        """Run one stage for a group of articles; each gets its result, its error, or (lookup
        only) is marked deferred."""
        results = Stage(name, info, self.cache).run(inputs, compute)
        for it, res in zip(group, results, strict=True):
            if res is None:
                it.deferred = True
            elif isinstance(res, BaseException):
                it.fail(name, res)
            else:
                on_result(it, *res)

    def _translate(
        self,
        name: str,
        translator: Translator,
        group: list[Item],
        inputs: list[str],
        on_result: Callable[[Item, dict[str, Any], StageRecord], None],
        lookup_only: bool,
    ) -> None:
        compute = partial(_translations, translator)
        info = translator.info()
        self._stage(name, info, group, inputs, None if lookup_only else compute, on_result)

    def process(self, items: list[Item], *, lookup_only: bool = False) -> None:
        """Fill in what each planned article still lacks (pivot, summary, translations), each
        stage batched per model across all the items.

        With `lookup_only`, nothing is computed: cached results are filled in and an article
        with any miss is marked deferred. A stage whose input is not known yet is skipped."""
        planned = [it for it in items if it.plan is not None and it.error is None]

        # Pivot: articles whose language has no summariser are translated into one that has.
        def pivoted(it: Item, value: dict[str, Any], rec: StageRecord) -> None:
            it.pivot_text, it.pivot = value["text"], rec

        need_pivot = [it for it in planned if _pivot(it) and it.pivot_text is None]
        for (src, pivot), group in _group(need_pivot, lambda it: (it.lang, _pivot(it))):
            self._translate(
                PIVOT,
                self.routes.translator(src, pivot),
                group,
                [it.article.text for it in group],
                pivoted,
                lookup_only,
            )

        # Summaries, one batch per summariser.
        def summarised(it: Item, value: dict[str, Any], rec: StageRecord) -> None:
            it.summary = Summary(
                value["text"],
                _pivot(it) or it.lang,
                int(value["chunks"]),
                rec,
                bool(value.get("truncated", False)),
            )

        ready = [
            it
            for it in planned
            if it.error is None
            and it.summary is None
            and (it.pivot_text is not None or not _pivot(it))
        ]
        for summarizer, group in _group(ready, lambda it: it.plan.summarizer if it.plan else None):
            self._stage(
                SUMMARIZE,
                summarizer.info(),
                group,
                [it.pivot_text or it.article.text for it in group],
                None if lookup_only else partial(_summaries, summarizer),
                summarised,
            )

        # Translations: one batch per language pair.
        summarised_items = [it for it in planned if it.error is None and it.summary is not None]
        self._translate_all(
            TRANSLATE,
            summarised_items,
            lambda it: it.summary.lang if it.summary else None,
            lambda it: it.summary.text if it.summary else "",
            lambda it: it.translations,
            lookup_only,
        )
        # Each headline into every target, from the article's language (`title:<target>`).
        self._translate_all(
            TITLE,
            [it for it in planned if it.error is None and it.article.title],
            lambda it: it.lang,
            lambda it: it.article.title or "",
            lambda it: it.titles,
            lookup_only,
        )

    def _translate_all(
        self,
        stage: str,
        items: list[Item],
        lang_of: Callable[[Item], str | None],
        text_of: Callable[[Item], str],
        into: Callable[[Item], dict[str, Translation]],
        lookup_only: bool,
    ) -> None:
        """A text of each item into every target: one batch per language pair, each result
        kept in the item's `into` dict under its target (stage `<stage>:<target>`)."""
        for src, group in _group(items, lang_of):
            for target in self.settings.targets:
                translator = self.routes.translator(src, target)

                def done(
                    it: Item,
                    value: dict[str, Any],
                    rec: StageRecord,
                    target: str = target,
                    route: Route = translator.route,
                ) -> None:
                    into(it)[target] = Translation(
                        target, value["text"], route, rec, bool(value.get("truncated", False))
                    )

                todo = [it for it in group if it.error is None and target not in into(it)]
                self._translate(
                    stage_key(stage, target),
                    translator,
                    todo,
                    [text_of(it) for it in todo],
                    done,
                    lookup_only,
                )

    def story_summary(
        self, sources: Sequence[str], summaries: Sequence[str], lang: str
    ) -> tuple[Summary, dict[str, Translation], tuple[Flag, ...]]:
        """A story's own summary: its members' summaries summarised together (chunked as any
        long text is), translated into every target, and checked against the members'
        articles. Each step is a cached stage (`story`, `story:<target>`)."""
        plan = self.routes.summary(lang)
        joined = "\n\n".join(summaries)
        info = {**plan.summarizer.info(), "story": "members-joined.v1"}

        def first(stage: Stage, text: str, compute: Compute) -> tuple[dict[str, Any], StageRecord]:
            [res] = stage.run([text], compute)
            if isinstance(res, BaseException):
                raise res
            assert res is not None
            return res

        value, rec = first(
            Stage("story", info, self.cache), joined, partial(_summaries, plan.summarizer)
        )
        summary = Summary(
            value["text"], lang, int(value["chunks"]), rec, bool(value.get("truncated"))
        )
        translations: dict[str, Translation] = {}
        for target in self.settings.targets:
            translator = self.routes.translator(lang, target)
            tv, trec = first(
                Stage(stage_key(STORY, target), translator.info(), self.cache),
                summary.text,
                partial(_translations, translator),
            )
            translations[target] = Translation(
                target, tv["text"], translator.route, trec, bool(tv.get("truncated"))
            )
        flags = self.review("\n\n".join(sources), summary, translations, source_lang=lang)
        return (
            summary,
            translations,
            tuple(
                Flag(
                    f.code,
                    _story_stage(f.stage),
                    f.message,
                    f.span,
                )
                for f in flags
            ),
        )

    @cached_property
    def checks_info(self) -> dict[str, Any]:
        """The checks as a stage: their code and data (`checks.signature`), the detector and
        the entailment model they use. Warnings are cached under it with their texts."""
        from summarize.checks import signature
        from summarize.checks.entailment import identity

        sig = signature()
        return {
            "model": "checks",
            "revision": sig["checks"],
            "engine": "checks",
            "engine_version": sig["libraries"],
            "settings": {
                "detector": self.detector.signature(),
                "entailment": identity(self.routes.entailment, self.settings.entailment_threshold),
            },
        }

    def check(
        self,
        source: str,
        candidate: str,
        stage: str,
        lang: str | None,
        *,
        is_summary: bool = False,
        source_lang: str | None = None,
        entail: bool = False,
    ) -> list[Flag]:
        """The checks on one text against its source, from the cache when this text, source,
        language and version of the checks were checked before (a re-run checks nothing)."""
        from summarize.cache import canonical

        key = canonical([source, candidate, stage, lang, is_summary, source_lang, entail])

        def compute(_: list[str]) -> list[dict[str, Any]]:
            flags = check_text(
                source,
                candidate,
                stage,
                lang,
                self.detector.detect,
                is_summary=is_summary,
                source_lang=source_lang,
            )
            checker = self.entailment if entail else None
            if checker is not None and candidate.strip():
                flags += checker.check(source, candidate, stage)
            return [{"flags": [dataclasses.asdict(f) for f in flags]}]

        [res] = Stage(CHECK, self.checks_info, self.cache).run([key], compute)
        if isinstance(res, BaseException):
            raise res
        assert res is not None
        return [Flag(**f) for f in res[0]["flags"]]

    def review(
        self,
        source: str,
        summary: Summary,
        translations: dict[str, Translation],
        source_lang: str | None = None,
    ) -> tuple[Flag, ...]:
        """Warnings for one result: what an editor must check before publishing."""
        flags = self.check(
            source,
            summary.text,
            SUMMARIZE,
            summary.lang,
            is_summary=True,
            source_lang=source_lang,
            entail=True,
        )
        if summary.truncated:
            flags.append(truncated_output(summary.text, SUMMARIZE, "summary_generation"))
        for target, tr in translations.items():
            stage = stage_key(TRANSLATE, target)
            if tr.route != "copy":
                flags += self.check(source, tr.text, stage, target)
            if tr.truncated:
                flags.append(truncated_output(tr.text, stage, "translation_generation"))
        texts = {SUMMARIZE: summary.text}
        texts.update({stage_key(TRANSLATE, t): tr.text for t, tr in translations.items()})
        return tuple(ordered(dedupe(flags), texts))


def _story_stage(stage: str) -> str:
    """A result's stage as the story's: `summarize` -> `story`, `translate:fr` -> `story:fr`."""
    family, _, target = stage.partition(":")
    return stage_key(STORY, target or None) if family in (SUMMARIZE, TRANSLATE) else stage


def _pivot(it: Item) -> str | None:
    return it.plan.pivot if it.plan else None


def _summaries(summarizer: Seq2SeqSummarizer, batch: list[str]) -> list[dict[str, Any]]:
    return [
        {"text": o.text, "chunks": o.chunks, "truncated": o.truncated}
        for o in summarizer.summarize(batch)
    ]


def _translations(translator: Translator, batch: list[str]) -> list[dict[str, Any]]:
    return [{"text": g.text, "truncated": g.truncated} for g in translator.translate(batch)]


def _group(items: Iterable[Item], key: Callable[[Item], Any]) -> list[tuple[Any, list[Item]]]:
    groups: dict[Any, list[Item]] = {}
    for it in items:
        k = key(it)
        if k is not None:
            groups.setdefault(k, []).append(it)
    return list(groups.items())
