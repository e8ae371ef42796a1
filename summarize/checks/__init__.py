"""Checks: what an editor must see before publishing a machine-written text.

Each check compares a candidate (a summary, a translation, or a reporter's own text) with its
source article and returns `Flag`s: numbers (`numbers`) and names (`names`) the source does not
contain, days, months and countries it does not give (`circumstances`), rare words it has in
no form (`novelty`, for a summary in its source's language), text in the wrong language,
repetition loops and empty or over-long outputs (`language`). Pure functions on text (plus a
language detector); the runner calls them on every result, `summarize check` on any text.
Benchmark placeholders (`UNK`, `-LRB-`) are read as what they stand for, never as names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

from summarize.checks.circumstances import check_circumstances
from summarize.checks.language import check_degenerate, check_language
from summarize.checks.names import NAME_LANGS, check_names, names
from summarize.checks.novelty import NOVELTY_LANGS, check_novelty
from summarize.checks.numbers import check_numbers, numbers
from summarize.types import CHECK, PIVOT, STORY, SUMMARIZE, TITLE, TRANSLATE, Flag

__all__ = [
    "NAME_LANGS",
    "NOVELTY_LANGS",
    "check_circumstances",
    "check_degenerate",
    "check_language",
    "check_names",
    "check_novelty",
    "check_numbers",
    "check_text",
    "dedupe",
    "names",
    "numbers",
    "ordered",
    "severity",
    "signature",
    "truncated_output",
    "warning_key",
]


# Tokenised benchmarks' placeholders: brackets spelt out, unknown words.
_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_PLACEHOLDER = re.compile(r"-[LR][RSC]B-|\[UNK\]|<unk>|\bUNK\b", re.IGNORECASE)


def without_placeholders(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: _BRACKETS.get(m.group(0).upper(), " "), text)


def check_text(
    source: str,
    candidate: str,
    stage: str,
    lang: str | None,
    detect: Callable[[str], tuple[str, float]] | None,
    *,
    is_summary: bool = False,
    source_lang: str | None = None,
) -> list[Flag]:
    """Every check that applies to one candidate text. `source_lang`: the source's language,
    when known; the novelty check runs only on a summary in that language."""
    flags = check_degenerate(candidate, stage, source if is_summary else None)
    if not candidate.strip():
        return flags
    source, candidate = without_placeholders(source), without_placeholders(candidate)
    flags += check_numbers(source, candidate, stage)
    if lang in NAME_LANGS:
        flags += check_names(source, candidate, stage, lang)
    named = {f.span.casefold() for f in flags if f.code == "name_not_in_source"}
    flags += [
        f for f in check_circumstances(source, candidate, stage) if f.span.casefold() not in named
    ]
    if is_summary and lang is not None and lang == source_lang:
        said = {w for f in flags for w in f.span.casefold().split()}
        flags += [
            f
            for f in check_novelty(source, candidate, stage, lang)
            if f.span.casefold() not in said
        ]
    if lang and detect is not None:
        flags += check_language(candidate, lang, stage, detect)
    return flags


def signature() -> dict[str, str]:
    """What the checks' verdicts depend on besides their inputs: the checks' own code and the
    data libraries they read. Part of the key under which a result's warnings are cached, so a
    new version of either recomputes them and nothing else does."""
    return dict(_signature())


@cache
def _signature() -> tuple[tuple[str, str], ...]:
    import hashlib
    import importlib.metadata

    code = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        code.update(path.name.encode() + b"\0" + path.read_bytes())
    versions = []
    for package in ("wordfreq", "babel", "text2num", "snowballstemmer", "langdetect"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} none")
    return (("checks", code.hexdigest()[:16]), ("libraries", ", ".join(versions)))


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


# Warnings keep one order everywhere (results, the desk, briefs, after an edit): the summary's
# first, then each translation by target code, then the headline and its translations; within
# one text by where the span is (a span not found goes last); then by code.
_STAGE_RANK = {SUMMARIZE: 0, STORY: 0, CHECK: 0, PIVOT: 0, TRANSLATE: 1, TITLE: 2}


def warning_key(
    stage: str, span: str, code: str, text: str | None = None
) -> tuple[int, str, int, str, str]:
    base, _, target = stage.partition(":")
    rank = _STAGE_RANK.get(base, 4)
    if target and base == STORY:
        rank = 1  # a story summary's translation
    elif target and base == TITLE:
        rank = 3
    text = text or ""
    pos = text.find(span) if span else -1
    if pos < 0 and span:
        pos = text.casefold().find(span.casefold())
    return (rank, target, pos if pos >= 0 else len(text) + 1, code, span)


def ordered(flags: Iterable[Flag], texts: Mapping[str, str]) -> list[Flag]:
    """Flags in the documented order; `texts`: each stage's text (where spans are found)."""
    return sorted(flags, key=lambda f: warning_key(f.stage, f.span, f.code, texts.get(f.stage)))


# How much an editor must look: a fact the article does not give (high), a text that may be
# broken (medium), a rare word the article does not use (low).
SEVERITY = {
    "number_not_in_source": "high",
    "name_not_in_source": "high",
    "date_not_in_source": "high",
    "place_not_in_source": "high",
    "unsupported_sentence": "high",
    "wrong_language": "medium",
    "degenerate": "medium",
    "truncated_output": "medium",
    "content_not_in_source": "low",
}


def severity(code: str) -> str:
    return SEVERITY.get(code, "medium")
