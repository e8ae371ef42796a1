"""When and where: a weekday, month or country the candidate gives and its source does not.

Models that get the circumstances of a story wrong (FRANK's `CircE`) often move it to another
day or place with words that are ordinary enough to pass every other check (`on tuesday`,
`in france`). Days and months are compared by meaning across English, French, Spanish, German
and Arabic (`lundi` is `Monday`), from CLDR's calendars in Babel; countries and regions by
any of their CLDR names (`Maroc` is `Morocco`) or their adjective (`Moroccan`). Case does not
matter, so lower-cased text is covered; words that are also common words in lower case
(`may`, `march`, `turkey`, `chad`) count only when capitalised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from summarize.types import Flag

CALENDAR_LANGS = ("en", "fr", "es", "de", "ar")
# Calendar and country words that are ordinary words too: only a capitalised one counts.
_AMBIGUOUS = frozenset(
    {
        *("may", "march", "august", "sun", "sat", "mar", "jan", "dec", "oct", "nov", "sep"),
        *("turkey", "chad", "jordan", "georgia", "china", "guinea", "jersey", "niger", "cuba"),
    }
)


def _fold(text: str) -> str:
    from summarize.checks.names import _fold as fold

    return fold(text)


@cache
def _calendar() -> dict[str, str]:
    """A day or month name (folded, any of the languages) -> `day:<0-6>` or `month:<1-12>`."""
    from babel import Locale

    out: dict[str, str] = {}
    for code in CALENDAR_LANGS:
        locale = Locale(code)
        for kind, table in (("day", locale.days), ("month", locale.months)):
            for context in ("format", "stand-alone"):
                for index, name in table[context]["wide"].items():
                    out[_fold(str(name)).strip()] = f"{kind}:{index}"
    return out


_NOT_PLACES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})
# Names CLDR does not list that the news uses for a country (and its people).
_ALIASES = {
    "GB": ("britain", "great britain", "british", "uk", "england", "english", "scotland"),
    "US": ("america", "american", "americans", "usa"),
}


@cache
def _places() -> dict[str, frozenset[str]]:
    """A country's name (folded, in any of the languages) -> all its names (folded)."""
    from summarize.checks.names import names_by_form, territory_names

    return names_by_form(
        forms | frozenset(_ALIASES.get(code, ()))
        for code, forms in territory_names().items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_PLACES
    )


def _mentions(text: str, table: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key in table, the words as written) for each run of 1-3 words of `text` in `table`;
    an ambiguous word only when capitalised."""
    words = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\W\d_]+", text)]
    found = []
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            if i + n > len(words):
                continue
            written = text[words[i][1] : words[i + n - 1][2]]
            key = _fold(written).strip()
            if key in table and (key not in _AMBIGUOUS or written[:1].isupper()):
                found.append((key, written))
                i += n
                break
        else:
            i += 1
    return found


def check_circumstances(source: str, candidate: str, stage: str) -> list[Flag]:
    calendar = _calendar()
    flags = []
    in_source = {calendar[k] for k, _ in _mentions(source, calendar)}
    # An ambiguous word counts in the source in any case: the check must not over-report.
    folded_source = _fold(source)
    in_source |= {v for k, v in calendar.items() if f" {k} " in folded_source}
    for key, written in _mentions(candidate, calendar):
        if calendar[key] not in in_source:
            flags.append(
                Flag(
                    "date_not_in_source",
                    stage,
                    f"{written!r}: the source gives no such day or month",
                    written,
                )
            )
    places = _places()
    source_words = folded_source.split()
    for key, written in _mentions(candidate, places):
        forms = places[key]
        if any(f" {form} " in folded_source for form in forms):
            continue
        if any(_adjective(form, source_words) for form in forms if " " not in form):
            continue
        flags.append(
            Flag(
                "place_not_in_source",
                stage,
                f"{written!r}: the source names no such country or region",
                written,
            )
        )
    return flags


def _adjective(form: str, source_words: list[str]) -> bool:
    """The source has the place's adjective or its people (`Moroccan` for `Morocco`)."""
    from summarize.checks.names import _same_stem

    return len(form) >= 5 and any(_same_stem(form, w) for w in source_words if w[:4] == form[:4])
