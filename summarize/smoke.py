"""A smoke check a user runs once on downloaded models: does each one really work?

Each model translates or summarises a fixed input through the product's own stages, and the
result is judged by properties any working model shows and a broken one (a wrong revision, a
mis-converted checkpoint, a missing target token) does not: "The meeting is on Monday." in
French names *lundi*, in Arabic *الاثنين*; a summary is shorter than its input, in its
language, and not a loop. Random weights fail every check, as they should.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from summarize.catalog import Catalog, ModelRef
from summarize.config import Settings
from summarize.errors import SummarizeError
from summarize.types import Route

# The same sentence in the languages a pair model may translate from, and what its
# translation must contain in each target (any of the forms).
MEETING = {
    "en": "The meeting is on Monday.",
    "fr": "La réunion a lieu lundi.",
    "ar": "الاجتماع يوم الاثنين.",
    "de": "Das Treffen ist am Montag.",
    "es": "La reunión es el lunes.",
}
MONDAY = {
    "en": ("monday",),
    "fr": ("lundi",),
    "ar": ("الاثنين", "الإثنين"),
    "de": ("montag",),
    "es": ("lunes",),
}
MEETING_WORDS = {
    "en": ("meeting",),
    "fr": ("réunion", "rencontre", "séance"),
    "ar": ("اجتماع", "الاجتماع", "لقاء", "اللقاء"),
    "de": ("treffen", "sitzung", "besprechung", "versammlung"),
    "es": ("reunión", "encuentro"),
}
# A news report on a subject far from the project's sample articles (the tiny test models'
# vocabulary comes from those, so their gibberish shares few words with this), with the words
# any faithful summary of it names.
ARTICLE = (
    "Train drivers in Sweden began a three-day strike on Tuesday, halting most commuter "
    "services around Stockholm and Gothenburg. The drivers' union said talks with the national "
    "rail operator had broken down over working hours and pay, and that 4,200 of its members "
    "had walked out. Long queues formed at bus stops in the capital as commuters looked for "
    "other ways to reach work. The operator said it would run a reduced timetable on the "
    "busiest lines and urged passengers to check for updates before travelling. Ministers "
    "called on both sides to return to mediation, warning that freight deliveries to northern "
    "mines could be delayed if the strike continued beyond Thursday."
)
KEY_TERMS = ("strike", "sweden", "swedish", "train", "rail", "union", "stockholm", "drivers")
# A summary says what its article says: most of its longer words are the article's own.
MIN_SOURCE_WORDS = 0.6


@dataclass(frozen=True)
class ModelCheck:
    """One model's smoke check: what it was given, what it wrote, and the verdict."""

    name: str
    task: str
    probe: str
    output: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _arabic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("\u0600" <= c <= "\u06ff" for c in letters) / len(letters) if letters else 0.0


def translation_problems(target: str, output: str) -> list[str]:
    """What is wrong with a translation of MEETING into `target` (empty: nothing)."""
    problems = []
    if not output.strip():
        return ["the translation is empty"]
    wanted = MONDAY.get(target, ())
    if wanted and not any(w in output.lower() for w in wanted):
        problems.append(f"no {' / '.join(wanted)} for 'Monday' in the {target} translation")
    meeting = MEETING_WORDS.get(target, ())
    if meeting and not any(w in output.lower() for w in meeting):
        problems.append(f"no {' / '.join(meeting)} for 'meeting' in the {target} translation")
    if len(output.split()) > 3 * len(MEETING["en"].split()):
        problems.append(f"{len(output.split())} words for a sentence of 5: not a translation")
    if target == "ar" and _arabic_share(output) < 0.8:
        problems.append("the Arabic translation is not in Arabic script")
    if target != "ar" and _arabic_share(output) > 0.2:
        problems.append(f"the {target} translation is in Arabic script")
    return problems


def summary_problems(
    source: str, output: str, lang: str, detect: Callable[[str], tuple[str, float]]
) -> list[str]:
    """What is wrong with a summary of `source` (empty: nothing)."""
    from summarize.checks import check_degenerate

    if not output.strip():
        return ["the summary is empty"]
    problems = []
    if len(output) >= len(source):
        problems.append(f"the summary ({len(output)} chars) is not shorter than its input")
    code, confidence = detect(output)
    if code != lang:
        problems.append(f"the summary reads as {code!r} ({confidence:.2f}), not {lang!r}")
    problems += [f.message for f in check_degenerate(output, "summarize", source)]
    if lang == "en":
        problems += content_problems(source, output)
    return problems


def content_problems(source: str, output: str) -> list[str]:
    """What a working summariser of ARTICLE must do and random weights cannot, on any CPU:
    use the article's own words, and name what it is about."""
    import re

    words = re.compile(r"[^\W\d_]{4,}")
    own = {w.casefold() for w in words.findall(source)}
    found = [w.casefold() for w in words.findall(output)]
    problems = []
    share = sum(w in own for w in found) / len(found) if found else 0.0
    if share < MIN_SOURCE_WORDS:
        problems.append(
            f"only {share:.0%} of the summary's words are the article's (a summary of it uses "
            f"at least {MIN_SOURCE_WORDS:.0%}): the model does not read its input"
        )
    named = {t for t in KEY_TERMS if t in found}
    if len(named) < 2:
        problems.append(
            f"the summary names {len(named)} of what the article is about "
            f"({', '.join(KEY_TERMS)}; a working model names at least 2)"
        )
    return problems


