"""The HTTP service on tiny models: results, auth, limits, jobs that survive a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, polite, tiny_overrides

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from summarize import load_settings  # noqa: E402
from summarize.service import Limits, create_app  # noqa: E402

KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = (SEEDS / "002_368337d6acc914b1.txt").read_text(encoding="utf-8")


def make_app(tiny: dict[str, Path], out: Path, **kw: Any) -> Any:
    settings = load_settings(overrides=tiny_overrides(tiny, out, max_chars=20_000))
    return create_app(settings, [KEY], kw.pop("limits", Limits()), **kw)


def wait_job(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = polite(lambda: client.get(f"/v1/jobs/{job_id}", headers=AUTH)).json()
        if info["status"] in ("done", "cancelled"):
            return info  # type: ignore[no-any-return]
        time.sleep(0.5)  # the key's rate refills two a second
    raise AssertionError(f"job {job_id} did not finish")


def test_summarize_cached_and_health(tiny: dict[str, Path], tmp_path: Path) -> None:
    with TestClient(make_app(tiny, tmp_path / "out")) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/readyz").json()["status"] == "ready"
        first = client.post("/v1/summarize", json={"text": ARTICLE, "id": "a1"}, headers=AUTH)
        assert first.status_code == 200, first.text
        doc = first.json()
        assert doc["id"] == "a1" and set(doc["translations"]) == {"ar", "fr"}
        assert {"provenance", "warnings", "language", "summary"} <= set(doc)
        again = client.post("/v1/summarize", json={"text": ARTICLE, "id": "a1"}, headers=AUTH)
        assert all(r["cached"] for r in again.json()["provenance"].values())
        only_fr = client.post(
            "/v1/summarize", json={"text": ARTICLE, "targets": ["fr"]}, headers=AUTH
        )
        assert set(only_fr.json()["translations"]) == {"fr"}
        models = client.get("/v1/models", headers=AUTH).json()
        assert any(m["name"] == "distilbart-cnn-12-6" for m in models)
        assert client.get("/openapi.json").status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "Summarise and translate" in page.text


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}]
)
def test_every_v1_route_needs_the_key(
    tiny: dict[str, Path], tmp_path: Path, headers: dict[str, str]
) -> None:
    with TestClient(make_app(tiny, tmp_path / "out", start_worker=False)) as client:
        for method, path in [
            ("post", "/v1/summarize"),
            ("post", "/v1/jobs"),
            ("get", "/v1/jobs/x"),
            ("get", "/v1/models"),
            ("delete", "/v1/jobs/x"),
        ]:
            response = getattr(client, method)(
                path, headers=headers, **({"json": {"text": "x"}} if method == "post" else {})
            )
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["type"] == "unauthorized"


def test_limits_answer_with_clear_json_errors(tiny: dict[str, Path], tmp_path: Path) -> None:
    limits = Limits(max_body_bytes=5000, rate_per_minute=3, max_queue=1)
    with TestClient(make_app(tiny, tmp_path / "out", limits=limits, start_worker=False)) as client:
        big = client.post("/v1/summarize", json={"text": "x" * 6000}, headers=AUTH)
        assert big.status_code == 413 and big.json()["error"]["type"] == "payload_too_large"
        long = client.post(
            "/v1/jobs",
            json={"articles": [{"text": "y" * 4900}]},
            headers={**AUTH, "Authorization": f"Bearer {KEY}"},
        )
        assert long.status_code == 202  # under both limits: queued (the worker is off)
        busy = client.post("/v1/jobs", json={"articles": [{"text": "z" * 100}]}, headers=AUTH)
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        statuses = [client.get("/v1/models", headers=AUTH) for _ in range(3)]
        limited = statuses[-1]
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["type"] == "rate_limited"
        bad = client.post("/v1/summarize", json={"nope": 1}, headers=AUTH)
        assert bad.status_code in (422, 429)


def test_article_length_and_validation_errors(tiny: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=100))
    with TestClient(create_app(settings, [KEY], start_worker=False)) as client:
        long = client.post("/v1/summarize", json={"text": "word " * 50}, headers=AUTH)
        assert long.status_code == 422 and long.json()["error"]["type"] == "article_too_long"
        missing = client.post("/v1/summarize", json={"title": "no text"}, headers=AUTH)
        assert missing.status_code == 422
        assert missing.json()["error"]["type"] == "validation_error"
        assert missing.json()["error"]["message"] == "text: missing: send it"
        assert "Traceback" not in missing.text


def test_jobs_survive_a_restart_and_produce_briefs(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    articles = [
        {"id": f"j{i}", "text": p.read_text(encoding="utf-8")}
        for i, p in enumerate(sorted(SEEDS.glob("*.txt"))[:3])
    ]
    articles.append({"id": "bad", "text": "12 34"})
    # First process: accepts the job, stops before doing any of it.
    with TestClient(make_app(tiny, out, start_worker=False)) as client:
        accepted = client.post("/v1/jobs", json={"articles": articles}, headers=AUTH)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]
        assert client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()["status"] == "queued"
    # Second process on the same folder: finds the job and finishes it.
    with TestClient(make_app(tiny, out)) as client:
        info = wait_job(client, job_id)
        assert info["status"] == "done" and info["done"] == 4 and info["failed"] == 1
        results = client.get(f"/v1/jobs/{job_id}/results", headers=AUTH).json()
        assert [r["id"] for r in results] == ["j0", "j1", "j2", "bad"]
        assert "error" in results[3]
        jsonl = client.get(f"/v1/jobs/{job_id}/results?format=jsonl", headers=AUTH).text
        assert len(jsonl.strip().splitlines()) == 4
        # The three seed articles report one event: the job's brief leads with their story.
        html = client.get(f"/v1/jobs/{job_id}/brief.html", headers=AUTH).text
        assert html.count('<section class="story"') == 1
        assert 'dir="rtl" lang="ar"' in html
        # Members by headline or first line (never the id alone), own summary below.
        assert '<li dir="auto">j0 · en<details' not in html
        assert all(f"en, j{i} · <time datetime=" in html for i in (0, 1, 2))
        assert html.count('</time><details class="own">') == 3  # the date, then own summary
        md = client.get(f"/v1/jobs/{job_id}/brief.md", headers=AUTH).text
        assert md.count("### Story summary") == 1 and "### Arabic" in md
        assert "Machine draft, not reviewed" in md
        feed = "\n".join(
            f'{{"id": "l{i}", "text": "{ARTICLE[:400]!s}"}}'.replace("\n", " ") for i in range(2)
        )
        as_jsonl = client.post(
            "/v1/jobs", content=feed.encode(), headers={**AUTH, "Content-Type": "application/jsonl"}
        )
        assert as_jsonl.status_code == 202
        cancelled = client.delete(f"/v1/jobs/{as_jsonl.json()['id']}", headers=AUTH).json()
        assert cancelled["status"] in ("cancelled", "done")
        assert client.get("/v1/jobs/nope", headers=AUTH).status_code == 404


def test_serve_refuses_a_public_address_without_keys() -> None:
    from typer.testing import CliRunner

    from summarize.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "without API keys" in result.output


def test_bad_json_to_briefs_is_a_422_and_models_say_what_is_loaded(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    with TestClient(make_app(tiny, tmp_path / "out", start_worker=False)) as client:
        for body in (b"{not json", b"\xff\xfe", b'[{"id": 1}, 3]', b'{"a": 1}'):
            response = client.post("/v1/briefs/html", content=body, headers=AUTH)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["type"] in ("invalid_json", "invalid_results")
        models = client.get("/v1/models", headers=AUTH).json()
        names = {m["name"] for m in models}
        assert {"distilbart-cnn-12-6", "opus-mt-tc-big-en-ar"} <= names
        assert all(set(m) >= {"present", "loaded", "revision", "license"} for m in models)


def test_a_job_brief_lists_its_own_members_and_counts_the_rest_of_the_folder(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    with TestClient(make_app(tiny, tmp_path / "out")) as client:
        ids = []
        for batch in (seeds[:3], seeds[3:]):
            articles = [{"id": p.name, "text": p.read_text(encoding="utf-8")} for p in batch]
            accepted = client.post("/v1/jobs", json={"articles": articles}, headers=AUTH)
            ids.append(accepted.json()["id"])
            assert wait_job(client, ids[-1])["status"] == "done"
        md = client.get(f"/v1/jobs/{ids[1]}/brief.md", headers=AUTH).text
        assert "3 more articles in the folder are in this story" in md
        assert seeds[3].stem[4:] in md and seeds[0].stem[4:] not in md
        # Headlines from the first line, as the CLI finds them.
        results = client.get(f"/v1/jobs/{ids[0]}/results", headers=AUTH).json()
        assert [r["title"] is not None for r in results] == [False, True, True]


def test_job_targets_are_resolved_as_the_cli_resolves_them(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    with TestClient(make_app(tiny, tmp_path / "out", start_worker=False)) as client:
        bad = client.post(
            "/v1/jobs", json={"articles": [{"text": ARTICLE}], "targets": ["xx-yy"]}, headers=AUTH
        )
        assert bad.status_code == 422 and "target 'xx-yy'" in bad.json()["error"]["message"]
        good = client.post(
            "/v1/jobs", json={"articles": [{"text": ARTICLE}], "targets": ["pt-br"]}, headers=AUTH
        )
        assert good.status_code == 202
        info = client.get(f"/v1/jobs/{good.json()['id']}", headers=AUTH).json()
        assert info["targets"] == ["pt"]
