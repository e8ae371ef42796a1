"""The JSON documents `summarize` writes and serves, typed, their keys named here once.

A result document (`<output>/<id>.json`, a line of results.jsonl, the service's results,
`Summarizer`'s `Result.to_dict()`) is built from a `types.Result` by `result_json` only; a
story document (stories.json) by `grouping`. Both are `TypedDict`s, so a misspelt or missing
key is a type error where the document is made, and every reader sees the same shape. The
desk adds a `review` block to a published document (`review.apply`); readers of documents
written by older versions go through `Mapping[str, Any]` and check what they use.
"""

# No `from __future__ import annotations`: the TypedDicts' required and optional keys are
# then right at run time too (`ResultDoc.__required_keys__`), not only for a type checker.
import dataclasses
import platform
from typing import Any, NotRequired, TypedDict, cast

from summarize.types import Result, SourceOutcome, StageRecord


class EncodingDoc(TypedDict):
    name: str
    method: str
    confidence: float


class LanguageDoc(TypedDict):
    code: str
    confidence: float
    method: str  # declared, detected, ...


class SummaryDoc(TypedDict):
    text: str
    lang: str
    chunks: int


class TranslationDoc(TypedDict):
    text: str
    lang: str
    route: str  # direct, pivot, fallback or copy


class StoryRefDoc(TypedDict):
    id: str
    size: int


class WarningDoc(TypedDict):
    """A check's warning (`types.Flag`); the editor's wording is `review.model.for_editor`."""

    code: str
    stage: str
    message: str
    span: str


class RecordDoc(TypedDict):
    """How a stage produced its output (`types.StageRecord`)."""

    model: str
    revision: str
    engine: str
    settings: dict[str, Any]
    seconds: float
    cached: bool
    versions: str
    device: str
    compute_type: str


class EnvironmentDoc(TypedDict):
    summarize: str
    python: str


class ResultDoc(TypedDict):
    """One article's result."""

    id: str
    title: str | None
    lede: str  # the first line or sentence: what a queue shows for an article with no headline
    url: str | None
    source: str
    hash: str
    published: str | None
    outlet: NotRequired[str]
    author: NotRequired[str]
    source_encoding: EncodingDoc
    language: LanguageDoc
    summary: SummaryDoc
    translations: dict[str, TranslationDoc]  # by target
    title_translations: dict[str, str]  # the headline, by target
    story: StoryRefDoc | None
    duplicate_of: str | None
    warnings: list[WarningDoc]
    provenance: dict[str, RecordDoc]  # by stage key (`types.stage_key`)
    environment: EnvironmentDoc
    review: NotRequired[dict[str, Any]]  # by field, once an editor has touched one


class MemberSummaryDoc(TypedDict):
    text: str
    lang: str


class MemberDoc(TypedDict):
    """A story's member as stories.json lists it, with its own machine summary."""

    id: str
    title: str | None
    lede: str | None
    lang: str
    outlet: str | None
    published: str | None
    duplicate_of: str | None  # the member whose copy this is
    summary: NotRequired[MemberSummaryDoc]
    translations: NotRequired[dict[str, str]]


# "from" is a keyword, hence the functional form.
StorySummaryDoc = TypedDict("StorySummaryDoc", {"text": str, "lang": str, "from": list[str]})


class StoryTranslationDoc(TypedDict):
    text: str
    route: str


class StoryDoc(TypedDict):
    """A story (stories.json): every article on one event, across outlets and languages; one
    of two or more has its own summary, translated and checked."""

    id: str
    size: int
    first: str | None
    last: str | None
    languages: list[str]
    outlets: list[str]
    members: list[MemberDoc]
    headline: str | None
    headline_translations: NotRequired[dict[str, str]]
    summary: NotRequired[StorySummaryDoc]
    summary_error: NotRequired[str]
    translations: NotRequired[dict[str, StoryTranslationDoc]]
    warnings: NotRequired[list[WarningDoc]]
    provenance: NotRequired[dict[str, RecordDoc]]
    only_some_report: NotRequired[list[dict[str, Any]]]
    review: NotRequired[dict[str, Any]]


