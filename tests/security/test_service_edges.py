"""The service's edges as an attacker (or an unlucky newsroom) meets them: results read once
while a job runs, lone surrogates in every string field, a missing key that is not a failed
attempt, and presence only for editors on items that exist.

Reproduced before: `GET …/results` raised KeyError (500) when an article finished between
its two reads of the results; `"x\\ud800"` in an article's id, title, author, outlet, url or
lang answered 500; ten keyless desk tabs behind one address locked every valid key out (429);
a reader could post presence on a job that does not exist and show as editing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, tiny_overrides

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from summarize import load_settings
from summarize.service import Limits, create_app

ADMIN, EDITOR, READER = "ad-edge", "ed-edge", "rd-edge"
KEYS = [f"{ADMIN} name=chief role=admin", f"{EDITOR} name=amal role=editor"]
KEYS.append(f"{READER} name=lina role=reader")
STRING_FIELDS = ("id", "text", "title", "lang", "url", "outlet", "author", "published")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def finished(tiny: dict[str, Path], tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """A service with a finished job of the seed articles."""
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    app = create_app(settings, KEYS, Limits(rate_per_minute=100_000))
    articles = [
        {"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("*.txt"))
    ]
    with TestClient(app) as client:
        job = client.post("/v1/jobs", json={"articles": articles}, headers=auth(ADMIN)).json()["id"]
        deadline = time.monotonic() + 180
        while client.get(f"/v1/jobs/{job}", headers=auth(ADMIN)).json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield client, job


def test_results_are_one_read_while_articles_finish(
    finished: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read of the results finds one article more, as when articles finish between
    reads: every answer is whole and consistent (it was a KeyError, 500)."""
    client, job = finished
    store = client.app.state.service.store  # type: ignore[attr-defined]
    everything = store.results(job)
    reads = iter(range(1, 1000))

    def growing(job_id: str) -> list[dict[str, Any]]:
        return everything[: min(len(everything), next(reads))]

    monkeypatch.setattr(store, "results", growing)
    for kind in ("json", "jsonl", "ninjs", "json"):
        answer = client.get(f"/v1/jobs/{job}/results?format={kind}", headers=auth(READER))
        assert answer.status_code == 200, answer.text[:300]
    docs = client.get(f"/v1/jobs/{job}/results", headers=auth(READER)).json()
    assert 1 <= len(docs) <= len(everything) and all("id" in d for d in docs)
    items = client.get(f"/v1/jobs/{job}/items", headers=auth(READER))
    assert items.status_code == 200


def surrogate_bodies() -> Iterator[tuple[str, str, str, bytes, str]]:
    """(case, method, path, raw body, the field the answer must name)."""
    for name in STRING_FIELDS:
        article: dict[str, Any] = {"id": "a-1", "text": "Parliament met on Tuesday in Lisbon."}
        article[name] = article.get(name, "x") + "\ud800"
        raw = json.dumps({"articles": [article]}).encode()  # ensure_ascii: the escape \ud800
        yield f"job {name}", "POST", "/v1/jobs", raw, f"articles.0.{name}"
        yield f"summarize {name}", "POST", "/v1/summarize", json.dumps(article).encode(), name
        line = json.dumps(article).encode()
        yield f"jsonl {name}", "POST", "/v1/jobs", line + b"\n", name
    yield (
        "label",
        "POST",
        "/v1/jobs",
        json.dumps({"articles": [{"id": "a", "text": "t"}], "label": "\udfff"}).encode(),
        "label",
    )
    yield "a key", "POST", "/v1/briefs/md", b'[{"\\udc00": 1}]', "0.(a key)"


def test_a_lone_surrogate_in_any_string_field_is_a_422_naming_it(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    with TestClient(create_app(settings, KEYS, start_worker=False)) as client:
        for case, method, path, raw, field in surrogate_bodies():
            kind = "application/jsonl" if case.startswith("jsonl") else "application/json"
            answer = client.request(
                method, path, content=raw, headers={**auth(ADMIN), "Content-Type": kind}
            )
            assert answer.status_code == 422, (case, answer.status_code, answer.text[:200])
            message = answer.json()["error"]["message"]
            assert message.startswith(field) and "lone surrogate" in message, (case, message)
        # A surrogate pair is text (an emoji), and passes.
        emoji = json.dumps({"articles": [{"id": "e", "text": "Fans cheered \U0001f600 today."}]})
        assert client.post("/v1/jobs", content=emoji, headers=auth(ADMIN)).status_code == 202


def test_the_desk_refuses_surrogates_in_edits_and_approvals(
    finished: tuple[TestClient, str],
) -> None:
    client, job = finished
    item = client.get(f"/v1/jobs/{job}/items", headers=auth(EDITOR)).json()["items"][0]["item"]
    url = f"/v1/jobs/{job}/items/{item}"
    for path, method in ((url, "PATCH"), (f"{url}/approve", "POST")):
        raw = json.dumps({"field": "summary", "text": "A fixed summary\ud800."}).encode()
        answer = client.request(method, path, content=raw, headers=auth(EDITOR))
        assert answer.status_code == 422 and "text" in answer.json()["error"]["message"]


def test_a_missing_key_is_not_a_failed_attempt(tiny: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    limits = Limits(failed_auth_per_minute=10)
    with TestClient(create_app(settings, KEYS, limits, start_worker=False)) as client:
        for _ in range(30):  # thirty fresh desk tabs behind one address, before a key is typed
            assert client.get("/v1/me").status_code == 401
            assert client.post("/v1/jobs", content=b"{}").status_code == 401
        assert client.get("/v1/me", headers=auth(EDITOR)).json()["name"] == "amal"
        for _ in range(10):  # wrong keys are failed attempts: the address is slowed
            assert client.get("/v1/me", headers=auth("guess")).status_code == 401
        locked = client.get("/v1/me", headers=auth(EDITOR))
        assert locked.status_code == 429 and "Retry-After" in locked.headers


def test_presence_is_for_editors_on_items_that_exist(finished: tuple[TestClient, str]) -> None:
    client, job = finished
    item = client.get(f"/v1/jobs/{job}/items", headers=auth(EDITOR)).json()["items"][0]["item"]
    beat = {"field": "summary"}
    reader = client.post(f"/v1/jobs/{job}/items/{item}/presence", json=beat, headers=auth(READER))
    assert reader.status_code == 403
    for path in (f"/v1/jobs/no-such-job/items/{item}", f"/v1/jobs/{job}/items/no-such-item"):
        answer = client.post(f"{path}/presence", json=beat, headers=auth(EDITOR))
        assert answer.status_code == 404, (path, answer.text)
    made_up = {"field": "translation:xx"}
    answer = client.post(
        f"/v1/jobs/{job}/items/{item}/presence", json=made_up, headers=auth(EDITOR)
    )
    assert answer.status_code == 422
    here = client.post(f"/v1/jobs/{job}/items/{item}/presence", json=beat, headers=auth(EDITOR))
    assert here.status_code == 200
    names = [h["name"] for h in here.json()["here"]]
    assert "lina" not in names
