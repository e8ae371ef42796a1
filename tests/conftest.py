"""Shared fixtures: an isolated environment for every test, tiny models built once per session."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import build_all

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium (.ci/run installs it), and the flags it needs on a machine with no network.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEEDS = ROOT / "seeds"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--real-models",
        action="store_true",
        help="also run tests that need the real downloaded models",
    )
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run slow tests (on by default in CI: CI or SUMMARIZE_SLOW_TESTS set)",
    )


def run_slow(config: pytest.Config) -> bool:
    """Slow tests are opt-in locally (--slow) and always on in CI, as in spaCy."""
    flags = (os.environ.get("CI", ""), os.environ.get("SUMMARIZE_SLOW_TESTS", ""))
    on = any(v.strip().lower() not in ("", "0", "false", "no") for v in flags)
    return bool(config.getoption("--slow")) or on


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    real = config.getoption("--real-models")
    slow = run_slow(config)
    for item in items:
        if "real_models" in item.keywords and not real:
            item.add_marker(pytest.mark.skip(reason="needs real models: pass --real-models"))
        elif "slow" in item.keywords and not slow:
            item.add_marker(pytest.mark.skip(reason="slow: pass --slow (always on in CI)"))


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads the user's configuration, home, hub cache or network."""
    for name in list(os.environ):
        if name.startswith("SUMMARIZE_") or name.startswith("HF_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SUMMARIZE_MODELS_DIR", str(tmp_path / "models"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight BART, T5, Marian and M2M100 models, saved as safetensors folders."""
    return build_all(tmp_path_factory.mktemp("tiny-models"))


def tiny_overrides(tiny: dict[str, Path], out: Path, **extra: Any) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "summarizer": str(tiny["bart"]),
        "translators": [
            f"en-ar={tiny['en-ar']}",
            f"en-fr={tiny['en-fr']}",
            f"fr-en={tiny['fr-en']}",
            f"ar-en={tiny['ar-en']}",
            f"*={tiny['m2m100']}",
        ],
        "output_dir": str(out),
    }
    overrides.update(extra)
    return overrides


def tiny_args(tiny: dict[str, Path]) -> list[str]:
    """The same models as CLI flags."""
    return [
        "--summarizer",
        str(tiny["bart"]),
        "--translator",
        f"en-ar={tiny['en-ar']}",
        "--translator",
        f"en-fr={tiny['en-fr']}",
        "--translator",
        f"fr-en={tiny['fr-en']}",
        "--translator",
        f"ar-en={tiny['ar-en']}",
        "--translator",
        f"*={tiny['m2m100']}",
    ]


def cli_run(tiny: dict[str, Path], src: Path, out: Path, *extra: str) -> list[str]:
    """`summarize run SRC -o OUT -q` with the tiny models, as a command line for a subprocess."""
    return [
        sys.executable,
        "-m",
        "summarize",
        "run",
        str(src),
        "-o",
        str(out),
        "-q",
        *tiny_args(tiny),
        *extra,
    ]


def big_batch(folder: Path, copies: int) -> int:
    """`copies` editions of every seed, each a distinct article; returns how many."""
    folder.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    n = 0
    for i in range(copies):
        for seed in seeds:
            text = seed.read_text(encoding="utf-8")
            (folder / f"{i:02d}_{seed.name}").write_text(
                f"{text}\n\nEdition {i} of the wire.", encoding="utf-8"
            )
            n += 1
    return n


# Unrelated news, for batches that must hold more than one event.
OTHER_NEWS = [
    "Floods swept through the lower Rhine valley on Tuesday after three days of rain, forcing "
    "4,000 residents from their homes near Cologne. Rescue teams used boats to reach villages "
    "cut off by the water, and the regional government declared a state of emergency.",
    "The finance ministry presented a budget that cuts spending on roads by 12 per cent and "
    "raises the tax on tobacco, in a bid to bring the deficit under three per cent of output "
    "by 2027, the minister told parliament in Lisbon on Thursday.",
    "Sri Lanka beat Bangladesh by six wickets in the second one-day international in Colombo, "
    "chasing down 247 with eleven balls to spare after a century from their opening batsman.",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def real_server(app: Any) -> Iterator[int]:
    """An ASGI app on a real uvicorn server on loopback, in a thread; yields its port."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def unthrottled_service(tiny: dict[str, Path], out: Path, key: str) -> Iterator[Any]:
    """The service on the tiny models, its worker ready, no rate limit to hit (for tests that
    walk the whole API with generated requests); the worker stops after."""
    from summarize import load_settings
    from summarize.service import Limits, create_app

    app = create_app(
        load_settings(overrides=tiny_overrides(tiny, out)),
        [key],
        Limits(rate_per_minute=100_000, max_queue=1000),
        start_worker=False,
    )
    app.state.worker.start()
    try:
        assert app.state.worker.ready.wait(60)
        yield app
    finally:
        app.state.worker.stop()


def polite(send: Callable[[], Any], patience: float = 120) -> Any:
    """The answer as a well-behaved client gets it: a 429 is waited out (its Retry-After) and
    the request sent again, so a test polling a job on a slow machine never spends the key's
    rate and reads a refusal as the job."""
    deadline = time.monotonic() + patience
    while True:
        answer = send()
        if answer.status_code != 429 or time.monotonic() > deadline:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def call(port: int, method: str, path: str, key: str, body: Any = None) -> Any:
    """One JSON request to a loopback service, as a client with `key` sends it: a 429 waited
    out (`polite`), any other error raised."""
    import httpx

    answer = polite(
        lambda: httpx.request(
            method,
            f"http://127.0.0.1:{port}{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
    )
    answer.raise_for_status()
    return answer.json()
