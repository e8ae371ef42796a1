"""Stories: the articles that report the same event, across outlets, languages and runs.

The grouping is online clustering of a news stream, as in Miranda et al. (2018, "Multilingual
Clustering of Streaming News"): each new article is compared with the stories already there
(their centroids), among those active within a time window, and joins the best one when the
similarity passes a threshold, or starts a story of its own. There is no transitive chaining:
an article joins one story, and two stories become one only through `StoryStore.merge`, an
explicit step that is recorded.

An article is a TF-IDF vector (scikit-learn's `FeatureHasher`, so the vocabulary never has to be
held): its content words (folded, cut to a five-letter stem, Arabic letters normalised and the
article prefix removed, so no signal depends on capitals), its headline's words once more,
names folded across languages (`Maroc` is `Morocco`) and numbers by value (any digit system),
and, for another language, the words of its English pivot text when one exists. IDF is learnt
from the folder's own articles and kept in the store, updated as articles arrive: a year or a
country seen in a third of the articles says little, a rare name or figure says much.

Across languages, words fail (a German and an English report share only names and numbers):
with an embedder (`summarize.engines.encoder`, multilingual-e5-small by default), each new
member's headline and opening embedding is kept too, each story holds the sum of its members',
the stories nearest an article's embedding are candidates beside the word index's, and where
both sides have embeddings a fitted logistic model (`JoinModel`, coefficients in
story_join.json, fitted by bench/story_join.py) decides instead of the words' threshold.

Everything lives in `<output>/stories.sqlite3`, and adding k articles costs index look-ups for
those k, never a pass over the store: document frequencies by feature bucket, each story's
centroid and strongest features (an inverted index from feature to story), each member's
vector, and MinHash bands of its five-word shingles for the near-duplicate look-up. A story's
id is fixed when it starts; membership is by content hash, so a replaced file (same id, new
text) leaves its old story and joins its own.

Measured on real news (SemEval-2022 Task 8, README "Stories"): `bench/stories.py --real`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlparse

from summarize.text import sha256

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]

# An article joins the story whose centroid is closest when the cosine reaches this. Chosen on
# the development half of the SemEval-2022 pairs (bench/stories.py --real).
DEFAULT_THRESHOLD = 0.37
# Stories whose members were published more than this many days from an article's date are not
# its candidates: two reports a month apart on "the elections" are rarely one story.
DEFAULT_WINDOW_DAYS = 7.0
# A near-duplicate: this share of each text's five-word shingles is in the other (both ways,
# so an analysis that quotes a wire in full and adds its own facts is not a copy of it).
DUPLICATE_CONTAINMENT = 0.9
N_FEATURES = 1 << 20
STEM = 5
# Term frequency counts as tf ** 0.75: between raw counts (a repeated boilerplate line swamps
# an article) and log counts (a story's key word counts little more than a passing one).
TF_POWER = 0.75
# News is written as an inverted pyramid: the first words (the lede) say which event this is,
# the rest is background and, in scraped text, the site's banners and footers. Words past the
# lede count half (on the development pairs: precision 0.816 -> 0.857 at the same recall).
LEDE_WORDS = 60
# The names and numbers whose overlap the join model weighs are the lede's: the development
# articles it was fitted on are at most about 1,330 characters, and a long report's later
# names would lower its overlap with every story alike.
LEDE_CHARS = 1500
LATER_WEIGHT = 0.5
PIVOT_WEIGHT = 0.5  # a machine translation's words count half: they are the model's, not the text's
QUERY_TERMS = 24  # an article's strongest features looked up in the index
POSTED_TERMS = 32  # a story's strongest centroid features kept in the index
CANDIDATES = 50  # stories compared exactly, the index's best
MARK_LIMIT = 60  # names and numbers kept per member for "reported by only some"
_SHINGLE = 5
_BANDS, _ROWS = 16, 4  # MinHash LSH: 64 permutations; a pair at Jaccard 0.8 meets in a band ~100%
_DAY = 86400.0

MIGRATIONS = [
    """
    CREATE TABLE members (
        hash TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        lang TEXT NOT NULL,
        title TEXT,
        outlet TEXT,
        features TEXT NOT NULL,
        shingles TEXT NOT NULL,
        seen REAL NOT NULL
    );
    """,
    # 2: online clustering. The first version regrouped every member on every run from stored
    # name sets; its table is kept (renamed) and its members are grouped anew when seen again.
    """
    ALTER TABLE members RENAME TO members_v1;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
    CREATE TABLE df (bucket INTEGER PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE stories (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        first REAL NOT NULL,
        last REAL NOT NULL,
        size INTEGER NOT NULL,
        centroid BLOB NOT NULL,
        mcentroid BLOB NOT NULL,
        langs TEXT NOT NULL,
        merged_into TEXT
    );
    CREATE TABLE members (
        hash TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        story TEXT NOT NULL,
        lang TEXT NOT NULL,
        title TEXT,
        outlet TEXT,
        published REAL NOT NULL,
        seen REAL NOT NULL,
        vector BLOB NOT NULL,
        mvector BLOB NOT NULL,
        marks TEXT NOT NULL,
        shingles BLOB NOT NULL,
        duplicate_of TEXT,
        gone INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX members_story ON members (story, gone);
    CREATE INDEX members_id ON members (id);
    CREATE TABLE postings (bucket INTEGER NOT NULL, story TEXT NOT NULL);
    CREATE INDEX postings_bucket ON postings (bucket);
    CREATE INDEX postings_story ON postings (story);
    CREATE TABLE bands (key INTEGER NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX bands_key ON bands (key);
    CREATE TABLE merges (at REAL NOT NULL, kept TEXT NOT NULL, merged TEXT NOT NULL, by TEXT);
    """,
    # 3: exact copies. A member is a content hash; the same text under another id (one wire
    # story from two feeds) is a copy of that member, listed in its story as a duplicate.
    """
    CREATE TABLE copies (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        title TEXT,
        outlet TEXT,
        published REAL NOT NULL,
        seen REAL NOT NULL
    );
    CREATE INDEX copies_hash ON copies (hash);
    """,
    # 4: embeddings of headline and lede (float16, unit length) and each story's sum of its
    # members' (float16), with the embedder that made them: vectors of two are never compared.
    """
    ALTER TABLE members ADD COLUMN embedding BLOB;
    ALTER TABLE stories ADD COLUMN ecentroid BLOB;
    CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 5: the names and numbers of each member's lede (a JSON list of mark keys) and, per story,
    # how many of its members have each (a JSON object): the join model's overlap features.
    # Existing members take the marks they kept.
    """
    ALTER TABLE members ADD COLUMN keys TEXT;
    ALTER TABLE stories ADD COLUMN keys TEXT;
    UPDATE members SET keys = (SELECT json_group_array(j.key) FROM json_each(members.marks) j);
    UPDATE stories SET keys = (
        SELECT json_group_object(k, n) FROM (
            SELECT j.key AS k, COUNT(*) AS n FROM members m, json_each(m.marks) j
            WHERE m.story = stories.id AND m.gone = 0 GROUP BY j.key
        )
    );
    """,
    # 6: the band and posting tables keyed by what they are searched by (WITHOUT ROWID: no
    # hidden row id and no second index, a quarter fewer bytes), a member's band keys removed
    # by key instead of by a scan of every band, and the few copies found by their original
    # instead of by a scan of every member (a replaced file cost both scans).
    """
    CREATE TABLE bands_keyed (
        key INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (key, hash)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO bands_keyed SELECT key, hash FROM bands;
    DROP TABLE bands;
    ALTER TABLE bands_keyed RENAME TO bands;
    CREATE TABLE postings_keyed (
        bucket INTEGER NOT NULL, story TEXT NOT NULL, PRIMARY KEY (bucket, story)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO postings_keyed SELECT bucket, story FROM postings;
    DROP TABLE postings;
    ALTER TABLE postings_keyed RENAME TO postings;
    CREATE INDEX postings_story ON postings (story);
    CREATE INDEX IF NOT EXISTS members_duplicate ON members (duplicate_of)
    WHERE duplicate_of IS NOT NULL;
    """,
    # 7: a story of one member keeps no sums of its own (they copied its member's: most
    # stories are one report); they are read from that member (see _ONE_MEMBER).
    """
    UPDATE stories SET centroid = x'00000000', mcentroid = x'00000000', ecentroid = NULL,
        keys = NULL WHERE size = 1;
    """,
]


@dataclass(frozen=True)
class Member:
    """One article as the grouping sees it: weighted features, the names and numbers as
    written, shingle hashes for near-duplicates, and when it was published (epoch seconds)."""

    hash: str
    id: str
    lang: str
    title: str | None
    outlet: str | None
    terms: dict[str, float]
    marks: dict[str, str]
    shingles: frozenset[int]
    published: float
    seen: float = 0.0
    # The headline and opening's embedding (unit, float32), when an embedder is configured.
    embedding: Any = None
    # The names and numbers of the lede (mark keys: `w:merkel`, `n:2021`), for their overlap.
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StoryMember:
    hash: str
    id: str
    lang: str
    title: str | None
    outlet: str | None
    published: float
    marks: dict[str, str]
    duplicate_of: str | None  # the original's content hash (its own for an exact copy)
    seen: float = 0.0

    @property
    def is_copy(self) -> bool:
        """A near or exact copy of another member (not itself a report of its own)."""
        return self.duplicate_of is not None


@dataclass(frozen=True)
class Story:
    id: str
    members: tuple[StoryMember, ...]  # in order of publication
    first: float
    last: float

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def reports(self) -> list[StoryMember]:
        """The members that are not copies of another: one each per distinct report."""
        return [m for m in self.members if not m.is_copy]


@dataclass
class Assignment:
    """What adding a batch did: each member's story, the stories it touched, near-duplicates
    (copy hash -> original hash) and how each decision was made (for the report and tests)."""

    story_of: dict[str, str] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    score_of: dict[str, float] = field(default_factory=dict)  # similarity that joined it
    # The id the store keeps each content under; any other id with that text is its copy.
    member_id: dict[str, str] = field(default_factory=dict)


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


def _hash_features(weights: Sequence[dict[str, float]]) -> Any:
    from sklearn.feature_extraction import FeatureHasher

    hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)
    return hasher.transform(weights).tocsr()


def _nothing() -> Vector:
    """The empty vector: a story's sums before its first member, and after its last."""
    import numpy as np

    return np.zeros(0, np.int32), np.zeros(0, np.float32)


def _pack(vec: Vector) -> bytes:
    idx, val = vec
    return len(idx).to_bytes(4, "little") + idx.tobytes() + val.tobytes()


def _unpack(blob: bytes) -> Vector:
    import numpy as np

    n = int.from_bytes(blob[:4], "little")
    idx = np.frombuffer(blob, dtype=np.int32, count=n, offset=4)
    val = np.frombuffer(blob, dtype=np.float32, count=n, offset=4 + 4 * n)
    return idx, val


def _dot(a: Vector, b: Vector) -> float:
    import numpy as np

    _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return float(np.dot(a[1][ia].astype(np.float64), b[1][ib]))


def _add(a: Vector, b: Vector, sign: float = 1.0) -> Vector:
    import numpy as np

    idx = np.union1d(a[0], b[0]).astype(np.int32)
    val = np.zeros(len(idx), dtype=np.float64)
    val[np.searchsorted(idx, a[0])] += a[1]
    val[np.searchsorted(idx, b[0])] += sign * b[1]
    keep = np.abs(val) > 1e-6
    return idx[keep], val[keep].astype(np.float32)


def _cosine(vec: Vector, centroid: Vector) -> float:
    """An article's unit vector against a story's centroid (a sum of unit vectors)."""
    import numpy as np

    norm = float(np.sqrt(np.dot(centroid[1].astype(np.float64), centroid[1])))
    return _dot(vec, centroid) / norm if norm else 0.0


def _row(matrix: Any, i: int) -> Vector:
    """Row i of a CSR matrix as (sorted indexes, values)."""
    import numpy as np

    lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
    idx = matrix.indices[lo:hi].astype(np.int32)
    order = np.argsort(idx)
    return idx[order], matrix.data[lo:hi][order]


def _top(vec: Vector, k: int) -> list[int]:
    import numpy as np

    order = np.argsort(-vec[1], kind="stable")[:k]
    return [int(i) for i in vec[0][order]]


@functools.cache
def _minhash() -> Any:
    """An empty MinHash to copy: making its permutations anew costs more than hashing."""
    from datasketch import MinHash

    return MinHash(num_perm=_BANDS * _ROWS, seed=1)


@functools.lru_cache(maxsize=4096)
def _bands(shingle_hashes: frozenset[int]) -> tuple[int, ...]:
    """MinHash LSH band keys (datasketch's MinHash; bands kept in SQLite so the index lasts).
    Kept for the last few thousand texts: a batch looks its copies up, then files them."""
    m = _minhash().copy()
    m.update_batch([h.to_bytes(8, "little", signed=True) for h in shingle_hashes])
    values = m.hashvalues
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                bytes([b]) + values[b * _ROWS : (b + 1) * _ROWS].tobytes(), digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for b in range(_BANDS)
    )


