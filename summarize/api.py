"""The Python face: a long-lived `Summarizer` for code that has text, not files (a CMS worker,
an ingest daemon, a notebook), in the manner of transformers' `pipeline(...)` or txtai's
`Summary()`: models load once and stay loaded, text goes in, a typed `Result` comes out.

    from summarize import Summarizer

    with Summarizer(targets=["ar", "fr"]) as s:
        result = s.summarize(text, title="…")
        print(result.summary, result.translations["fr"].text)

It drives the same `runner.Pipeline` as `summarize run`, with the same cache, so a text a
run has summarised comes back from the cache, and `Result.to_dict()` is the document the run
writes for it. With an output folder (`output_dir=`) it keeps the folder's stories too;
without one it writes nothing but the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from summarize.config import Settings, load_settings
from summarize.documents import ResultDoc, StoryRefDoc
from summarize.errors import InputError, SummarizeError

if TYPE_CHECKING:
    from summarize.runner import Pipeline
    from summarize.types import BatchReport


class FrozenMap(Mapping[str, Any]):
    """A read-only mapping that hashes, so a `Result` is a value: `r.translations["fr"] = x`
    fails, and two equal results hash alike."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._items == dict(other)

    def __repr__(self) -> str:
        return repr(self._items)


@dataclass(frozen=True)
class Translated:
    lang: str
    text: str
    route: str  # direct, pivot, fallback or copy


@dataclass(frozen=True)
class ResultWarning:
    """A warning on a result: what the checks found, in the editor's words."""

    code: str
    stage: str
    severity: str
    message: str  # in the editor's words
    span: str


