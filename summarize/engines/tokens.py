"""Tokenizers, shared by every engine: the model folder's own, loaded once, lazily."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from summarize.catalog import ModelRef, check_loadable
from summarize.errors import ModelLoadError


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
