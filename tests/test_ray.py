"""The Ray executor: same results as the local one, on a real Ray head started by the tests.

The cluster tests start `ray start --head` inside private namespaces (see ray_cluster.py) and
run the real CLI there as the driver; the local reference runs in this process.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEEDS, cli_run, tiny_overrides
from ray_cluster import (
    NamespacedRay,
    big_job,
    comparable,
    driver,
    report_of,
    started,
    wait_for_results,
)
from typer.testing import CliRunner

from summarize import load_settings, run
from summarize.cache import Cache, RecordingCache
from summarize.catalog import load_catalog
from summarize.cli import app
from summarize.errors import ClusterError, ConfigError
from summarize.executors import get_executor, waves
from summarize.executors.ray import compute_items, shippable, worker_settings
from summarize.ingest import collect
from summarize.plan import Plan
from summarize.stages import Item, Stages
from summarize.types import Article

# The lines a run prints of its own; anything else on stderr is Ray's, which goes to ray.log.
OURS = re.compile(r"^(summarize: |warning: |error: |\d+ sources: )")


def foreign(stderr: str) -> list[str]:
    """The lines of a run's stderr that are not its own (Ray's, had they not gone to ray.log)."""
    return [line for line in stderr.splitlines() if line.strip() and not OURS.match(line)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[NamespacedRay]:
    yield from started(NamespacedRay, cpus=2)


# -- on a real cluster --------------------------------------------------------------------


@pytest.mark.slow
def test_ray_results_match_the_local_executor_then_a_rerun_is_all_cached(
    cluster: NamespacedRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    (src / "empty.txt").write_text("", encoding="utf-8")
    (src / "numbers.txt").write_text("2024 2025 2026 1000 2000 3000 4000", encoding="utf-8")
    overrides = tiny_overrides(tiny, tmp_path / "local", batch_size=2)
    local = run([src], load_settings(overrides=overrides))
    assert len(local.results) == 5 and len(local.failed) == 2

    # Three waves of at most two articles, shared between two workers. `--workers 2` with no
    # --cpus-per-worker divides the cluster's CPUs, and a run prints only our own lines: Ray's
    # notices go to <output>/ray.log.
    out = tmp_path / "ray"
    args = [a for a in cli_run(tiny, src, out, "--executor", "ray") if a != "-q"]
    args += ["--ray-address", "auto", "--workers", "2", "--batch-size", "2"]
    first = cluster.run(args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr  # the two bad sources, as locally
    assert comparable(out) == comparable(tmp_path / "local")
    assert foreign(first.stderr) == []
    assert "7 sources: 5 ok" in first.stderr
    assert (out / "ray.log").is_file()
    ray_report, local_report = report_of(out), report_of(tmp_path / "local")
    assert [(o["source"], o["status"], o.get("error")) for o in ray_report["sources"]] == [
        (o["source"], o["status"], o.get("error")) for o in local_report["sources"]
    ]

    again = cluster.run(args, cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    ok = [o for o in report_of(out)["sources"] if o["status"] == "ok"]
    assert len(ok) == 5 and all(o["cached"] for o in ok)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_batch_retried(
    cluster: NamespacedRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    out, total, args = big_job(tiny, tmp_path, 8, "--workers", "2")
    with driver(cluster, args, tmp_path) as run_:
        proc = run_.proc
        wait_for_results(out, 1, proc)
        workers = cluster.processes("ArticleWorker")
        assert len(workers) == 2, workers
        cluster.kill(workers[0])
        at_kill = len(list(out.glob("*.json")))
        seen: set[int] = set()
        while proc.poll() is None:
            seen.update(cluster.processes("ArticleWorker"))
            time.sleep(0.1)
    assert proc.returncode == 0, run_.stderr
    assert at_kill < total, "the worker should have been killed part-way"
    assert seen - set(workers), "no replacement worker was started"
    report = report_of(out)
    assert len(report["sources"]) == total
    assert all(o["status"] == "ok" for o in report["sources"])
    for path in out.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_when_retries_are_spent_the_rest_are_errors_and_the_finished_are_kept(
    cluster: NamespacedRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    config = tmp_path / "summarize.toml"
    config.write_text("worker_retries = 0\n", encoding="utf-8")
    out, total, args = big_job(tiny, tmp_path, 6, "--workers", "1", "--config", str(config))
    with driver(cluster, args, tmp_path) as run_:
        proc = run_.proc
        wait_for_results(out, 2, proc)
        for pid in cluster.processes("ArticleWorker"):
            cluster.kill(pid)
        proc.wait(timeout=120)
    assert proc.returncode == 1, run_.stderr  # some articles failed; the run itself finished
    report = report_of(out)
    ok = [o for o in report["sources"] if o["status"] == "ok"]
    failed = [o for o in report["sources"] if o["status"] == "error"]
    assert len(ok) >= 2 and failed and len(ok) + len(failed) == total
    assert all("run again to resume from the cache" in o["error"]["message"] for o in failed)
    assert any("the Ray job stopped" in w for w in report["warnings"])
    for o in ok:
        json.loads(Path(o["output"]).read_text(encoding="utf-8"))


# -- without a cluster --------------------------------------------------------------------


def _items(tiny: dict[str, Path], tmp_path: Path) -> tuple[Stages, list[Item]]:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    articles = [a for a in collect([SEEDS], settings).order if isinstance(a, Article)]
    stages = Stages(Plan(settings, load_catalog(settings)), RecordingCache())
    items = [Item(article=a, index=i) for i, a in enumerate(articles)]
    stages.detect(items)
    stages.plan(items)
    return stages, items


def test_a_worker_stores_nothing_and_returns_exactly_the_local_cache_entries(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Replaying what workers send back gives the cache a local run writes, key for key."""
    local = run([SEEDS], load_settings(overrides=tiny_overrides(tiny, tmp_path / "local")))
    assert local.ok
    stages, items = _items(tiny, tmp_path)
    jobs = [pickle.loads(pickle.dumps(shippable(it))) for it in items]
    done = [pickle.loads(pickle.dumps(d)) for d in compute_items(stages, jobs)]
    assert all(d.error is None for d in done)
    replay = Cache(tmp_path / "replay.sqlite3")
    for d in done:
        for entry in d.entries:
            replay.put(entry)
    replay.close()

    def keys(path: Path) -> dict[str, str]:
        with sqlite3.connect(path) as db:
            # Detection, the checks and story summaries are the driver's work, before and after
            # the workers.
            rows = db.execute(
                "SELECT key, value FROM entries "
                "WHERE stage NOT IN ('detect', 'check') AND stage NOT LIKE 'story%'"
            )
            return dict(rows.fetchall())

    assert keys(tmp_path / "replay.sqlite3") == keys(tmp_path / "local" / "cache.sqlite3")
    assert not (tmp_path / "out").exists(), "a worker must not write"


