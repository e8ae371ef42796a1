"""Numbers: values, not strings. `17.3 billion` = `17,3 milliards` = `١٧٫٣ مليار` = `$17.3bn`."""

from __future__ import annotations

import difflib
import math
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

# From the first digit of a run only, digits never given back: linear on a run of digits.
_ORDINAL = re.compile(r"(?<!\d)(\d++)(?:st|nd|rd|th|e|er|ère|ème)\b", re.IGNORECASE)
_SPACE_SEP = re.compile(r"[ \u00a0\u202f\u2009]")


def _readings(raw: str) -> set[float]:
    """Every value a written number can mean: '1,200' is 1200 (English) or 1.2 (French), but
    '17.3' is only 17.3: a separator groups thousands only when three digits follow it."""
    s = _SPACE_SEP.sub("", raw.replace("٬", ",").replace("٫", ".").replace("'", ""))
    out: set[float] = set()
    for thousands, decimal in ((",", "."), (".", ",")):
        th, dec = re.escape(thousands), re.escape(decimal)
        if re.fullmatch(rf"\d{{1,3}}(?:{th}\d{{3}})*(?:{dec}\d+)?|\d+(?:{dec}\d+)?", s):
            value = float(s.replace(thousands, "").replace(decimal, "."))
            if math.isfinite(value):  # 400 digits in a row is no number anyone reads
                out.add(value)
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


# Languages whose number words the source may spell out (text2num parses these and more).
WORD_NUMBER_LANGS = ("en", "fr", "es", "de")


# Hyphens inside words: `five-year-old`, `two-thirds` are read as `five year old`.
_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
# Plural scale words say "many", not a number: `hundreds of images`, `des milliers`.
_VAGUE = re.compile(
    r"^(?:hundreds|thousands|millions|billions|dozens|tens|scores|centaines|milliers|"
    r"cientos|miles|millones|hunderte|tausende|millionen)$",
    re.IGNORECASE,
)
_HALF = re.compile(r"\bhalf an? (thousand|million|billion)\b", re.IGNORECASE)


def _word_mentions(text: str, threshold: int = 0) -> list[NumberMention]:
    """Numbers spelled out ('five', 'five-year-old', 'forty-seventh', 'quatre-vingt-dix',
    'noventa', 'half a million'), read by text2num's parser in each language. `threshold`:
    smaller ones are not read (as text2num does), so `one of them` is no number."""
    from text_to_num import alpha2digit

    spaced = _WORD_HYPHEN.sub(" ", text)
    out = [
        NumberMention(m.group(0), m.start(), m.end(), frozenset({0.5 * _SCALES[m[1].lower()]}))
        for m in _HALF.finditer(spaced)
    ]
    for piece in _pieces(spaced):
        before = piece.split()
        for lang in WORD_NUMBER_LANGS:
            converted = alpha2digit(piece, lang, threshold=threshold)
            if converted == piece:
                continue
            after = converted.split()
            matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
            for op, i1, i2, j1, j2 in matcher.get_opcodes():
                if op != "replace":
                    continue
                words = " ".join(before[i1:i2])  # as the text writes it: `twenty`, not `20`
                if _VAGUE.match(words):
                    continue
                for mention in numbers(" ".join(after[j1:j2])):
                    out.append(NumberMention(words, 0, 0, mention.values))
    return out


PIECE_WORDS = 150


def _pieces(text: str) -> list[str]:
    """A text in pieces of whole sentences, none over PIECE_WORDS words: a spelled-out number
    never spans sentences, and aligning a piece's words before and after conversion grows
    with the square of its length (a 16,000-character run of "hundreds of" took 79 s whole)."""
    from summarize.text import split_sentences

    words = text.split()
    if len(words) <= PIECE_WORDS:
        return [text]
    out: list[str] = []
    for sentence in split_sentences(text):
        tokens = sentence.split()
        out += [" ".join(tokens[i : i + PIECE_WORDS]) for i in range(0, len(tokens), PIECE_WORDS)]
    return out


def _word_numbers(text: str) -> set[float]:
    """The values of the numbers a text spells out, and of ordinals written with digits
    ('47th', '93e')."""
    out: set[float] = set()
    for mention in _word_mentions(text):
        out |= mention.values
    for match in _ORDINAL.finditer(text.translate(_DIGITS)):
        value = float(match.group(1))
        if math.isfinite(value):
            out.add(value)
    return out


# Tokenised text splits a number at its thousands separator: `£50, 000` is 50,000.
_SPLIT_GROUP = re.compile(r"(?<![\d,.])(\d{1,3}), (\d{3})(?![\d])")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def check_numbers(source: str, candidate: str, stage: str) -> list[Flag]:
    """Numbers in the candidate (in digits, or spelled out from ten up) whose value the source
    has in no form."""
    source = _SPLIT_GROUP.sub(r"\1,\2", source)
    candidate = _SPLIT_GROUP.sub(r"\1,\2", candidate)
    known: set[float] = set(_word_numbers(source))
    for mention in numbers(source):
        known |= mention.values
    flags = []
    spelled = [m for m in _word_mentions(candidate, threshold=10) if min(m.values) >= 10]
    for mention in numbers(candidate) + spelled:
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
