"""A real Ray head for tests, inside private network and PID namespaces.

Ray binds to the machine's own address even when asked for 127.0.0.1, so the head, its
workers and every driver run in a network namespace where only loopback exists (`unshare`
from util-linux, `ip` from iproute2; needs root, as in CI). The namespace's first process is
our handle: killing it makes the kernel kill everything Ray started inside, and nothing
outside is touched (no machine-wide `ray stop`). HOME is a temporary folder, where Ray keeps
its token (token auth is on) and nothing else of the user's is read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

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
    """`ray start --head` in its own namespaces; `run` and `popen` execute commands there."""

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

    def popen(self, args: Sequence[str], cwd: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args, cwd),
            env=self.env,
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
