"""The optional entailment check, the way SummaC-ZS does it (Laban et al., 2022): each summary
sentence is scored against every source sentence by a natural-language-inference model, a
sentence's support is its best score (P(entailment) - P(contradiction)), and the summary is
flagged (`unsupported_sentence`, with the weakest sentence as the span) when a sentence's
support is under the threshold.

The model is a catalogue entry like any other (`entailment_model`, by default the multilingual
`nli-minilm-l6-xnli`, so French and Arabic summaries are covered too), downloaded on demand
with `summarize models download`, and the check is off unless that model is present. It runs
on transformers (torch, safetensors only). Its threshold has not been measured on a real model
here (no hub): `bench/factuality.py --entailment` measures it on the first connected machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.types import Flag

CODE = "unsupported_sentence"
DEFAULT_THRESHOLD = 0.0
MAX_SOURCE_SENTENCES = 80  # a long article: its first sentences, where news puts its facts
MAX_TOKENS = 256
BATCH = 32


class EntailmentChecker:
    def __init__(self, path: Path, threshold: float = DEFAULT_THRESHOLD, threads: int = 0) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if threads > 0:
            torch.set_num_threads(threads)
        self.path, self.threshold = path, threshold
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(path), use_safetensors=True
        ).eval()
        self.max_tokens = min(MAX_TOKENS, int(self.tokenizer.model_max_length or MAX_TOKENS))
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if "entailment" not in labels:
            raise ValueError(f"{path}: the model's labels {sorted(labels)} have no 'entailment'")
        self.entail, self.contradict = labels["entailment"], labels.get("contradiction")

    def _scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        out: list[float] = []
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start : start + BATCH]
            batch = self.tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                truncation="only_first",
                max_length=self.max_tokens,
                padding=True,
                return_tensors="pt",
            )
            with torch.no_grad():
                probs = self.model(**batch).logits.softmax(-1)
            for row in probs.tolist():
                against = row[self.contradict] if self.contradict is not None else 0.0
                out.append(float(row[self.entail] - against))
        return out

    def support(self, source: str, candidate: str) -> list[tuple[str, float]]:
        """Each candidate sentence with its best support among the source's sentences."""
        from summarize.text import split_sentences

        premises = split_sentences(source)[:MAX_SOURCE_SENTENCES] or [source]
        hypotheses = split_sentences(candidate) or [candidate]
        scores = self._scores([(p, h) for h in hypotheses for p in premises])
        n = len(premises)
        return [(h, max(scores[i * n : (i + 1) * n])) for i, h in enumerate(hypotheses)]

    def check(self, source: str, candidate: str, stage: str) -> list[Flag]:
        if not candidate.strip() or not source.strip():
            return []
        sentence, score = min(self.support(source, candidate), key=lambda item: item[1])
        if score >= self.threshold:
            return []
        return [
            Flag(
                CODE,
                stage,
                f"this sentence has little support in the source: its best source sentence "
                f"scores {score:.2f} (entailment minus contradiction, threshold "
                f"{self.threshold:.2f})",
                sentence,
            )
        ]


def identity(path: Path | None, threshold: float) -> dict[str, Any] | None:
    """What the check's verdicts depend on (for the cache key), without loading the model:
    its folder (as the plan resolved it), the weights' size and time, and the threshold; None
    when the check is off."""
    if path is None:
        return None
    weights = [p for p in sorted(path.glob("*.safetensors"))]
    return {
        "path": str(path.resolve()),
        "weights": [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in weights],
        "threshold": threshold,
    }


def load(path: Path | None, settings: Any) -> EntailmentChecker | None:
    """The checker for the model the plan resolved (`summarize.plan.entailment_route`), or
    None when the check is off or its model absent."""
    if path is None:
        return None
    return EntailmentChecker(path, settings.entailment_threshold, settings.threads)
