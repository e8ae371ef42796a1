"""Names: people, places and organisations a candidate names that its source does not.

A name is an acronym (`INTERPOL`, `l'ONU` once its elision is stripped), a run of capitalised
words (`Ahmed Nasser Al-Raisi`, `Kingdom of Morocco`), or, in English, French and Spanish, a
single capitalised word that is not where any word is capitalised (a sentence's start, after a
colon, a quote or a dash) and not a day, month, title, direction, language or institution word
(`Paris`, `Macron`). German capitalises every noun, so there only acronyms and runs count.

A name is accepted when the source contains it; a translation's names may differ in form from
the source's, so each distinctive word is also accepted when the source has it with another
ending (`Moroccan` for `Morocco`, `Tanger` for `Tangier`), as the same country in another
language (`Maroc` for `Morocco`, from the CLDR data in Babel), or as the same organisation's
acronym in another language (`ONU` for `UN`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from summarize.types import Flag

NAME_LANGS = frozenset({"en", "fr", "es", "de"})
SINGLE_WORD_LANGS = frozenset({"en", "fr", "es"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that join the parts of one name ("Kingdom of Morocco", "Ahmed Al Raisi").
_CONNECTORS = _words("""of de du des la le al el bin ibn van von der del y and for et""")
# Words that, capitalised, start a sentence or a phrase rather than a name.
_LEADING = _words(
    """the a an in on at for from by to with and but this that these those his her its their
    our he she it they we i as after before during while since when according if although le
    la les un une des du au aux en dans pour par et mais il elle ils elles nous ce cette ces
    selon lors depuis apres avant pendant si quand comme el los las unos unas del al y pero
    segun durante desde cuando der die das ein eine und aber nach vor seit"""
)
# Capitalised words that are not names: titles and institution words (the name they belong
# to is checked through its other words), directions. Folded (lower case, no accents).
_GENERIC = _words(
    """mr mrs ms dr prof sir president vice prime minister secretary general major brigadier
    colonel lieutenant captain commander king queen prince princess sheikh emir chief
    director head chairman chair ambassador senator governor mayor judge commissioner
    spokesman spokeswoman kingdom state states republic government ministry department
    council assembly organization organisation police security session conference committee
    agency office parliament senate court army forces directorate secretariat union nations
    international national federal central east west north south eastern western northern
    southern m mme mlle presidente ministre secretaire generale roi reine princesse cheikh
    emir directeur directrice chef ambassadeur senateur gouverneur maire juge commissaire
    premier premiere royaume etat etats republique gouvernement ministere departement
    conseil assemblee securite conference comite agence bureau parlement senat cour armee
    direction organisation internationale nationale orient occident nord sud est ouest sr
    sra presidente ministro secretario reino estado estados gobierno ministerio consejo
    asamblea seguridad conferencia oeste este norte sur sen rep gov lt col gen sgt capt cpl
    insp supt det rev hon st"""
)
# Titles and roles written as abbreviations, not names: `PM announces ...`, `the MP said`.
_TITLE_ACRONYMS = _words(
    """pm mp mps mep meps msp ceo cfo coo cto qc kc md phd obe mbe cbe gp pc dj tv dr am
    mla mla mlas ag da"""
)
# The same organisation's acronym in another language.
_ACRONYMS = {
    frozenset({"un", "onu"}),
    frozenset({"eu", "ue"}),
    frozenset({"nato", "otan"}),
    frozenset({"who", "oms"}),
    frozenset({"imf", "fmi"}),
    frozenset({"icpo", "oipc"}),
    frozenset({"opec", "opep"}),
    frozenset({"au", "ua"}),
}
_ELISION = re.compile(
    r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)['’]", re.IGNORECASE
)
_POSSESSIVE = re.compile(r"['’]s?$")
_TOKEN = re.compile(r"[^\W\d_][\w'’\-]*", re.UNICODE)
# What makes the next word's capital say nothing: a sentence end, a colon, a quote, a dash,
# an opening bracket, a line break or a list bullet.
_OPENER = re.compile(r"[.!?…:;«»\"“”„‘’()\[\]—–\n•*]|(?:^|\s)-\s")


def _fold_word(word: str) -> str:
    word = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in word if not unicodedata.combining(ch))


def _fold(text: str) -> str:
    """Case, accents, hyphens and apostrophes folded, so 'Al-Raisi' matches 'Al Raisi'."""
    text = _fold_word(text)
    text = re.sub(r"[\-‐‑–—'’`]", " ", text)
    return " " + " ".join(re.findall(r"\w+", text)) + " "


def _is_cap(word: str) -> bool:
    return word[:1].isupper()


def _is_acronym(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


@cache
def _calendar_and_languages() -> frozenset[str]:
    """Days, months and language names (capitalised in English), folded, from CLDR."""
    from babel import Locale

    words: set[str] = set()
    for code in ("en", "fr", "es", "de"):
        locale = Locale(code)
        for table in (locale.days, locale.months):
            for context in ("format", "stand-alone"):
                for width in ("wide", "abbreviated"):
                    words.update(
                        _fold_word(str(v)).strip(".") for v in table[context][width].values()
                    )
    words.update(_fold_word(name) for name in Locale("en").languages.values() if " " not in name)
    return frozenset(words)


@cache
def territory_names() -> dict[str, frozenset[str]]:
    """Each CLDR territory code -> its names in English, French, Spanish, German and Arabic
    (folded), from Babel."""
    from babel import Locale

    locales = [Locale(code) for code in ("en", "fr", "es", "de", "ar")]
    return {
        str(code): frozenset(
            _fold(str(loc.territories[code])).strip() for loc in locales if code in loc.territories
        )
        for code in locales[0].territories
    }


def names_by_form(forms_of: Iterable[frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each name -> every name of what it names (a name two territories share: both's)."""
    out: dict[str, frozenset[str]] = {}
    for forms in forms_of:
        for form in forms:
            out[form] = out.get(form, frozenset()) | forms
    return out


