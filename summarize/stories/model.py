"""The store's tables and the plain types stories are made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


def iso(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, written as ingest writes an article's date."""
    from summarize.ingest import iso_date

    return iso_date(timestamp) or ""  # a number is always a date


def story_id(first_hash: str) -> str:
    """A story is named after the article that started it, and keeps that id."""
    return "s-" + sha256(first_hash)[:12]
