"""A real Ray head for tests, inside private network and PID namespaces.

Ray binds to the machine's own address even when asked for 127.0.0.1, so the head, its
workers and every driver run in a network namespace where only loopback exists (`unshare`
from util-linux, `ip` from iproute2; needs root, as in CI). The namespace's first process is
our handle: killing it makes the kernel kill everything Ray started inside, and nothing
outside is touched (no machine-wide `ray stop`). HOME is a temporary folder, where Ray keeps
its token (token auth is on) and nothing else of the user's is read.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import big_batch, cli_run

BIN = Path(sys.executable).parent


def missing_requirements() -> str | None:
    """Why a namespaced cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (CI runs as root)"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian util-linux / iproute2)"
    if not (BIN / "ray").exists():
        return "needs Ray: pip install 'summarize[ray]'"
    return None


class NamespacedRay:
    """`ray start --head` in its own namespaces; `run` and `popen` execute commands there.

    `cpus=0` starts no Ray: a subclass brings its own (see `TwoNodeRay`)."""

    def __init__(self, cpus: int = 2) -> None:
        # Short paths: Ray's Unix sockets live under the temp dir (108-byte limit).
        self.root = Path(tempfile.mkdtemp(prefix="sray", dir="/tmp"))
        self.home = self.root / "home"
        self.home.mkdir()
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            # Ray's files (sockets, logs, the current cluster's address) under our folder.
            "RAY_TMPDIR": str(self.root),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.env.pop("RAY_ADDRESS", None)
        self._holder = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                "sh",
                "-c",
                "ip link set lo up && echo ready && exec sleep infinity",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert self._holder.stdout is not None
            if self._holder.stdout.readline().strip() != "ready":
                raise RuntimeError("the network namespace could not be set up")
            self.init_pid = int(
                Path(f"/proc/{self._holder.pid}/task/{self._holder.pid}/children")
                .read_text()
                .split()[0]
            )
            self.pid_ns = os.readlink(f"/proc/{self.init_pid}/ns/pid")
            self.run(["ray", "get-auth-token", "--generate"], timeout=60)
            if cpus:
                self.run(
                    [
                        "ray",
                        "start",
                        "--head",
                        f"--num-cpus={cpus}",
                        "--disable-usage-stats",
                        "--include-dashboard=false",
                        f"--temp-dir={self.root / 'ray'}",
                    ],
                    timeout=120,
                )
        except BaseException:
            self.stop()
            raise

    def command(self, args: Sequence[str], cwd: Path | None = None) -> list[str]:
        where = cwd or Path.cwd()
        return [
            "nsenter",
            f"--target={self.init_pid}",
            "--net",
            "--pid",
            "--mount",
            f"--wd={where}",
            "--",
            *args,
        ]

    def run(
        self, args: Sequence[str], timeout: float = 300, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(args, cwd),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0 and args[0] == "ray":
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def popen(
        self, args: Sequence[str], cwd: Path | None = None, stdin: int | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args, cwd),
            env=self.env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def processes(self, needle: str) -> list[int]:
        """Host PIDs of the processes in this namespace whose command line contains `needle`."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns" / "pid") != self.pid_ns:
                    continue
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmdline:
                found.append(int(entry.name))
        return sorted(found)

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Kill the namespace's first process: the kernel then kills all the rest."""
        if self._holder.poll() is None:
            self._holder.kill()
        self._holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and hasattr(self, "pid_ns") and self.processes(""):
            time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)