def iso(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, written as ingest writes an article's date."""
    from summarize.ingest import iso_date

    return iso_date(timestamp) or ""  # a number is always a date


def story_id(first_hash: str) -> str:
    """A story is named after the article that started it, and keeps that id."""
    return "s-" + sha256(first_hash)[:12]


# -- the join decision with embeddings ---------------------------------------------------------

JOIN_FILE = Path(__file__).with_name("story_join.json")
PAGE_SIZE = 16384  # a member's row is 1-3 KB: on 4 KB pages one or two fit, and half is lost
EMBED_CANDIDATES = 10  # stories nearest by embedding, added to the word index's candidates

# A story of one member stores no sums (centroids, embedding sum, name counts): they would copy
# its member's, and most stories are one report (1,230 stories for 1,433 development articles).
# Readers take that member's own columns instead, with these fragments (a story `s`).
_ONE_MEMBER = "LEFT JOIN members one ON s.size = 1 AND one.story = s.id AND one.gone = 0"
_EMBEDDING = "CASE WHEN s.size = 1 THEN one.embedding ELSE s.ecentroid END"
_SUMS = (
    "CASE WHEN s.size = 1 THEN one.vector ELSE s.centroid END, "
    "CASE WHEN s.size = 1 THEN one.mvector ELSE s.mcentroid END, s.langs, "
    f"{_EMBEDDING}, "
    "CASE WHEN s.size = 1 THEN one.keys ELSE s.keys END, s.size"
)


def _counts(keys: str | None) -> dict[str, int]:
    """A story's counts of its members' lede names and numbers: stored as counts, or, for a
    story of one member, that member's list (each once)."""
    found = json.loads(keys or "{}")
    return dict.fromkeys(found, 1) if isinstance(found, list) else found


# Languages calibrated apart (a bias of their own when both sides are in it): those with at
# least 40 labelled development pairs besides English. Their pairs score differently at the
# same odds (Arabic and Turkish different-story pairs sit closer than English ones); English,
# French and every other language share the base. Held out over 10 cuts into folds, precision
# at recall 0.7 went from 0.891 to 0.909 (bench/story_join.py, 2026-12-03).
JOIN_LANGUAGES = ("ar", "de", "es", "pl", "tr")
JOIN_FEATURES = (
    "content",
    "named",
    "embedding",
    "cross",
    "cross_named",
    "cross_embedding",
    "names",
    "numbers",
    *(f"same_{lang}" for lang in JOIN_LANGUAGES),
)


def join_features(
    content: float,
    named: float,
    embedding: float,
    cross: bool,
    names: float = 0.0,
    numbers: float = 0.0,
    lang: str | None = None,
) -> list[float]:
    """What the join decision weighs, for an article and a story (or two articles): the cosine
    of their words, of their names and numbers (IDF-weighted), of their embeddings, and whether
    the article's language is new to the story, with its own slope for names and embeddings (a
    report in another language shares no words, and its embedding sits lower: calibrated
    apart); then the overlap (Jaccard) of their ledes' names and, apart, of their numbers,
    each counting once whatever its weight (`overlap`); last, which of `JOIN_LANGUAGES` the
    two share (`lang`, the article's language when the story has it too)."""
    x = 1.0 if cross else 0.0
    shared = [1.0 if not cross and lang == known else 0.0 for known in JOIN_LANGUAGES]
    return [content, named, embedding, x, x * named, x * embedding, names, numbers, *shared]


class Pair(NamedTuple):
    """Two articles as the join decision sees them: the cosine of their words, of their names
    and numbers, of their embeddings (None without both), whether their languages differ,
    their ledes' overlap of names and of numbers, and the language (the first's)."""

    content: float
    named: float
    embedding: float | None
    cross: bool
    names: float
    numbers: float
    lang: str | None = None

    def features(self) -> list[float]:
        return join_features(
            self.content,
            self.named,
            self.embedding or 0.0,
            self.cross,
            self.names,
            self.numbers,
            self.lang,
        )


def overlap(keys: Iterable[str], counts: dict[str, int], size: int) -> tuple[float, float]:
    """The Jaccard overlap of an article's lede names (`w:` keys) and, apart, numbers (`n:`)
    with a story's: `counts` says how many of its `size` members have each key; with one
    member it is the plain Jaccard of two sets, with more the mean member's intersection over
    the mean member's union (a large story is not penalised for its many names)."""
    out = []
    size = max(size, 1)
    for prefix in ("w:", "n:"):
        mine = [k for k in keys if k.startswith(prefix)]
        theirs = sum(n for k, n in counts.items() if k.startswith(prefix)) / size
        shared = sum(counts.get(k, 0) for k in mine) / size
        union = len(mine) + theirs - shared
        out.append(shared / union if union > 0 else 0.0)
    return out[0], out[1]


@dataclass(frozen=True)
class JoinModel:
    """A logistic decision over `join_features`, fitted by `bench/story_join.py --fit` on the
    development pairs (cross-validated by connected component) and kept in story_join.json:
    an article joins the story with the highest logit when it reaches `cut`."""

    weights: tuple[float, ...]
    bias: float
    cut: float
    about: dict[str, Any] = field(default_factory=dict)

    def logit(self, features: Sequence[float]) -> float:
        return self.bias + sum(w * f for w, f in zip(self.weights, features, strict=True))

    def most(
        self,
        content: float,
        embedding: float,
        cross: bool,
        names: float,
        numbers: float,
        lang: str | None = None,
    ) -> float:
        """The highest logit any names-and-numbers cosine (0 to 1) could give: the logit is
        linear in it, with a slope that depends on `cross` alone."""
        base = self.logit(join_features(content, 0.0, embedding, cross, names, numbers, lang))
        return base + max(self._slopes[cross], 0.0)

    @functools.cached_property
    def _slopes(self) -> dict[bool, float]:
        return {
            cross: self.logit(join_features(0.0, 1.0, 0.0, cross))
            - self.logit(join_features(0.0, 0.0, 0.0, cross))
            for cross in (False, True)
        }

    @staticmethod
    def load(path: Path = JOIN_FILE) -> JoinModel | None:
        """The fitted model, or None when there is none (words alone decide)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if tuple(raw.get("features", ())) != JOIN_FEATURES:
            return None  # fitted for other features: refit with bench/story_join.py --fit
        return JoinModel(
            tuple(float(w) for w in raw["weights"]),
            float(raw["bias"]),
            float(raw["cut"]),
            {k: v for k, v in raw.items() if k not in ("weights", "bias", "cut")},
        )


def _pack_embedding(vec: Any) -> bytes:
    import numpy as np

    return np.asarray(vec, dtype=np.float16).tobytes()


def _unpack_embedding(blob: bytes | None) -> Any:
    import numpy as np

    return None if blob is None else np.frombuffer(blob, dtype=np.float16).astype(np.float32)


class _Nearest:
    """The stories nearest each article of a batch by embedding, so a report in another
    language, which shares no indexed word with its story, still meets it. The stories active
    around the batch are read once and compared with all its articles in a few matrix products
    (the k best kept per article); stories the batch itself starts or changes are held apart
    and compared as each article comes."""

    def __init__(
        self,
        rows: list[tuple[str, bytes, float, float]],
        batch: Sequence[Member],
        window: float,
        k: int,
    ) -> None:
        import numpy as np

        members = [m for m in batch if m.embedding is not None]
        self.dim = dim = len(members[0].embedding) if members else 0
        self.k, self.window = k, window
        rows = [r for r in rows if len(r[1]) == 2 * dim]
        self.before: dict[str, list[tuple[str, float]]] = {}
        if rows and members:
            ids = [r[0] for r in rows]
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
            matrix = matrix.reshape(len(rows), dim).astype(np.float32)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            first = np.array([r[2] for r in rows])
            last = np.array([r[3] for r in rows])
            for start in range(0, len(members), 256):
                chunk = members[start : start + 256]
                sims = np.stack([m.embedding for m in chunk]).astype(np.float32) @ matrix.T
                for row, m in zip(sims, chunk, strict=True):
                    live = (last >= m.published - window) & (first <= m.published + window)
                    row = np.where(live, row, -2.0)
                    top = np.argpartition(-row, k - 1)[:k] if len(row) > k else range(len(row))
                    self.before[m.hash] = [(ids[i], float(row[i])) for i in top if row[i] > -1.0]
        # Stories this batch starts or changes: their centroids as they are now.
        room = max(1, len(members))
        self.fresh_ids: list[str] = []
        self.fresh_at: dict[str, int] = {}
        self.fresh = np.zeros((room, max(dim, 1)), dtype=np.float32)
        self.fresh_first = np.zeros(room)
        self.fresh_last = np.zeros(room)

    def _slot(self, sid: str) -> int:
        import numpy as np

        i = self.fresh_at.get(sid)
        if i is None:
            i = self.fresh_at[sid] = len(self.fresh_ids)
            self.fresh_ids.append(sid)
            if i >= len(self.fresh):  # more stories changed than the batch has embeddings
                grow = len(self.fresh)
                self.fresh = np.vstack([self.fresh, np.zeros_like(self.fresh)])
                self.fresh_first = np.append(self.fresh_first, np.zeros(grow))
                self.fresh_last = np.append(self.fresh_last, np.zeros(grow))
        return i

    def put(self, sid: str, ecentroid: Any, first: float, last: float) -> None:
        if ecentroid is None or len(ecentroid) != self.dim:
            self.drop(sid)
            return
        i = self._slot(sid)
        self.fresh[i] = _normed(ecentroid)
        self.fresh_first[i], self.fresh_last[i] = first, last

    def drop(self, sid: str) -> None:
        """A story emptied, or with no embedding now: not a candidate by embedding."""
        i = self._slot(sid)
        self.fresh[i] = 0.0
        self.fresh_first[i], self.fresh_last[i] = 1.0, 0.0  # never live

    def nearest(self, m: Member) -> dict[str, float]:
        """The k stories nearest the article, nearest first, with their cosines."""
        import numpy as np

        if m.embedding is None or len(m.embedding) != self.dim:
            return {}
        found = {sid: sim for sid, sim in self.before.get(m.hash, []) if sid not in self.fresh_at}
        n = len(self.fresh_ids)
        if n:
            sims = self.fresh[:n] @ m.embedding
            live = (self.fresh_last[:n] >= m.published - self.window) & (
                self.fresh_first[:n] <= m.published + self.window
            )
            sims = np.where(live, sims, -2.0)
            top = np.argpartition(-sims, self.k - 1)[: self.k] if n > self.k else range(n)
            found.update((self.fresh_ids[i], float(sims[i])) for i in top if sims[i] > -1.0)
        return {sid: found[sid] for sid in sorted(found, key=lambda sid: -found[sid])[: self.k]}


def _normed(vec: Any) -> Any:
    import numpy as np

    norm = float(np.linalg.norm(vec))
    return (vec / norm).astype(np.float32) if norm else np.zeros_like(vec, dtype=np.float32)


# -- the store ---------------------------------------------------------------------------------


class StoryStore:
    """Every story under one output folder (SQLite, shared by runs, the watch folder and the
    service). Adding articles costs index look-ups for them, not a pass over the store."""

    def __init__(
        self,
        path: Path,
        threshold: float = DEFAULT_THRESHOLD,
        window_days: float = DEFAULT_WINDOW_DAYS,
        join: JoinModel | bool | None = True,
    ) -> None:
        """`threshold`: the words-alone decision (no embedding on one side); `join`: the
        decision where both sides have embeddings (True: the fitted story_join.json)."""
        from summarize.db import connect

        self.path = path
        self.threshold = threshold
        self.window = window_days * _DAY
        self.join = JoinModel.load() if join is True else (join or None)
        self._db = connect(path, MIGRATIONS, page_size=PAGE_SIZE)
        self._nearest: _Nearest | None = None

    # -- near-duplicates -----------------------------------------------------------------------

    def duplicates(self, batch: Sequence[Member]) -> dict[str, str]:
        """Near-duplicates among a batch and against the store: copy hash -> original hash, the
        original being the earlier published (then the earlier seen, then the smaller hash).
        Looked up before any model runs, so a copy in the batch is summarised once."""
        out: dict[str, str] = {}
        ordered = distinct(batch)
        local: dict[int, list[Member]] = {}
        known = set(self._known([m.hash for m in batch]))
        for m in ordered:
            if not m.shingles or m.hash in known:
                continue
            keys = _bands(m.shingles)
            candidates: dict[str, Member | None] = {}
            for key in keys:
                for earlier in local.get(key, ()):
                    candidates[earlier.hash] = earlier
            for h in self._band_hashes(keys):
                candidates.setdefault(h, None)
            best: tuple[float, str] | None = None
            for h, found in candidates.items():
                if h == m.hash:
                    continue
                if found is not None:
                    other_shingles, published = found.shingles, found.published
                else:
                    row = self._db.execute(
                        "SELECT shingles, published FROM members WHERE hash = ? AND gone = 0",
                        (h,),
                    ).fetchone()
                    if row is None:
                        continue
                    other_shingles, published = _unpack_shingles(row[0]), row[1]
                if (
                    is_duplicate(m.shingles, other_shingles)
                    and published <= m.published
                    and (best is None or (published, h) < best)
                ):
                    best = (published, h)
            if best is not None:
                original = out.get(best[1], best[1])
                out[m.hash] = original
            for key in keys:
                local.setdefault(key, []).append(m)
        return out

    def known(self, hashes: Sequence[str]) -> set[str]:
        """The contents the store holds already (a re-run computes no features for them)."""
        return set(self._known(hashes))

    def _known(self, hashes: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in _chunks(hashes, 500):
            marks_ = ",".join("?" * len(chunk))
            found += [
                r[0]
                for r in self._db.execute(
                    f"SELECT hash FROM members WHERE hash IN ({marks_}) AND gone = 0", chunk
                )
            ]
        return found

    def _band_hashes(self, keys: Sequence[int]) -> list[str]:
        marks_ = ",".join("?" * len(keys))
        return [
            r[0]
            for r in self._db.execute(
                f"SELECT DISTINCT hash FROM bands WHERE key IN ({marks_})", list(keys)
            )
        ]

    # -- grouping ------------------------------------------------------------------------------

    def add(
        self,
        batch: Sequence[Member],
        duplicates: dict[str, str] | None = None,
        embedder: str | None = None,
    ) -> Assignment:
        """Put each new member in a story: a near-duplicate in its original's, any other in the
        closest active story the decision accepts, or a story of its own; the same text under
        another id is a copy of the member that holds it. Members already in the store stay
        where they are; an id seen before with other content leaves what it held. `embedder`
        names what made the members' embeddings (required when they have any)."""
        from summarize.db import transaction

        out = Assignment()
        duplicates = dict(duplicates or {})
        touched: dict[str, None] = {}
        if any(m.embedding is not None for m in batch) and not embedder:
            raise ValueError("members with embeddings need the embedder's name")
        # One write transaction from the look-up on: two runs sharing a folder take turns, and
        # the second sees what the first added.
        with transaction(self._db) as db:
            if embedder:
                self._use_embedder(embedder)
            for m in batch:
                self._supersede(m, touched)
            firsts = distinct(batch)
            known = set(self._known([m.hash for m in firsts]))
            for h in known:
                sid = self._story_of(h)
                if sid is not None:
                    out.story_of[h] = sid
            new = [m for m in firsts if m.hash not in known]
            if new:
                self._nearest = self._load_nearest(new)
                try:
                    self._add_new(db, new, duplicates, out, touched)
                finally:
                    self._nearest = None
            for m in batch:
                sid = out.story_of.get(m.hash)
                if sid is None:
                    continue
                kept = out.member_id.get(m.hash) or self._member_id(m.hash)
                out.member_id[m.hash] = kept
                if m.id != kept and self._keep_copy(m):
                    touched[sid] = None
        out.touched = list(dict.fromkeys([*touched, *sorted(set(out.story_of.values()))]))
        return out

    def _use_embedder(self, name: str) -> None:
        """Record the embedder; another one than before makes the stored embeddings
        incomparable, so they are dropped (stories meet again by words, and by embedding as
        their members arrive)."""
        row = self._db.execute("SELECT value FROM info WHERE key = 'embedder'").fetchone()
        if row is not None and row[0] == name:
            return
        if row is not None:
            import logging

            logging.getLogger("summarize").warning(
                "stories: the embedder changed (%s -> %s); earlier embeddings are dropped",
                row[0],
                name,
            )
            self._db.execute("UPDATE members SET embedding = NULL")
            self._db.execute("UPDATE stories SET ecentroid = NULL")
        self._db.execute("INSERT OR REPLACE INTO info VALUES ('embedder', ?)", (name,))

    def _load_nearest(self, new: list[Member]) -> _Nearest | None:
        """Embedding centroids of the stories active around this batch's dates."""
        if self.join is None or all(m.embedding is None for m in new):
            return None
        published = [m.published for m in new]
        rows = self._db.execute(
            f"SELECT s.id, {_EMBEDDING} AS e, "
            f"s.first, s.last FROM stories s {_ONE_MEMBER} "
            "WHERE s.size > 0 AND s.merged_into IS NULL AND s.last >= ? AND s.first <= ?",
            (min(published) - self.window, max(published) + self.window),
        ).fetchall()
        return _Nearest([r for r in rows if r[1] is not None], new, self.window, EMBED_CANDIDATES)

    def _add_new(
        self,
        db: Any,
        new: list[Member],
        duplicates: dict[str, str],
        out: Assignment,
        touched: dict[str, None],
    ) -> None:
        content = _hash_features([m.terms for m in new])
        named = _hash_features([{k: 1.0 for k in m.marks if not k.startswith("t:")} for m in new])
        # Document frequencies first: the batch's own articles inform its weights.
        counts = Counter(
            int(b)
            for matrix in (content, named)
            for i in range(matrix.shape[0])
            for b in matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
        )
        db.executemany(
            "INSERT INTO df VALUES (?, ?) ON CONFLICT(bucket) DO UPDATE SET n = n + excluded.n",
            counts.items(),
        )
        db.execute(
            "INSERT INTO meta VALUES ('docs', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (len(new),),
        )
        total = self._docs()
        index = {m.hash: i for i, m in enumerate(new)}
        # An original of this batch goes in before its copies, whatever their dates say.
        order = sorted(
            range(len(new)),
            key=lambda i: (duplicates.get(new[i].hash) in index, i),
        )
        for i in order:
            m = new[i]
            vec = self._weigh(_row(content, i), total)
            mvec = self._weigh(_row(named, i), total)
            original = duplicates.get(m.hash)
            story = self._story_of(original) if original is not None else None
            score = 0.0
            if story is not None:
                score = 1.0
                out.duplicate_of[m.hash] = str(original)
            else:
                story, score = self._closest(vec, mvec, m)
            if story is None:
                story = self._start(m)
            self._join(story, m, vec, mvec, out.duplicate_of.get(m.hash))
            out.story_of[m.hash] = story
            out.score_of[m.hash] = score
            out.member_id[m.hash] = m.id
            touched[story] = None

    def _member_id(self, h: str) -> str:
        row = self._db.execute(
            "SELECT id FROM members WHERE hash = ? AND gone = 0", (h,)
        ).fetchone()
        return str(row[0]) if row else ""

    def _keep_copy(self, m: Member) -> bool:
        """Record `m` as a copy of the member holding its text; True when that is news."""
        row = self._db.execute("SELECT hash FROM copies WHERE id = ?", (m.id,)).fetchone()
        if row is not None and row[0] == m.hash:
            return False
        self._db.execute(
            "INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?)",
            (m.id, m.hash, m.title, m.outlet, m.published, m.seen),
        )
        return True

    def _docs(self) -> float:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'docs'").fetchone()
        return float(row[0]) if row else 0.0

    def _weigh(self, row: Vector, total: float) -> Vector:
        """TF-IDF weights from the store's document frequencies, unit length."""
        import numpy as np

        idx, tf = row

        df = np.ones(len(idx))
        for chunk_start in range(0, len(idx), 500):
            chunk = [int(b) for b in idx[chunk_start : chunk_start + 500]]
            marks_ = ",".join("?" * len(chunk))
            found = dict(
                self._db.execute(f"SELECT bucket, n FROM df WHERE bucket IN ({marks_})", chunk)
            )
            df[chunk_start : chunk_start + len(chunk)] = [found.get(b, 1) for b in chunk]
        weights = tf * (np.log((1.0 + total) / (1.0 + df)) + 1.0)
        norm = float(np.sqrt(np.dot(weights, weights))) or 1.0
        return idx, (weights / norm).astype(np.float32)

    def _closest(self, vec: Vector, mvec: Vector, m: Member) -> tuple[str | None, float]:
        """The best active story for an article: candidates from the inverted index (stories
        sharing its strongest features, within the time window) and, with an embedding, the
        stories nearest it; then each candidate is scored against its centroids. With
        embeddings on both sides the fitted join model decides (its logit against its cut);
        otherwise the words' cosine against the threshold, where for a story in none of the
        article's language, whose words it cannot share, the names and numbers count too.
        The score returned is the decision's probability (model) or cosine (words)."""
        import numpy as np

        lang, published, emb = m.lang, m.published, m.embedding
        query = [*_top(vec, QUERY_TERMS), *_top(mvec, QUERY_TERMS // 2)]
        near = self._nearest.nearest(m) if self._nearest is not None else {}
        if not query and not near:
            return None, 0.0
        rows: list[Any] = []
        if query:
            marks_ = ",".join("?" * len(query))
            rows = self._db.execute(
                f"""SELECT s.id, {_SUMS}
                    FROM stories s
                    JOIN (
                        SELECT story, COUNT(*) AS hits FROM postings WHERE bucket IN ({marks_})
                        GROUP BY story ORDER BY hits DESC LIMIT {CANDIDATES * 4}
                    ) p ON p.story = s.id
                    {_ONE_MEMBER}
                    WHERE s.size > 0 AND s.merged_into IS NULL AND s.last >= ? AND s.first <= ?
                    ORDER BY p.hits DESC, s.id LIMIT {CANDIDATES}""",
                [*query, published - self.window, published + self.window],
            ).fetchall()
        seen = {r[0] for r in rows}
        extra = [sid for sid in near if sid not in seen]
        if extra:
            marks_ = ",".join("?" * len(extra))
            rows += self._db.execute(
                f"SELECT s.id, {_SUMS} FROM stories s {_ONE_MEMBER} "
                f"WHERE s.id IN ({marks_}) AND s.size > 0 AND s.merged_into IS NULL",
                extra,
            ).fetchall()
        best: tuple[str | None, float] = (None, 0.0)
        for sid, blob, mblob, langs, eblob, keys, size in rows:
            content = _cosine(vec, _unpack(blob))
            cross = lang not in json.loads(langs)
            embedded = near.get(sid)
            if embedded is None and emb is not None and eblob is not None:
                ecentroid = _unpack_embedding(eblob)
                if len(ecentroid) == len(emb):
                    norm = float(np.sqrt(ecentroid @ ecentroid)) or 1.0
                    embedded = float(ecentroid @ emb) / norm
            if self.join is not None and embedded is not None:
                names, numbers = overlap(m.keys, _counts(keys), size)
                # The names' cosine (the costly one) only where it could tip the decision.
                if self.join.most(content, embedded, cross, names, numbers, lang) < self.join.cut:
                    continue
                named = _cosine(mvec, _unpack(mblob))
                features = join_features(content, named, embedded, cross, names, numbers, lang)
                logit = self.join.logit(features)
                score = 1.0 / (1.0 + math.exp(-logit))
                accepted = logit >= self.join.cut
            else:
                named = _cosine(mvec, _unpack(mblob)) if cross else 0.0
                score = max(content, named) if cross else content
                accepted = score >= self.threshold
            if accepted and score > best[1]:
                best = (sid, score)
        return best

    def _start(self, m: Member) -> str:
        sid = story_id(m.hash)
        empty = _pack(_nothing())
        self._db.execute(
            "INSERT OR IGNORE INTO stories "
            "(id, created, first, last, size, centroid, mcentroid, langs, merged_into) "
            "VALUES (?, ?, ?, ?, 0, ?, ?, '{}', NULL)",
            (sid, time.time(), m.published, m.published, empty, empty),
        )
        return sid

    def _join(self, sid: str, m: Member, vec: Vector, mvec: Vector, original: str | None) -> None:
        # A text that was here once, left (its file was replaced), and is back.
        self._db.execute("DELETE FROM members WHERE hash = ? AND gone = 1", (m.hash,))
        self._db.execute(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (
                m.hash,
                m.id,
                sid,
                m.lang,
                m.title,
                m.outlet,
                m.published,
                m.seen,
                _pack(vec),
                _pack(mvec),
                json.dumps(dict(list(m.marks.items())[:MARK_LIMIT]), ensure_ascii=False),
                _pack_shingles(m.shingles),
                original,
                None if m.embedding is None else _pack_embedding(m.embedding),
                json.dumps(sorted(m.keys), ensure_ascii=False),
            ),
        )
        if m.shingles:
            self._db.executemany(
                "INSERT OR IGNORE INTO bands VALUES (?, ?)",
                [(k, m.hash) for k in _bands(m.shingles)],
            )
        self._move(sid, vec, mvec, m.lang, +1, m.published, m.embedding, m.keys, m.hash)

    def _move(
        self,
        sid: str,
        vec: Vector,
        mvec: Vector,
        lang: str,
        sign: int,
        published: float | None = None,
        emb: Any = None,
        keys: Iterable[str] = (),
        moving: str = "",
    ) -> None:
        """Add a member's vectors to a story's centroids (or take them away), and its lede's
        names and numbers to the story's counts, and re-post the story's strongest features
        in the index. A story left with one member stores no sums (its member's are read);
        `moving`: the member being added, already filed under the story."""
        first, last, size, blob, mblob, langs, eblob, counted = self._db.execute(
            "SELECT first, last, size, centroid, mcentroid, langs, ecentroid, keys FROM stories "
            "WHERE id = ?",
            (sid,),
        ).fetchone()
        if size == 1:
            one = self._db.execute(
                "SELECT vector, mvector, embedding, keys FROM members "
                "WHERE story = ? AND gone = 0 AND hash != ? LIMIT 1",
                (sid, moving),
            ).fetchone()
            if one is not None:
                blob, mblob, eblob, counted = one
        counts = Counter(_counts(counted))
        counts.update(dict.fromkeys(keys, sign))
        ecentroid = _unpack_embedding(eblob)
        if emb is not None and not (sign < 0 and ecentroid is None):
            if ecentroid is None or len(ecentroid) != len(emb):
                ecentroid = 0.0 * emb
            ecentroid = ecentroid + sign * emb
            if size + sign <= 0 or float(abs(ecentroid).max()) < 1e-3:
                ecentroid = None
            eblob = None if ecentroid is None else _pack_embedding(ecentroid)
        centroid = _add(_unpack(blob), vec, float(sign))
        mcentroid = _add(_unpack(mblob), mvec, float(sign))
        if size + sign <= 0:  # no member left: nothing to sum, nothing to post
            centroid = mcentroid = _nothing()
            ecentroid = eblob = None
            counts = Counter()
        count = Counter(json.loads(langs))
        count[lang] += sign
        if published is not None:
            first, last = min(first, published), max(last, published)
        stored = size + sign != 1  # one member: its own columns stand for the story's sums
        empty = _pack(_nothing())
        self._db.execute(
            "UPDATE stories SET first = ?, last = ?, size = ?, centroid = ?, mcentroid = ?, "
            "langs = ?, ecentroid = ?, keys = ? WHERE id = ?",
            (
                first,
                last,
                size + sign,
                _pack(centroid) if stored else empty,
                _pack(mcentroid) if stored else empty,
                json.dumps({k: n for k, n in sorted(count.items()) if n > 0}),
                eblob if stored else None,
                json.dumps({k: n for k, n in sorted(counts.items()) if n > 0}, ensure_ascii=False)
                if stored
                else None,
                sid,
            ),
        )
        if self._nearest is not None:
            if ecentroid is None or size + sign <= 0:
                self._nearest.drop(sid)
            else:
                self._nearest.put(sid, ecentroid, first, last)
        self._db.execute("DELETE FROM postings WHERE story = ?", (sid,))
        posted = dict.fromkeys([*_top(centroid, POSTED_TERMS), *_top(mcentroid, POSTED_TERMS // 2)])
        self._db.executemany(
            "INSERT OR IGNORE INTO postings VALUES (?, ?)", [(b, sid) for b in posted]
        )

    def _supersede(self, m: Member, touched: dict[str, None]) -> None:
        """An id seen before with other content (a file replaced in the folder): the id now
        stands for the new text. A member it held passes to one of its exact copies, or leaves
        its story when it has none; a copy it was is forgotten."""
        rows = self._db.execute(
            "SELECT hash, story, vector, mvector, lang, embedding, keys, shingles FROM members "
            "WHERE id = ? AND hash != ? AND gone = 0",
            (m.id, m.hash),
        ).fetchall()
        for old_hash, sid, blob, mblob, lang, eblob, keys, sblob in rows:
            touched[sid] = None
            heir = self._db.execute(
                "SELECT id, title, outlet FROM copies WHERE hash = ? "
                "ORDER BY published, seen, id LIMIT 1",
                (old_hash,),
            ).fetchone()
            if heir is not None:
                self._db.execute(
                    "UPDATE members SET id = ?, title = ?, outlet = ? WHERE hash = ?",
                    (*heir, old_hash),
                )
                self._db.execute("DELETE FROM copies WHERE id = ?", (heir[0],))
                continue
            self._db.execute("UPDATE members SET gone = 1 WHERE hash = ?", (old_hash,))
            old_shingles = _unpack_shingles(sblob)
            if old_shingles:  # its band keys, found by key (the table's order)
                self._db.executemany(
                    "DELETE FROM bands WHERE key = ? AND hash = ?",
                    [(k, old_hash) for k in _bands(old_shingles)],
                )
            self._db.execute(
                "UPDATE members SET duplicate_of = NULL WHERE duplicate_of = ?", (old_hash,)
            )
            self._move(
                sid,
                _unpack(blob),
                _unpack(mblob),
                lang,
                -1,
                None,
                _unpack_embedding(eblob),
                json.loads(keys or "[]"),
            )
        copy = self._db.execute(
            "SELECT hash FROM copies WHERE id = ? AND hash != ?", (m.id, m.hash)
        ).fetchone()
        if copy is not None:
            self._db.execute("DELETE FROM copies WHERE id = ?", (m.id,))
            sid = self._story_of(copy[0])
            if sid is not None:
                touched[sid] = None

    def _story_of(self, h: str) -> str | None:
        """The live story holding content `h` (None when no live member has it)."""
        row = self._db.execute(
            "SELECT story FROM members WHERE hash = ? AND gone = 0", (h,)
        ).fetchone()
        if row is None:
            return None
        sid: str = row[0]
        # A merged story answers for the story it went into.
        seen = {sid}
        while True:
            into = self._db.execute(
                "SELECT merged_into FROM stories WHERE id = ?", (sid,)
            ).fetchone()
            if into is None or into[0] is None or into[0] in seen:
                return sid
            sid = into[0]
            seen.add(sid)

    def similarity(self, a_hash: str, b_hash: str) -> float:
        """Two stored articles' similarity, as a decision would see it: with both embeddings,
        the join model's probability; else the cosine of their content vectors, and for two
        languages the better of that and their names' and numbers' (the vectors as weighted
        when each was added)."""
        pair = self.cosines(a_hash, b_hash)
        if self.join is not None and pair.embedding is not None:
            return 1.0 / (1.0 + math.exp(-self.join.logit(pair.features())))
        return max(pair.content, pair.named) if pair.cross else pair.content

    def cosines(self, a_hash: str, b_hash: str) -> Pair:
        """What the join decision weighs for two stored articles (`join_features`)."""
        rows = {
            h: (_unpack(v), _unpack(mv), _unpack_embedding(e), lang, json.loads(k or "[]"))
            for h, v, mv, e, lang, k in self._db.execute(
                "SELECT hash, vector, mvector, embedding, lang, keys FROM members "
                "WHERE hash IN (?, ?)",
                (a_hash, b_hash),
            )
        }
        (va, ma, ea, la, ka), (vb, mb, eb, lb, kb) = rows[a_hash], rows[b_hash]
        emb = None if ea is None or eb is None else float(_normed(ea) @ _normed(eb))
        names, numbers = overlap(ka, dict.fromkeys(kb, 1), 1)
        return Pair(_dot(va, vb), _dot(ma, mb), emb, la != lb, names, numbers, la)

    # -- reading and merging -------------------------------------------------------------------

    def story(self, sid: str) -> Story | None:
        row = self._db.execute(
            "SELECT first, last, merged_into FROM stories WHERE id = ?", (sid,)
        ).fetchone()
        if row is None or row[2] is not None:
            return None
        found = [
            StoryMember(h, i, lang, title, out, pub, json.loads(mk), dup, seen)
            for h, i, lang, title, out, pub, mk, dup, seen in self._db.execute(
                "SELECT hash, id, lang, title, outlet, published, marks, duplicate_of, seen "
                "FROM members WHERE story = ? AND gone = 0",
                (sid,),
            )
        ]
        found += [
            StoryMember(h, i, lang, title, out, pub, json.loads(mk), h, seen)
            for h, i, lang, title, out, pub, mk, seen in self._db.execute(
                "SELECT c.hash, c.id, m.lang, c.title, c.outlet, c.published, m.marks, c.seen "
                "FROM copies c JOIN members m ON m.hash = c.hash "
                "WHERE m.story = ? AND m.gone = 0",
                (sid,),
            )
        ]
        # In order of publication; an original before its exact copies.
        members = tuple(
            sorted(found, key=lambda m: (m.published, m.seen, m.hash, m.duplicate_of == m.hash))
        )
        return Story(sid, members, row[0], row[1]) if members else None

    def stories(self, ids: Iterable[str] | None = None) -> list[Story]:
        """The stories named (every live one when none are), oldest first."""
        if ids is None:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM stories WHERE size > 0 AND merged_into IS NULL "
                    "ORDER BY first, id"
                )
            ]
        return [s for s in (self.story(i) for i in dict.fromkeys(ids)) if s is not None]

    def ids(self) -> set[str]:
        """Every live story id (for a stories.json that keeps untouched stories as they were)."""
        return {
            r[0]
            for r in self._db.execute(
                "SELECT id FROM stories WHERE size > 0 AND merged_into IS NULL"
            )
        }

    def merge(self, kept: str, merged: str, by: str | None = None) -> None:
        """Make two stories one, explicitly and on the record: `merged`'s members move to
        `kept`, and `merged` answers for `kept` from then on."""
        from summarize.db import transaction
        from summarize.errors import UsageError

        if kept == merged:
            raise UsageError(f"cannot merge story {kept} with itself")
        with transaction(self._db) as db:
            for sid in (kept, merged):
                row = db.execute("SELECT merged_into FROM stories WHERE id = ?", (sid,)).fetchone()
                if row is None or row[0] is not None:
                    raise UsageError(f"no story {sid} to merge (see stories.json)")
            for blob, mblob, lang, pub, eblob, keys in db.execute(
                "SELECT vector, mvector, lang, published, embedding, keys FROM members "
                "WHERE story = ? AND gone = 0",
                (merged,),
            ).fetchall():
                self._move(
                    kept,
                    _unpack(blob),
                    _unpack(mblob),
                    lang,
                    +1,
                    pub,
                    _unpack_embedding(eblob),
                    json.loads(keys or "[]"),
                )
            db.execute("UPDATE members SET story = ? WHERE story = ?", (kept, merged))
            db.execute("DELETE FROM postings WHERE story = ?", (merged,))
            db.execute("UPDATE stories SET merged_into = ?, size = 0 WHERE id = ?", (kept, merged))
            db.execute("INSERT INTO merges VALUES (?, ?, ?, ?)", (time.time(), kept, merged, by))

    def close(self) -> None:
        self._db.close()


def _pack_shingles(items: frozenset[int]) -> bytes:
    import numpy as np

    return np.array(sorted(items), dtype=np.int64).tobytes()


def _unpack_shingles(blob: bytes) -> frozenset[int]:
    import numpy as np

    return frozenset(int(x) for x in np.frombuffer(blob, dtype=np.int64))


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def only_some_report(story: Story, limit: int = 20) -> list[dict[str, Any]]:
    """Names and numbers some members report and others do not (what an editor reconciles),
    shown as the articles write them."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    reports = story.reports  # a copy reports nothing of its own
    for m in reports:
        # A country found only by its name in any language (`t:`) is the same fact as one
        # found among the article's names (`w:`): "Russland" reports Russia.
        for key in {"w:" + k[2:] if k.startswith("t:") else k for k in m.marks}:
            counts[key] += 1
        for key, written in m.marks.items():
            key = "w:" + key[2:] if key.startswith("t:") else key
            if not shown.get(key):  # a whole name over a fragment cut at a text's end ("")
                shown[key] = written
    partial = sorted(
        (k for k, n in counts.items() if n < len(reports)), key=lambda k: (-counts[k], k)
    )
    out: list[dict[str, Any]] = []
    said: set[str] = set()
    for k in partial:
        value = shown[k]
        if (
            not value or value.casefold() in said
        ):  # "": ordinary words, not a fact  # two keys written alike (15.000 and 15000) are one entry
            continue
        said.add(value.casefold())
        out.append(
            {
                "kind": "number" if k.startswith("n:") else "name",
                "value": value,
                "members": counts[k],
            }
        )
        if len(out) == limit:
            break
    return out
