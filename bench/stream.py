"""Memory of a long `Summarizer.summarize_many` stream: does it stay flat as the stream grows?

    python bench/stream.py [--small 50] [--large 400] [--batch-size 8] [--json]

Each measurement runs in a fresh process with the tiny random-weight models (what they write
is gibberish; memory depends on what the pipeline keeps, not on the words). Every article is
distinct (a seed text with its own closing line), so each one is computed, none comes from
the cache; the cache is on, in a temporary folder, as a user's would be.

What is measured, after a warm-up batch (models loaded, first-call costs paid):
- `traced_peak_mb`: the peak of Python allocations (`tracemalloc`) over the stream, above what
  was held when it began: what the pipeline keeps per article shows here;
- `retained_mb`: what is still held when the stream has ended (after a collection), the
  results a consumer kept included: what a stream of any length would leave behind;
- `rss_growth_mb`: the process's resident high-water mark (VmHWM) at the end, less at the
  start: native memory too (tokenizers, the models' buffers, SQLite), coarser.

Two consumers of the same stream: `stream` handles each result and lets it go (what a CMS
worker does); `hold` keeps every result (a list), the control that shows the measure sees
growth when there is some. Flat means the `stream` ratio large/small stays near 1 while the
`hold` ratio grows with the number of articles.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def texts(count: int, start: int = 0) -> Iterator[str]:
    """Distinct articles, made as they are read: the input is a stream too, so what the
    measure sees is what the pipeline holds, not a list of inputs."""
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    for i in range(start, start + count):
        yield f"{seeds[i % len(seeds)]}\n\nUpdate {i}: the desk has item {i}."


def worker(models: Path, count: int, mode: str, batch_size: int) -> dict[str, Any]:
    import gc
    import tracemalloc

    from conftest import tiny_overrides
    from tiny_models import folders

    from summarize import Summarizer

    tiny = folders(models)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = tiny_overrides(tiny, Path(tmp) / "unused", targets=["ar", "fr"])
        overrides.pop("output_dir")
        overrides["cache_path"] = str(Path(tmp) / "cache.sqlite3")
        with Summarizer(**overrides) as s:
            for _ in s.summarize_many(texts(2 * batch_size, start=10**6), batch_size=batch_size):
                pass
            tracemalloc.start()
            held_before = tracemalloc.get_traced_memory()[0]
            hwm_before = _hwm_mb()
            started = time.perf_counter()
            kept: list[Any] = []
            seen = 0
            for result in s.summarize_many(texts(count), batch_size=batch_size):
                seen += 1
                if mode == "hold":
                    kept.append(result)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            gc.collect()
            held_after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
    return {
        "mode": mode,
        "articles": count,
        "results": seen,
        "traced_peak_mb": round((peak - held_before) / 2**20, 3),
        "retained_mb": round((held_after - held_before) / 2**20, 3),
        "rss_growth_mb": round(_hwm_mb() - hwm_before, 1),
        "seconds": round(seconds, 1),
    }


def spawn(models: Path, count: int, mode: str, batch_size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", mode, "--count", str(count)]
    cmd += ["--models", str(models), "--batch-size", str(batch_size)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"worker {mode} {count} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--models", help="the tiny models' folder (default: built in a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.models), args.count, args.worker, args.batch_size)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(args.models) if args.models else Path(tmp) / "tiny"
        if not args.models:
            from tiny_models import build_all

            build_all(models)
        runs = [
            spawn(models, n, mode, args.batch_size)
            for mode in ("stream", "hold")
            for n in (args.small, args.large)
        ]
    by = {(r["mode"], r["articles"]): r for r in runs}
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": len(os.sched_getaffinity(0)),
        "batch_size": args.batch_size,
        "runs": runs,
    }
    print(
        f"{'consumer':8} {'articles':>8} {'traced peak MB':>15} {'retained MB':>12} "
        f"{'RSS growth MB':>14} {'s':>6}"
    )
    for r in runs:
        print(
            f"{r['mode']:8} {r['articles']:>8} {r['traced_peak_mb']:>15.3f} "
            f"{r['retained_mb']:>12.3f} {r['rss_growth_mb']:>14.1f} {r['seconds']:>6.1f}"
        )
    for mode in ("stream", "hold"):
        small, large = by[(mode, args.small)], by[(mode, args.large)]
        ratio = large["traced_peak_mb"] / max(small["traced_peak_mb"], 1e-3)
        out[f"{mode}_ratio"] = round(ratio, 2)
        print(
            f"{mode}: traced peak {args.large} / {args.small} articles = {ratio:.2f} "
            f"(articles x{args.large / args.small:.0f})"
        )
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