class TwoNodeRay(NamespacedRay):
    """A head and a worker node, each a raylet with its own CPUs, kept by Ray's own multi-node
    harness (ray_nodes.py) in the namespace; `remove_node` loses the worker node mid-run."""

    def __init__(self, head_cpus: int = 2, node_cpus: int = 1) -> None:
        super().__init__(cpus=0)
        try:
            self.keeper = self.popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("ray_nodes.py")),
                    str(self.root / "ray"),
                    str(head_cpus),
                    str(node_cpus),
                ],
                stdin=subprocess.PIPE,
            )
            ready = self._answer()
            if not ready.startswith("READY "):
                raise RuntimeError(f"the two-node cluster did not start: {ready}")
            started = json.loads(ready[len("READY ") :])
        except BaseException:
            self.stop()
            raise
        self.address: str = started["address"]
        self.head: str = started["head"]
        self.nodes: list[str] = started["nodes"]

    def _answer(self, timeout: float = 120) -> str:
        assert self.keeper.stdout is not None and self.keeper.stderr is not None
        ready, _, _ = select.select([self.keeper.stdout], [], [], timeout)
        line = self.keeper.stdout.readline() if ready else ""
        if not line:
            why = self.keeper.stderr.read()[-3000:] if ready else "(no answer in time)"
            raise RuntimeError(f"the node keeper said nothing: {why}")
        return line.strip()

    def _ask(self, command: str) -> dict[str, str]:
        assert self.keeper.stdin is not None
        self.keeper.stdin.write(command + "\n")
        self.keeper.stdin.flush()
        answer: dict[str, str] = json.loads(self._answer())
        return answer

    def remove_node(self) -> str:
        """Kill the newest worker node and everything on it; its id."""
        gone = self._ask("remove")["removed"]
        self.nodes.remove(gone)
        return gone

    def add_node(self, cpus: int = 1) -> str:
        added = self._ask(f"add {cpus}")["added"]
        self.nodes.append(added)
        return added


# -- running the CLI on a cluster ----------------------------------------------------------

Ray = TypeVar("Ray", bound=NamespacedRay)


def started(kind: type[Ray], **options: Any) -> Iterator[Ray]:
    """A fixture's cluster, with a clean environment for its drivers (offline, no user
    settings); skipped where it cannot start, failed where the tests must run (CI)."""
    why = missing_requirements()
    if why is not None:
        if os.environ.get("SUMMARIZE_REQUIRE_RAY_TESTS"):
            pytest.fail(f"the Ray cluster tests must run here but cannot: {why}")
        pytest.skip(why)
    head = kind(**options)
    for name in list(head.env):
        if name.startswith(("SUMMARIZE_", "HF_")):
            del head.env[name]
    head.env["HF_HUB_OFFLINE"] = "1"
    try:
        yield head
    finally:
        head.stop()


def ray_run(tiny: dict[str, Path], src: Path, out: Path, *extra: str) -> list[str]:
    return cli_run(
        tiny,
        src,
        out,
        "--executor",
        "ray",
        "--ray-address",
        "auto",
        "--cpus-per-worker",
        "1",
        *extra,
    )


def big_job(
    tiny: dict[str, Path], tmp_path: Path, copies: int, *extra: str
) -> tuple[Path, int, list[str]]:
    """`copies` editions of every seed, one article per wave, and the Ray driver's command:
    (output folder, number of articles, command)."""
    src, out = tmp_path / "big", tmp_path / "out"
    total = big_batch(src, copies)
    # The editions are near-duplicates of each other: without stories each is its own work.
    return out, total, ray_run(tiny, src, out, "--batch-size", "1", "--no-stories", *extra)


@dataclass
class Driver:
    proc: subprocess.Popen[str]
    stderr: str = ""


@contextmanager
def driver(cluster: NamespacedRay, args: list[str], cwd: Path) -> Iterator[Driver]:
    """A driver running in the cluster's namespace, killed on the way out if still running."""
    running = Driver(cluster.popen(args, cwd=cwd))
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
        running.stderr = running.proc.communicate(timeout=60)[1]


def comparable(out: Path) -> dict[str, Any]:
    """Each result file without what may differ between runs (timings, cache hits)."""
    docs = {}
    for path in sorted(out.glob("*.json")):
        if path.name in ("report.json", "stories.json"):
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        for record in doc["provenance"].values():
            del record["seconds"], record["cached"]
        docs[path.name] = doc
    return docs


def report_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def wait_for_results(out: Path, count: int, proc: Any, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        done = len([p for p in out.glob("*.json") if p.name != "report.json"])
        if done >= count:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no {count} results in {timeout} s: {proc.poll()=}")
