"""The CTranslate2 engine (the default): the same models, converted once to int8 (CPU) or
float16 kinds (GPU), run without torch or transformers.

A model's converted folder is `models/<name>-ct2-<compute type>/`; if the source model is on disk
and the folder is not, it is converted once, here (conversion alone needs torch), and recorded.
Text becomes tokens through `engines/plain.py` (tokenizers, sentencepiece). Generation settings are
translated from transformers' names: `max_length` counts the decoder's start token there, so
CTranslate2 decodes `max_length - 1` tokens; a forced first token (BART's `<s>`, M2M100's target
language) becomes a target prefix. Inputs are never truncated (`max_input_length=0`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from summarize.catalog import ModelRef, is_complete
from summarize.config import Settings
from summarize.engines import Generation, decoder_positions, output_limits
from summarize.engines.plain import TokenStrings
from summarize.engines.tokens import TokenizerMixin
from summarize.errors import ModelLoadError

CPU_DEFAULT = "int8"
GPU_DEFAULT = "int8_float16"


_ARENAS_SET = False


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas, once per process, before CTranslate2 starts its threads.

    Each thread that allocates under contention gets its own arena, and freed activation
    buffers stay spread over them: with the default (8 per core) a CPU run of the default models
    peaked about 70 MB higher at the same speed (bench/pipeline.py). A user's own
    MALLOC_ARENA_MAX wins; elsewhere than glibc this does nothing."""
    global _ARENAS_SET
    import os
    import sys

    if _ARENAS_SET or "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    _ARENAS_SET = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def release_memory() -> bool:
    """Give the heap's free pages back to the system (glibc `malloc_trim`), after a batch.

    A long-lived process (serve, watch, a Ray worker) otherwise keeps each batch's freed
    activation and decoding buffers resident and, fragmented, grows its peak batch after batch:
    four runs of the default models' shapes in one process grew from 1285 to 1448 MB at peak
    (resident 1324 MB), and with a trim after each run stayed at 1362 MB (resident 1215 MB).
    False where there is no glibc."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import gc

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def cuda_available() -> bool:
    try:
        import ctranslate2
    except ImportError:
        return False
    return bool(ctranslate2.get_cuda_device_count() > 0)


def device_for(settings: Settings) -> str:
    if settings.device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return settings.device


def compute_type_for(settings: Settings) -> str:
    if settings.compute_type != "auto":
        return settings.compute_type
    return GPU_DEFAULT if device_for(settings) == "cuda" else CPU_DEFAULT


def converted_ref(ref: ModelRef, settings: Settings) -> ModelRef:
    from dataclasses import replace

    from summarize.convert import converted_path

    return replace(
        ref, path=converted_path(settings.models_dir, ref.name, compute_type_for(settings))
    )


def is_converted(ref: ModelRef, settings: Settings) -> bool:
    path = converted_ref(ref, settings).path
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


class _TransformersTokens:
    """The transformers tokenizer behind the `TokenStrings` interface: the fallback for a
    folder `plain.py` does not handle (NLLB), which then imports transformers."""

    def __init__(self, owner: TokenizerMixin) -> None:
        self._owner = owner
        tok = owner.tokenizer
        self.eos_token = str(tok.eos_token or tok.unk_token)

    def encode(self, texts: Sequence[str], src_lang: str | None = None) -> list[list[str]]:
        tok = self._owner.tokenizer
        if src_lang:
            self._owner.language_token(src_lang, src_lang)  # sets the source language
        ids = tok(list(texts), truncation=False)["input_ids"]
        return [list(tok.convert_ids_to_tokens(x)) for x in ids]

    def decode(self, tokens: Sequence[str]) -> str:
        tok = self._owner.tokenizer
        return str(tok.decode(tok.convert_tokens_to_ids(list(tokens)), skip_special_tokens=True))

    def has_token(self, token: str) -> bool:
        return self._owner.has_token(token)

    def lang_token(self, lang: str) -> str | None:
        return None


class CTranslate2Model(TokenizerMixin):
    engine = "ctranslate2"

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self._settings = settings
        self._translator: Any = None
        self._tokenizer: Any = None
        self._tokens: TokenStrings | None = None
        self._lock = threading.RLock()  # _load (under the lock) reads the tokenizer

    # -- loading ---------------------------------------------------------------

    def _folder(self) -> Path:
        """The converted folder, converting the downloaded model once if needed."""
        from summarize.convert import convert

        target = converted_ref(self.ref, self._settings)
        if not is_converted(self.ref, self._settings):
            if not is_complete(self.ref.path):
                raise ModelLoadError(
                    f"model {self.ref.name}: no CTranslate2 copy at {target.path} and no source "
                    f"model to convert; run `summarize models download {self.ref.name}`"
                )
            convert(self.ref, self._settings.models_dir, compute_type_for(self._settings))
        return target.path

    @property
    def tokens(self) -> TokenStrings:
        """Token strings in and out: torch-free where `plain.py` knows the model."""
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    self._tokens = self._load_tokens()
        return self._tokens

    def _load_tokens(self) -> TokenStrings:
        from summarize.catalog import read_json
        from summarize.engines.plain import plain_tokenizer

        folder = self._folder()
        model_type = str(read_json(self.ref.path / "config.json").get("model_type", ""))
        plain = plain_tokenizer(folder, model_type, self.ref.entry.lang_codes)
        return plain if plain is not None else _TransformersTokens(self)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in self.tokens.encode(texts)] if texts else []

    def has_token(self, token: str) -> bool:
        return self.tokens.has_token(token)

    def _ensure(self) -> Any:
        if self._translator is None:
            folder = self._folder()
            with self._lock:
                if self._translator is None:
                    self._translator = self._load(folder)
        return self._translator

    def _load(self, folder: Path) -> Any:
        """One clear error, raised before any article, when CTranslate2 cannot run here."""
        import ctranslate2

        device = device_for(self._settings)
        limit_malloc_arenas()
        try:
            translator = ctranslate2.Translator(
                str(folder),
                device=device,
                compute_type=compute_type_for(self._settings),
                intra_threads=self._settings.resolved_threads,
                inter_threads=1,
            )
            # GPU libraries (cuBLAS) load at the first matrix product, and a one-token input
            # may not need one: run a small batch now, so a broken setup fails here, once.
            probe = self.tokens.eos_token
            translator.translate_batch(
                [[probe] * 16] * 4, max_decoding_length=4, max_input_length=0, beam_size=2
            )
            return translator
        except (RuntimeError, ValueError) as exc:
            hint = (
                "install the CUDA 12 runtime libraries CTranslate2 is built for (e.g. pip "
                "install nvidia-cublas-cu12), or run with --device cpu"
                if device == "cuda"
                else "check --compute-type, or use --engine transformers"
            )
            raise ModelLoadError(
                f"model {self.ref.name}: CTranslate2 cannot run it on {device} ({exc}); {hint}"
            ) from exc

    # -- generation ------------------------------------------------------------

    def _prefix(self, tgt_lang: str | None) -> list[str] | None:
        """What transformers forces as the first output tokens becomes a target prefix."""
        if self.ref.entry.lang_codes and tgt_lang:
            token = self.tokens.lang_token(tgt_lang) or self.language_token("en", tgt_lang)
            return [token] if token else None
        return [self._forced_first] if self._forced_first is not None else None

    @cached_property
    def _forced_first(self) -> str | None:
        """The forced first token (BART's `<s>`) as the token string CTranslate2 knows, looked
        up once: the converted vocabulary is tens of thousands of entries."""
        from summarize.engines.plain import _ct2_vocabulary

        token_id = self._forced("forced_bos_token_id")
        if token_id is None:
            return None
        vocabulary = _ct2_vocabulary(self._folder())
        if 0 <= token_id < len(vocabulary):
            return vocabulary[token_id]
        return str(self.tokenizer.convert_ids_to_tokens(token_id))

    @cached_property
    def _forced_last(self) -> bool:
        return self._forced("forced_eos_token_id") is not None

    @cached_property
    def _positions(self) -> int | None:
        return decoder_positions(self.ref)

    def _forced(self, key: str) -> int | None:
        """BART forces `<s>` first and `</s>` at the length limit; read from the model's own
        generation config (else config.json), as transformers does."""
        from summarize.catalog import read_json

        for name in ("generation_config.json", "config.json"):
            value = read_json(self.ref.path / name).get(key)
            if isinstance(value, int):
                return value
        return None

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
        translator = self._ensure()
        prefix = self._prefix(tgt_lang)
        source = self.tokens.encode(texts, src_lang=src_lang)
        beams = int(params.get("num_beams", 1) or 1)
        # CTranslate2 counts a target prefix in its length and does not force a final </s>,
        # where transformers keeps the last position for one.
        limits = [
            n - (1 if self._forced_last else 0)
            for n in output_limits(params, [len(s) for s in source], self._positions)
        ]
        min_len = max(0, int(params.get("min_length", 0)) - 1)
        if "min_new_tokens" in params:
            min_len = int(params["min_new_tokens"])
        results = translator.translate_batch(
            source,
            target_prefix=[prefix] * len(source) if prefix else None,
            max_batch_size=max(1, self._settings.max_batch_tokens // beams),
            batch_type="tokens",
            beam_size=beams,
            length_penalty=float(params.get("length_penalty", 1.0)),
            repetition_penalty=float(params.get("repetition_penalty", 1.0)),
            no_repeat_ngram_size=int(params.get("no_repeat_ngram_size", 0) or 0),
            max_decoding_length=max(limits),
            min_decoding_length=min_len,
            max_input_length=0,
        )
        out = []
        for result, limit in zip(results, limits, strict=True):
            hypothesis = result.hypotheses[0]
            truncated = len(hypothesis) >= limit
            out.append(Generation(self.tokens.decode(hypothesis[:limit]).strip(), truncated))
        return out