@cache
def _exonyms() -> dict[str, frozenset[str]]:
    """A country or region's name (folded) -> its names in English, French, Spanish, German
    and Arabic (folded), from CLDR."""
    return names_by_form(territory_names().values())


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Words with French elision stripped (`l'ONU` -> `ONU`) and English possessives
    (`INTERPOL's` -> `INTERPOL`), with their spans."""
    out = []
    for match in _TOKEN.finditer(text):
        word, start = match.group(0), match.start()
        elided = _ELISION.match(word)
        if elided and len(word) > elided.end():
            word, start = word[elided.end() :], start + elided.end()
        word = _POSSESSIVE.sub("", word) or word
        out.append((word, start, start + len(word)))
    return out


def names(text: str, lang: str = "en") -> list[tuple[str, int, int]]:
    """The names in `text` (see the module docstring), with their spans."""
    found: list[tuple[str, int, int]] = []
    tokens = _tokens(text)
    singles = lang in SINGLE_WORD_LANGS
    i = 0
    while i < len(tokens):
        word, start, _ = tokens[i]
        if _is_acronym(word):
            if _fold_word(word) not in _TITLE_ACRONYMS:
                found.append(tokens[i])
            i += 1
            continue
        if not _is_cap(word) or _fold_word(word) in _LEADING:
            i += 1
            continue
        j, last = i + 1, i
        while j < len(tokens):
            gap = text[tokens[j - 1][2] : tokens[j][1]]
            if gap.strip(" -") or "\n" in gap:
                break
            nxt = tokens[j][0]
            if _is_cap(nxt) and not _is_acronym(nxt):
                last = j
            elif _fold_word(nxt) not in _CONNECTORS:
                break
            j += 1
        if last > i:
            found.append((text[start : tokens[last][2]], start, tokens[last][2]))
        elif (
            singles
            and len(word) > 1
            and not _opens_phrase(text, tokens, i)
            and _fold_word(word) not in _GENERIC | _calendar_and_languages()
        ):
            found.append(tokens[i])
        i = last + 1
    return found


def _opens_phrase(text: str, tokens: list[tuple[str, int, int]], i: int) -> bool:
    """Whether the i-th word stands where any word is capitalised."""
    before = text[tokens[i - 1][2] : tokens[i][1]] if i else text[: tokens[i][1]]
    return i == 0 or bool(_OPENER.search(before))


# Endings that make a place's adjective, its people or its name in another language
# (Morocc-o/-an, Qatar/-i, Tang-ier/-er, Tunisi-a/-e, Marocain-/-e/-s).
_ENDINGS = _words(
    """a e i o s an ans ian ians ien ienne iens ain aine ains aines ais aise ois oise ese
    ie ia ier er ino ina ic ique y"""
) | {""}


def _same_stem(a: str, b: str) -> bool:
    """The same word with another ending, on a stem of at least four letters."""
    for k in range(4, min(len(a), len(b)) + 1):
        if a[:k] != b[:k]:
            return False
        if a[k:] in _ENDINGS and b[k:] in _ENDINGS:
            return True
    return False


def _known(word: str, source_words: frozenset[str], folded_source: str) -> bool:
    """A name's word the source has: as it is, with another ending, or as the same country
    (or organisation's acronym) in another language."""
    if word in source_words or word in _GENERIC or word in _CONNECTORS:
        return True
    if len(word) >= 5 and any(_same_stem(word, w) for w in source_words if w[:4] == word[:4]):
        return True
    for pair in _ACRONYMS:
        if word in pair and pair & source_words:
            return True
    return any(f" {form} " in folded_source for form in _exonyms().get(word, ()))


def truecase(candidate: str, source: str) -> str:
    """A lower-cased candidate (`gary locke will manage kilmarnock`) with each word the source
    writes as a name given the source's capitals, so its names are found without relying on
    the candidate's own capitals. Other text is returned as it is."""
    if any(ch.isupper() for ch in candidate):
        return candidate
    tokens = _tokens(source)
    lower = {word for word, _, _ in tokens if not _is_cap(word)}
    cased: dict[str, str] = {}
    for word, _, _ in tokens:
        folded = word.casefold()
        # A name: capitalised wherever the source writes it (so `The` at a sentence's start
        # is not one), and not a phrase-opening word.
        short_acronym = _is_acronym(word) and len(word) < 3
        if _is_cap(word) and folded not in lower and folded not in _LEADING and not short_acronym:
            cased.setdefault(folded, word)
    return _TOKEN.sub(lambda m: cased.get(m.group(0).casefold(), m.group(0)), candidate)


def check_names(source: str, candidate: str, stage: str, lang: str = "en") -> list[Flag]:
    candidate = truecase(candidate, source)
    folded = _fold(source)
    # The source's words as names are found: elision stripped, so `l'Interpol` has `interpol`.
    words = frozenset(folded.split()) | frozenset(
        w for tok, _, _ in _tokens(source) for w in _fold(tok).split()
    )
    flags = []
    for name, _, _ in names(candidate, lang):
        whole = _fold(name)
        if whole in folded or (
            whole.strip() in _exonyms()
            and any(f" {form} " in folded for form in _exonyms()[whole.strip()])
        ):
            continue
        if not all(_known(w, words, folded) for w in whole.split()):
            flags.append(
                Flag("name_not_in_source", stage, f"{name!r} does not appear in the source", name)
            )
    return flags


# Words that say nothing about which story a text tells (titles, institutions, connectors).
GENERIC_WORDS = _GENERIC | _CONNECTORS | _LEADING


def canonical_word(word: str) -> str:
    """A name's word folded, and a country named in any language as one form (`maroc` and
    `marokko` are `morocco`... or whichever of its forms sorts first)."""
    folded = _fold(word).strip()
    forms = _exonyms().get(folded)
    if not forms:
        return folded
    english = forms & _english_territories()
    return min(english or forms)


def is_territory(word: str) -> bool:
    """Whether a word is a country's name in one of the languages CLDR gives (`Russland`)."""
    return _fold(word).strip() in _exonyms()


@cache
def _english_territories() -> frozenset[str]:
    from babel import Locale

    return frozenset(_fold(str(name)).strip() for name in Locale("en").territories.values())
