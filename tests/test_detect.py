from __future__ import annotations

from pathlib import Path

from summarize.config import Settings
from summarize.detect import UND, LangdetectDetector

DATA = Path(__file__).parent / "data"


def test_languages_of_real_text_are_detected_deterministically() -> None:
    det = LangdetectDetector(Settings())
    samples = {
        "en": (Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"),
        "fr": [DATA / "corpus_fr.txt"],
        "ar": [DATA / "corpus_ar.txt"],
        "es": [DATA / "corpus_es.txt"],
    }
    for lang, paths in samples.items():
        for path in paths:
            text = path.read_text(encoding="utf-8")
            code, prob = det.detect(text)
            assert code == lang, path
            assert prob >= 0.8
            assert det.detect(text) == (code, prob)


def test_short_or_letterless_text_is_undetermined() -> None:
    det = LangdetectDetector(Settings())
    assert det.detect("Hi there")[0] == UND
    assert det.detect("12 345 678 ... 90 !! 11 22 33 44 55 66 77")[0] == UND
    assert det.detect("")[0] == UND


def test_the_default_threshold_turns_a_mixed_text_into_und_but_not_a_clean_one() -> None:
    """At the default threshold (0.80): half English, half French is undetermined, while
    either half alone, of the same length, is detected."""
    det = LangdetectDetector(Settings())
    assert Settings().detect_min_confidence == 0.80
    english = "The meeting began today in the city, and the delegates arrived by train. "
    french = "La réunion a commencé aujourd'hui dans la ville, et les délégués sont arrivés. "
    code, prob = det.detect(english.split(",")[0] + ". " + french.split(",")[0] + ".")
    assert code == UND and 0.5 <= prob < 0.8
    assert det.detect(english * 2)[0] == "en" and det.detect(french * 2)[0] == "fr"
