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
ARTICLE = (
    "Police chiefs from 196 countries opened the annual INTERPOL General Assembly in "
    "Marrakech on Monday. Over four days, delegates will discuss cybercrime, financial fraud "
    "and the trafficking of people and drugs, and will elect new members of the organisation's "
    "executive committee. The Secretary General told the assembly that criminal networks now "
    "operate across borders faster than ever, and that police forces must share information "
    "in real time to keep up. Morocco, which hosts the meeting for the second time, said it "
    "would propose a regional training centre for investigators. The assembly ends on Thursday "
    "with the adoption of resolutions."
)


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
    """Smoke-check the named catalogue models, or every downloaded one."""
    refs = (
        [catalog.ref(n) for n in names]
        if names
        else [catalog.ref(n) for n in catalog.entries if catalog.ref(n).present]
    )
    return [check for ref in refs for check in check_model(ref, settings)]


def _check_entailment(ref: ModelRef, settings: Settings) -> ModelCheck:
    """An NLI model must find a sentence supported by itself and not by its negation."""
    from summarize.checks.entailment import EntailmentChecker

    start = time.perf_counter()
    premise = MEETING["en"]
    negated = "The meeting is not on Monday."
    try:
        checker = EntailmentChecker(ref.path, settings.entailment_threshold, settings.threads)
        [(_, same)] = checker.support(premise, premise)
        [(_, other)] = checker.support(premise, negated)
        problems = [] if same > other else [f"supports its negation ({other:.2f}) over itself"]
        output = f"support of itself {same:.2f}, of a negation {other:.2f}"
    except (SummarizeError, OSError, ValueError) as exc:
        output, problems = "", [str(exc)]
    return ModelCheck(
        ref.name,
        "entailment",
        premise,
        output,
        not problems,
        problems,
        round(time.perf_counter() - start, 2),
    )