def test_an_article_that_raises_in_a_worker_is_that_articles_error(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages, items = _items(tiny, tmp_path)
    victim = items[2].article.text
    summarizer = items[2].plan.summarizer  # type: ignore[union-attr]
    original = summarizer.summarize

    def summarize(texts):  # type: ignore[no-untyped-def]
        if victim in texts:
            raise RuntimeError("model exploded")
        return original(texts)

    monkeypatch.setattr(summarizer, "summarize", summarize)
    done = compute_items(stages, [shippable(it) for it in items])
    failed = [d for d in done if d.error is not None]
    assert [d.index for d in failed] == [2]
    assert "model exploded" in failed[0].error.message  # type: ignore[union-attr]
    ok = [d for d in done if d.error is None]
    assert len(ok) == 4 and all(d.summary and len(d.translations) == 2 for d in ok)


def test_worker_settings_make_every_path_absolute(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    settings = load_settings(
        overrides={
            "summarizer": "./mine",
            "translators": ["en-fr=./mine", "en-ar=opus-mt-en-ar"],
            "output_dir": "out",
            "cpus_per_worker": 3,
        },
        cwd=tmp_path,
    )
    os.chdir(tmp_path)
    shipped = worker_settings(settings)
    assert shipped.summarizer == str(tmp_path / "mine")
    assert shipped.translators == {"en-fr": str(tmp_path / "mine"), "en-ar": "opus-mt-en-ar"}
    assert shipped.output_dir == tmp_path / "out" and shipped.models_dir.is_absolute()
    assert shipped.threads == 3


def test_both_executors_compute_the_same_waves_longest_first(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    _, items = _items(tiny, tmp_path)
    grouped = waves(items, 2)
    assert [len(w) for w in grouped] == [2, 2, 1]
    lengths = [len(it.article.text) for w in grouped for it in w]
    assert lengths == sorted(lengths, reverse=True)
    assert sorted(it.index for w in grouped for it in w) == list(range(5))


def test_asking_for_ray_without_it_installed_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'summarize\[ray\]'"):
        get_executor(load_settings(overrides={"executor": "ray"}))
    result = CliRunner().invoke(
        app, ["run", str(SEEDS), "-o", str(tmp_path / "out"), "--executor", "ray"]
    )
    assert result.exit_code == 2
    assert "pip install 'summarize[ray]'" in result.output
    assert "Traceback" not in result.output


def test_unknown_executor_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="executor 'spark' is not known"):
        load_settings(overrides={"executor": "spark"})


def test_ray_client_addresses_are_refused_with_the_way_that_works() -> None:
    executor = get_executor(
        load_settings(overrides={"executor": "ray", "ray_address": "ray://head:10001"})
    )
    with pytest.raises(ClusterError, match=r"ray job submit .* --ray-address auto"):
        list(executor.run(None, [object()]))  # type: ignore[arg-type, list-item]


def test_the_pool_is_sized_from_the_cluster_unless_told() -> None:
    from summarize.errors import ClusterError
    from summarize.executors.ray import size_pool

    # This 2-core machine: --workers 2 alone is two workers of one CPU each.
    assert size_pool([2.0], 2, 0) == (2, 1.0)
    # Neither: one worker per node, the size of the (smallest) node.
    assert size_pool([2.0], 0, 0) == (1, 2.0)
    assert size_pool([8.0, 4.0], 0, 0) == (2, 4.0)
    # --workers on two nodes: the most CPUs each that still places them all.
    assert size_pool([8.0, 4.0], 3, 0) == (3, 4.0)
    assert size_pool([8.0, 4.0], 5, 0) == (5, 2.0)
    # Both given: checked as before; --cpus-per-worker alone fills the cluster.
    assert size_pool([8.0, 4.0], 0, 2) == (6, 2)
    with pytest.raises(ClusterError, match="no node of the Ray cluster has 16 CPUs"):
        size_pool([8.0, 4.0], 0, 16)
    with pytest.raises(ClusterError, match="3 workers need at least 3 CPUs"):
        size_pool([2.0], 3, 0)
    with pytest.raises(ClusterError, match="2 workers x 2 CPUs need 4 CPUs"):
        size_pool([2.0], 2, 2)


@pytest.mark.slow
def test_a_driver_that_starts_its_own_ray_stays_quiet(
    cluster: NamespacedRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    """A driver with no address starts its own Ray, with the auth mode left to Ray: its
    start-up notice (token auth turned on) goes to ray.log, and stderr has our lines only.
    (A driver on a running cluster is quiet too: the first test above.)"""
    own = tmp_path / "own"
    args = [a for a in cli_run(tiny, SEEDS, own, "--executor", "ray") if a != "-q"]
    alone = cluster.run(["env", "-u", "RAY_AUTH_MODE", *args, "--workers", "2"], cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert foreign(alone.stderr) == []
    assert "5 sources: 5 ok" in alone.stderr
    assert "Token authentication" in (own / "ray.log").read_text(encoding="utf-8")


SERVE_WITH_RAY = """
import json, sys, time
import ray
from fastapi.testclient import TestClient
from summarize import load_settings
from summarize.service import create_app

settings = load_settings(overrides=json.loads(sys.argv[1]))
app = create_app(settings, ["k"])
auth = {"Authorization": "Bearer k"}
seen = []
with TestClient(app) as client:
    for number, batch in enumerate(json.loads(sys.argv[2])):
        if number == 2:  # the pool dies between batches: the next one rebuilds it
            executor = next(iter(app.state.worker._summarizer._pipelines.values())).executor
            for actor in executor._actors:
                ray.kill(actor, no_restart=True)
        body = {"articles": batch}
        if number == 3:  # other targets, under the same kept pool
            body["targets"] = ["fr"]
        job = client.post("/v1/jobs", json=body, headers=auth).json()["id"]
        while True:  # polled within the key's rate (a slow machine makes for many polls)
            answer = client.get(f"/v1/jobs/{job}", headers=auth)
            if answer.status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            if answer.json()["status"] == "done":
                break
            time.sleep(0.25)
        results = client.get(f"/v1/jobs/{job}/results", headers=auth).json()
        executor = next(iter(app.state.worker._summarizer._pipelines.values())).executor
        pool = ray.get([actor.loaded.remote() for actor in executor._actors])
        errors = [r["error"]["message"] for r in results if "error" in r]
        executors = {id(p.executor) for p in app.state.worker._summarizer._pipelines.values()}
        seen.append({
            "ok": len(results) - len(errors), "pool": pool, "errors": errors[:2],
            "targets": sorted({t for r in results if "error" not in r for t in r["translations"]}),
            "executors": len(executors),
        })
print("RESULT " + json.dumps(seen))
"""


@pytest.mark.slow
def test_serve_with_ray_keeps_one_pool_across_batches_and_rebuilds_a_dead_one(
    cluster: NamespacedRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    from conftest import tiny_overrides

    script = tmp_path / "serve_with_ray.py"
    script.write_text(SERVE_WITH_RAY, encoding="utf-8")
    overrides = tiny_overrides(
        tiny,
        tmp_path / "out",
        executor="ray",
        ray_address="auto",
        workers=2,
        cpus_per_worker=1,
        batch_size=1,
        stories=False,
        max_chars=20_000,
    )
    seeds = sorted(SEEDS.glob("*.txt"))
    batches = [
        [{"id": p.name, "text": p.read_text(encoding="utf-8")} for p in seeds[i : i + 2]]
        for i in (0, 2)
    ]
    batches.append([{"id": "late", "text": seeds[4].read_text(encoding="utf-8")}])
    batches.append([{"id": "french-only", "text": seeds[3].read_text(encoding="utf-8")}])
    result = cluster.run(
        [sys.executable, str(script), json.dumps(overrides), json.dumps(batches)],
        cwd=tmp_path,
        timeout=400,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, result.stdout[-2000:] + result.stderr[-4000:]
    first, second, third, fourth = json.loads(line[len("RESULT ") :])
    assert [b["ok"] for b in (first, second, third, fourth)] == [2, 2, 1, 1], [
        first,
        second,
        third,
        fourth,
    ]
    pids = sorted(pid for pid, _ in first["pool"])
    assert len(pids) == 2
    # The same two processes served both batches, each with the models it loaded once.
    assert sorted(pid for pid, _ in second["pool"]) == pids
    assert any(models for _, models in first["pool"])
    for (_, before), (_, after) in zip(sorted(first["pool"]), sorted(second["pool"]), strict=True):
        assert set(before) <= set(after), (first, second)
    # After the pool was killed, the third batch ran on a new one.
    assert not set(pids) & {pid for pid, _ in third["pool"]}
    # A job with other targets ran on that same kept pool (no second pool to place), and got
    # its own targets.
    assert sorted(pid for pid, _ in fourth["pool"]) == sorted(pid for pid, _ in third["pool"])
    assert fourth["executors"] == 1 and fourth["targets"] == ["fr"]
    assert third["targets"] == ["ar", "fr"]
