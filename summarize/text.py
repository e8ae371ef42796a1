"""Text helpers shared by the stages: normalisation, hashing, sentences, chunks, safe names.

Pure functions on strings, no models: stages call these instead of importing each other.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFC and collapsed whitespace: the form an article is hashed in."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    """Hash of the normalised text, so re-encoded or re-wrapped copies share a cache entry."""
    return sha256(normalize(text))


# ---------------------------------------------------------------------------
# Sentences

# Words after which a full stop rarely ends a sentence (English and French news usage).
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "maj",
        "col",
        "lt",
        "capt",
        "sgt",
        "cmdr",
        "adm",
        "gov",
        "sen",
        "rep",
        "rev",
        "st",
        "jr",
        "sr",
        "mt",
        "ft",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "assn",
        "bros",
        "no",
        "nos",
        "vol",
        "fig",
        "approx",
        "est",
        "vs",
        "etc",
        "al",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "m",
        "mm",
        "mme",
        "mlle",
        "me",
        "mgr",
        "pr",
        "dr",
        "cie",
        "av",
        "bd",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "a.m",
        "p.m",
        "i.e",
        "e.g",
    ]
)
# A sentence ends at . ! ? … or the Arabic question mark ؟, with any closing quotes or
# brackets, before whitespace. The Arabic comma ، and semicolon ؛ never end a sentence.
# A sentence's end: starting only at the first mark of a run and never giving marks back, so a
# long run of them ("....") is scanned once, not once from each mark (that was quadratic).
_BOUNDARY = re.compile(r"""(?<![.!?…؟۔])([.!?…؟۔]++(?:[ \u00a0\u202f]?[»”])?['"’)\]]*+)(\s+)""")
_INITIAL = re.compile(r"[A-Z]|[A-Z]\.[A-Z]")


def _ends_with_abbreviation(before: str) -> bool:
    """Whether the sentence so far ends with an abbreviation or an initial. Only its last word
    is read: reading the whole sentence so far made a text of initials ("A. A. A. …")
    quadratic, since each initial keeps the sentence open."""
    tail = before[-80:]
    parts = tail.rsplit(None, 1)
    if not parts or before[-1:].isspace() or (len(parts) == 1 and len(tail) < len(before)):
        return False  # nothing, a space, or a word longer than any abbreviation
    last = parts[-1]
    word = last.lstrip("(\"'“‘«").rstrip(".").lower()
    return word in _ABBREVIATIONS or bool(_INITIAL.fullmatch(last))


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def split_sentences(text: str) -> list[str]:
    """Split one paragraph into sentences, for Latin and Arabic script alike.

    Decimal points ("17.3"), abbreviations ("Dr. Al Raisi") and initials ("J. Smith") do not
    split; a sentence boundary needs whitespace after the punctuation and the next sentence
    must not start with a lower-case Latin letter.
    """
    text = text.strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1)
        after = text[match.end() : match.end() + 1]
        if after and after.islower() and after.isascii():
            continue
        if (
            match.group(1).startswith(".")
            and len(match.group(1)) == 1
            and _ends_with_abbreviation(text[start : match.start(1)])
        ):
            continue
        _append(sentences, text[start:end].strip())
        start = match.end()
    _append(sentences, text[start:].strip())
    return sentences


def _append(sentences: list[str], piece: str) -> None:
    """Add a sentence; a fragment with no letters or digits ("crime. .") joins the one before."""
    if not piece:
        return
    if sentences and not any(ch.isalnum() for ch in piece):
        sentences[-1] = f"{sentences[-1]} {piece}"
    else:
        sentences.append(piece)


def sentences_by_paragraph(text: str) -> list[list[str]]:
    return [split_sentences(p) for p in split_paragraphs(text)]


def join_sentences(paragraphs: Sequence[Sequence[str]]) -> str:
    return "\n\n".join(" ".join(s for s in para if s) for para in paragraphs if para).strip()


# ---------------------------------------------------------------------------
# Token-bounded chunks


def split_long(piece: str, n_tokens: int, budget: int) -> list[str]:
    """Cut one over-long sentence into about `budget`-token parts: at words, else at characters."""
    parts = max(2, -(-n_tokens // budget))
    words = piece.split()
    if len(words) >= 2:
        per = -(-len(words) // parts)
        return [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
    per = max(1, -(-len(piece) // parts))
    return [piece[i : i + per] for i in range(0, len(piece), per)]


def _fit(
    piece: str, n: int, count: Callable[[Sequence[str]], list[int]], budget: int
) -> list[tuple[str, int]]:
    if n <= budget or len(piece) < 2:
        return [(piece, n)]
    parts = split_long(piece, n, budget)
    out: list[tuple[str, int]] = []
    for part, m in zip(parts, count(parts), strict=True):
        out.extend(_fit(part, m, count, budget))
    return out


def pack(
    pieces: Sequence[str], count: Callable[[Sequence[str]], list[int]], budget: int
) -> list[str]:
    """Greedily pack sentences into chunks of at most `budget` tokens, in order, dropping nothing.

    `count` returns the token length of each piece (one batched tokenizer call). A piece longer
    than the budget is cut at word boundaries first (characters if it has no spaces).
    """
    if not pieces:
        return []
    units: list[tuple[str, int]] = []
    for piece, n in zip(pieces, count(pieces), strict=True):
        units.extend(_fit(piece, n, count, budget))
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece, n in units:
        # +1 for the space a join adds; tokenizers rarely merge across it.
        if current and used + n + 1 > budget:
            chunks.append(" ".join(current))
            current, used = [], 0
        used += n + (1 if current else 0)
        current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks


# ---------------------------------------------------------------------------
# Safe file names for ids

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", "report", "brief", "cache"]
    + [f"com{i}" for i in range(1, 10)]
    + [f"lpt{i}" for i in range(1, 10)]
)
MAX_NAME = 100


def lede(text: str, limit: int = 160) -> str:
    """An article's first line or sentence, what a desk shows when it has no headline: at most
    `limit` characters, cut at a word with an ellipsis."""
    first = next((line.strip() for line in text.strip().splitlines() if line.strip()), "")
    sentences = split_sentences(first)
    out = sentences[0] if sentences else first
    if len(out) > limit:
        out = out[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: object, where: str = "") -> str | None:
    """Where in a parsed JSON value a string (or key) holds a lone surrogate, as a dotted
    path (`articles.0.title`; "" for the value itself), or None. Such a string is not text:
    it cannot be encoded, hashed or stored, so a boundary refuses it by name."""
    if isinstance(value, str):
        return where if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return f"{where}.(a key)" if where else "(a key)"
            found = lone_surrogate(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{where}.{i}" if where else str(i))
            if found is not None:
                return found
    return None


def safe_name(article_id: str) -> str:
    """A file name that cannot leave the output folder nor collide with another id.

    Readable characters are kept; if anything had to change, a short hash of the original id
    is appended so two ids that clean up to the same text stay distinct.
    """
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", article_id) if ch.isprintable())
    cleaned = _UNSAFE.sub("_", cleaned).strip("._-") or "article"
    stem = cleaned.split(".")[0].lower()
    changed = cleaned != article_id or stem in _RESERVED or len(cleaned) > MAX_NAME
    if changed:
        cleaned = f"{cleaned[:MAX_NAME]}-{sha256(article_id)[:8]}"
    return cleaned
