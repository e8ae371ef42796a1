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

from collections.abc import Iterable
from dataclasses import dataclass, field

from summarize.catalog import Catalog, ModelRef, resolve
from summarize.config import Settings
from summarize.errors import ModelNotAvailable, SummarizeError
from summarize.summarise import Seq2SeqSummarizer, SummaryPlan, choose_summarizer
from summarize.translate import PivotTranslator, Router, Translator


def models_of(translator: Translator) -> list[ModelRef]:
    """The models a translator runs (none for a copy)."""
    from summarize.translate import ModelTranslator

    if isinstance(translator, ModelTranslator):
        return [translator.ref]
    if isinstance(translator, PivotTranslator):
        return models_of(translator.first) + models_of(translator.second)
    return []


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

    def __post_init__(self) -> None:
        self.router = Router(self.settings, self.catalog)
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
