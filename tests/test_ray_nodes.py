"""The Ray executor on two nodes: a head and a worker node, each a raylet with its own CPUs,
kept by Ray's own multi-node harness (`ray.cluster_utils.Cluster`) in the tests' private
namespace (see ray_cluster.py). The drivers are the real CLI, run on the head."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import big_batch, cli_run, tiny_overrides
from ray_cluster import (
    TwoNodeRay,
    big_job,
    comparable,
    driver,
    report_of,
    started,
    wait_for_results,
)

from summarize import load_settings, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodeRay]:
    # A head of two CPUs and a node of one: left unsized, the pool is one worker per node
    # (one CPU each), and the head has room for the lost node's worker.
    yield from started(TwoNodeRay, head_cpus=2, node_cpus=1)


def placements(out: Path) -> list[dict[str, Any]]:
    """Where each computed article ran, from the run's report."""
    return [o["worker"] for o in report_of(out)["sources"] if "worker" in o]


def test_two_nodes_give_the_local_results_with_waves_on_both(
    nodes: TwoNodeRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    total = big_batch(src, 2)
    local_out, out = tmp_path / "local", tmp_path / "ray"
    overrides = tiny_overrides(tiny, local_out, batch_size=2, stories=False)
    assert run([src], load_settings(overrides=overrides)).ok

    # No --workers, no --cpus-per-worker: one worker per node, sized to the cluster.
    args = cli_run(tiny, src, out, "--executor", "ray", "--ray-address", "auto")
    done = nodes.run([*args, "--batch-size", "2", "--no-stories"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert comparable(out) == comparable(local_out)

    placed = placements(out)
    assert len(placed) == total
    assert {p["node"] for p in placed} == {nodes.head, *nodes.nodes}
    # Each wave ran once, whole, in one worker on one node: the local executor's waves.
    node_of: dict[int, set[str]] = defaultdict(set)
    for p in placed:
        node_of[p["wave"]].add(p["node"])
    assert sorted(node_of) == list(range((total + 1) // 2))
    assert all(len(on) == 1 for on in node_of.values())
    assert len({(p["node"], p["pid"]) for p in placed}) == 2  # one worker per node


def test_a_driver_killed_on_two_nodes_is_rerun_and_resumes_from_the_cache(
    nodes: TwoNodeRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    out, total, args = big_job(tiny, tmp_path, 6)
    with driver(nodes, args, tmp_path) as run_:
        proc = run_.proc
        wait_for_results(out, 3, proc)
        drivers = nodes.processes("summarize run")
        assert drivers, "the driver process was not found"
        for pid in drivers:
            nodes.kill(pid)
        proc.wait(timeout=60)
    finished = {p.name for p in out.glob("*.json")}
    assert 3 <= len(finished) < total, "the driver should have been stopped part-way"
    for name in finished:
        json.loads((out / name).read_text(encoding="utf-8"))  # every file whole
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    resumed = nodes.run(args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    by_file = {Path(o["output"]).name: o for o in report_of(out)["sources"]}
    assert len(by_file) == total
    redone = [name for name in finished if not by_file[name]["cached"]]
    assert not redone, f"finished before the stop but computed again: {redone}"
    # The rest was computed, on both nodes again.
    assert {o["worker"]["node"] for o in by_file.values() if not o["cached"]} == {
        nodes.head,
        *nodes.nodes,
    }


def test_a_node_lost_mid_run_has_its_waves_retried_on_the_head(
    nodes: TwoNodeRay, tiny: dict[str, Path], tmp_path: Path
) -> None:
    out, total, args = big_job(tiny, tmp_path, 12)
    (lost,) = nodes.nodes
    try:
        with driver(nodes, args, tmp_path) as run_:
            proc = run_.proc
            wait_for_results(out, 1, proc)
            # Three workers of one CPU: two on the head, one on the node.
            assert len(nodes.processes("ArticleWorker")) == 3
            assert nodes.remove_node() == lost
            at_loss = len(list(out.glob("*.json")))
            proc.wait(timeout=300)
    finally:
        nodes.add_node(1)  # the module's later tests find two nodes again
    assert proc.returncode == 0, run_.stderr
    assert at_loss < total, "the node should have been lost part-way"
    report = report_of(out)
    assert len(report["sources"]) == total
    assert all(o["status"] == "ok" for o in report["sources"])
    placed = placements(out)
    assert {p["node"] for p in placed} <= {nodes.head, lost}
    # The node always had a wave in hand (a free worker is given the next at once), so the pool
    # failed and what had not come back was sent again to the head, which did the most.
    assert any("sent again to the nodes still alive" in w for w in report["warnings"]), report
    on_head = sum(p["node"] == nodes.head for p in placed)
    assert on_head > total - on_head
    assert "Traceback" not in run_.stderr and "ERROR" not in run_.stderr, run_.stderr
