"""Checks: what an editor must see before publishing a machine-written text.

Each check compares a candidate (a summary, a translation, or a reporter's own text) with its
source article and returns `Flag`s: numbers (`numbers`) and names (`names`) the source does not
contain, text in the wrong language, repetition loops and empty or over-long outputs
(`language`). Pure functions on text (plus a language detector); the runner calls them on
every result, `summarize check` on any text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from summarize.checks.language import check_degenerate, check_language
from summarize.checks.names import NAME_LANGS, check_names, names
from summarize.checks.numbers import check_numbers, numbers
from summarize.types import Flag

__all__ = [
    "NAME_LANGS",
    "check_degenerate",
    "check_language",
    "check_names",
    "check_numbers",
    "check_text",
    "dedupe",
    "names",
    "numbers",
    "truncated_output",
]


def check_text(
    source: str,
    candidate: str,
    stage: str,
    lang: str | None,
    detect: Callable[[str], tuple[str, float]] | None,
    *,
    is_summary: bool = False,
) -> list[Flag]:
    """Every check that applies to one candidate text."""
    flags = check_degenerate(candidate, stage, source if is_summary else None)
    if not candidate.strip():
        return flags
    flags += check_numbers(source, candidate, stage)
    if lang in NAME_LANGS:
        flags += check_names(source, candidate, stage, lang)
    if lang and detect is not None:
        flags += check_language(candidate, lang, stage, detect)
    return flags


def truncated_output(text: str, stage: str, table: str) -> Flag:
    """The model stopped at its length limit, not at the end of its sequence."""
    return Flag(
        "truncated_output",
        stage,
        "the model stopped at its length limit, not where it meant to end: the text may be cut "
        f"off; raise max_new_tokens in [{table}] and run again",
        text[-80:],
    )


def dedupe(flags: Iterable[Flag]) -> list[Flag]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for flag in flags:
        key = (flag.code, flag.stage, flag.span)
        if key not in seen:
            seen.add(key)
            out.append(flag)
    return out
