"""The shell examples of the README and the docs run as written, with the tiny models named in
a summarize.toml beside them: every command of every ```sh block is either run here, in a
folder that holds the files it names, or listed in NOT_RUN with the reason. The few names
that stand for the reader's own world (example.org's feed, a CMS's hook, port 8000, "…" for a
text) are swapped for loopback ones (World.swaps), and nothing else is changed.

A command passes when it exits 0 (or as EXPECTED says) with no traceback; `serve` must start
and answer its curl example (webhooks: tests/test_webhooks.py); `watch` must leave results in
its output folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argos_packages import make_package
from conftest import ROOT, SEEDS, free_port
from loopback import SEED, Receiver, Site, item, rss

pytestmark = pytest.mark.slow

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Examples this test does not run, and why (matched anywhere in the command).
NOT_RUN = {
    "make run": "builds the environment this test runs in (CI runs `make test`)",
    "make test": "runs this test",
    "pip install": "installs the package this test runs",
    "ray up ": "starts machines on a cloud provider",
    "ray rsync-up ": "copies to machines on a cloud provider",
    "ray exec ": "runs on machines on a cloud provider",
    "ray job submit ": "needs a Ray cluster's dashboard",
    "--ray-address auto": "joins a running cluster: tests/test_ray.py runs this line on a real head",
    "--ray-address 10.0.0.5": "a cluster at that address",
}

# Examples whose right answer here is not success: (exit status, what it must say).
EXPECTED = {
    # the tiny folders summarize.toml names are checked, and random weights fail every check
    "summarize models check": (1, "tiny-bart: FAIL"),
}


@dataclass
class Command:
    page: str
    block: int
    line: str


def commands(page: Path) -> list[Command]:
    """Each command of each ```sh block (continuation lines joined; comments left to bash)."""
    found = []
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", page.read_text("utf-8"), re.S)
    for number, block in enumerate(blocks):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append(Command(page.name, number, line.strip()))
    return found


def reason_not_run(command: str) -> str | None:
    return next((why for key, why in NOT_RUN.items() if key in command), None)


@dataclass
class World:
    folder: Path
    site: Site
    hooks: Receiver
    hook_port: int
    env: dict[str, str]

    def swaps(self, port: int) -> dict[str, str]:
        text = json.dumps(SEED[1])
        return {
            "https://example.org/world.rss": f"{self.site.base}/world.rss",
            "https://cms.example/hooks": f"http://127.0.0.1:{self.hook_port}/hooks",
            "--port 8000": f"--port {port}",
            "127.0.0.1:8000": f"127.0.0.1:{port}",
            "/srv/cms-drop": "cms-drop",
            '{"text": "…"': '{"text": ' + text.replace("'", "'\"'\"'"),
        }


@pytest.fixture(scope="module")
def world(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A newsroom's folder as the examples name it: seeds/, wire/, inbox/, archive/, single
    articles, JSONL, feed lists, the reader's own model folders and an Argos package."""
    folder = tmp_path_factory.mktemp("docs-shell")
    seeds = sorted(SEEDS.glob("*.txt"))
    texts = SEED  # the seeds' texts, in the same (sorted) order
    for name in ("seeds", "wire", "inbox", "archive", "wires"):
        shutil.copytree(SEEDS, folder / name)
    (folder / "article.txt").write_text(texts[0], "utf-8")
    (folder / "story.txt").write_text(texts[2], "utf-8")
    for name in ("wire.jsonl", "feed.jsonl"):
        rows = [{"id": p.stem, "text": t} for p, t in zip(seeds[:3], texts[:3], strict=True)]
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    (folder / "my-model").symlink_to(tiny["bart"])
    (folder / "opus-mt-en-ar").symlink_to(tiny["en-ar"])
    package = make_package(tiny, folder / "argos", "zh", "en")
    shutil.copy(package, folder / "translate-zh_en-1_9.argosmodel")
    (folder / "summarize.toml").write_text(
        f'summarizer = "{tiny["bart"]}"\n'
        "[translators]\n"
        f'"en-ar" = "{tiny["en-ar"]}"\n'
        f'"en-fr" = "{tiny["en-fr"]}"\n'
        f'"fr-en" = "{tiny["fr-en"]}"\n'
        f'"*" = "{tiny["m2m100"]}"\n',
        encoding="utf-8",
    )
    site = Site()
    items = [
        item(f"g{i}", p.stem, content=t) for i, (p, t) in enumerate(zip(seeds, texts, strict=True))
    ]
    site.put("/world.rss", rss(items))
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline type="rss" text="World" xmlUrl="{site.base}/world.rss"/></body></opml>'
    )
    for name in ("feeds.opml", "wires.opml"):
        (folder / name).write_text(opml, "utf-8")
    hook_port = free_port()
    hooks = Receiver(hook_port)
    home = folder / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUMMARIZE_", "HF_"))}
    env.update(
        HOME=str(home),
        HF_HOME=str(home / "hf"),
        HF_HUB_OFFLINE="1",
        SUMMARIZE_MODELS_DIR=str(folder / "models"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    try:
        yield World(folder, site, hooks, hook_port, env)
    finally:
        site.close()
        hooks.close()


def shell(world: World, line: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        cwd=world.folder,
        env=world.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def output_of(line: str) -> Path:
    found = re.search(r"(?:-o|--output) (\S+)", line)
    return Path(found.group(1) if found else "outputs")


def results_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.json") if p.name != "report.json"] if folder.is_dir() else []


def long_running(world: World, line: str, rest: list[str], port: int) -> list[str]:
    """Start `serve` or `watch`, check what it must do, stop it with Ctrl-C; the commands of
    the same block that went to it (curl) are run meanwhile. Returns what failed."""
    failed: list[str] = []
    out = world.folder / output_of(line)
    proc = subprocess.Popen(
        ["bash", "-c", line],
        cwd=world.folder,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C goes to the group, as from a terminal
    )
    try:
        if "summarize serve" in line:
            deadline = time.monotonic() + 60
            while shell(world, f"curl -sf http://127.0.0.1:{port}/healthz").returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    failed.append(f"{line}: the service did not start")
                    return failed
                time.sleep(0.5)
            for other in rest:
                got = shell(world, other)
                answer = json.loads(got.stdout or "{}")
                if got.returncode != 0 or not answer.get("summary", {}).get("text"):
                    failed.append(f"{other}: {got.returncode} {got.stdout[:300]} {got.stderr}")
        else:
            deadline = time.monotonic() + 120
            while not results_in(out):  # earlier examples may have read the same feed
                if proc.poll() is not None or time.monotonic() > deadline:
                    failed.append(f"{line}: watched for 120 s, wrote nothing to {out}")
                    break
                time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            failed.append(f"{line}: did not stop on Ctrl-C")
        if failed or "Traceback" in stderr:
            failed.append(f"{line}: its stderr: {stderr[-2000:]}")
    return failed


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_shell_examples_run_as_written(page: Path, world: World) -> None:
    found = commands(page)
    by_block: dict[int, list[Command]] = {}
    for command in found:
        by_block.setdefault(command.block, []).append(command)
    failed: list[str] = []
    ran = 0
    for block in by_block.values():
        port = free_port()
        lines = []
        for command in block:
            line = command.line
            for old, new in world.swaps(port).items():
                line = line.replace(old, new)
            lines.append(line)
        i = 0
        while i < len(lines):
            line = lines[i]
            if reason_not_run(line) is not None:
                i += 1
                continue
            ran += 1
            if "summarize serve" in line:
                rest = [x for x in lines[i + 1 :] if x.startswith("curl ")]
                failed += long_running(world, line, rest, port)
                i += 1 + len(rest)
                continue
            if "summarize watch" in line:
                failed += long_running(world, line, [], port)
                i += 1
                continue
            got = shell(world, line)
            status, says = EXPECTED.get(line.split("#")[0].strip(), (0, ""))
            if got.returncode != status or says not in got.stdout + got.stderr:
                failed.append(
                    f"{line}\n  exit {got.returncode}: {got.stdout[-500:]} {got.stderr[-1500:]}"
                )
            elif "Traceback" in got.stderr:
                failed.append(f"{line}\n  exit {got.returncode}: {got.stderr[-1500:]}")
            i += 1
    assert not failed, "\n".join(failed)
    if not found:
        return
    assert ran or all(reason_not_run(c.line) for c in found)


def test_every_example_is_run_or_says_why_not() -> None:
    """The examples left out are the ones NOT_RUN names, and each of its entries still
    matches an example (a stale entry would hide nothing, or a new example)."""
    every = [c.line for page in PAGES for c in commands(page)]
    assert len(every) > 20
    for key in NOT_RUN:
        assert any(key in line for line in every), f"NOT_RUN entry {key!r} matches no example"
    run_here = [line for line in every if reason_not_run(line) is None]
    assert len(run_here) >= len(every) - 12, run_here