class OutcomeDoc(TypedDict):
    """One source's line in report.json."""

    id: str | None
    source: str
    status: str
    output: str | None
    cached: bool
    error: NotRequired[dict[str, str]]
    reason: NotRequired[str]
    worker: NotRequired[dict[str, Any]]


# -- what each text of a document is, for publishing ---------------------------------------
#
# Every key of a document that holds text is declared here, once, as one of:
#   a reviewable field (`review.fields`: an editor approves it, and an approved-only output
#   shows it only as approved, verbatim); "{lang}" stands for the key a `*` matched;
#   SOURCE: the source's own words or metadata about it (its id, address, date, outlet);
#   MACHINE_META: how a text was made (models, languages, routes, checks' codes);
#   FOLLOWS: text about a reviewable field (a warning's message and span), shown only beside it;
#   REVIEW: the desk's record (who approved which version), never text itself.
# tests/test_documents.py fails when a document type gains a text key declared nowhere here,
# and when a declared field is not the one `review.model` reads at that place.
SOURCE, MACHINE_META, FOLLOWS, REVIEW = "source", "machine-meta", "follows its field", "review"

RESULT_TEXTS: dict[tuple[str, ...], str] = {
    ("id",): SOURCE,
    ("title",): "title",
    ("lede",): SOURCE,
    ("url",): SOURCE,
    ("source",): SOURCE,
    ("hash",): SOURCE,
    ("published",): SOURCE,
    ("outlet",): SOURCE,
    ("author",): SOURCE,
    ("source_encoding", "name"): SOURCE,
    ("source_encoding", "method"): SOURCE,
    ("language", "code"): MACHINE_META,
    ("language", "method"): MACHINE_META,
    ("summary", "text"): "summary",
    ("summary", "lang"): MACHINE_META,
    ("translations", "*", "text"): "translation:{lang}",
    ("translations", "*", "lang"): MACHINE_META,
    ("translations", "*", "route"): MACHINE_META,
    ("title_translations", "*"): "title:{lang}",
    ("story", "id"): SOURCE,
    ("duplicate_of",): SOURCE,
    ("warnings", "*", "code"): MACHINE_META,
    ("warnings", "*", "stage"): MACHINE_META,
    ("warnings", "*", "message"): FOLLOWS,
    ("warnings", "*", "span"): FOLLOWS,
    ("provenance",): MACHINE_META,
    ("environment",): MACHINE_META,
    ("review",): REVIEW,
}

STORY_TEXTS: dict[tuple[str, ...], str] = {
    ("id",): SOURCE,
    ("first",): SOURCE,
    ("last",): SOURCE,
    ("languages", "*"): MACHINE_META,
    ("outlets", "*"): SOURCE,
    ("members", "*", "id"): SOURCE,
    ("members", "*", "title"): SOURCE,  # the member's headline; its article reviews it
    ("members", "*", "lede"): SOURCE,
    ("members", "*", "lang"): MACHINE_META,
    ("members", "*", "outlet"): SOURCE,
    ("members", "*", "published"): SOURCE,
    ("members", "*", "duplicate_of"): SOURCE,
    # The story's copy of a member's machine texts: its article publishes them, never a story.
    ("members", "*", "summary", "text"): "never published as approved: its article's own",
    ("members", "*", "summary", "lang"): MACHINE_META,
    ("members", "*", "translations", "*"): "never published as approved: its article's own",
    ("headline",): "story_title",
    ("headline_translations", "*"): "story_title:{lang}",
    ("summary", "text"): "story_summary:{summary_lang}",
    ("summary", "lang"): MACHINE_META,
    ("summary", "from", "*"): SOURCE,
    ("summary_error",): MACHINE_META,
    ("translations", "*", "text"): "story_summary:{lang}",
    ("translations", "*", "route"): MACHINE_META,
    ("warnings", "*", "code"): MACHINE_META,
    ("warnings", "*", "stage"): MACHINE_META,
    ("warnings", "*", "message"): FOLLOWS,
    ("warnings", "*", "span"): FOLLOWS,
    ("provenance",): MACHINE_META,
    ("only_some_report",): SOURCE,  # names and figures only some members' texts give
    ("review",): REVIEW,
}

