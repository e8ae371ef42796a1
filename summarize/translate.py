"""Translate: summaries (and pivot inputs) into each target language.

Routes, in order of preference: a pair model (Marian opus-mt) for the pair; a pivot through
English composed of two pair models; an any-to-any fallback (M2M100). A target equal to the
source language is copied. Text is split into sentences (Arabic punctuation included),
identical sentences are translated once, all in length-sorted batches, then rejoined.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

from summarize.catalog import Catalog, ModelRef, resolve
from summarize.config import Settings
from summarize.engines import (
    Generation,
    Seq2SeqModel,
    describe,
    effective_generation,
    get_model,
    max_input_tokens,
)
from summarize.errors import LanguageError
from summarize.text import join_sentences, pack, sentences_by_paragraph
from summarize.types import Route

# Marian multi-target models name their targets with ISO 639-3 codes (>>ara<<).
ISO3 = {
    "ar": "ara",
    "de": "deu",
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "it": "ita",
    "nl": "nld",
    "pt": "por",
    "ru": "rus",
    "tr": "tur",
    "zh": "zho",
    "fa": "pes",
    "he": "heb",
    "ur": "urd",
}


class Translator(Protocol):
    src: str
    tgt: str
    route: Route

    def info(self) -> dict[str, Any]: ...

    def translate(self, texts: Sequence[str]) -> list[Generation]: ...


class ModelTranslator:
    """One model translating src -> tgt: a pair model (direct) or an any-to-any one (fallback)."""

    def __init__(self, ref: ModelRef, settings: Settings, src: str, tgt: str, route: Route) -> None:
        self.ref = ref
        self.settings = settings
        self.src = src
        self.tgt = tgt
        self.route: Route = route
        self.params = effective_generation(ref, "translation", settings.translation_generation)
        self.max_input = max_input_tokens(ref)

    @cached_property
    def model(self) -> Seq2SeqModel:
        return get_model(self.ref, self.settings)

    @cached_property
    def target_token(self) -> str:
        """The token a multi-target Marian model needs before each sentence (`>>ara<<`)."""
        token = self.ref.entry.target_tokens.get(self.tgt)
        if token:
            return token
        if self.ref.entry.lang_codes or self.ref.origin == "catalog":
            return ""
        for candidate in (f">>{ISO3.get(self.tgt, self.tgt)}<<", f">>{self.tgt}<<"):
            if self.model.has_token(candidate):
                return candidate
        return ""

    def info(self) -> dict[str, Any]:
        return describe(
            self.ref,
            self.settings,
            self.params,
            {
                "stage": "translate.v1",
                "src": self.src,
                "tgt": self.tgt,
                "target_token": self.ref.entry.target_tokens.get(self.tgt, "auto"),
                "max_input_tokens": self.max_input,
                "segmentation": "sentences.v1",
            },
        )

    def translate(self, texts: Sequence[str]) -> list[Generation]:
        if not texts:
            return []
        structure = [sentences_by_paragraph(t) for t in texts]
        unique = list(dict.fromkeys(s for doc in structure for para in doc for s in para))
        prefix = f"{self.target_token} " if self.target_token else ""
        budget = self.max_input - self.model.count_tokens([prefix])[0]
        counts = self.model.count_tokens(unique)
        # A sentence too long for the model is cut at word boundaries, each part translated.
        parts = {
            s: (pack([s], self.model.count_tokens, budget) if n > budget else [s])
            for s, n in zip(unique, counts, strict=True)
        }
        pieces = list(dict.fromkeys(p for ps in parts.values() for p in ps))
        outs = self.model.generate(
            [prefix + p for p in pieces], self.params, src_lang=self.src, tgt_lang=self.tgt
        )
        done = dict(zip(pieces, outs, strict=True))
        translated = {s: " ".join(done[p].text for p in ps) for s, ps in parts.items()}
        cut = {s for s, ps in parts.items() if any(done[p].truncated for p in ps)}
        return [
            Generation(
                join_sentences([[translated[s] for s in para] for para in doc]),
                any(s in cut for para in doc for s in para),
            )
            for doc in structure
        ]


class PivotTranslator:
    """src -> pivot -> tgt, composed of two translators."""

    route: Route = "pivot"

    def __init__(self, first: Translator, second: Translator) -> None:
        self.first = first
        self.second = second
        self.src = first.src
        self.tgt = second.tgt

    def info(self) -> dict[str, Any]:
        a, b = self.first.info(), self.second.info()
        return {
            "model": f"{a['model']} + {b['model']}",
            "revision": f"{a['revision']} + {b['revision']}",
            "engine": a["engine"],
            "engine_version": a.get("engine_version", ""),
            "device": a.get("device", ""),
            "settings": {"pivot": self.first.tgt, "steps": [a, b]},
        }

    def translate(self, texts: Sequence[str]) -> list[Generation]:
        first = self.first.translate(texts)
        second = self.second.translate([g.text for g in first])
        return [
            Generation(b.text, a.truncated or b.truncated)
            for a, b in zip(first, second, strict=True)
        ]


class CopyTranslator:
    """A target equal to the source language: the text itself."""

    route: Route = "copy"

    def __init__(self, lang: str) -> None:
        self.src = self.tgt = lang

    def info(self) -> dict[str, Any]:
        return {"model": "copy", "revision": "", "engine": "none", "settings": {"stage": "copy.v1"}}

    def translate(self, texts: Sequence[str]) -> list[Generation]:
        return [Generation(t) for t in texts]


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
        from pathlib import Path

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
                shown = sorted(offered)
                listing = ", ".join(shown[:40]) + (
                    f", ... ({len(shown)} in all)" if len(shown) > 40 else ""
                )
                raise LanguageError(
                    f"target {target!r}: no configured translation model translates into it; "
                    f"they offer: {listing}. Choose one of those, or name a model that "
                    "translates into it (--translator SRC-TGT=NAME|PATH, or '*=NAME|PATH')"
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

    def models(self, translator: Translator) -> list[ModelRef]:
        if isinstance(translator, ModelTranslator):
            return [translator.ref]
        if isinstance(translator, PivotTranslator):
            return self.models(translator.first) + self.models(translator.second)
        return []
