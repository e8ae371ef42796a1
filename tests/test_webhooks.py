"""Signed webhooks and the service's own feeds: events kept in an outbox and delivered in
order to a receiver that is down, slow, answers 500, then recovers (each arrives, verified),
across a restart; a job, an approval and a story each tell the receivers; the feeds of the
configuration become jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, free_port, polite, tiny_overrides
from loopback import SECRET, Receiver

from summarize.service import notify
from summarize.service.notify import Notifier, sign, verify


def wait_for(check: Any, timeout: float = 60, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def test_a_signature_is_the_standard_webhooks_one_and_verifies_only_as_sent() -> None:
    body = b'{"type":"job.finished"}'
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, "evt_1", now, body),
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body + b" ")  # a changed body
    assert not verify("whsec_b3RoZXI=", headers, body)  # another secret
    old = {**headers, "webhook-timestamp": str(now - 3600)}
    old["webhook-signature"] = sign(SECRET, "evt_1", now - 3600, body)
    assert not verify(SECRET, old, body)  # a replay an hour later


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(notify, "MAX_DELAY_S", 0.2)


def test_every_event_arrives_once_in_order_through_outage_slowness_errors_and_a_restart(
    tmp_path: Path, quick: None
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    outbox = tmp_path / "outbox.sqlite3"
    first = Notifier(outbox, [url], SECRET, timeout=0.5)
    sent = [
        first.emit("job.finished" if i % 2 else "story.changed", {"n": i}, f"job-{i % 2}")
        for i in range(6)
    ]
    first.start()
    # The receiver is down: attempts fail and are recorded, nothing is lost.
    wait_for(lambda: first.deliveries()[-1]["attempts"] >= 2)
    head = next(d for d in first.deliveries() if d["event"] == sent[0])
    assert head["status"] == "pending" and "ConnectError" in head["last_error"]
    assert all(d["attempts"] == 0 for d in first.deliveries() if d["event"] != sent[0])  # in order
    first.stop()  # the service restarts
    receiver = Receiver(port, ["slow", "500", "500"])
    second = Notifier(outbox, [url], SECRET, timeout=0.5)
    second.start()
    try:
        wait_for(lambda: all(d["status"] == "delivered" for d in second.deliveries()))
        assert [e["id"] for e in receiver.verified] == sent  # each once, in order
        assert receiver.requests >= len(sent) + 3
        by_id = {d["event"]: d for d in second.deliveries()}
        assert by_id[sent[0]]["attempts"] >= 4 and by_id[sent[0]]["last_status"] == 204
        late = second.emit("item.approved", {"n": 6}, "job-0")
        wait_for(lambda: [e["id"] for e in receiver.verified][-1:] == [late])
    finally:
        second.stop()
        receiver.close()


def test_a_job_an_approval_and_a_story_tell_the_receivers(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from summarize import load_settings
    from summarize.service import create_app

    port = free_port()
    receiver = Receiver(port)
    settings = load_settings(
        overrides=tiny_overrides(
            tiny,
            tmp_path / "out",
            notify=[f"http://127.0.0.1:{port}/hook"],
            notify_secret=SECRET,
        )
    )
    keys = [
        "ad-1 name=chief role=admin",
        "ed-1 name=amal role=editor",
        "rd-1 name=lina role=reader",
    ]
    admin, editor = {"Authorization": "Bearer ad-1"}, {"Authorization": "Bearer ed-1"}
    articles = [
        {"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("*.txt"))
    ]
    try:
        with TestClient(create_app(settings, keys)) as client:
            job = client.post("/v1/jobs", json={"articles": articles}, headers=admin).json()["id"]
            wait_for(lambda: any(e["type"] == "job.finished" for e in receiver.verified), 120)
            done = next(e for e in receiver.verified if e["type"] == "job.finished")
            assert done["data"]["job"] == job and done["data"]["status"] == "done"
            assert done["data"]["links"]["ninjs"] == f"/v1/jobs/{job}/results?format=ninjs"
            story = next(e for e in receiver.verified if e["type"] == "story.changed")
            assert story["data"]["job"] == job and len(story["data"]["members"]) >= 2
            item = articles[0]["id"]
            view = client.get(f"/v1/jobs/{job}/items/{item}", headers=editor).json()
            shown = next(f for f in view["fields"] if f["field"] == "summary")
            answer = client.post(
                f"/v1/jobs/{job}/items/{item}/approve",
                json={"field": "summary", "version": 0, "seen": shown["seen"]},
                headers=editor,
            )
            assert answer.status_code == 200, answer.text
            wait_for(lambda: receiver.verified[-1]["type"] == "item.approved")
            approved = receiver.verified[-1]["data"]
            assert (approved["item"], approved["field"], approved["by"]) == (
                item,
                "summary",
                "amal",
            )
            # The payload carries the text it published: the one the approver saw.
            assert approved["texts"] == {"summary": shown["to_approve"]}

            # The receiver has the event a moment before the outbox records its 2xx.
            def listed_all_delivered() -> bool:
                got = client.get("/v1/deliveries", headers=admin).json()["deliveries"]
                return {d["status"] for d in got} == {"delivered"}

            wait_for(listed_all_delivered)
            listed = client.get("/v1/deliveries", headers=admin).json()
            assert {d["status"] for d in listed["deliveries"]} == {"delivered"}
            assert {d["type"] for d in listed["deliveries"]} >= {
                "job.finished",
                "story.changed",
                "item.approved",
            }
            reader = {"Authorization": "Bearer rd-1"}
            assert client.get("/v1/deliveries", headers=reader).status_code == 403
    finally:
        receiver.close()


def test_notify_needs_a_secret_and_an_http_address(tmp_path: Path) -> None:
    from summarize import load_settings
    from summarize.errors import ConfigError

    with pytest.raises(ConfigError, match="notify_secret"):
        load_settings(overrides={"notify": ["http://127.0.0.1:9/h"], "output_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="not base64"):
        load_settings(
            overrides={
                "notify": ["http://127.0.0.1:9/h"],
                "notify_secret": "whsec_not base64!",
                "output_dir": str(tmp_path),
            }
        )
    with pytest.raises(ConfigError, match="not an http"):
        load_settings(
            overrides={"notify": ["file:///etc"], "notify_secret": "x", "output_dir": str(tmp_path)}
        )


@pytest.fixture
def site() -> Iterator[Any]:
    from loopback import Site

    s = Site()
    yield s
    s.close()


def test_the_service_polls_its_own_feeds_into_jobs(
    tiny: dict[str, Path], tmp_path: Path, site: Any
) -> None:
    """Feeds come from the configuration; a poll's new entries are one job, owned by feeds;
    a poll with nothing new makes no job; there is no way for a client to add a feed."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from loopback import SEED, item, rss

    from summarize import load_settings
    from summarize.service import create_app

    site.put(
        "/w.rss", rss([item("w-1", "One", content=SEED[0]), item("w-2", "Two", content=SEED[1])])
    )
    settings = load_settings(
        overrides=tiny_overrides(
            tiny, tmp_path / "out", feeds=[f"{site.base}/w.rss"], feed_every=1.0
        )
    )
    admin = {"Authorization": "Bearer ad-1"}
    with TestClient(create_app(settings, ["ad-1 name=chief role=admin"])) as client:

        def get(path: str) -> Any:
            return polite(lambda: client.get(path, headers=admin)).json()

        seen: dict[str, Any] = {}

        def first_job() -> bool:
            # The read that finds the job is the one asserted on: a later poll with nothing
            # new (a busy machine lets one in) would show no job and no entries.
            status = get("/v1/feeds")
            if status["last"]["job"]:
                seen.update(status)
            return bool(seen)

        wait_for(first_job, 60, every=0.5)
        status = seen
        job = status["last"]["job"]
        assert status["feeds"] == [f"{site.base}/w.rss"] and status["last"]["entries"] == 2
        wait_for(lambda: get(f"/v1/jobs/{job}")["status"] == "done", every=0.5)
        results = get(f"/v1/jobs/{job}/results")
        assert {r["id"] for r in results} == {"w-1", "w-2"}
        assert {r["outlet"] for r in results} == {"Wire World"}
        # The next poll finds nothing new: no second job.
        polls = [p for p, _ in site.hits].count("/w.rss")
        wait_for(lambda: [p for p, _ in site.hits].count("/w.rss") > polls, 30)
        assert get("/v1/feeds")["last"]["job"] is None
        # A client cannot name a feed: the jobs API takes articles, never an address to fetch.
        refused = polite(
            lambda: client.post("/v1/jobs", json={"feed": f"{site.base}/w.rss"}, headers=admin)
        )
        assert refused.status_code == 422


def test_the_readmes_receiver_verifies_what_the_service_signs() -> None:
    """The few lines of Python the docs give a receiver accept a signed event and refuse a
    changed one."""
    import re

    from conftest import ROOT

    readme = (ROOT / "docs" / "feeds-ninjs-webhooks.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", readme, re.S)
    assert code is not None
    space: dict[str, Any] = {}
    exec(code.group(1), space)
    body, now = b'{"type": "job.finished"}', int(time.time())
    headers = {
        "webhook-id": "evt_2",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, "evt_2", now, body),
    }
    assert space["verify"](SECRET, headers, body)
    assert not space["verify"](SECRET, headers, body.replace(b"finished", b"failed"))
    # Any string is a secret too, as the README says (it raised binascii.Error before).
    for plain in ("correct horse battery staple", "s3cr#t!", "whsec"):
        headers["webhook-signature"] = sign(plain, "evt_2", now, body)
        assert space["verify"](plain, headers, body)
        assert not space["verify"](plain + "x", headers, body)
