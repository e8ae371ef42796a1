"""The join decision: the features of an article-story pair and the fitted logistic model."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


# -- the join decision with embeddings ---------------------------------------------------------

JOIN_FILE = Path(__file__).parent.parent / "story_join.json"
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
