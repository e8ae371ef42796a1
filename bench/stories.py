"""How story grouping's cost grows with the number of articles (it must stay near-linear).

    python bench/stories.py [--json]

Synthetic articles, five per event: each has 30 features (names and numbers) drawn from its
event's own 40 and 10 from a shared pool of 5,000, as real articles share common names and
years. The grouping is the product's own (`summarize.stories.group`: every pair compared exactly
up to EXACT_LIMIT articles, MinHash LSH candidates beyond, overlap check, union-find); the check
is that it finds the events, and the ratio of seconds per article between sizes (1.0 is
linear; all-pairs comparison doubles it at every doubling, as below the limit).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from summarize.stories import Member, group


def synthetic(n: int, seed: int = 0) -> list[Member]:
    rng = random.Random(seed)
    shared = [f"w:common{i}" for i in range(5000)]
    members = []
    for i in range(n):
        event = i // 5
        own = [f"w:e{event}-{k}" for k in range(40)]
        feats = frozenset(rng.sample(own, 30) + rng.sample(shared, 10))
        words = [f"x{event}y{rng.randrange(10**6)}" for _ in range(60)]
        shingles = frozenset(" ".join(words[k : k + 5]) for k in range(56))
        members.append(Member(str(i), f"a{i}", "en", None, None, feats, shingles, float(i)))
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="500,1000,2000,4000,8000")
    args = parser.parse_args()
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        members = synthetic(n)
        started = time.perf_counter()
        groups, _ = group(members)
        seconds = time.perf_counter() - started
        right = sum(1 for g in groups if len(g) == 5 and len({int(k) // 5 for k in g}) == 1)
        rows.append(
            {
                "articles": n,
                "seconds": round(seconds, 3),
                "events_found": right,
                "events": n // 5,
                "ms_per_article": round(1000 * seconds / n, 3),
            }
        )
    for prev, row in itertools.pairwise(rows):
        row["per_article_vs_previous"] = round(row["ms_per_article"] / prev["ms_per_article"], 2)
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(
            f"{r['articles']:>6} articles: {r['seconds']:7.2f} s, {r['ms_per_article']:.2f} ms each"
            f" (x{r.get('per_article_vs_previous', 1.0)} per article vs previous), "
            f"{r['events_found']}/{r['events']} events found"
        )


if __name__ == "__main__":
    main()