# Each document type, with the declaration of its texts.
TEXT_KEYS: dict[str, tuple[type, dict[tuple[str, ...], str]]] = {
    "result": (ResultDoc, RESULT_TEXTS),
    "story": (StoryDoc, STORY_TEXTS),
}
NOT_FIELDS = (SOURCE, MACHINE_META, FOLLOWS, REVIEW)


def declared_field(kind: str, path: tuple[str, ...]) -> str | None:
    """The review field a declared text key is (None: it is no field)."""
    found = TEXT_KEYS[kind][1].get(path)
    if found is None or found in NOT_FIELDS or found.startswith("never published"):
        return None
    return found


def record_json(rec: StageRecord) -> RecordDoc:
    return RecordDoc(
        model=rec.model,
        revision=rec.revision,
        engine=rec.engine,
        settings=dict(rec.settings),
        seconds=rec.seconds,
        cached=rec.cached,
        versions=rec.versions,
        device=rec.device,
        compute_type=rec.compute_type,
    )


def warning_json(flags: tuple[Any, ...] | list[Any]) -> list[WarningDoc]:
    return [WarningDoc(code=f.code, stage=f.stage, message=f.message, span=f.span) for f in flags]


def result_json(result: Result) -> ResultDoc:
    """The per-article document (`<output>/<id>.json`)."""
    art = result.article
    from summarize._version import __version__
    from summarize.text import lede

    doc = ResultDoc(
        id=art.id,
        title=art.title,
        lede=lede(art.text),
        url=art.url,
        source=art.source,
        hash=art.hash,
        published=art.published,
        source_encoding=EncodingDoc(
            name=art.encoding, method=art.encoding_method, confidence=art.encoding_confidence
        ),
        language=LanguageDoc(
            code=result.detection.code,
            confidence=round(result.detection.confidence, 4),
            method=result.detection.method,
        ),
        summary=SummaryDoc(
            text=result.summary.text, lang=result.summary.lang, chunks=result.summary.chunks
        ),
        translations={
            target: TranslationDoc(text=tr.text, lang=tr.target, route=tr.route)
            for target, tr in result.translations.items()
        },
        title_translations={target: tr.text for target, tr in result.titles.items()},
        story=StoryRefDoc(id=result.story.id, size=result.story.size) if result.story else None,
        duplicate_of=result.duplicate_of,
        warnings=warning_json(result.warnings),
        provenance={name: record_json(rec) for name, rec in result.records().items()},
        environment=EnvironmentDoc(summarize=__version__, python=platform.python_version()),
    )
    byline = {k: v for k, v in (("outlet", art.outlet), ("author", art.author)) if v}
    if byline:  # after `published`, where readers of the file have always found them
        keys = list(doc.items())
        at = [k for k, _ in keys].index("published") + 1
        doc = cast(ResultDoc, dict(keys[:at] + list(byline.items()) + keys[at:]))
    return doc


def outcome_json(outcome: SourceOutcome) -> OutcomeDoc:
    doc = OutcomeDoc(
        id=outcome.id,
        source=outcome.source,
        status=outcome.status,
        output=outcome.output,
        cached=outcome.cached,
    )
    if outcome.error is not None:
        doc["error"] = {"type": outcome.error.type, "message": outcome.error.message}
    if outcome.reason is not None:
        doc["reason"] = outcome.reason
    if outcome.placement is not None:
        doc["worker"] = dataclasses.asdict(outcome.placement)
    return doc
