"""Articles per second: the local executor against Ray with 1 and 2 workers, on this machine,
and on two Ray nodes (a head and a worker node, each its own raylet with half the cores).

    python bench/ray_executor.py [--articles N] [--repeats R] [--json]

Same models, articles and fixed output lengths as bench/pipeline.py (random weights with the
default models' shapes; 60-token summaries, 64-token translations, beam 4), on the CTranslate2
int8 engine, in waves of 8 articles (the same waves in every configuration, so the outputs
must be identical). Every configuration runs in fresh processes: on one short sentence, which
is its start-up cost (imports and model loading; for Ray also starting a one-machine Ray and
its actors, each of which loads its own models), and on the whole batch. Each is measured
`--repeats` times and the fastest kept. Ratios are against the local executor measured in the
same run. Memory is the peak, sampled twice a second during the run, of the resident size of
the local process, or of the Ray driver with all the processes it started (Ray's own and the
workers; a one-shot run stops its workers at the end, so the end of the run would miss them),
shared pages counted in each process. The CPU budget is the same for all: local uses
every core; Ray 1 worker gets every core; Ray 2 workers get one core each.

The two-node configuration runs on `ray.cluster_utils.Cluster` (Ray's multi-node harness): two
raylets on this one machine, one worker on each. On one machine that measures what two nodes
cost (two raylets, two object stores), not a speed-up: both nodes share the same cores. What
real nodes would give is estimated from the per-wave times every Ray configuration reports
(the `worker` block of each article in report.json): a node of C cores computes a wave in about
the time the one-worker configuration measured with C cores, so N such nodes finish W waves
in about ceil(W / N) wave times plus start-up. Its memory is the driver's alone (the nodes and
their workers are the benchmark's own processes), and its start-up does not count starting
the two nodes, which were up before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import _rss_mb, articles, build_models, convert_all, product_setup, spawn

NAMES = ["distilbart-cnn-12-6", "opus-mt-tc-big-en-fr", "opus-mt-tc-big-en-ar"]
# Articles per wave, for every configuration: 16 articles are two waves, one per Ray worker.
WAVE = 8
SHORT = "The council met on Tuesday and approved the new budget for the city's schools."
CLUSTER_ENV = "SUMMARIZE_BENCH_CLUSTER"


def two_nodes(cores: int) -> Any:
    """A head and a worker node on this machine (Ray's multi-node harness), half the cores
    each; its address is passed to the timed processes."""
    from ray.cluster_utils import Cluster

    half = max(1, cores // 2)
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": half, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=half)
    cluster.wait_for_nodes()
    os.environ[CLUSTER_ENV] = cluster.address
    return cluster


def tree_rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process and all its descendants (for Ray: the driver, Ray's own
    processes and the actors). Pages shared between processes count once per process."""
    pid = pid or os.getpid()
    try:
        rss = next(
            int(line.split()[1]) / 1024.0
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        children = [
            int(c)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()
        ]
    except (OSError, StopIteration):
        return 0.0
    return rss + sum(tree_rss_mb(c) for c in children)


class PeakMemory:
    """The largest `tree_rss_mb()` seen, sampled in a thread while the block runs."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.mb = max(self.mb, tree_rss_mb())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def worker(config: str, models: dict[str, str], texts: list[str]) -> dict[str, Any]:
    """One timed run of `config` (local, or ray:WORKERS:CPUS) over `texts`, in this process."""
    started = time.perf_counter()
    import dataclasses

    import summarize

    with tempfile.TemporaryDirectory() as tmp:
        feed, settings = product_setup(
            models,
            texts,
            Path(tmp),
            engine="ctranslate2",
            compute_type="int8",
            cache=False,
            batch_size=WAVE,
        )
        ray_init = 0.0
        if config.startswith("ray"):
            import ray

            kind, workers, cpus = config.split(":")
            settings = dataclasses.replace(
                settings, executor="ray", workers=int(workers), cpus_per_worker=float(cpus)
            )
            t0 = time.perf_counter()
            # "ray2n": join the two-node cluster the benchmark started; "ray": a one-machine Ray.
            where: dict[str, Any] = (
                {"address": os.environ[CLUSTER_ENV]}
                if kind == "ray2n"
                else {"num_cpus": os.cpu_count(), "include_dashboard": False}
            )
            ray.init(**where, log_to_driver=False, configure_logging=False)
            ray_init = time.perf_counter() - t0
        with PeakMemory() as peak:
            report = summarize.run([feed], settings)
        placed = {o.placement.wave: o.placement for o in report.outcomes if o.placement}
        seconds = time.perf_counter() - started
        memory = max(peak.mb, tree_rss_mb(), _rss_mb())
        assert report.ok, [o.error for o in report.failed]
        outputs = [
            [r.summary.text, r.translations["fr"].text, r.translations["ar"].text]
            for r in report.results
        ]
    return {
        "seconds": seconds,
        "ray_init_seconds": ray_init,
        "memory_mb": memory,
        "outputs": outputs,
        # Each wave's compute time in its worker, and on which node (a short id).
        "waves": {n: [p.node[:8], p.wave_seconds] for n, p in sorted(placed.items())},
    }


def best(config: str, models: dict[str, Path], texts: list[str], repeats: int) -> dict[str, Any]:
    """The fastest of `repeats` fresh-process runs (this machine's timings vary run to run)."""
    runs = [spawn(config, models, texts, script=__file__) for _ in range(repeats)]
    return min(runs, key=lambda r: float(r["seconds"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=16, help="batch size [16]")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per measurement, best kept [2]"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--models", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
        print(json.dumps(worker(args.worker, json.loads(args.models), texts)))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cores = os.cpu_count() or 1
    models = build_models(NAMES)
    convert_all(models, NAMES)
    n = args.articles
    texts = articles(models["distilbart-cnn-12-6"], n, 1)
    configs = {
        "local executor": "local",
        "Ray, 1 worker": f"ray:1:{cores}",
        f"Ray, 2 workers x {max(1, cores // 2)} CPU": f"ray:2:{max(1, cores // 2)}",
        f"Ray, 2 nodes x {max(1, cores // 2)} CPU": f"ray2n:2:{max(1, cores // 2)}",
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, config in configs.items():
        cluster = two_nodes(cores) if config.startswith("ray2n") else None
        try:
            startup = best(config, models, [SHORT], args.repeats)
            full = best(config, models, texts, args.repeats)
        finally:
            if cluster is not None:
                cluster.shutdown()
        rows[name] = {"startup": startup, "full": full}
        print(
            f"{name}: start-up {startup['seconds']:.1f} s, {n} articles {full['seconds']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    local_outputs = rows["local executor"]["full"]["outputs"]
    same = all(r["full"]["outputs"] == local_outputs for r in rows.values())
    base = n / rows["local executor"]["full"]["seconds"]
    print(f"\n{n} articles of ~700 tokens, {cores} cores, CTranslate2 int8")
    print(
        f"{'configuration':<26}{'art/s':>8}{'vs local':>10}{'start-up s':>12}"
        f"{'art/s after start-up':>22}{'ray.init s':>12}{'memory MB':>11}"
    )
    summary: dict[str, Any] = {"articles": n, "cores": cores, "same_outputs": same}
    for name, row in rows.items():
        full, startup = row["full"], row["startup"]
        rate = n / full["seconds"]
        steady = n / max(full["seconds"] - startup["seconds"], 1e-6)
        print(
            f"{name:<26}{rate:>8.3f}{rate / base:>9.2f}x{startup['seconds']:>12.1f}"
            f"{steady:>22.3f}{full['ray_init_seconds']:>12.1f}{full['memory_mb']:>11.0f}"
        )
        summary[name] = {
            "articles_per_s": round(rate, 4),
            "vs_local": round(rate / base, 2),
            "startup_seconds": round(startup["seconds"], 1),
            "articles_per_s_after_startup": round(steady, 4),
            "ray_init_seconds": round(full["ray_init_seconds"], 1),
            "memory_mb": round(full["memory_mb"]),
            "waves": full["waves"],
        }
    print(f"outputs identical to the local executor's: {same}")
    print("\nper-wave compute time in the worker (s), by node:")
    for name, row in rows.items():
        if row["full"]["waves"]:
            waves = ", ".join(
                f"{n} {node} {t:.1f}" for n, (node, t) in row["full"]["waves"].items()
            )
            print(f"  {name}: {waves}")
    one = rows["Ray, 1 worker"]["full"]
    if one["waves"]:
        wave_s = sum(t for _, t in one["waves"].values()) / len(one["waves"])
        startup_s = rows["Ray, 1 worker"]["startup"]["seconds"]
        count = len(one["waves"])
        print(
            f"\nexpected on real nodes of {cores} cores each ({count} waves of {WAVE}, "
            f"{wave_s:.1f} s a wave on one such node, start-up {startup_s:.0f} s):"
        )
        estimate = {}
        for nodes in (1, 2, 4, 8):
            seconds = startup_s + -(-count // nodes) * wave_s
            steady = min(nodes, count) * WAVE / wave_s
            estimate[nodes] = {"seconds": round(seconds, 1), "steady_art_per_s": round(steady, 3)}
            print(
                f"  {nodes} node(s): about {seconds:.0f} s for these {n} articles; "
                f"{steady:.2f} art/s once started (as many nodes as waves at most)"
            )
        summary["expected_on_real_nodes"] = estimate
    for row in rows.values():
        for run in row.values():
            run.pop("outputs", None)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
