"""Summarise: a seq2seq model writes an abstractive summary, chunking what is too long.

An article longer than the model's input is split on sentence boundaries into token-bounded
chunks; each chunk is summarised and the chunk summaries are summarised again (repeatedly if
needed). Nothing is truncated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from summarize.catalog import ModelRef
from summarize.config import Settings
from summarize.engines import (
    Seq2SeqModel,
    describe,
    effective_generation,
    get_model,
    max_input_tokens,
)
from summarize.errors import GenerationError
from summarize.text import pack, sentences_by_paragraph

MAX_LEVELS = 6


@dataclass(frozen=True)
class SummaryOut:
    text: str
    chunks: int
    truncated: bool = False  # some generation behind it stopped at its length limit


class Summarizer(Protocol):
    def info(self) -> dict[str, Any]: ...

    def summarize(self, texts: Sequence[str]) -> list[SummaryOut]: ...


class Seq2SeqSummarizer:
    """A summariser backed by any engine; chunked summarisation is built in, never truncation."""

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self.settings = settings
        self.params = effective_generation(ref, "summarization", settings.summary_generation)
        self.max_input = max_input_tokens(ref)
        self.prefix = ref.entry.prefix

    @cached_property
    def model(self) -> Seq2SeqModel:
        return get_model(self.ref, self.settings)

    def info(self) -> dict[str, Any]:
        return describe(
            self.ref,
            self.settings,
            self.params,
            {
                "stage": "summarize.v1",
                "max_input_tokens": self.max_input,
                "prefix": self.prefix,
                "chunking": "sentences.v1",
            },
        )

    def _chunks(self, text: str, budget: int) -> list[str]:
        if self.model.count_tokens([text])[0] <= budget:
            return [text]
        sentences = [s for para in sentences_by_paragraph(text) for s in para]
        return pack(sentences, self.model.count_tokens, budget)

    def summarize(self, texts: Sequence[str]) -> list[SummaryOut]:
        """Summarise all texts together: every chunk of every text goes into one batched call."""
        if not texts:
            return []
        # Room for the special tokens and the prefix the model adds around each input.
        budget = self.max_input - self.model.count_tokens([self.prefix])[0]
        current = [self._chunks(t, budget) for t in texts]
        first = [len(c) for c in current]
        final: dict[int, str] = {}
        cut: set[int] = set()
        pending = list(range(len(texts)))
        for _ in range(MAX_LEVELS):
            flat = [(i, chunk) for i in pending for chunk in current[i]]
            outs = self.model.generate([self.prefix + c for _, c in flat], self.params)
            grouped: dict[int, list[str]] = defaultdict(list)
            for (i, _), out in zip(flat, outs, strict=True):
                grouped[i].append(out.text)
                if out.truncated:
                    cut.add(i)
            still = []
            for i in pending:
                if len(current[i]) == 1:
                    final[i] = grouped[i][0]
                else:
                    current[i] = self._chunks(" ".join(grouped[i]), budget)
                    still.append(i)
            pending = still
            if not pending:
                return [SummaryOut(final[i], first[i], i in cut) for i in range(len(texts))]
        raise GenerationError(
            f"summaries of the chunks did not get shorter after {MAX_LEVELS} rounds; "
            "lower max_length in [summary_generation]"
        )
