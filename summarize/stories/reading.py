"""Reading the store without changing it: near-duplicates of a batch, a story and its members,
every story, one article's story, and the similarities the desk and the benchmarks ask for."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from summarize.stories.features import distinct, is_duplicate
from summarize.stories.join import Pair, _unpack_embedding, overlap
from summarize.stories.model import Member, Story, StoryMember
from summarize.stories.nearest import _normed
from summarize.stories.vectors import _bands, _chunks, _dot, _unpack, _unpack_shingles

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


class StoryReader:
    """What `StoryStore` answers without changing anything (its connection is `_db`; `join`,
    the fitted join model, is set by the store)."""

    _db: Any
    join: Any

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

    # -- stories -------------------------------------------------------------------------------

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
