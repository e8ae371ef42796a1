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

The package, by concern: `model` (tables and types), `features` (what an article brings),
`vectors` (hashed TF-IDF and MinHash), `join` (the fitted join decision), `nearest` (the
embedding index), `store` and `reading` (`StoryStore`: adding and merging, and reading back),
`report` ("reported by only some").
"""

from summarize.stories.features import (
    distinct,
    fact_name,
    first_sentence,
    is_duplicate,
    marks,
    member,
    ordinary_word,
    outlet,
    shingles,
    terms,
    words,
)
from summarize.stories.join import (
    JOIN_FEATURES,
    JOIN_FILE,
    JOIN_LANGUAGES,
    JoinModel,
    Pair,
    join_features,
    overlap,
)
from summarize.stories.model import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_DAYS,
    Assignment,
    Member,
    Story,
    StoryMember,
    iso,
    story_id,
)
from summarize.stories.report import only_some_report
from summarize.stories.store import StoryStore

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW_DAYS",
    "JOIN_FEATURES",
    "JOIN_FILE",
    "JOIN_LANGUAGES",
    "Assignment",
    "JoinModel",
    "Member",
    "Pair",
    "Story",
    "StoryMember",
    "StoryStore",
    "distinct",
    "fact_name",
    "first_sentence",
    "is_duplicate",
    "iso",
    "join_features",
    "marks",
    "member",
    "only_some_report",
    "ordinary_word",
    "outlet",
    "overlap",
    "shingles",
    "story_id",
    "terms",
    "words",
]
