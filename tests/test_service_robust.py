"""The service holds whatever its clients send: one bad article never stops the worker, a dead
worker is seen and replaced, a job that keeps killing it ends, every limit is the one its
option names, bodies are judged as they arrive and after the key, and no JSON nests it to
death. Each test reproduces a defect found on a fresh clone."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import OTHER_NEWS, SEEDS, polite, real_server, tiny_overrides

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from summarize import load_settings
from summarize.service import Limits, create_app

KEY = "robust-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
SPANISH = (Path(__file__).parent / "data" / "corpus_es.txt").read_text(encoding="utf-8")
OTHER = OTHER_NEWS


def settings_for(tiny: dict[str, Path], out: Path, fallback: bool = True, **extra: Any) -> Any:
    overrides = tiny_overrides(tiny, out, max_chars=200_000, **extra)
    if not fallback:
        overrides["translators"] = [t for t in overrides["translators"] if not t.startswith("*=")]
    return load_settings(overrides=overrides)


def wait_job(client: TestClient, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = polite(lambda: client.get(f"/v1/jobs/{job_id}", headers=AUTH)).json()
        if info["status"] in ("done", "cancelled", "failed"):
            return info  # type: ignore[no-any-return]
        time.sleep(0.5)  # the key's rate refills two a second
    raise AssertionError(f"job {job_id} did not finish: {info}")


def wait_ready(client: TestClient, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.1)


def submit(client: TestClient, texts: list[str], **extra: Any) -> str:
    articles = [{"id": f"a{i}", "text": t} for i, t in enumerate(texts)]
    response = client.post("/v1/jobs", json={"articles": articles, **extra}, headers=AUTH)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


# -- 3: one bad article never stops the worker -------------------------------------------------


def test_bad_articles_fail_alone_and_the_worker_goes_on(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reproduced: a Spanish article with no es-en model, or an article the summariser gives
    up on (GenerationError), killed the worker thread: the job stayed at 0 % for ever and no
    later request was answered."""
    from summarize.errors import GenerationError
    from summarize.runner import Pipeline
    from summarize.summarise import Seq2SeqSummarizer

    real_summarize = Seq2SeqSummarizer.summarize
    real_batch = Pipeline.run_batch

    def summarize(self: Any, texts: Any) -> Any:
        if any("GIVE UP" in t for t in texts):
            raise GenerationError("summaries of the chunks did not get shorter after 6 rounds")
        return real_summarize(self, texts)

    def run_batch(self: Any, order: Any, **kw: Any) -> Any:
        if any("BREAKS THE BATCH" in getattr(a, "text", "") for a in order):
            raise RuntimeError("an error no stage expected")
        return real_batch(self, order, **kw)

    monkeypatch.setattr(Seq2SeqSummarizer, "summarize", summarize)
    monkeypatch.setattr(Pipeline, "run_batch", run_batch)
    settings = settings_for(tiny, tmp_path / "out", fallback=False)
    with TestClient(create_app(settings, [KEY], Limits())) as client:
        wait_ready(client)
        texts = [
            SEED_TEXTS[0],
            SPANISH,
            SEED_TEXTS[1] + "\n\nGIVE UP",
            OTHER[0] + " BREAKS THE BATCH",
            SEED_TEXTS[2],
        ]
        info = wait_job(client, submit(client, texts))
        assert info["status"] == "done" and info["failed"] == 3, info
        results = {
            r["id"]: r for r in client.get(f"/v1/jobs/{info['id']}/results", headers=AUTH).json()
        }
        assert "summary" in results["a0"] and "summary" in results["a4"]
        assert "opus-mt-es-en" in results["a1"]["error"]["message"]
        assert "did not get shorter" in results["a2"]["error"]["message"]
        assert "an error no stage expected" in results["a3"]["error"]["message"]
        # Later work is done, single requests answered, and the service says it is ready.
        assert wait_job(client, submit(client, [OTHER[1]]))["status"] == "done"
        one = client.post("/v1/summarize", json={"text": OTHER[2]}, headers=AUTH)
        assert one.status_code == 200, one.text
        alone = client.post("/v1/summarize", json={"text": SPANISH}, headers=AUTH)
        assert alone.status_code == 422 and "opus-mt-es-en" in alone.json()["error"]["message"]
        assert client.get("/readyz").status_code == 200


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_is_reported_and_replaced(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reproduced: /readyz said 200 while the worker thread was gone."""
    from summarize.service.worker import Worker

    with TestClient(create_app(settings_for(tiny, tmp_path / "out"), [KEY], Limits())) as client:
        wait_ready(client)
        worker = client.app.state.worker  # type: ignore[attr-defined]

        def die(self: Worker) -> None:
            raise SystemExit("killed by the test")

        monkeypatch.setattr(Worker, "_step", die)
        worker.wake.set()
        worker.thread.join(timeout=10)
        assert not worker.alive()
        monkeypatch.undo()
        gone = client.get("/readyz")
        assert gone.status_code == 503 and gone.json()["error"]["type"] == "worker_stopped"
        assert "killed by the test" in gone.json()["error"]["message"]
        wait_ready(client, 10)
        assert client.get("/readyz").json()["worker"]["restarts"] == 1
        assert wait_job(client, submit(client, [OTHER[0]]))["status"] == "done"


def test_a_job_the_worker_died_on_goes_on_article_by_article_and_then_fails(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Reproduced: after a restart the same job killed the worker again, for ever. A wave a
    dead process left in flight is found; the job then goes one article at a time, an article
    the process died on alone is failed, and a job that did it MAX_CRASHES times is failed."""
    from summarize.service.jobs import JobStore
    from summarize.service.worker import MAX_CRASHES

    out = tmp_path / "out"
    out.mkdir()
    store = JobStore(out / "jobs.sqlite3")
    texts = [SEED_TEXTS[0], OTHER[0], OTHER[1], OTHER[2]]
    arts = [{"id": f"a{i}", "text": t} for i, t in enumerate(texts)]
    goes_on = store.create(arts, ["fr"])
    store.begin_wave(goes_on, [0, 1, 2, 3])  # the process died during this wave...
    store.begin_wave(goes_on, [1])  # ...and again, on article a1 alone
    ended = store.create(arts[:2], ["fr"])
    for _ in range(MAX_CRASHES):
        store.begin_wave(ended, [0, 1])
    store.close()
    with TestClient(create_app(settings_for(tiny, out), [KEY], Limits())) as client:
        first = wait_job(client, goes_on)
        assert first["status"] == "done" and first["failed"] == 1 and first["worker_restarts"] == 2
        results = client.get(f"/v1/jobs/{goes_on}/results", headers=AUTH).json()
        assert results[1]["error"]["type"] == "WorkerStopped"
        assert all("summary" in r for i, r in enumerate(results) if i != 1)
        second = wait_job(client, ended)
        assert second["status"] == "failed" and "stopped 3 times" in second["error"]
        assert all(
            r["error"]["type"] == "JobFailed"
            for r in client.get(f"/v1/jobs/{ended}/results", headers=AUTH).json()
        )


# -- 4: a job's stories are all of its waves' --------------------------------------------------


def test_a_jobs_stories_span_every_wave(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Reproduced: the stories were set per wave, so a job larger than one wave kept only the
    last wave's, and a member from an earlier wave had no summary in the brief."""
    settings = settings_for(tiny, tmp_path / "out", batch_size=2)
    texts = [SEED_TEXTS[0], OTHER[0], SEED_TEXTS[1], OTHER[1], SEED_TEXTS[2], SEED_TEXTS[3]]
    with TestClient(create_app(settings, [KEY], Limits())) as client:
        info = wait_job(client, submit(client, texts))
        assert info["status"] == "done" and info["failed"] == 0
        items = client.get(f"/v1/jobs/{info['id']}/items", headers=AUTH).json()
        stories = [i for i in items["items"] if i["kind"] == "story"]
        assert len(stories) == 1, stories
        story = client.get(f"/v1/jobs/{info['id']}/items/{stories[0]['item']}", headers=AUTH)
        doc = story.json()["document"]
        assert sorted(m["id"] for m in doc["members"]) == ["a0", "a2", "a4", "a5"]
        assert all(m.get("summary", {}).get("text") for m in doc["members"])
        brief = client.get(f"/v1/jobs/{info['id']}/brief.md", headers=AUTH).text
        assert all(f"a{i}" in brief for i in (0, 2, 4, 5))


# -- 6 and 9: every limit is the one its option names ------------------------------------------


@contextmanager
def served(tiny: dict[str, Path], out: Path, *options: str) -> Iterator[TestClient]:
    """`summarize serve OPTIONS` as the CLI builds it, the worker held (the queue fills)."""
    import uvicorn
    from conftest import tiny_args
    from typer.testing import CliRunner

    from summarize.cli import app as cli

    built: dict[str, Any] = {}

    def capture(app: Any, **kwargs: Any) -> None:
        built["app"], built["kwargs"] = app, kwargs

    real = uvicorn.run
    uvicorn.run = capture  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(
            cli,
            ["serve", "-o", str(out), *tiny_args(tiny), *options],
            env={"SUMMARIZE_API_KEYS": f"{KEY} name=amal"},
        )
    finally:
        uvicorn.run = real  # type: ignore[assignment]
    assert result.exit_code == 0, result.output
    assert built["kwargs"]["timeout_graceful_shutdown"] <= 10  # SIGTERM ends in seconds
    app = built["app"]
    app.state.worker.start = lambda: None  # nothing is processed: the queue only fills
    with TestClient(app) as client:
        yield client


def test_each_serve_limit_is_the_one_its_option_names(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Reproduced: `--max-queue 3` accepted 12 of 12 jobs and throttled failed keys after 3;
    by default failed authentication was throttled after about 65 a minute, not 10."""
    one = [{"id": "x", "text": OTHER[0]}]
    with served(tiny, tmp_path / "q", "--max-queue", "3") as client:
        codes = [
            client.post("/v1/jobs", json={"articles": one}, headers=AUTH).status_code
            for _ in range(5)
        ]
        assert codes == [202, 202, 202, 503, 503]
    with served(tiny, tmp_path / "d") as client:  # the defaults the README gives
        limits = client.app.state.service.limits  # type: ignore[attr-defined]
        assert (limits.failed_auth_per_minute, limits.max_queue) == (10, 64)
        bad = {"Authorization": "Bearer wrong"}
        codes = [client.get("/v1/me", headers=bad).status_code for _ in range(12)]
        assert codes == [401] * 10 + [429] * 2
    with served(tiny, tmp_path / "f", "--failed-auth", "3") as client:
        bad = {"Authorization": "Bearer wrong"}
        assert [client.get("/v1/me", headers=bad).status_code for _ in range(4)] == [401] * 3 + [
            429
        ]
    with served(tiny, tmp_path / "r", "--rate", "2") as client:
        assert [client.get("/v1/me", headers=AUTH).status_code for _ in range(3)] == [200, 200, 429]
    with served(tiny, tmp_path / "b", "--max-body", "1000") as client:
        big = client.post("/v1/jobs", json={"articles": [{"text": "x" * 2000}]}, headers=AUTH)
        assert big.status_code == 413
    with served(tiny, tmp_path / "j", "--max-job-articles", "3") as client:
        four = [{"id": f"x{i}", "text": OTHER[0]} for i in range(4)]
        too_many = client.post("/v1/jobs", json={"articles": four}, headers=AUTH)
        assert too_many.status_code == 413
        assert too_many.json()["error"]["type"] == "too_many_articles"
        jsonl = "\n".join(json.dumps(a) for a in four)
        as_lines = client.post(
            "/v1/jobs",
            content=jsonl,
            headers={**AUTH, "Content-Type": "application/jsonl"},
        )
        assert as_lines.status_code == 413
        assert client.post("/v1/jobs", json={"articles": four[:3]}, headers=AUTH).status_code == 202
    with served(tiny, tmp_path / "a", "--max-queued-articles", "5") as client:
        three = [{"id": f"x{i}", "text": OTHER[0]} for i in range(3)]
        assert client.post("/v1/jobs", json={"articles": three}, headers=AUTH).status_code == 202
        full = client.post("/v1/jobs", json={"articles": three}, headers=AUTH)
        assert (
            full.status_code == 503 and "3 articles are waiting" in full.json()["error"]["message"]
        )
        two = client.post("/v1/jobs", json={"articles": three[:2]}, headers=AUTH)
        assert two.status_code == 202


# -- 7 and 8: bodies are judged after the key, as they arrive, and never nest too deep ------------


def _chunked(
    port: int, path: str, headers: dict[str, str], chunks: int, size: int
) -> tuple[int, int]:
    """Send a chunked body; return (status, how many chunks went out before the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode())
        conn.settimeout(0.05)
        sent = 0
        answer = b""
        for _ in range(chunks):
            try:
                conn.sendall(f"{size:x}\r\n".encode() + b"[" * size + b"\r\n")
            except OSError:
                break
            sent += 1
            try:
                answer = conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                continue
            if answer:
                break
        conn.settimeout(10)
        while b"\r\n" not in answer:
            answer += conn.recv(4096)
    return int(answer.split()[1]), sent


def test_a_body_is_read_after_the_key_and_counted_as_it_arrives(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Reproduced: a chunked 30 MB body with no key was read whole before the 401; a chunked
    3 MB PATCH got 422 rather than 413."""
    app = create_app(settings_for(tiny, tmp_path / "out"), [KEY], Limits(), start_worker=False)
    with real_server(app) as port:
        status, sent = _chunked(port, "/v1/jobs", {}, chunks=300, size=100_000)
        assert status == 401 and sent < 20, sent  # 30 MB offered, a few chunks taken
        status, sent = _chunked(
            port,
            "/v1/jobs/folder/items/x",
            AUTH | {"Content-Type": "application/json"},
            30,
            100_000,
        )
        assert status == 413 and sent <= 25, sent


def test_json_nested_too_deep_is_a_clear_error(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Reproduced: 100k nested '[' answered 500 on /v1/jobs and reset the connection on
    /v1/briefs/md and for a JSONL job."""
    app = create_app(settings_for(tiny, tmp_path / "out"), [KEY], Limits(), start_worker=False)
    deep = "[" * 100_000 + "]" * 100_000
    with TestClient(app) as client:
        for path, body, kind in [
            ("/v1/jobs", deep, "application/json"),
            ("/v1/briefs/md", deep, "application/json"),
            ("/v1/jobs", '{"id": "a", "text": ' + deep + "}", "application/jsonl"),
            ("/v1/summarize", '{"text": ' + deep + "}", "application/json"),
        ]:
            answer = client.post(path, content=body, headers={**AUTH, "Content-Type": kind})
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error"]["type"] == "invalid_json"
        # A string full of brackets is text, not nesting.
        text = "[" * 5000 + " A report on brackets in the annual accounts of the city."
        fine = client.post("/v1/jobs", json={"articles": [{"text": text}]}, headers=AUTH)
        assert fine.status_code == 202, fine.text
