"""Detect: which language an article is in, as an ISO 639-1 code and a probability.

langdetect is seeded so the same text always gets the same answer. Short or ambiguous text
is `und` rather than a guess; a declared language (`--lang`, JSONL `lang`) wins.
"""

from __future__ import annotations

import importlib.metadata
import threading
from typing import Any, Protocol

from summarize.config import Settings
from summarize.text import normalize

UND = "und"
# langdetect's codes that are not plain ISO 639-1.
_CODE_MAP = {"zh-cn": "zh", "zh-tw": "zh"}
# Enough text for a stable answer; longer articles are not more certain, only slower.
_MAX_CHARS = 10_000


class Detector(Protocol):
    name: str

    def signature(self) -> dict[str, Any]: ...

    def detect(self, text: str) -> tuple[str, float]: ...


class LangdetectDetector:
    name = "langdetect"
    _lock = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.min_confidence = settings.detect_min_confidence
        self.min_chars = settings.detect_min_chars
        self.seed = settings.detect_seed

    def signature(self) -> dict[str, Any]:
        return {
            "detector": "langdetect.v1",
            "version": importlib.metadata.version("langdetect"),
            "seed": self.seed,
            "min_confidence": self.min_confidence,
            "min_chars": self.min_chars,
        }

    def detect(self, text: str) -> tuple[str, float]:
        """(code, probability); `und` when the text is too short or no language is likely enough."""
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        sample = normalize(text)[:_MAX_CHARS]
        letters = sum(ch.isalpha() for ch in sample)
        if letters < self.min_chars:
            return UND, 0.0
        with self._lock:  # the factory's seed is global state
            DetectorFactory.seed = self.seed
            try:
                candidates = detect_langs(sample)
            except LangDetectException:
                return UND, 0.0
        best = candidates[0]
        code = _CODE_MAP.get(best.lang, best.lang)
        if best.prob < self.min_confidence:
            return UND, float(best.prob)
        return code, float(best.prob)


REGISTRY = {"langdetect": LangdetectDetector}


def get_detector(settings: Settings, name: str = "langdetect") -> Detector:
    return REGISTRY[name](settings)