def _pairs(ref: ModelRef) -> list[tuple[str, str]]:
    if ref.entry.any_to_any:
        return [("en", t) for t in ("fr", "ar") if ref.entry.covers_pair("en", t)]
    return [tuple(p.split("-", 1)) for p in ref.entry.pairs if p.split("-")[0] in MEETING]  # type: ignore[misc]


def check_model(ref: ModelRef, settings: Settings) -> list[ModelCheck]:
    """Run one model on its fixed inputs; one result per language pair (or one summary)."""
    from summarize.detect import get_detector
    from summarize.summarise import Seq2SeqSummarizer
    from summarize.translate import ModelTranslator

    if not ref.present:
        return [
            ModelCheck(
                ref.name,
                ref.entry.task,
                "",
                "",
                False,
                [f"not downloaded; run `summarize models download {ref.name}`"],
            )
        ]
    out: list[ModelCheck] = []
    if ref.entry.task == "entailment":
        return [_check_entailment(ref, settings)]
    if ref.entry.task == "embedding":
        return [_check_embedding(ref, settings)]
    if ref.entry.task == "summarization":
        lang = (
            "en"
            if "en" in ref.entry.languages or not ref.entry.languages
            else ref.entry.languages[0]
        )
        start = time.perf_counter()
        try:
            [summary] = Seq2SeqSummarizer(ref, settings).summarize([ARTICLE])
            text, problems = (
                summary.text,
                summary_problems(ARTICLE, summary.text, lang, get_detector(settings).detect),
            )
        except SummarizeError as exc:
            text, problems = "", [str(exc)]
        passed = not problems
        out.append(
            ModelCheck(
                ref.name,
                "summarization",
                ARTICLE[:60] + "...",
                text,
                passed,
                problems,
                round(time.perf_counter() - start, 2),
            )
        )
        return out
    for src, tgt in _pairs(ref):
        start = time.perf_counter()
        route: Route = "fallback" if ref.entry.any_to_any else "direct"
        try:
            [gen] = ModelTranslator(ref, settings, src, tgt, route).translate([MEETING[src]])
            text, problems = gen.text, translation_problems(tgt, gen.text)
        except SummarizeError as exc:
            text, problems = "", [str(exc)]
        out.append(
            ModelCheck(
                f"{ref.name} ({src}->{tgt})",
                "translation",
                MEETING[src],
                text,
                not problems,
                problems,
                round(time.perf_counter() - start, 2),
            )
        )
    if not out:
        out.append(
            ModelCheck(
                ref.name,
                "translation",
                "",
                "",
                False,
                ["no language pair this check knows (en, fr, ar, de, es sources)"],
            )
        )
    return out


def check_models(
    catalog: Catalog, settings: Settings, names: Sequence[str] = ()
) -> list[ModelCheck]:
    """Smoke-check the named catalogue models, or every downloaded one and every model the
    settings name by folder, Argos package or hub id (each pair it is named for)."""
    from summarize.plan import configured_models

    if names:
        refs = [catalog.ref(n) for n in names]
    else:
        refs = [catalog.ref(n) for n in catalog.entries if catalog.ref(n).present]
        refs += configured_models(settings, catalog)
    return [check for ref in refs for check in check_model(ref, settings)]


def _contrast(
    ref: ModelRef,
    task: str,
    probe: str,
    measure: Callable[[], tuple[float, float]],
    said: str,
    wrong: str,
) -> ModelCheck:
    """A check that a model scores the matching pair above the mismatched one: `measure`
    gives (matching, mismatched); `said` and `wrong` are formatted with them."""
    start = time.perf_counter()
    try:
        same, other = measure()
        output = said.format(same=same, other=other)
        problems = [] if same > other else [wrong.format(same=same, other=other)]
    except (SummarizeError, OSError, ValueError) as exc:
        output, problems = "", [str(exc)]
    return ModelCheck(
        ref.name,
        task,
        probe,
        output,
        not problems,
        problems,
        round(time.perf_counter() - start, 2),
    )


def _check_embedding(ref: ModelRef, settings: Settings) -> ModelCheck:
    """A multilingual encoder must put a sentence and its French translation closer together
    than the sentence and an unrelated one (what stories across languages rely on)."""
    from summarize.engines.encoder import CTranslate2Encoder

    texts = [MEETING["en"], MEETING["fr"], "Floods swept through the valley overnight."]

    def measure() -> tuple[float, float]:
        rows = CTranslate2Encoder(ref, settings).embed(texts)
        return float(rows[0] @ rows[1]), float(rows[0] @ rows[2])

    return _contrast(
        ref,
        "embedding",
        texts[0],
        measure,
        "cosine with its translation {same:.2f}, with another sentence {other:.2f}",
        "its translation ({same:.2f}) is no closer than an unrelated sentence ({other:.2f})",
    )


def _check_entailment(ref: ModelRef, settings: Settings) -> ModelCheck:
    """An NLI model must find a sentence supported by itself and not by its negation."""
    from summarize.checks.entailment import EntailmentChecker

    premise = MEETING["en"]

    def measure() -> tuple[float, float]:
        checker = EntailmentChecker(ref.path, settings.entailment_threshold, settings.threads)
        [(_, same)] = checker.support(premise, premise)
        [(_, other)] = checker.support(premise, "The meeting is not on Monday.")
        return same, other

    return _contrast(
        ref,
        "entailment",
        premise,
        measure,
        "support of itself {same:.2f}, of a negation {other:.2f}",
        "supports its negation ({other:.2f}) over itself",
    )
