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
batch and the process's peak memory, which must stay flat as the store grows.
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

from summarize.stories import DEFAULT_THRESHOLD, Member, StoryStore, member

EPOCH = 1_600_000_000.0  # the set has no dates: one day for all, so the window never decides


def _pearson(xs: list[float], ys: list[float]) -> float:
    from scipy.stats import pearsonr

    return float(pearsonr(xs, ys)[0])


def real(folder: Path, threshold: float) -> dict[str, Any]:
    articles = [json.loads(line) for line in (folder / "articles.jsonl").open(encoding="utf-8")]
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").open(encoding="utf-8")]
    members = [
        member(
            a["id"], a["id"], a["lang"], a["text"], title=a.get("title") or None, published=EPOCH
        )
        for a in articles
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = StoryStore(Path(tmp) / "stories.sqlite3", threshold)
        started = time.perf_counter()
        done = store.add(members, store.duplicates(members))
        seconds = time.perf_counter() - started
        similarity = store.similarity  # the decision's own measure, on the final weights
        sims = [similarity(p["id1"], p["id2"]) for p in pairs]
        store.close()
    sizes = Counter(done.story_of.values())

    def score(rows: list[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
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

    grouped = [(p, done.story_of[p["id1"]] == done.story_of[p["id2"]]) for p in pairs]
    direct = [(p, s >= threshold) for p, s in zip(pairs, sims, strict=True)]
    by_pair: dict[str, Any] = {}
    for key in sorted({f"{p['lang1']}-{p['lang2']}" for p in pairs}):
        by_pair[key] = score([(p, t) for p, t in grouped if f"{p['lang1']}-{p['lang2']}" == key])
    return {
        "articles": len(articles),
        "pairs": len(pairs),
        "threshold": threshold,
        "grouped": score(grouped),
        "direct": score(direct),
        "pearson": round(_pearson(sims, [-p["overall"] for p in pairs]), 3),
        "largest_story": max(sizes.values()),
        "stories": len(sizes),
        "seconds": round(seconds, 2),
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


def scale(sizes: list[int], add: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = StoryStore(Path(tmp) / "stories.sqlite3")
        rng = random.Random(0)
        have = 0
        for size in sizes:
            while have < size:  # fill, in batches as a watch folder would
                step = min(5000, size - have)
                batch = synthetic(step, have, rng)
                store.add(batch, store.duplicates(batch))
                have += step
            batch = synthetic(add, have, rng)
            started = time.perf_counter()
            done = store.add(batch, store.duplicates(batch))
            seconds = time.perf_counter() - started
            have += add
            events = Counter((int(m.id[1:]) // 5, done.story_of[m.hash]) for m in batch)
            rows.append(
                {
                    "store": size,
                    "added": add,
                    "seconds": round(seconds, 2),
                    "ms_per_article": round(1000 * seconds / add, 2),
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
    parser.add_argument("--scale", default="", help="store sizes, e.g. 1000,10000,100000")
    parser.add_argument("--add", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.real is not None:
        if (args.real / "pairs.jsonl").exists():
            out["real"] = real(args.real, args.threshold)
        else:
            print(f"skipped: no {args.real}/pairs.jsonl (the development data is not here)")
    if args.scale:
        out["scale"] = scale([int(x) for x in args.scale.split(",")], args.add)
    if not out:
        parser.print_help()
        return
    if args.json:
        print(json.dumps(out, indent=2))
        return
    if "real" in out:
        r = out["real"]
        g, d = r["grouped"], r["direct"]
        print(
            f"{r['articles']} articles, {r['pairs']} labelled pairs, threshold {r['threshold']}"
            f" ({r['seconds']} s to group)"
        )
        print(
            f"after grouping: precision {g['precision']}, recall {g['recall']}, F1 {g['f1']}"
            f" ({g['found']} of {g['same']} same-story pairs, {g['wrong']} different ones joined)"
        )
        print(f"direct link:    precision {d['precision']}, recall {d['recall']}, F1 {d['f1']}")
        print(f"Pearson r of the similarity with the human scores: {r['pearson']}")
        print(f"largest story: {r['largest_story']} articles ({r['stories']} stories)")
        for key, s in r["by_language_pair"].items():
            print(
                f"  {key}: precision {s['precision']}, recall {s['recall']} "
                f"({s['found']}/{s['same']} found, {s['wrong']} wrong)"
            )
    for row in out.get("scale", []):
        print(
            f"store of {row['store']:>7}: +{row['added']} articles in {row['seconds']:6.2f} s "
            f"({row['ms_per_article']} ms each), peak RSS {row['peak_rss_mb']} MB, "
            f"events split {row['events_split']}"
        )


if __name__ == "__main__":
    main()
