"""What an article brings to the grouping: its words, names, numbers, shingles and lede."""

from __future__ import annotations

import hashlib
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from summarize.stories.model import (
    _SHINGLE,
    DUPLICATE_CONTAINMENT,
    LATER_WEIGHT,
    LEDE_CHARS,
    LEDE_WORDS,
    PIVOT_WEIGHT,
    STEM,
    TF_POWER,
    Member,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


def outlet(url: str | None, source: str) -> str | None:
    """Who published it: the URL's host when known, else the folder the file came from."""
    if url:
        host = urlparse(url).hostname
        if host:
            return host.removeprefix("www.")
    parent = Path(source).parent.name if "/" in source else ""
    return parent or None


# -- features ----------------------------------------------------------------------------------

_AR_DIACRITICS = re.compile("[\u064b-\u0652\u0640]")
_AR_PREFIX = re.compile(r"^(?:وال|بال|فال|كال|لل|ال|و|ف|ب)(?=\w{3,})")
_WORD = re.compile(r"[^\W\d_]{3,}")


def _stem(word: str, lang: str) -> str:
    """A light stem that works in any language: accents folded and the word cut to five
    letters (a prefix stem matches `Regierung`/`Regierungen`, `rząd`/`rządu`); Arabic letters
    normalised and the article or conjunction prefix removed first."""
    if lang == "ar" or "\u0600" <= word[:1] <= "\u06ff":
        word = _AR_DIACRITICS.sub("", word)
        word = re.sub("[إأآ]", "ا", word).replace("ى", "ي").replace("ة", "ه")
        word = _AR_PREFIX.sub("", word)
    else:
        word = "".join(
            c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)
        )
    return word[:STEM]


def words(text: str, lang: str) -> list[str]:
    """Content-word stems, casefolded: no signal here depends on capitals."""
    return [s for w in _WORD.findall(text.casefold()) if len(s := _stem(w, lang)) >= 3]


def first_sentence(text: str) -> str:
    """The headline, when an article has none of its own: its first sentence."""
    found = re.match(r"(.{20,300}?[.!?»\"”])\s", text, re.S)
    return found.group(1) if found else text[:150]


def marks(text: str, lang: str) -> dict[str, str]:
    """Names (folded across languages) and numbers (by value, years included), each with what
    an editor is shown for it: `w:marrakech` -> `Marrakech`, `w:york` -> `Nueva York` (the whole
    name), `n:2021` -> `2021`. A name made only of ordinary words (`Bei`, `Centro Social`) keeps
    its key, which groups stories, and is shown as "" (not a fact to reconcile)."""
    from summarize.checks.names import GENERIC_WORDS, canonical_word, is_territory, names
    from summarize.checks.numbers import numbers

    out: dict[str, str] = {}
    lowered = frozenset(w for w in re.findall(r"[^\W\d_]+", text) if w.islower())
    # A text cut short (a feed's teaser, a capped field) ends inside a word: a name touching
    # that end is a fragment ("Nadia Karme"), never shown as a fact.
    cut = len(text.rstrip()) if not re.search(r"[.!?…»\"”’')\]]\s*$", text) else None
    for name, _, end in names(text, lang):
        # Its keys still group stories (as every name's do); it is not shown.
        shown = "" if cut is not None and end >= cut else fact_name(name, lang, lowered)
        for word in re.findall(r"\w+", name):
            folded = canonical_word(word)
            if len(folded) > 2 and folded not in GENERIC_WORDS and not out.get("w:" + folded):
                out["w:" + folded] = shown
    # A country is a name in every language, though German writes it like a noun (`Russland`):
    # folded across languages, so "Russia" and "Russland" are one fact.
    for match in re.finditer(r"\b[^\W\d_][\w'-]*", text):
        word = match.group(0)
        if cut is not None and match.end() >= cut:
            continue
        if word[:1].isupper() and is_territory(word):
            key = canonical_word(word)
            if "w:" + key not in out:  # `t:`: a fact to show, not a feature of the grouping
                out.setdefault("t:" + key, word)
    for mention in numbers(text):
        for value in mention.values:
            if value >= 10 and value == int(value):
                out.setdefault(f"n:{int(value)}", mention.text.strip())
    return out


# In German, which capitalises every noun, a word this much more frequent (Zipf) in German than
# in any other language is a German word (`Forschung`, `Ähnliche`), not a name: names travel
# (`Merkel`, `Paris`). Elsewhere the same test would drop local names (`Morawiecki`, `Erdoğan`),
# so there a capitalised word is ordinary only by the text's own lower case or its frequency.
NOUNS_CAPITALISED = frozenset({"de", "lb"})
ORDINARY_MARGIN = 1.5
ORDINARY_ZIPF = 6.0  # a word this frequent is a function word wherever it stands (`Para`, `Bei`)
ORDINARY_MIN_ZIPF = 4.0  # below this a word may be a local name only its language knows (Söder)
_OTHER_LANGS = ("en", "de", "es", "fr", "it", "pt", "nl", "pl", "tr")


