"""The transformers engine: `AutoModelForSeq2SeqLM` from safetensors, batched greedy/beam search."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.engines import token_batches
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
            model = AutoModelForSeq2SeqLM.from_pretrained(
                str(self.ref.path), use_safetensors=True, local_files_only=True
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

    def generate(
        self,
        texts: Sequence[str],
        params: Mapping[str, Any],
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
    ) -> list[str]:
        """Generate for every text, in length-sorted batches bounded by a token budget."""
        if not texts:
            return []
        import torch

        model = self._ensure_model()
        tok = self.tokenizer
        kwargs = dict(params)
        target = self.language_token(src_lang, tgt_lang)
        if target is not None:
            kwargs["forced_bos_token_id"] = tok.convert_tokens_to_ids(target)
        lengths = self.count_tokens(texts)
        beams = int(kwargs.get("num_beams", 1) or 1)
        out: list[str] = [""] * len(texts)
        for batch in token_batches(lengths, self._settings.max_batch_tokens // beams):
            enc = tok(
                [texts[i] for i in batch], return_tensors="pt", padding=True, truncation=False
            )
            enc = {k: v.to(self._device) for k, v in enc.items()}
            with torch.inference_mode():
                generated = model.generate(**enc, **kwargs)
            decoded = tok.batch_decode(generated, skip_special_tokens=True)
            for i, text in zip(batch, decoded, strict=True):
                out[i] = text.strip()
        return out
