"""`StoryStore`: the stories of an output folder, kept in SQLite."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.stories.features import distinct
from summarize.stories.join import (
    JoinModel,
    _pack_embedding,
    _unpack_embedding,
    join_features,
    overlap,
)
from summarize.stories.model import (
    _DAY,
    CANDIDATES,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_DAYS,
    MARK_LIMIT,
    MIGRATIONS,
    POSTED_TERMS,
    QUERY_TERMS,
    Assignment,
    Member,
    story_id,
)
from summarize.stories.nearest import _Nearest
from summarize.stories.reading import StoryReader
from summarize.stories.vectors import (
    _add,
    _bands,
    _cosine,
    _hash_features,
    _nothing,
    _pack,
    _pack_shingles,
    _row,
    _top,
    _unpack,
    _unpack_shingles,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


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


# -- the store ---------------------------------------------------------------------------------


class StoryStore(StoryReader):
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
