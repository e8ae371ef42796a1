"""Content absent from the article: a summary's words that its source never uses in any form,
and that are rare in the language.

An abstractive summary rewords its article, so a new *common* word (`announced`, `said`) says
little; a new *rare* word (`galloway`, `overdose`, `medallist`) is usually a name, a detail or
a claim the article does not give, what FRANK calls an out-of-article error. Rarity comes from
wordfreq's frequency lists (Zipf scale: 3.7 is about five uses per million words); "in any
form" means after Snowball stemming (`tumbled` is `tumble`), with hyphenated words and
apostrophes split on both sides (`al-Qaeda` has `qaeda`, `didn't` has `didn`). It needs no
capitals, so lower-cased summaries are covered. Only for a summary in its source's language.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from summarize.types import Flag

# Languages with both a Snowball stemmer and a wordfreq list, and the stemmer's name.
NOVELTY_LANGS = {"en": "english", "fr": "french", "es": "spanish", "de": "german"}
# A new word is reported when rarer than this (Zipf frequency). Chosen on FRANK's development
# half (bench/factuality.py): 3.6 -> recall 0.31, false alarms 4.1%; 3.7 -> 0.33 and 4.1%;
# 4.0 -> 0.40 and 4.9%. The lower bound keeps false alarms clear of the 5% budget.
RARE_ZIPF = 3.8
MIN_LETTERS = 3
_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[tuple[str, int, int]]:
    """Words folded to lower case, split at hyphens and apostrophes, with their spans."""
    return [(m.group(0).casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


@cache
def _stemmer(lang: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(NOVELTY_LANGS[lang])


@cache
def _zipf(word: str, lang: str) -> float:
    """wordfreq's small list: it holds every word down to Zipf 3 (a word rarer reads 0), all
    the threshold needs, in 4 MB of memory where the full list takes 37."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, lang, wordlist="small"))


def novel_words(source: str, candidate: str, lang: str) -> list[tuple[str, float]]:
    """The candidate's words (as written) that the source has in no form, with their Zipf
    frequency, rarest first."""
    if lang not in NOVELTY_LANGS:
        return []
    stem = _stemmer(lang).stemWord
    known = {w for w, _, _ in _words(source)}
    stems = {stem(w) for w in known}
    found: dict[str, tuple[str, float]] = {}
    for word, start, end in _words(candidate):
        if len(word) < MIN_LETTERS or word in known or stem(word) in stems or word in found:
            continue
        found[word] = (candidate[start:end], _zipf(word, lang))
    return sorted(found.values(), key=lambda item: item[1])


def check_novelty(source: str, candidate: str, stage: str, lang: str | None) -> list[Flag]:
    if lang is None:
        return []
    return [
        Flag(
            "content_not_in_source",
            stage,
            f"{word!r} is not in the source in any form, and rare in the language: a detail "
            "the article may not give",
            word,
        )
        for word, zipf in novel_words(source, candidate, lang)
        if zipf < RARE_ZIPF
    ]
