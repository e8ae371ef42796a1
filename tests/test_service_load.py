"""A bounded loopback load on the service: 120 requests from 8 clients, cached and new
articles mixed; only 2xx, 429 and 503 may come back, and memory stays bounded."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import SEEDS, real_server, tiny_overrides

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

REQUESTS = 120  # every fourth a new article (30), the rest from the cache


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


@pytest.mark.slow
def test_bounded_load(tiny: dict[str, Path], tmp_path: Path) -> None:
    from summarize import load_settings
    from summarize.service import Limits, create_app

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    app = create_app(settings, ["k1", "k2"], Limits(rate_per_minute=600, max_queue=16))
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    with real_server(app) as port:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        rss_before = _rss_mb()

        def one(i: int) -> int:
            # Every fourth request is a new article; the rest repeat the sample articles.
            text = seeds[i % 5] if i % 4 else f"{seeds[i % 5]}\n\nUpdate number {i}."
            key = "k1" if i % 2 else "k2"
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/summarize",
                timeout=120,
                json={"text": text, "id": f"r{i}"},
                headers={"Authorization": f"Bearer {key}"},
            )
            return response.status_code

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(one, range(REQUESTS)))
        seconds = time.monotonic() - started
        rss_after = _rss_mb()
    counts = {code: statuses.count(code) for code in set(statuses)}
    print(
        f"\nload: {REQUESTS} requests, 8 clients, {seconds:.1f} s, statuses {counts}, "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MB"
    )
    assert set(statuses) <= {200, 429, 503}, counts
    assert counts.get(200, 0) >= REQUESTS // 2
    assert rss_after - rss_before < 300, "memory grew by more than 300 MB under load"
