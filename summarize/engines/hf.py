"""The transformers engine: `AutoModelForSeq2SeqLM` from safetensors, batched greedy/beam search."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.engines import Generation, decoder_positions, output_limits, token_batches
from summarize.engines.tokens import TokenizerMixin
from summarize.errors import ModelLoadError

_THREADS_SET = False


def _set_threads(n: int) -> None:
    """Set torch's intra-op pool once per process: several models share one pool, never compete."""
    global _THREADS_SET
    import torch

    if not _THREADS_SET:
        torch.set_num_threads(n)
        _THREADS_SET = True


class TransformersModel(TokenizerMixin):
    engine = "transformers"

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self._settings = settings
        self._tokenizer: Any = None
        self._model: Any = None
        self._device = "cpu"
        self._lock = threading.RLock()

    # -- loading ---------------------------------------------------------------

    def _ensure_model(self) -> Any:
        if self._model is None:
            self.tokenizer  # noqa: B018 - load (and check) the folder before the weights
            with self._lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        import torch
        from transformers import AutoModelForSeq2SeqLM

        _set_threads(self._settings.resolved_threads)
        device = self._settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            # float32 on CPU: some checkpoints are stored as float16 (the tc-big Marians).
            model = AutoModelForSeq2SeqLM.from_pretrained(
                str(self.ref.path),
                use_safetensors=True,
                local_files_only=True,
                dtype=torch.float32 if device == "cpu" else "auto",
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"model {self.ref.name}: cannot load {self.ref.path} ({exc})"
            ) from exc
        model.eval()
        self._device = device
        try:
            return model.to(device)
        except (RuntimeError, AssertionError) as exc:  # no usable CUDA, out of memory
            raise ModelLoadError(
                f"model {self.ref.name}: cannot run on {device} ({exc}); use --device cpu"
            ) from exc

    # -- generation ------------------------------------------------------------

    @cached_property
    def _positions(self) -> int | None:
        return decoder_positions(self.ref)

    def generate(
        self,
        texts: Sequence[str],
        params: Mapping[str, Any],
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
    ) -> list[Generation]:
        """Generate for every text, in length-sorted batches bounded by a token budget; each
        output is held to its own length limit (see `output_limits`)."""
        if not texts:
            return []
        import torch

        from summarize.engines import LENGTH_FROM_INPUT

        model = self._ensure_model()
        tok = self.tokenizer
        kwargs = {k: v for k, v in params.items() if k not in (LENGTH_FROM_INPUT, "max_length")}
        target = self.language_token(src_lang, tgt_lang)
        forced_lang = None
        if target is not None:
            # M2M100's decode keeps its language tokens: the forced one is dropped here.
            forced_lang = kwargs["forced_bos_token_id"] = tok.convert_tokens_to_ids(target)
        lengths = self.count_tokens(texts)
        limits = output_limits(params, lengths, self._positions)
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        beams = int(kwargs.get("num_beams", 1) or 1)
        out: list[Generation] = [Generation("")] * len(texts)
        for batch in token_batches(lengths, self._settings.max_batch_tokens // beams):
            enc = tok(
                [texts[i] for i in batch], return_tensors="pt", padding=True, truncation=False
            )
            enc = {k: v.to(self._device) for k, v in enc.items()}
            kwargs["max_new_tokens"] = max(limits[i] for i in batch)
            with torch.inference_mode():
                generated = model.generate(**enc, **kwargs)
            for i, row in zip(batch, generated.tolist(), strict=True):
                new = row[1:]  # after the decoder's start token
                end = next((k for k, t in enumerate(new) if t in eos_ids), None)
                used = len(new) if end is None else end + 1
                truncated = used >= limits[i]
                kept = new[: min(used, limits[i])]
                if forced_lang is not None and kept[:1] == [forced_lang]:
                    kept = kept[1:]
                text = tok.decode(kept, skip_special_tokens=True)
                out[i] = Generation(text.strip(), truncated)
        return out
