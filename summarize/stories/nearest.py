"""The stories nearest an article's embedding (an in-memory index of story embeddings)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from summarize.stories.model import Member

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


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
