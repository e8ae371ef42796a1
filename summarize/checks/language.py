"""Whether a text is in the language expected of it, and not a loop, empty, or over-long."""

from __future__ import annotations

from collections.abc import Callable

from summarize.types import Flag

_LOOP_MIN_REPEATS = 3


def check_degenerate(candidate: str, stage: str, source: str | None = None) -> list[Flag]:
    text = candidate.strip()
    if not text:
        return [Flag("degenerate", stage, "the output is empty", "")]
    flags = []
    words = text.split()
    # A run of the same n-gram (n = 1..4) repeated three times or more in a row.
    for n in range(1, 5):
        for start in range(0, max(0, len(words) - n * _LOOP_MIN_REPEATS + 1)):
            gram = words[start : start + n]
            repeats = 1
            pos = start + n
            while words[pos : pos + n] == gram:
                repeats += 1
                pos += n
            if repeats >= _LOOP_MIN_REPEATS and (n > 1 or repeats >= 4):
                span = " ".join(words[start:pos])
                return [
                    Flag(
                        "degenerate",
                        stage,
                        f"repetition loop: {' '.join(gram)!r} repeated {repeats} times",
                        span,
                    )
                ]
    if source is not None and len(text) > len(source.strip()) > 0:
        flags.append(
            Flag(
                "degenerate",
                stage,
                f"the summary ({len(text)} characters) is longer "
                f"than its source ({len(source.strip())})",
                "",
            )
        )
    return flags


def check_language(
    candidate: str, expected: str, stage: str, detect: Callable[[str], tuple[str, float]]
) -> list[Flag]:
    code, confidence = detect(candidate)
    if code in ("und", expected):
        return []
    return [
        Flag(
            "wrong_language",
            stage,
            f"expected {expected}, but the text reads as {code} (confidence {confidence:.2f})",
            "",
        )
    ]