@dataclass(frozen=True)
class Result:
    """One article's result, a value: immutable, hashable, equal when its fields are.
    `to_dict()` is the JSON document `summarize run` writes, built from these fields (so
    `dataclasses.replace(r, summary=...)` shows in it); `from_dict(r.to_dict()) == r`."""

    id: str
    language: str
    confidence: float
    summary: str
    title: str | None
    translations: Mapping[str, Translated]
    titles: Mapping[str, str]  # the headline in each target language
    warnings: tuple[ResultWarning, ...]
    story: str | None
    duplicate_of: str | None
    cached: Mapping[str, bool]  # by stage: came from the cache
    models: Mapping[str, str]  # by stage: model@revision
    _doc: ResultDoc = dataclasses.field(repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("translations", "titles", "cached", "models"):
            if not isinstance(getattr(self, name), FrozenMap):
                object.__setattr__(self, name, FrozenMap(getattr(self, name)))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def to_dict(self) -> ResultDoc:
        """The result document (`summarize.documents.ResultDoc`), a copy of its own, its texts
        and names from this object's fields; the rest (provenance's detail, the source's
        metadata) from the document it was read from."""
        doc = copy.deepcopy(self._doc)
        doc["id"] = self.id
        doc["language"] = {**doc["language"], "code": self.language, "confidence": self.confidence}
        doc["summary"] = {**doc["summary"], "text": self.summary}
        doc["title"] = self.title
        doc["translations"] = {
            t: {"text": tr.text, "lang": tr.lang, "route": tr.route}
            for t, tr in self.translations.items()
        }
        doc["title_translations"] = dict(self.titles)
        if self.story is None:
            doc["story"] = None
        else:
            was = doc.get("story")
            doc["story"] = StoryRefDoc(id=self.story, size=was["size"] if was else 1)
        doc["duplicate_of"] = self.duplicate_of
        if self.warnings != Result.from_dict(self._doc).warnings:
            doc["warnings"] = [
                {"code": w.code, "stage": w.stage, "message": w.message, "span": w.span}
                for w in self.warnings
            ]
        provenance = doc.get("provenance") or {}
        for stage, record in provenance.items():
            record["cached"] = bool(self.cached.get(stage, record.get("cached")))
            model, _, revision = str(self.models.get(stage, "")).rpartition("@")
            if model:
                record["model"], record["revision"] = model, revision
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Result:
        """A result from its document: one `to_dict()` gave, or a `<id>.json` a run wrote."""
        from summarize.checks import severity
        from summarize.review.model import for_editor, stages

        language = doc.get("language") or {}
        field_of = {stage: (field, lang) for field, (stage, lang) in stages(doc).items()}

        def editor_words(w: Mapping[str, Any]) -> str:
            field, lang = field_of.get(str(w.get("stage", "")), ("summary", ""))
            return for_editor(w, field, lang)

        return cls(
            id=str(doc["id"]),
            language=str(language.get("code", "")),
            confidence=float(language.get("confidence", 0.0)),
            summary=str((doc.get("summary") or {}).get("text", "")),
            title=doc.get("title"),
            translations={
                t: Translated(str(tr.get("lang", t)), str(tr["text"]), str(tr.get("route", "")))
                for t, tr in (doc.get("translations") or {}).items()
            },
            titles=dict(doc.get("title_translations") or {}),
            warnings=tuple(
                ResultWarning(
                    str(w["code"]),
                    str(w.get("stage", "")),
                    severity(str(w["code"])),
                    editor_words(w),
                    str(w.get("span", "")),
                )
                for w in doc.get("warnings", [])
            ),
            story=(doc.get("story") or {}).get("id"),
            duplicate_of=doc.get("duplicate_of"),
            cached={s: bool(p.get("cached")) for s, p in (doc.get("provenance") or {}).items()},
            models={
                s: f"{p.get('model')}@{p.get('revision')}"
                for s, p in (doc.get("provenance") or {}).items()
            },
            _doc=cast(ResultDoc, copy.deepcopy(dict(doc))),
        )


@dataclass(frozen=True)
class Failed:
    """An article of a stream that could not be summarised: its id and the typed error (the
    same one `summarize()` raises for it). The stream goes on past it."""

    id: str
    error: SummarizeError

    def raise_error(self) -> None:
        raise self.error


class Summarizer:
    """Summarise and translate articles from Python; safe to share between threads (one
    batch runs at a time, as on the CLI: the models use every core already).

    Every face drives this object: `summarize run` (`run()`), the watch folder and the
    service's worker (`pipeline()`, with their long-lived executor), and Python code.
    `executor`: where the work runs (default: the settings' executor, per pipeline)."""

    def __init__(
        self, settings: Settings | None = None, *, executor: Any = None, **overrides: Any
    ) -> None:
        self._executor = executor
        if settings is None:
            self._write = "output_dir" in overrides
            if not self._write:  # no folder: no stories, nothing written but the cache
                overrides.setdefault("stories", False)
            settings = load_settings(overrides=overrides)
        else:
            self._write = True
            if overrides:  # applied as on a fresh object, checked the same way
                settings = load_settings(overrides=overrides, base=settings)
        # Checked now, not at the first text: the targets, every model named (present, or
        # downloadable) and the device. Models still load only when a text needs them.
        from summarize.catalog import load_catalog
        from summarize.plan import Plan

        Plan(settings, load_catalog(settings))
        self.settings = settings
        self._pipelines: dict[tuple[str, ...], Pipeline] = {}
        self._lock = threading.RLock()
        self._reader: Any = None
        self._async_pool: Any = None  # asummarize's own thread, made on first use

    # -- lifetime ------------------------------------------------------------------------

    def close(self, *, models: bool = True) -> None:
        """Close the pipelines (their cache connections and executors) and, with `models`,
        free the loaded models (the process's pool: a face that keeps serving passes False)."""
        from summarize.engines import clear_pool

        with self._lock:
            for pipeline in self._pipelines.values():
                pipeline.close()
            self._pipelines.clear()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            if self._async_pool is not None:
                self._async_pool.shutdown(wait=False, cancel_futures=True)
                self._async_pool = None
            if models:
                clear_pool()

    def __enter__(self) -> Summarizer:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- one article ---------------------------------------------------------------------

    def summarize(
        self,
        text: str,
        *,
        title: str | None = None,
        lang: str | None = None,
        id: str | None = None,
        published: str | None = None,
        targets: Sequence[str] | None = None,
    ) -> Result:
        """One article's result; raises InputError for text that is no article, and the
        pipeline's own typed errors (ModelNotAvailable, LanguageError, …) as the CLI says them."""
        article = {"id": id, "text": text, "title": title, "lang": lang, "published": published}
        [got] = list(self._batch([article], targets))
        if isinstance(got, Failed):
            got.raise_error()
        assert isinstance(got, Result)
        return got

    async def asummarize(self, text: str, **kwargs: Any) -> Result:
        """`summarize` for asyncio code: the work runs on this object's own thread, so the
        loop, and its default executor (which asyncio also uses for DNS lookups), stay free."""
        import functools
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._async_pool is None:  # one batch runs at a time anyway: one thread
                self._async_pool = ThreadPoolExecutor(1, thread_name_prefix="summarize")
            pool = self._async_pool
        call = functools.partial(self.summarize, text, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    # -- many ----------------------------------------------------------------------------

    def summarize_many(
        self,
        articles: Iterable[str | Mapping[str, Any]],
        *,
        batch_size: int | None = None,
        targets: Sequence[str] | None = None,
        progress: bool | Callable[[int], Any] = False,
    ) -> Iterator[Result | Failed]:
        """Results in input order, batch by batch (`batch_size`, default the setting), so a
        long stream is held one batch at a time. An article is a text or a mapping with
        `text` and optionally `id`, `title`, `lang`, `published`. One that fails is a
        `Failed` in its place; the rest go on. `progress`: a function called with the number
        of entries given so far, after each; or True for a counter on stderr (as the CLI)."""
        size = batch_size or self.settings.batch_size
        batch: list[Any] = []
        first = 1  # an article without an id is named by its place in the stream
        with _progress(progress) as tick:
            for item in articles:
                # Anything else (None, a number, bytes) is kept as it is: `_batch` makes it a
                # Failed in its place, and the stream goes on.
                batch.append({"text": item} if isinstance(item, str) else item)
                if len(batch) >= size:
                    for got in self._batch(batch, targets, first):
                        tick()
                        yield got
                    first += len(batch)
                    batch = []
            if batch:
                for got in self._batch(batch, targets, first):
                    tick()
                    yield got

    # -- the one path --------------------------------------------------------------------

    def pipeline(self, targets: Sequence[str] | None = None) -> Pipeline:
        """The pipeline for these targets (the settings' by default): one per target set,
        built once, sharing this object's executor."""
        from summarize.config import parse_targets
        from summarize.runner import Pipeline

        key = tuple(parse_targets(list(targets), "targets")) if targets else ()
        with self._lock:
            if key not in self._pipelines:
                settings = dataclasses.replace(self.settings, targets=key) if key else self.settings
                self._pipelines[key] = Pipeline(settings, executor=self._executor)
            return self._pipelines[key]

    def run(
        self,
        sources: Sequence[str | Path],
        *,
        stdin: IO[str] | None = None,
        progress: Any = None,
        write: bool = True,
    ) -> BatchReport:
        """Files, folders, feeds and stdin as `summarize run` takes them: every article
        through the pipeline, results written as they complete; the batch report."""
        from summarize.ingest import collect

        ingested = collect(sources, self.settings, stdin)
        with self._lock:
            return self.pipeline().run_batch(ingested.order, progress=progress, write=write)

    def _batch(
        self, raw: Sequence[Any], targets: Sequence[str] | None, first: int = 1
    ) -> list[Result | Failed]:
        from summarize.ingest import Reader
        from summarize.types import Article

        with self._lock:
            if self._reader is None:
                self._reader = Reader(self.settings)
            pipeline = self.pipeline(targets)
            out: dict[int, Result | Failed] = {}
            order: list[Article] = []
            index: dict[int, int] = {}
            for i, item in enumerate(raw):
                found = item.get("id") if isinstance(item, Mapping) else None
                article_id = str(found or f"text-{first + i}")
                try:
                    article = self._article(article_id, item)
                except InputError as exc:
                    out[i] = Failed(article_id, exc)
                    continue
                index[len(order)] = i
                order.append(article)
            if order:
                report = pipeline.run_batch(order, write=self._write)
                # by the article object itself: two copies of one text are two results
                by_article = {id(r.article): r for r in report.results}
                errors = {o.id: o.error for o in report.outcomes if o.error is not None}
                for position, article in enumerate(order):
                    i = index[position]
                    found = by_article.get(id(article))
                    if found is not None:
                        out[i] = Result.from_dict(pipeline.document(found))
                    else:
                        out[i] = Failed(article.id, _typed(article.id, errors.get(article.id)))
            return [out[i] for i in range(len(raw))]

    def _article(self, article_id: str, item: Any) -> Any:
        """One item of a stream as an article, or the InputError that says why it is none."""
        if not isinstance(item, Mapping):
            raise InputError(
                article_id,
                f"a {type(item).__name__} is no article: give a text, or a mapping with 'text'",
            )
        text = item.get("text")
        if not isinstance(text, str):
            raise InputError(article_id, "'text' must be a string")
        from summarize.ingest import record_date

        fields = {k: item.get(k) for k in ("title", "lang")}
        wrong = [k for k, v in fields.items() if v is not None and not isinstance(v, str)]
        if wrong:
            raise InputError(article_id, f"'{wrong[0]}' must be a string")
        # A date that is none is an error naming it, as in a JSONL record (it disabled the
        # whole batch's stories, silently); ISO 8601, RFC 2822 and epoch seconds are dates.
        published = record_date({"published": item.get("published")}, article_id)
        return self._reader.article(article_id, text, article_id, published=published, **fields)


@contextlib.contextmanager
def _progress(progress: bool | Callable[[int], Any]) -> Iterator[Callable[[], None]]:
    """A tick per entry of a stream: the caller's function, a rich counter on stderr, or
    nothing."""
    done = 0
    if callable(progress):

        def tick() -> None:
            nonlocal done
            done += 1
            progress(done)

        yield tick
    elif progress:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.completed} summarised"), TimeElapsedColumn())
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("summarising", total=None)
            yield lambda: bar.advance(task)
    else:
        yield lambda: None


def _typed(article_id: str, error: Any) -> SummarizeError:
    """A failed article's error as the class the pipeline raised (`LanguageError`,
    `ModelNotAvailable`, …), not a bare `SummarizeError`."""
    from summarize import errors

    if error is None:
        return SummarizeError(f"{article_id}: no result")
    cls = getattr(errors, str(error.type), None)
    if cls is InputError:
        return InputError(article_id, str(error.message))
    if isinstance(cls, type) and issubclass(cls, SummarizeError):
        try:
            return cls(f"{article_id}: {error.message}")
        except TypeError:  # a class that takes other arguments
            pass
    return SummarizeError(f"{article_id}: {error.message}")


def run(
    sources: Sequence[str | Path],
    settings: Settings | None = None,
    *,
    stdin: IO[str] | None = None,
    progress: Any = None,
    write: bool = True,
) -> BatchReport:
    """Summarise and translate every article in `sources`; return what happened to each.

    Results are written to `settings.output_dir` as they complete (unless `write` is false)
    and the report to `report.json`. Raises only for problems that would fail every article.
    The models stay loaded in the process for a later run."""
    summarizer = Summarizer(settings if settings is not None else load_settings())
    try:
        return summarizer.run(sources, stdin=stdin, progress=progress, write=write)
    finally:
        summarizer.close(models=False)
