"""Plain data passed between stages (their JSON form is `summarize.documents`).

All records are frozen dataclasses so a stage cannot change what an earlier one produced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["direct", "pivot", "fallback", "copy"]
Status = Literal["ok", "error", "skipped"]

# Stage names, named once: the keys of a result's provenance and the `stage` of its warnings.
# A per-target stage is `<family>:<target>` (`translate:fr`, `title:ar`, `story:fr`).
DETECT = "detect"
PIVOT = "pivot"
SUMMARIZE = "summarize"
TRANSLATE = "translate"  # the summary into a target
TITLE = "title"  # the source headline (alone), or into a target
STORY = "story"  # a story's own summary (alone), or into a target
CHECK = "check"  # the warnings on a result's texts
EMBED = "embed"  # a new article's headline and opening, for the stories (kept in their store)
STAGES = (DETECT, PIVOT, SUMMARIZE, TRANSLATE, TITLE, STORY, CHECK, EMBED)


def stage_key(family: str, target: str | None = None) -> str:
    """`translate` + `fr` -> `translate:fr`; a family alone names itself."""
    return f"{family}:{target}" if target else family


@dataclass(frozen=True)
class Article:
    """One input article. `id` is data (kept verbatim); `safe_name` is what touches the disk."""

    id: str
    safe_name: str
    text: str
    hash: str
    source: str
    title: str | None = None
    url: str | None = None
    lang: str | None = None
    line: int | None = None
    encoding: str = "utf-8"
    encoding_method: str = "text"
    encoding_confidence: float = 1.0
    # When it was published (ISO 8601): the record's or the page's date, else the file's time.
    published: str | None = None
    # Who published it and who wrote it, when the source says (a feed's title, its author).
    outlet: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class SourceError:
    """A source (file, JSONL line, stdin) that produced no article, or an article that failed."""

    source: str
    type: str
    message: str
    id: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file a folder scan left out (hidden, an unknown kind, not matching --glob), and why:
    reported, never silently ignored."""

    source: str
    reason: str


@dataclass(frozen=True)
class Flag:
    """A warning an editor must see: what (`code`), where (`stage`), why, and the text at fault."""

    code: str
    stage: str
    message: str
    span: str


@dataclass(frozen=True)
class StageRecord:
    """How one stage produced its output: enough to reproduce and audit it."""

    model: str
    revision: str
    engine: str
    settings: dict[str, Any]
    seconds: float
    cached: bool
    versions: str = ""
    device: str = ""
    compute_type: str = ""  # CTranslate2's weights (int8, float16, ...); float32 for transformers


@dataclass(frozen=True)
class Detection:
    code: str
    confidence: float
    method: str
    record: StageRecord


@dataclass(frozen=True)
class Summary:
    text: str
    lang: str
    chunks: int
    record: StageRecord
    truncated: bool = False  # the model stopped at its length limit somewhere behind it


@dataclass(frozen=True)
class Translation:
    target: str
    text: str
    route: Route
    record: StageRecord
    truncated: bool = False


@dataclass(frozen=True)
class StoryRef:
    """The story an article belongs to: all articles on one event, across outlets and
    languages (see `<output>/stories.json`)."""

    id: str
    size: int


@dataclass(frozen=True)
class Result:
    article: Article
    detection: Detection
    summary: Summary
    translations: dict[str, Translation]
    pivot: StageRecord | None = None
    output: str | None = None
    warnings: tuple[Flag, ...] = ()
    # The source headline in every target language (none without a headline).
    titles: dict[str, Translation] = field(default_factory=dict)
    story: StoryRef | None = None
    duplicate_of: str | None = None

    @property
    def all_cached(self) -> bool:
        """Every stage that computes something came from the cache (a declared language or a
        copied translation computes nothing)."""
        return all(r.cached for r in self.records().values() if r.engine != "none")

    def records(self) -> dict[str, StageRecord]:
        """Provenance keyed by stage name, in pipeline order."""
        out: dict[str, StageRecord] = {DETECT: self.detection.record}
        if self.pivot is not None:
            out[PIVOT] = self.pivot
        out[SUMMARIZE] = self.summary.record
        for target, tr in self.translations.items():
            out[stage_key(TRANSLATE, target)] = tr.record
        for target, tr in self.titles.items():
            out[stage_key(TITLE, target)] = tr.record
        return out


@dataclass(frozen=True)
class Placement:
    """Where a cluster computed an article: the node, its host and worker process, and the wave
    it was part of with that wave's time (the figures scaling estimates are made from)."""

    node: str
    host: str
    pid: int
    wave: int
    wave_seconds: float


@dataclass(frozen=True)
class SourceOutcome:
    """One line of the batch report."""

    id: str | None
    source: str
    status: Status
    output: str | None = None
    error: SourceError | None = None
    cached: bool = False
    reason: str | None = None  # why a file was skipped
    placement: Placement | None = None  # where a cluster computed it; None when local


@dataclass
class BatchReport:
    """What a run did: every source's outcome, in input order. Returned, never printed."""

    outcomes: list[SourceOutcome] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    output_dir: str | None = None
    warnings: list[str] = field(default_factory=list)
    # This batch's stories, and every live story of the output folder after it (what
    # stories.json holds): `documents.StoryDoc`s, read here as mappings (documents builds on
    # these types, never the other way round).
    stories: Sequence[Mapping[str, Any]] = field(default_factory=list)
    all_stories: Sequence[Mapping[str, Any]] = field(default_factory=list)
    # Why the stories step failed this batch (its results are kept all the same).
    stories_error: str | None = None
    # What embedded the new articles for the stories (its signature), or why nothing did.
    story_embedder: str | None = None
    # What this batch computed, by stage family (detect, pivot, summarize, translate, title,
    # story, check): nothing at all when every output came from the cache.
    computed: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No source failed (a skipped file is reported, not a failure)."""
        return all(o.status != "error" for o in self.outcomes)

    @property
    def skipped(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status == "error"]

    @property
    def succeeded(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status == "ok"]
