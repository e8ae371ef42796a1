"""The CTranslate2 engine: the same models, converted (`summarize models convert`), run by
CTranslate2 with int8 (CPU) or float16 (GPU) weights.

A model's converted folder is `models/<name>-ct2-<compute type>/`; if the source model is on disk
and the folder is not, it is converted once, here, and recorded. Generation settings are
translated from transformers' names: `max_length` counts the decoder's start token there, so
CTranslate2 decodes `max_length - 1` tokens; a forced first token (BART's `<s>`, M2M100's target
language) becomes a target prefix. Inputs are never truncated (`max_input_length=0`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from summarize.catalog import ModelRef, is_complete
from summarize.config import Settings
from summarize.engines.tokens import TokenizerMixin
from summarize.errors import ModelLoadError

CPU_DEFAULT = "int8"
GPU_DEFAULT = "int8_float16"


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


class CTranslate2Model(TokenizerMixin):
    engine = "ctranslate2"

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self._settings = settings
        self._translator: Any = None
        self._tokenizer: Any = None
        self._lock = threading.RLock()  # _load (under the lock) reads the tokenizer

    # -- loading ---------------------------------------------------------------

    def _folder(self) -> Any:
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

    def _ensure(self) -> Any:
        if self._translator is None:
            folder = self._folder()
            with self._lock:
                if self._translator is None:
                    self._translator = self._load(folder)
        return self._translator

    def _load(self, folder: Any) -> Any:
        """One clear error, raised before any article, when CTranslate2 cannot run here."""
        import ctranslate2

        device = device_for(self._settings)
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
            probe = self.tokenizer.eos_token or self.tokenizer.unk_token
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

    def _prefix(self, src_lang: str | None, tgt_lang: str | None) -> list[str] | None:
        """What transformers forces as the first output tokens becomes a target prefix."""
        target = self.language_token(src_lang, tgt_lang)
        if target is not None:
            return [target]
        forced = self._forced("forced_bos_token_id")
        if forced is not None:
            return [self.tokenizer.convert_ids_to_tokens(forced)]
        return None

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
    ) -> list[str]:
        if not texts:
            return []
        translator = self._ensure()
        tok = self.tokenizer
        prefix = self._prefix(src_lang, tgt_lang)
        source = [
            tok.convert_ids_to_tokens(ids)
            for ids in tok(list(texts), truncation=False)["input_ids"]
        ]
        beams = int(params.get("num_beams", 1) or 1)
        if "max_new_tokens" in params:
            max_len = int(params["max_new_tokens"])
        else:
            max_len = int(params.get("max_length", 256)) - 1
        # transformers keeps the last position for a forced </s>; CTranslate2 does not force one.
        if self._forced("forced_eos_token_id") is not None:
            max_len -= 1
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
            max_decoding_length=max_len,
            min_decoding_length=min_len,
            max_input_length=0,
        )
        out = []
        for result in results:
            ids = tok.convert_tokens_to_ids(result.hypotheses[0])
            out.append(tok.decode(ids, skip_special_tokens=True).strip())
        return out
