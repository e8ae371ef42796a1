"""Content absent from the article: a summary's words that its source never uses in any form,
and that are rare in the language.

An abstractive summary rewords its article, so a new *common* word (`announced`, `said`) says
little; a new *rare* word (`galloway`, `overdose`, `medallist`) is usually a name, a detail or
a claim the article does not give, what FRANK calls an out-of-article error, and so are two or
more new words that are merely uncommon. Rarity comes from wordfreq's frequency lists (Zipf
scale: 3 is one use per million words, 4.6 about forty); "in any form" means after Snowball
stemming (`tumbled` is `tumble`), with hyphenated words and
apostrophes split on both sides (`al-Qaeda` has `qaeda`, `didn't` has `didn`). It needs no
capitals, so lower-cased summaries are covered. Only for a summary in its source's language.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from summarize.types import Flag

# Languages with both a Snowball stemmer and a wordfreq list, and the stemmer's name.
NOVELTY_LANGS = {"en": "english", "fr": "french", "es": "spanish", "de": "german"}
# A new word is reported when rarer than RARE_ZIPF; new words rarer than UNCOMMON_ZIPF are
# reported when there are at least UNCOMMON_MIN of them. Chosen on FRANK's development half
# (bench/factuality.py, every check on): one rare word alone at 3.8 gave recall 0.35 with
# false alarms 4.5%; this rule gives 0.37 with 3.7%, and its neighbours (3.2-3.4, 4.5-4.7)
# 0.35-0.41 with 3.7-4.5%.
RARE_ZIPF = 3.3
UNCOMMON_ZIPF = 4.6
UNCOMMON_MIN = 2
MIN_LETTERS = 3
_WORD = re.compile(r"[^\W\d_]+")


def _words(text: str) -> list[tuple[str, int, int]]:
    """Words folded to lower case, split at hyphens and apostrophes, with their spans."""
    return [(m.group(0).casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


_LOCAL = threading.local()


def _stemmer(lang: str) -> Any:
    """This thread's Snowball stemmer for `lang`: a stemmer keeps its word in its own state
    while it works, so one shared by the service's threads gave IndexErrors (and 500s)."""
    import snowballstemmer

    stemmers: dict[str, Any] = _LOCAL.__dict__.setdefault("stemmers", {})
    if lang not in stemmers:
        stemmers[lang] = snowballstemmer.stemmer(NOVELTY_LANGS[lang])
    return stemmers[lang]


@lru_cache(maxsize=1 << 16)  # bounded: a service checks summaries for months
def _zipf(word: str, lang: str) -> float:
    """wordfreq's small list: it holds every word down to Zipf 3 (a word rarer reads 0), all
    the thresholds need, in 4 MB of memory where the full list takes 37."""
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
    new = novel_words(source, candidate, lang)
    uncommon = [word for word, zipf in new if zipf < UNCOMMON_ZIPF]
    if len(uncommon) >= UNCOMMON_MIN:
        why = f"one of {len(uncommon)} uncommon words the source has in no form"
        flagged = uncommon
    else:
        why = "not in the source in any form, and rare in the language"
        flagged = [word for word, zipf in new if zipf < RARE_ZIPF]
    return [
        Flag(
            "content_not_in_source",
            stage,
            f"{word!r}: {why}; a detail the article may not give",
            word,
        )
        for word in flagged
    ]