@lru_cache(maxsize=1 << 16)
def _zipf(word: str, lang: str) -> float:
    from wordfreq import zipf_frequency

    try:
        return float(zipf_frequency(word, lang, wordlist="small"))
    except LookupError:  # a language wordfreq has no list for
        return 0.0


def ordinary_word(word: str, lang: str, lowered: frozenset[str] = frozenset()) -> bool:
    """Whether a capitalised word is an ordinary word of the text's language (capitalised by
    its place or by German spelling) rather than part of a name: the text also writes it in
    lower case, or it is a title or leading word, a day or month, or (wordfreq) a word far
    more common in German than in any other language."""
    from summarize.checks.names import GENERIC_WORDS, canonical_word, is_territory

    folded = word.casefold()
    if word.isupper() and len(word) > 1:  # an acronym: EPA, NRW
        return False
    if folded in lowered or canonical_word(word) in GENERIC_WORDS:
        return True
    if is_territory(word):
        return False
    own = _zipf(folded, lang)
    if own >= ORDINARY_ZIPF:
        return True
    if lang not in NOUNS_CAPITALISED:
        return False
    other = max(_zipf(folded, x) for x in _OTHER_LANGS if x != lang)
    return own >= ORDINARY_MIN_ZIPF and own - other >= ORDINARY_MARGIN


def fact_name(name: str, lang: str, lowered: frozenset[str] = frozenset()) -> str:
    """A name as an editor should see it among the facts: "" when every word is ordinary
    (`Ähnliche Projekte`), else the whole name (`Nueva York`) less the function words it
    opens or ends with (`Bei Söder` -> `Söder`)."""
    tokens = re.findall(r"\S+", name)
    bare = [t.strip(".,;:!?'’\"()") for t in tokens]
    if all(ordinary_word(w, lang, lowered) for w in bare):
        return ""
    keep = [_zipf(w.casefold(), lang) < ORDINARY_ZIPF for w in bare]
    if not any(keep):
        return ""
    first, last = keep.index(True), len(keep) - 1 - keep[::-1].index(True)
    return " ".join(tokens[first : last + 1]).strip(".,;:!?'’\"()")


def terms(
    text: str, lang: str, title: str | None = None, pivot: str | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """An article's weighted features (sublinear term frequency) and its marks."""
    counts: dict[str, float] = {}
    for i, word in enumerate(words(text, lang)):
        counts[word] = counts.get(word, 0.0) + (1.0 if i < LEDE_WORDS else LATER_WEIGHT)
    for word in words(title or first_sentence(text), lang):
        counts[word] = counts.get(word, 0.0) + 1.0
    found = marks(text, lang)
    weights = {t: n**TF_POWER for t, n in counts.items()}
    if pivot:
        for t, n in Counter(words(pivot, "en")).items():
            weights[t] = weights.get(t, 0.0) + PIVOT_WEIGHT * (1.0 + math.log(n))
    return weights, found


def shingles(text: str) -> frozenset[int]:
    """Five-word shingles, hashed stably (64 bits) so they can be stored and compared."""
    ws = re.findall(r"\w+", text.casefold())
    return frozenset(
        int.from_bytes(
            hashlib.blake2b(" ".join(ws[i : i + _SHINGLE]).encode(), digest_size=8).digest(),
            "little",
            signed=True,
        )
        for i in range(len(ws) - _SHINGLE + 1)
    )


def member(
    article_hash: str,
    article_id: str,
    lang: str,
    text: str,
    *,
    title: str | None = None,
    outlet: str | None = None,
    published: float | None = None,
    pivot: str | None = None,
    known: bool = False,
    embedding: Any = None,
) -> Member:
    """An article as the grouping sees it. `known`: its text is in the store already, which
    needs only its id and dates (its features were kept when it was added)."""
    weights, found = ({}, {}) if known else terms(text, lang, title, pivot)
    keys = frozenset(
        k
        for k in (found if len(text) <= LEDE_CHARS else marks(text[:LEDE_CHARS], lang))
        if not k.startswith("t:")
    )
    now = time.time()
    return Member(
        article_hash,
        article_id,
        lang,
        title,
        outlet,
        weights,
        found,
        frozenset() if known else shingles(text),
        published if published is not None else now,
        now,
        None if known else embedding,
        frozenset() if known else keys,
    )


def _order(m: Member) -> tuple[float, float, str, str]:
    return (m.published, m.seen, m.hash, m.id)


def distinct(batch: Sequence[Member]) -> list[Member]:
    """One member per content (the earliest published of its ids), in order of publication:
    the same text under several ids is one report and its copies."""
    first: dict[str, Member] = {}
    for m in sorted(batch, key=_order):
        first.setdefault(m.hash, m)
    return list(first.values())


def is_duplicate(a: frozenset[int], b: frozenset[int]) -> bool:
    """Nearly the same text both ways: a trimmed copy is, an analysis quoting a wire is not."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared >= DUPLICATE_CONTAINMENT * max(len(a), len(b))
