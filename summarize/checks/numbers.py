"""Numbers: values, not strings. `17.3 billion` = `17,3 milliards` = `١٧٫٣ مليار` = `$17.3bn`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from summarize.types import Flag

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
