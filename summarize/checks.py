"""Checks: what an editor must see before publishing a machine-written text.

Each check compares a candidate (a summary, a translation, or a reporter's own text) with its
source article and returns `Flag`s: numbers and names the source does not contain, text in the
wrong language, repetition loops and empty or over-long outputs. Pure functions on text (plus
a language detector); the runner calls them on every result, `summarize check` on any text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from summarize.types import Flag

# ---------------------------------------------------------------------------
# Numbers: values, not strings.

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# A number: digits with optional groups separated by , . space, NBSP, thin space or the Arabic
# separators (٬ thousands, ٫ decimal).
# Letters may follow directly ("$17.3bn", "93rd"); another digit may not.
_NUMBER = re.compile(
    r"(?<![\w.,])\d{1,3}(?:[ \u00a0\u202f\u2009,.٬٫']\d{3})+(?:[.,٫]\d+)?(?![\d])"
    r"|(?<![\w.,])\d+(?:[.,٫]\d+)?(?![\d])"
)
_SCALES = {
    "thousand": 1e3,
    "thousands": 1e3,
    "mille": 1e3,
    "milliers": 1e3,
    "ألف": 1e3,
    "آلاف": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "m": 1e6,
    "مليون": 1e6,
    "ملايين": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "milliard": 1e9,
    "milliards": 1e9,
    "مليار": 1e9,
    "مليارات": 1e9,
    "trillion": 1e12,
    "trillions": 1e12,
    "تريليون": 1e12,
}
_SCALE_AFTER = re.compile(
    r"\s*(" + "|".join(sorted(map(re.escape, _SCALES), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "twentieth": 20,
    "thirtieth": 30,
    "fortieth": 40,
    "fiftieth": 50,
    "hundredth": 100,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
    "vingt": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
    "cent": 100,
    "premier": 1,
    "première": 1,
    "deuxième": 2,
    "troisième": 3,
    "quatrième": 4,
    "cinquième": 5,
    "septième": 7,
    "huitième": 8,
    "neuvième": 9,
    "dixième": 10,
    "واحد": 1,
    "اثنان": 2,
    "اثنين": 2,
    "ثلاثة": 3,
    "أربعة": 4,
    "خمسة": 5,
    "ستة": 6,
    "سبعة": 7,
    "ثمانية": 8,
    "تسعة": 9,
    "عشرة": 10,
    "عشرين": 20,
    "ثلاثين": 30,
    "أربعين": 40,
}
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th|e|er|ère|ème)\b", re.IGNORECASE)
_SPACE_SEP = re.compile(r"[ \u00a0\u202f\u2009]")


def _readings(raw: str) -> set[float]:
    """Every value a written number can mean: '1,200' is 1200 (English) or 1.2 (French), but
    '17.3' is only 17.3: a separator groups thousands only when three digits follow it."""
    s = _SPACE_SEP.sub("", raw.replace("٬", ",").replace("٫", ".").replace("'", ""))
    out: set[float] = set()
    for thousands, decimal in ((",", "."), (".", ",")):
        th, dec = re.escape(thousands), re.escape(decimal)
        if re.fullmatch(rf"\d{{1,3}}(?:{th}\d{{3}})*(?:{dec}\d+)?|\d+(?:{dec}\d+)?", s):
            out.add(float(s.replace(thousands, "").replace(decimal, ".")))
    return out


@dataclass(frozen=True)
class NumberMention:
    text: str
    start: int
    end: int
    values: frozenset[float]


def numbers(text: str) -> list[NumberMention]:
    """Numbers written with digits (any digit system), scaled by a following 'billion' etc."""
    norm = text.translate(_DIGITS)
    found = []
    for match in _NUMBER.finditer(norm):
        values = _readings(match.group(0))
        end = match.end()
        scale = _SCALE_AFTER.match(norm, end)
        if scale:
            factor = _SCALES[scale.group(1).lower()]
            values |= {v * factor for v in values}
            end = scale.end()
        if values:
            found.append(
                NumberMention(text[match.start() : end], match.start(), end, frozenset(values))
            )
    return found


def _word_numbers(text: str) -> set[float]:
    """Small numbers spelled out ('five', 'forty-seventh', 'quarante-deux')."""
    out: set[float] = set()
    for match in _WORD.finditer(text.lower()):
        parts = match.group(0).split("-")
        if all(p in _UNITS for p in parts):
            out.add(float(sum(_UNITS[p] for p in parts)))
    for match in _ORDINAL.finditer(text.translate(_DIGITS)):
        out.add(float(match.group(1)))
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def check_numbers(source: str, candidate: str, stage: str) -> list[Flag]:
    known: set[float] = set(_word_numbers(source))
    for mention in numbers(source):
        known |= mention.values
    flags = []
    for mention in numbers(candidate):
        if not any(_close(v, k) for v in mention.values for k in known):
            flags.append(
                Flag(
                    "number_not_in_source",
                    stage,
                    f"{mention.text.strip()!r} does not appear in the source",
                    mention.text.strip(),
                )
            )
    return flags


# ---------------------------------------------------------------------------
# Names

_CONNECTORS = {
    "of",
    "de",
    "du",
    "des",
    "la",
    "le",
    "al",
    "el",
    "bin",
    "ibn",
    "van",
    "von",
    "der",
    "and",
    "for",
    "d'",
    "l'",
}
_LEADING = {
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "for",
    "from",
    "by",
    "to",
    "with",
    "and",
    "but",
    "le",
    "la",
    "les",
    "l'",
    "un",
    "une",
    "des",
    "du",
    "au",
    "aux",
    "en",
    "dans",
    "pour",
    "par",
    "et",
    "mais",
    "this",
    "that",
    "these",
    "those",
    "his",
    "her",
    "its",
    "their",
    "our",
    "mr",
    "mrs",
    "ms",
    "dr",
    "m",
    "mme",
    "he",
    "she",
    "it",
    "they",
    "we",
    "il",
    "elle",
    "ils",
    "elles",
    "nous",
    "ce",
    "cette",
    "ces",
    "after",
    "before",
    "during",
    "while",
    "as",
    "since",
    "when",
    "according",
    "selon",
    "lors",
    "depuis",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
}
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)


def _fold(text: str) -> str:
    """Case, accents, hyphens and apostrophes folded, so 'Al-Raisi' matches 'Al Raisi'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[\-‐‑–—'’`]", " ", text.casefold())
    return " " + " ".join(re.findall(r"\w+", text)) + " "


def _is_cap(word: str) -> bool:
    return word[:1].isupper()


def _is_acronym(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def names(text: str) -> list[tuple[str, int, int]]:
    """Capitalised multi-word names and acronyms, with their spans."""
    found: list[tuple[str, int, int]] = []
    tokens = list(_TOKEN.finditer(text))
    i = 0
    while i < len(tokens):
        word = tokens[i].group(0)
        if _is_acronym(word):
            found.append((word, tokens[i].start(), tokens[i].end()))
            i += 1
            continue
        if not _is_cap(word) or word.lower().strip("'’") in _LEADING:
            i += 1
            continue
        j = i + 1
        last = i
        while j < len(tokens):
            gap = text[tokens[j - 1].end() : tokens[j].start()]
            if gap.strip(" -") or "\n" in gap:
                break
            nxt = tokens[j].group(0)
            if _is_cap(nxt) and not _is_acronym(nxt):
                last = j
            elif nxt.lower() not in _CONNECTORS:
                break
            j += 1
        if last > i:
            found.append(
                (
                    text[tokens[i].start() : tokens[last].end()],
                    tokens[i].start(),
                    tokens[last].end(),
                )
            )
        i = last + 1
    return found


def check_names(source: str, candidate: str, stage: str) -> list[Flag]:
    folded = _fold(source)
    flags = []
    for name, _, _ in names(candidate):
        if _fold(name) not in folded:
            flags.append(
                Flag("name_not_in_source", stage, f"{name!r} does not appear in the source", name)
            )
    return flags


# ---------------------------------------------------------------------------
# Degenerate output

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


# ---------------------------------------------------------------------------
# Language


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


NAME_LANGS = frozenset({"en", "fr"})


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
        flags += check_names(source, candidate, stage)
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
