"""Sixteen desk clients at once on a real server, bounded in time: no answer is a 500, every
field's versions run without a gap, and every write the server accepted is in the history.
Four of them poll a second job's results (JSON and ninjs) while it runs.

Reproduced before: with 16 clients, 8 of 2,205 desk requests answered 500 (a Snowball stemmer
shared across threads), and the writes among them had been committed; and results polled
while a job ran answered 500 when an article finished between two reads of them.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, real_server, tiny_overrides

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

CLIENTS = 16
SECONDS = 12.0  # each client stops starting requests after this
EDITORS = [f"ed{i}-secret name=ed{i} role=editor" for i in range(CLIENTS)]
ADMIN = "admin-secret name=boss role=admin"
FIELDS = ("summary", "translation:fr", "translation:ar")


@pytest.mark.slow
def test_sixteen_editors_at_once(tiny: dict[str, Path], tmp_path: Path) -> None:
    from summarize import load_settings
    from summarize.service import Limits, create_app

    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", targets=["ar", "fr"]))
    app = create_app(settings, [ADMIN, *EDITORS], Limits(rate_per_minute=100_000))
    with real_server(app) as port:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        boss = {"Authorization": "Bearer admin-secret"}
        articles = [
            {"id": p.name, "text": p.read_text(encoding="utf-8")}
            for p in sorted(SEEDS.glob("*.txt"))
        ]
        job = httpx.post(f"{base}/v1/jobs", json={"articles": articles}, headers=boss).json()["id"]
        while httpx.get(f"{base}/v1/jobs/{job}", headers=boss).json()["status"] != "done":
            assert time.monotonic() < deadline + 120
            time.sleep(0.2)
        items = [a["id"] for a in articles]
        running = [
            {"id": f"run-{i}-{a['id']}", "text": f"{a['text']}\n\nUpdate {i}."}
            for i in range(4)
            for a in articles
        ]
        second = httpx.post(f"{base}/v1/jobs", json={"articles": running}, headers=boss)
        polls: list[tuple[int, int]] = []  # (status, results seen) while the second job runs

        def client(n: int) -> list[tuple[int, str, str, str, str]]:
            rng = random.Random(n)
            auth = {"Authorization": f"Bearer ed{n}-secret"}
            out = []
            stop = time.monotonic() + SECONDS
            with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
                i = 0
                while n < 4 and time.monotonic() < stop:  # four pollers
                    kind = "ninjs" if i % 2 else "json"
                    got = http.get(f"/v1/jobs/{second.json()['id']}/results?format={kind}")
                    polls.append((got.status_code, len(got.json()) if got.is_success else -1))
                    out.append((got.status_code, "get", "", "", ""))
                    i += 1
                while time.monotonic() < stop:
                    item, field = rng.choice(items[:2]), rng.choice(FIELDS)
                    url = f"/v1/jobs/{job}/items/{item}"
                    view = http.get(url)
                    out.append((view.status_code, "get", item, field, ""))
                    if view.status_code != 200:
                        continue
                    version = next(
                        f["version"] for f in view.json()["fields"] if f["field"] == field
                    )
                    text = f"ed{n} wrote this, number {i}."
                    if rng.random() < 0.7:
                        answer = http.patch(
                            url, json={"field": field, "text": text, "version": version}
                        )
                        kind = "edit"
                    else:
                        answer = http.post(
                            f"{url}/approve",
                            json={"field": field, "version": version, "text": text},
                        )
                        kind = "approve"
                    out.append((answer.status_code, kind, item, field, text))
                    i += 1
            return out

        with ThreadPoolExecutor(CLIENTS) as pool:
            done = [r for rs in pool.map(client, range(CLIENTS)) for r in rs]
        statuses = defaultdict(int)
        for status, *_ in done:
            statuses[status] += 1
        assert all(s < 500 for s in statuses), dict(statuses)
        assert set(statuses) <= {200, 409}, dict(statuses)
        seen = sorted({n for s, n in polls if s == 200})
        print(
            f"\nsixteen clients: statuses {dict(statuses)}; {len(polls)} polls of a running job "
            f"saw {seen[0] if seen else 0} to {seen[-1] if seen else 0} results"
        )
        assert second.status_code == 202 and len(polls) >= 4
        assert {s for s, _ in polls} == {200}, polls
        accepted = [r for r in done if r[0] == 200 and r[1] != "get"]
        assert len(accepted) >= CLIENTS, "too few writes to say anything"
        history: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for item in items[:2]:
            view = httpx.get(f"{base}/v1/jobs/{job}/items/{item}", headers=boss).json()
            for step in view["history"]:
                if step["action"] in ("edit", "approve"):  # a superseded draft is a note
                    history[(item, step["field"])].append(step)
        for (item, field), steps in history.items():
            versions = [s["version"] for s in steps]
            assert versions == list(range(1, len(steps) + 1)), (item, field, versions)
        for _, kind, item, field, text in accepted:
            assert any(
                s["text"] == text and s["action"].startswith(kind[:4])
                for s in history[(item, field)]
            ), (kind, item, field, text)
