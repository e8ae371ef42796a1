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

from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.engines import (
    Generation,
    Seq2SeqModel,
    describe,
    effective_generation,
    get_model,
    max_input_tokens,
)
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
