"""Stories: the articles that report the same event, across outlets and languages.

Grouping uses signals that do not depend on model quality, so it works with tiny test models
and real ones alike: names and acronyms (folded, the same country in any language made one:
`Maroc` is `Morocco`), numbers and years by value (`١٩٦` is `196`), and, for an article in
another language, its English pivot text when one exists.

Cost grows near-linearly with the number of articles: beyond EXACT_LIMIT articles, each
article's features are MinHashed and put in a locality-sensitive hash index (datasketch's
MinHashLSH), so an article is only compared with the candidates the index returns, never with
every other article. Up to that size every pair is compared exactly, which is cheaper than the
index (and than importing it: datasketch brings about 60 MB of scipy). The pairs that pass form
stories as connected groups (union-find). Near-duplicates (the same wire copy republished) are
found the same way on word shingles of the text.

Stories persist in `<output>/stories.sqlite3`: a later run, the watch folder or the service
sharing that folder adds its articles to the stories already there.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from summarize.text import sha256

# A story is two articles sharing this share of their features (overlap coefficient: shared
# features over the smaller set), and at least MIN_SHARED of them. Measured on the sample
# articles and a set of unrelated ones (README "Stories").
DEFAULT_THRESHOLD = 0.2
MIN_SHARED = 3
DUPLICATE_THRESHOLD = 0.9
NUM_PERM = 128
# Up to this many articles every pair is compared exactly; beyond, through the index.
EXACT_LIMIT = 1000
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
]
_SHINGLE = 5


@dataclass(frozen=True)
class Member:
    """One article as the grouping sees it."""

    hash: str
    id: str
    lang: str
    title: str | None
    outlet: str | None
    features: frozenset[str]
    shingles: frozenset[str]
    seen: float = 0.0


@dataclass(frozen=True)
class Story:
    id: str
    members: tuple[Member, ...]
    duplicates: dict[str, str] = field(default_factory=dict)  # member hash -> original hash

    @property
    def size(self) -> int:
        return len(self.members)


def outlet(url: str | None, source: str) -> str | None:
    """Who published it: the URL's host when known, else the folder the file came from."""
    if url:
        host = urlparse(url).hostname
        if host:
            return host.removeprefix("www.")
    parent = Path(source).parent.name if "/" in source else ""
    return parent or None


def features(text: str, lang: str) -> frozenset[str]:
    """Names and acronyms (`w:`), and numbers by value (`n:`), language-neutral."""
    from summarize.checks.names import GENERIC_WORDS, canonical_word, names
    from summarize.checks.numbers import numbers

    out: set[str] = set()
    for name, _, _ in names(text, lang):
        for word in re.findall(r"\w+", name):
            folded = canonical_word(word)
            if len(folded) > 2 and folded not in GENERIC_WORDS:
                out.add("w:" + folded)
    for mention in numbers(text):
        for value in mention.values:
            if value >= 10 and value == int(value):
                out.add(f"n:{int(value)}")
    return frozenset(out)


def shingles(text: str) -> frozenset[str]:
    words = re.findall(r"\w+", text.casefold())
    return frozenset(" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def _minhash(items: Iterable[str]) -> object:
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM)
    for item in items:
        m.update(item.encode("utf-8"))
    return m


def _overlap(a: frozenset[str], b: frozenset[str]) -> tuple[float, int]:
    shared = len(a & b)
    return (shared / min(len(a), len(b)) if a and b else 0.0), shared


def _pairs(sets: Sequence[frozenset[str]], lsh_threshold: float) -> Iterable[tuple[int, int]]:
    """Candidate pairs: every pair up to EXACT_LIMIT sets; beyond, from a MinHash LSH index,
    each set compared only with those the index returns for it."""
    if len(sets) <= EXACT_LIMIT:
        yield from itertools.combinations(range(len(sets)), 2)
        return
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=lsh_threshold, num_perm=NUM_PERM)
    hashes = []
    for i, items in enumerate(sets):
        m = _minhash(items)
        hashes.append(m)
        if items:
            lsh.insert(str(i), m)
    for i, m in enumerate(hashes):
        if not sets[i]:
            continue
        for key in lsh.query(m):
            j = int(key)
            if j > i:
                yield i, j


def group(
    members: Sequence[Member], threshold: float = DEFAULT_THRESHOLD
) -> tuple[list[list[int]], dict[int, int]]:
    """Stories (lists of member indexes, each sorted by first seen) and near-duplicates
    (member index -> the index of the earlier copy)."""
    n = len(members)
    edges: list[tuple[int, int]] = []
    # The index finds candidates by Jaccard; the overlap coefficient then decides (a short
    # article is wholly contained in a long one's features), so the index is asked loosely.
    for i, j in _pairs([m.features for m in members], lsh_threshold=max(0.1, threshold / 3)):
        score, shared = _overlap(members[i].features, members[j].features)
        if score >= threshold and shared >= MIN_SHARED:
            edges.append((i, j))
    duplicates: dict[int, int] = {}
    # A republished copy may be trimmed: it is a duplicate when nearly all of the shorter text
    # is in the longer one (containment), so the index is asked loosely here too.
    for i, j in _pairs([m.shingles for m in members], lsh_threshold=0.2):
        a, b = members[i].shingles, members[j].shingles
        if len(a & b) / max(1, min(len(a), len(b))) >= DUPLICATE_THRESHOLD:
            first, later = sorted((i, j), key=lambda k: (members[k].seen, members[k].hash))
            duplicates.setdefault(later, first)
            edges.append((i, j))
    parent = list(range(n))  # union-find: each pair that passes joins two groups

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j in edges:
        parent[root(i)] = root(j)
    stories: dict[int, list[int]] = {}
    for index in range(n):
        stories.setdefault(root(index), []).append(index)
    order = sorted(
        stories.values(), key=lambda ix: min((members[k].seen, members[k].hash) for k in ix)
    )
    return [
        sorted(ix, key=lambda k: (members[k].seen, members[k].hash)) for ix in order
    ], duplicates


def story_id(first: Member) -> str:
    """A story is named after its first article, so its id stays as members join."""
    return "s-" + sha256(first.hash)[:12]


class StoryStore:
    """The members of every story under one output folder (SQLite, shared by runs)."""

    def __init__(self, path: Path) -> None:
        from summarize.db import connect

        self.path = path
        self._db = connect(path, MIGRATIONS)

    def add(self, new: Iterable[Member]) -> None:
        from summarize.db import transaction

        now = time.time()
        with transaction(self._db) as db:
            for m in new:
                db.execute(
                    "INSERT OR IGNORE INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        m.hash,
                        m.id,
                        m.lang,
                        m.title,
                        m.outlet,
                        json.dumps(sorted(m.features)),
                        json.dumps(sorted(m.shingles)),
                        now,
                    ),
                )

    def members(self) -> list[Member]:
        rows = self._db.execute(
            "SELECT hash, id, lang, title, outlet, features, shingles, seen FROM members"
        ).fetchall()
        return [
            Member(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                frozenset(json.loads(r[5])),
                frozenset(json.loads(r[6])),
                r[7],
            )
            for r in rows
        ]

    def stories(self, threshold: float = DEFAULT_THRESHOLD) -> list[Story]:
        members = self.members()
        groups, duplicates = group(members, threshold)
        out = []
        for indexes in groups:
            chosen = tuple(members[k] for k in indexes)
            dups = {
                members[k].hash: members[duplicates[k]].hash for k in indexes if k in duplicates
            }
            out.append(Story(story_id(chosen[0]), chosen, dups))
        return out

    def close(self) -> None:
        self._db.close()
