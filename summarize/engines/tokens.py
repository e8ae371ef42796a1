"""Tokenizers, shared by every engine: the model folder's own, loaded once, lazily."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from summarize.catalog import ModelRef, check_loadable
from summarize.errors import ModelLoadError

# M2M100's 100 languages, as its tokenizer has them (`__pt__`): fairseq's list, the same as
# transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"], copied so that checking a target needs no
# transformers import (a CTranslate2 run imports neither torch nor transformers).
M2M100_CODES = frozenset(
    """af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu
    ha he hi hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr
    ms my ne nl no ns oc or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk
    ur uz vi wo xh yi yo zh zu""".split()  # noqa: SIM905 (a list of 100 would be 100 lines)
)

# NLLB uses FLORES-200 codes; the catalogue lists ISO 639-1 codes.
NLLB_CODES = {
    "ar": "arb_Arab",
    "de": "deu_Latn",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "it": "ita_Latn",
    "nl": "nld_Latn",
    "pt": "por_Latn",
    "ru": "rus_Cyrl",
    "tr": "tur_Latn",
    "zh": "zho_Hans",
}


def quiet_transformers() -> None:
    """Our progress bar and errors speak for us; silence transformers' own bars and warnings."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


class TokenizerMixin:
    """`tokenizer`, `count_tokens` and `has_token` for an engine with a `ref`."""

    ref: ModelRef
    _tokenizer: Any = None
    _lock: threading.RLock

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def _load_tokenizer(self) -> Any:
        check_loadable(self.ref)
        quiet_transformers()
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(self.ref.path), local_files_only=True)
        except (OSError, ValueError, ImportError) as exc:
            raise ModelLoadError(
                f"model {self.ref.name}: tokenizer in {self.ref.path} cannot be loaded ({exc})"
            ) from exc

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def has_token(self, token: str) -> bool:
        return token in self.tokenizer.get_vocab()

    def language_token(self, src_lang: str | None, tgt_lang: str | None) -> str | None:
        """For multilingual models (M2M100, NLLB): set the tokenizer's source language and
        return the token that must start the output in the target language."""
        codes = self.ref.entry.lang_codes
        if not (codes and src_lang and tgt_lang):
            return None
        tok = self.tokenizer
        if codes == "nllb":
            tok.src_lang = NLLB_CODES.get(src_lang, src_lang)
            return NLLB_CODES.get(tgt_lang, tgt_lang)
        tok.src_lang = src_lang
        return str(tok.get_lang_token(tgt_lang))
