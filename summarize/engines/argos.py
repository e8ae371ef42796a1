"""The engine for Argos Translate packages, decoding as Argos decodes them, so a package gives
the same text here as in Argos or LibreTranslate.

Argos splits a paragraph into sentences, encodes each with the package's sentencepiece model,
translates them with CTranslate2 (beam 4, length penalty 0.2, unknown tokens replaced from
the source) and decodes the output pieces with sentencepiece, then turns every "▁" left into a
space: the target pieces are not all in the source sentencepiece model, so
`sentencepiece.decode` alone leaves "▁" marks in the text. The sentence splitter here is ours
(Argos uses stanza, which needs torch): sentence ends in Chinese and Japanese (。！？) split
without a following space, as stanza splits them; the translate stage has already split
sentences that end with a space.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.engines import Generation, output_limits
from summarize.errors import ModelLoadError

BEAM_SIZE = 4  # Argos: max(num_hypotheses, 4)
LENGTH_PENALTY = 0.2
MAX_BATCH = 32
_POSITIONS = re.compile(r"No position encodings are defined for positions >= (\d+)")
# A sentence end in CJK text: full-width marks and any closing quotes after them.
_CJK_END = re.compile(r"(?<=[。！？])(?![。！？」』”’）)])|(?<=[。！？][」』”’）)])")


def cjk_sentences(text: str) -> list[str]:
    """`text` split after each CJK sentence end (Latin text comes back whole)."""
    return [s.strip() for s in _CJK_END.split(text) if s.strip()]


def detokenize(pieces: Sequence[str], sp: Any = None) -> str:
    """Output pieces to text as Argos 1.11 does: sentencepiece joins the pieces it knows (byte
    fallback included), and every "▁" left, on pieces only the target side has, is a space."""
    joined = sp.decode_pieces(list(pieces)) if sp is not None else "".join(pieces)
    return str(joined).replace("▁", " ").strip()


class ArgosModel:
    engine = "argos"

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self._settings = settings
        self._translator: Any = None
        self._sp: Any = None
        self._vocab: frozenset[str] | None = None
        self._positions: int | None = None  # learnt from CTranslate2 when a sentence passes it
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        if self._translator is None:
            with self._lock:
                if self._translator is None:
                    import ctranslate2
                    import sentencepiece as spm

                    from summarize.engines.ct2 import (
                        compute_type_for,
                        device_for,
                        limit_malloc_arenas,
                    )

                    limit_malloc_arenas()
                    folder: Path = self.ref.path
                    try:
                        self._sp = spm.SentencePieceProcessor(
                            model_file=str(folder / "sentencepiece.model")
                        )
                        self._translator = ctranslate2.Translator(
                            str(folder / "model"),
                            device=device_for(self._settings),
                            compute_type=compute_type_for(self._settings),
                            intra_threads=self._settings.resolved_threads,
                            inter_threads=1,
                        )
                    except (RuntimeError, ValueError, OSError) as exc:
                        raise ModelLoadError(
                            f"model {self.ref.name}: the Argos package at {folder} cannot be "
                            f"loaded ({exc}); is it a complete .argosmodel?"
                        ) from exc
        return self._translator, self._sp

    def _translate(
        self, translator: Any, source: list[list[str]], params: Mapping[str, Any]
    ) -> tuple[list[Any], list[int]]:
        cap = None
        if self._positions is not None:  # room for </s> and the start token
            cap = self._positions - 1
            source = [s[:cap] for s in source]
        limits = output_limits(params, [len(s) + 1 for s in source], cap)
        results = translator.translate_batch(
            source,
            replace_unknowns=True,
            max_batch_size=MAX_BATCH,
            beam_size=max(int(params.get("num_beams", BEAM_SIZE) or BEAM_SIZE), 1),
            length_penalty=float(params.get("length_penalty", LENGTH_PENALTY)),
            max_decoding_length=max(limits),
            max_input_length=0,
        )
        return results, limits

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        _, sp = self._load()
        return [len(sp.encode(t)) + 1 for t in texts]  # and </s>

    def has_token(self, token: str) -> bool:
        if self._vocab is None:
            from summarize.engines.plain import _ct2_vocabulary

            self._vocab = frozenset(_ct2_vocabulary(self.ref.path / "model"))
        return token in self._vocab

    def generate(
        self,
        texts: Sequence[str],
        params: Mapping[str, Any],
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
    ) -> list[Generation]:
        if not texts:
            return []
        translator, sp = self._load()
        split = [cjk_sentences(t) or [t] for t in texts]
        sentences = [s for parts in split for s in parts]
        source = [sp.encode(s, out_type=str) for s in sentences]
        try:
            results, limits = self._translate(translator, source, params)
        except RuntimeError as exc:
            # A package says nothing of its model's positions; CTranslate2 names the limit
            # when a sentence passes it: learn it once, cut there (marked truncated), retry.
            found = _POSITIONS.search(str(exc))
            if found is None or self._positions is not None:
                raise
            self._positions = int(found.group(1))
            results, limits = self._translate(translator, source, params)
        outs = []
        for result, limit in zip(results, limits, strict=True):
            pieces = result.hypotheses[0]
            outs.append(Generation(detokenize(pieces[:limit], sp), len(pieces) >= limit))
        done: list[Generation] = []
        at = 0
        for parts in split:
            mine = outs[at : at + len(parts)]
            at += len(parts)
            text = " ".join(g.text for g in mine if g.text)
            done.append(Generation(text, any(g.truncated for g in mine)))
        return done
