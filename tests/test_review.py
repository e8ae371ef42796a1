"""The review loop on tiny models: edits kept apart from machine output, approved text
published and marked, re-runs keep edits, changed sources make them stale, corrections scored
and exported; through the CLI on an output folder and through the API with editor and
reader keys."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, polite, tiny_args, tiny_overrides
from typer.testing import CliRunner

from summarize import load_settings, review
from summarize.cli import app
from summarize.review import FOLDER, Conflict, EditStore, apply, machine_doc, signature

runner = CliRunner()
ARTICLE = "000_c73dff72cbaff43d.txt"  # a story member (seeds 000-002 report one event)
OTHER = "003_e4bd439a4009ed1f.txt"
AR_EDIT = "افتتح الإنتربول دورته الثالثة والتسعين في مراكش يوم الاثنين."
WRONG_FIGURE = "افتتح الإنتربول دورته في مراكش وحضرها 9999 ضابط."


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    return result


def run_seeds(tiny: dict[str, Path], src: Path, out: Path) -> None:
    result = invoke(
        "run",
        str(src),
        "--to",
        "ar,fr",
        "-o",
        str(out),
        "--format",
        "json,md,html",
        "-q",
        *tiny_args(tiny),
    )
    assert result.exit_code == 0, result.output


def shown(out: Path, item: str) -> dict[str, Any]:
    """What `review show --json` shows of an item, with the shas `review approve` takes."""
    result = invoke("review", "show", item, "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def sha(out: Path, item: str, field: str) -> str:
    return str(shown(out, item)["approve"]["fields"][field])


def read(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_review_on_an_output_folder(tiny: dict[str, Path], tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SEEDS, src)
    run_seeds(tiny, src, out)
    machine = read(out, ARTICLE)
    assert machine["review"]["state"] == "machine draft"
    assert not (out / "edits.sqlite3").exists()  # a plain run makes no edits file

    listing = invoke("review", "list", "-o", str(out), "--json")
    assert listing.exit_code == 0, listing.output
    items = {row["item"]: row for row in json.loads(listing.output)}
    assert ARTICLE in items and any(i.startswith("story:") for i in items)
    assert not (out / "edits.sqlite3").exists()  # nor does listing

    # One translation edited and approved; another article's summary approved unchanged.
    edit = invoke(
        "review",
        "edit",
        ARTICLE,
        "translation:ar",
        "--text",
        AR_EDIT,
        "--approve",
        "--editor",
        "amal",
        "-o",
        str(out),
    )
    assert edit.exit_code == 0, edit.output
    assert "approved (edited)" in edit.output
    # An approval names what it approves: without a sha (and no terminal to ask on) nothing.
    unnamed = invoke("review", "approve", OTHER, "summary", "--editor", "omar", "-o", str(out))
    assert unnamed.exit_code == 2 and "--sha" in unnamed.output, unnamed.output
    seen = sha(out, OTHER, "summary")
    same = invoke(
        "review", "approve", OTHER, "summary", "--sha", seen, "--editor", "omar", "-o", str(out)
    )
    assert same.exit_code == 0 and "approved (unchanged)" in same.output, same.output

    doc = read(out, ARTICLE)
    assert doc["translations"]["ar"]["text"] == AR_EDIT
    entry = doc["review"]["fields"]["translation:ar"]
    assert entry["status"] == "approved" and entry["by"] == "amal" and entry["edited"] is True
    assert entry["machine_text"] == machine["translations"]["ar"]["text"]
    assert doc["review"]["state"] == "in review"
    assert machine_doc(doc) == machine_doc(machine)  # the machine text is kept, restorable
    other = read(out, OTHER)
    assert other["review"]["fields"]["summary"]["edited"] is False

    # The briefs of the folder show the edit, marked reviewed, and the rest as drafts.
    md = (out / "brief.md").read_text(encoding="utf-8")
    html = (out / "brief.html").read_text(encoding="utf-8")
    assert "Reviewed by amal" in md and "Reviewed by omar" in md and "Machine draft" in md
    assert 'class="review approved" data-field="summary"' in html
    assert 'class="review machine"' in html

    # A re-run of the same articles keeps the edit: same machine text under it, same hash.
    run_seeds(tiny, src, out)
    assert read(out, ARTICLE)["translations"]["ar"]["text"] == AR_EDIT
    assert AR_EDIT in (out / "brief.html").read_text(encoding="utf-8")

    # Corrections are scored per model and pair, and exported as pairs.
    scored = invoke("eval", "--from-edits", "-o", str(out))
    assert scored.exit_code == 0, scored.output
    assert "en-ar" in scored.output and "chrF++" in scored.output and "rouge1" in scored.output
    assert "nrefs:1" in scored.output  # sacrebleu's signature
    written = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert written["mode"] == "from_edits" and f"scores written to {out / 'eval.json'}" in (
        scored.output.replace("\n", "")
    )
    assert {(g["kind"], g["pair"]) for g in written["groups"]} >= {("translation", "en-ar")}
    exported = invoke("edits", "export", "-o", str(out))
    pairs = [json.loads(line) for line in exported.stdout.splitlines()]
    by_field = {p["field"]: p for p in pairs}
    assert by_field["translation:ar"]["edited"] == AR_EDIT
    assert by_field["translation:ar"]["machine"] == machine["translations"]["ar"]["text"]
    assert by_field["translation:ar"]["input"] == machine["summary"]["text"]
    assert by_field["summary"]["changed"] is False and len(by_field["summary"]["input"]) > 500

    # The source article changes: its edit is stale, shown, and not applied to the new text.
    (src / ARTICLE).write_text(
        (SEEDS / ARTICLE).read_text(encoding="utf-8") + "\nA late paragraph was added.",
        encoding="utf-8",
    )
    run_seeds(tiny, src, out)
    doc = read(out, ARTICLE)
    entry = doc["review"]["fields"]["translation:ar"]
    assert entry["status"] == "stale" and "source changed" in entry["stale"]["reason"]
    assert entry["stale"]["text"] == AR_EDIT and doc["translations"]["ar"]["text"] != AR_EDIT
    assert "no longer applies" in (out / "brief.md").read_text(encoding="utf-8")
    shown = invoke("review", "show", ARTICLE, "-o", str(out))
    assert "stale" in shown.output and AR_EDIT in shown.output


def test_checks_rerun_on_edited_text(tiny: dict[str, Path], tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SEEDS, src)
    run_seeds(tiny, src, out)
    result = invoke(
        "review",
        "edit",
        ARTICLE,
        "translation:ar",
        "--text",
        WRONG_FIGURE,
        "--approve",
        "--editor",
        "amal",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    doc = read(out, ARTICLE)
    flags = [w for w in doc["warnings"] if w["stage"] == "translate:ar"]
    assert [(w["code"], w["span"], w.get("edited")) for w in flags] == [
        ("number_not_in_source", "9999", True)
    ]
    # A draft is listed, not published; approving the sha shown beside it approves it.
    before = sha(out, OTHER, "summary")  # the machine text, as shown before the draft
    invoke("review", "edit", OTHER, "summary", "--text", "A draft summary.", "-o", str(out))
    assert read(out, OTHER)["review"]["fields"]["summary"]["status"] == "draft"
    assert read(out, OTHER)["summary"]["text"] != "A draft summary."
    # A colleague's draft is never approved by the sha of the text shown before it came.
    old = invoke("review", "approve", OTHER, "summary", "--sha", before, "-o", str(out))
    assert old.exit_code == 2 and "review error" in old.output, old.output
    assert read(out, OTHER)["review"]["fields"]["summary"]["status"] == "draft"
    now = sha(out, OTHER, "summary")
    approved = invoke("review", "approve", OTHER, "summary", "--sha", now, "-o", str(out))
    assert approved.exit_code == 0, approved.output
    assert read(out, OTHER)["summary"]["text"] == "A draft summary."
    # Its translations were made from the machine summary: approving the whole item says so
    # and needs --force; the approval then records it as acknowledged.
    item_sha = shown(out, OTHER)["approve"]["item_sha"]
    whole = invoke("review", "approve", OTHER, "--sha", item_sha, "-o", str(out))
    assert whole.exit_code == 2, whole.output
    assert "translation:ar: translated from the machine summary" in whole.output
    forced = invoke("review", "approve", OTHER, "--sha", item_sha, "--force", "-o", str(out))
    assert forced.exit_code == 0, forced.output
    entry = read(out, OTHER)["review"]["fields"]["translation:ar"]
    assert "translated from the machine summary" in entry["acknowledged"]
    # A withdrawal from the CLI: the field is a draft again, its approved text off the brief.
    pulled = invoke("review", "withdraw", OTHER, "summary", "-o", str(out))
    assert pulled.exit_code == 0, pulled.output
    assert read(out, OTHER)["review"]["fields"]["summary"]["status"] == "draft"


def test_review_errors_are_one_line(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    empty = invoke("review", "list", "-o", str(out))
    assert empty.exit_code == 2 and "holds no results" in empty.output
    run_seeds(tiny, SEEDS, out)
    cases = [
        (("review", "show", "nope.txt"), "no item 'nope.txt'"),
        (("review", "edit", ARTICLE, "translation:de", "--text", "x"), "has no translation:de"),
        (("review", "edit", ARTICLE, "headline", "--text", "x"), "is not a field"),
        (("review", "edit", ARTICLE, "summary", "--text", "   "), "the text is empty"),
    ]
    for args, words in cases:
        result = invoke(*args, "-o", str(out))
        assert result.exit_code == 2, result.output
        assert words in result.output and "Traceback" not in result.output
    no_edits = invoke("eval", "--from-edits", "-o", str(out))
    assert no_edits.exit_code == 2 and "no edits in" in no_edits.output


def _doc() -> dict[str, Any]:
    return {
        "id": "a",
        "hash": "h1",
        "title": None,
        "language": {"code": "en"},
        "summary": {"text": "S.", "lang": "en", "chunks": 1},
        "translations": {"fr": {"text": "T.", "lang": "fr", "route": "direct"}},
        "title_translations": {},
        "warnings": [],
        "provenance": {
            "summarize": {"model": "m1", "revision": "r", "settings": {}, "seconds": 1.0},
            "translate:fr": {
                "model": "t1",
                "revision": "r",
                "settings": {},
                "seconds": 1.0,
                "versions": {"transformers": "5.0.0"},
                "device": "cpu",
            },
        },
    }


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = EditStore(tmp_path / "edits.sqlite3")
    yield opened
    opened.close()


def _save(store: EditStore, doc: dict[str, Any], field: str, text: str, **kw: Any) -> Any:
    found = review.target(doc, field)
    assert found is not None
    kw.setdefault("approve", False)
    kw.setdefault("expected", None)
    return store.save(FOLDER, found, text, kw.pop("editor", "amal"), **kw)


def test_only_the_source_or_the_machine_text_makes_an_edit_stale(store: EditStore) -> None:
    doc = _doc()
    _save(store, doc, "translation:fr", "T2.", approve=True)
    assert apply(doc, store.fields(FOLDER, "a"))["translations"]["fr"]["text"] == "T2."
    # A library upgrade, another device, engine or model that writes the same text:
    # the approved edit still applies.
    moved = json.loads(json.dumps(doc))
    moved["provenance"]["translate:fr"] |= {
        "model": "t2",
        "versions": {"transformers": "5.9.0"},
        "device": "cuda",
        "compute_type": "int8_float16",
        "engine": "ctranslate2",
        "seconds": 9.0,
    }
    assert apply(moved, store.fields(FOLDER, "a"))["translations"]["fr"]["text"] == "T2."
    # Other machine text under it: stale, the editor's text offered, not applied.
    other = json.loads(json.dumps(doc))
    other["translations"]["fr"]["text"] = "T autre."
    stale = apply(other, store.fields(FOLDER, "a"))
    assert stale["translations"]["fr"]["text"] == "T autre."
    entry = stale["review"]["fields"]["translation:fr"]
    assert entry["status"] == "stale" and entry["stale"]["text"] == "T2."
    assert "machine text under the edit changed" in entry["stale"]["reason"]


def test_a_draft_never_unpublishes_and_a_stale_version_is_refused(store: EditStore) -> None:
    doc = _doc()
    first = _save(store, doc, "summary", "Approved S.", approve=True, expected=0)
    assert first.version == 1
    # Two editors both loaded version 1; the second save is refused with the first's text.
    _save(store, doc, "summary", "Amal's draft.", expected=1, editor="amal")
    with pytest.raises(Conflict) as raised:
        _save(store, doc, "summary", "Omar's draft.", expected=1, editor="omar")
    assert raised.value.current.by == "amal" and raised.value.current.version == 2
    assert raised.value.current.draft is not None
    assert raised.value.current.draft.text == "Amal's draft."
    assert "changed by amal" in str(raised.value)
    # The approved text stays published while the draft is pending.
    published = apply(doc, store.fields(FOLDER, "a"))
    assert published["summary"]["text"] == "Approved S."
    entry = published["review"]["fields"]["summary"]
    assert entry["status"] == "approved" and entry["pending"]["text"] == "Amal's draft."


def test_edits_of_two_scopes_never_meet(store: EditStore) -> None:
    doc = _doc()
    found = review.target(doc, "summary")
    assert found is not None
    store.save("job-a", found, "Job A's text.", "amal", approve=True, expected=0)
    store.save("job-b", found, "Job B's text.", "omar", approve=True, expected=0)
    assert apply(doc, store.fields("job-a", "a"))["summary"]["text"] == "Job A's text."
    assert apply(doc, store.fields("job-b", "a"))["summary"]["text"] == "Job B's text."
    assert store.fields(FOLDER, "a") == {}


def test_an_old_edits_file_is_migrated_with_its_edits(tmp_path: Path) -> None:
    import sqlite3

    from summarize.review.store import MIGRATIONS

    path = tmp_path / "edits.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(
        "INSERT INTO edits VALUES ('a', 'summary', 'h1', 'sig', 'm1', 'en', 'en', '', 'S.', "
        "'Edited S.', 'approved', 'amal', 1.0, 'amal', 2.0)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = EditStore(path)
    try:
        state = store.fields(FOLDER, "a")["summary"]
        assert state.version == 1 and state.approved is not None
        assert state.approved.text == "Edited S." and state.approved.editor == "amal"
        assert apply(_doc(), store.fields(FOLDER, "a"))["summary"]["text"] == "Edited S."
    finally:
        store.close()


# -- through the API -----------------------------------------------------------------------

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from summarize.service import create_app  # noqa: E402

ADMIN = {"Authorization": "Bearer ad-secret-0"}
EDITOR = {"Authorization": "Bearer ed-secret-1"}
EDITOR2 = {"Authorization": "Bearer ed-secret-3"}
READER = {"Authorization": "Bearer rd-secret-2"}
KEYS = [
    "ad-secret-0 name=chief role=admin",
    "ed-secret-1 name=amal role=editor",
    "rd-secret-2 name=desk-reader role=reader",
    "ed-secret-3 name=omar role=editor",
]


def seed_articles(changed: str | None = None) -> list[dict[str, str]]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if path.name == changed:
            text += "\nA late paragraph was added."
        out.append({"id": path.name, "text": text})
    return out


def finish(client: TestClient, articles: list[dict[str, str]], label: str | None = None) -> str:
    body: dict[str, Any] = {"articles": articles}
    if label:
        body["label"] = label
    job = client.post("/v1/jobs", json=body, headers=ADMIN)
    assert job.status_code == 202, job.text
    job_id = str(job.json()["id"])
    deadline = time.monotonic() + 120
    while (
        polite(lambda: client.get(f"/v1/jobs/{job_id}", headers=READER)).json()["status"] != "done"
    ):
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.5)  # the key's rate refills two a second
    return job_id


def field_of(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in view["fields"] if f["field"] == name)


def test_review_through_the_api(tiny: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        job_id = finish(client, seed_articles(), label="Interpol in Marrakech")
        listed = client.get("/v1/desk", headers=READER).json()["jobs"]
        assert (listed[0]["label"], listed[0]["submitted_by"]) == ("Interpol in Marrakech", "chief")
        items = client.get(f"/v1/jobs/{job_id}/items", headers=READER).json()["items"]
        assert {i["item"] for i in items} >= {p.name for p in SEEDS.glob("*.txt")}
        assert all(i["state"] == "machine draft" for i in items)
        assert any(i["kind"] == "story" for i in items)
        base = f"/v1/jobs/{job_id}/items/{ARTICLE}"

        # A reader may read, not edit or approve.
        got = client.get(base, headers=READER)
        view = got.json()
        assert got.headers["etag"] == view["etag"]
        assert view["source"].startswith("During the opening")
        assert [f["field"] for f in view["fields"]][:2] == ["summary", "translation:ar"]
        assert field_of(view, "translation:ar")["version"] == 0
        refused = client.patch(
            base, json={"field": "translation:ar", "text": AR_EDIT, "version": 0}, headers=READER
        )
        assert refused.status_code == 403 and "reader" in refused.json()["error"]["message"]
        refused = client.post(f"{base}/approve", json={}, headers=READER)
        assert refused.status_code == 403

        # An edit must say which version it was made on.
        blind = client.patch(
            base, json={"field": "translation:ar", "text": AR_EDIT}, headers=EDITOR
        )
        assert blind.status_code == 428, blind.text

        # An editor drafts, then approves what was seen; another summary approved unchanged.
        draft = client.patch(
            base,
            json={"field": "translation:ar", "text": AR_EDIT},
            headers={**EDITOR, "If-Match": '"v0"'},
        )
        assert draft.status_code == 200, draft.text
        field = field_of(draft.json(), "translation:ar")
        assert field["status"] == "draft" and field["pending"]["text"] == AR_EDIT
        assert field["text"] != AR_EDIT and field["version"] == 1
        # An approval names the text it approves: without it, refused; with the draft's
        # signature (`seen`, as the view gave it), the draft is approved.
        unnamed = client.post(
            f"{base}/approve", json={"field": "translation:ar", "version": 1}, headers=EDITOR
        )
        assert unnamed.status_code == 428 and unnamed.json()["error"]["type"] == "text_required"
        assert field["to_approve"] == AR_EDIT and field["seen"]
        done = client.post(
            f"{base}/approve",
            json={"field": "translation:ar", "version": 1, "seen": field["seen"]},
            headers=EDITOR,
        ).json()
        field = field_of(done, "translation:ar")
        assert (field["status"], field["text"], field["by"]) == ("approved", AR_EDIT, "amal")
        assert " ".join(t for op, t in field["edit_diff"] if op != "-") == AR_EDIT
        assert [h["action"] for h in done["history"]] == ["edit", "approve"]
        other_view = client.get(f"/v1/jobs/{job_id}/items/{OTHER}", headers=EDITOR).json()
        other = client.post(
            f"/v1/jobs/{job_id}/items/{OTHER}/approve",
            json={
                "field": "summary",
                "version": 0,
                "seen": field_of(other_view, "summary")["seen"],
            },
            headers=EDITOR,
        ).json()
        assert field_of(other, "summary")["edited"] is False
        bad = client.patch(
            base, json={"field": "translation:de", "text": "x", "version": 0}, headers=EDITOR
        )
        assert bad.status_code == 422 and "has no translation:de" in bad.json()["error"]["message"]
        missing = client.get(f"/v1/jobs/{job_id}/items/nope.txt", headers=EDITOR)
        assert missing.status_code == 404
        assert "000_" not in missing.text and "out" not in missing.json()["error"]["message"]

        # The brief shows the edit, reviewed, the rest as drafts; approved=only shows only
        # what a person approved.
        md = client.get(f"/v1/jobs/{job_id}/brief.md", headers=READER).text
        assert AR_EDIT in md and "Reviewed by amal" in md and "Machine draft" in md
        approved = client.get(f"/v1/jobs/{job_id}/brief.md?approved=only", headers=READER).text
        assert AR_EDIT in approved and "Machine draft" not in approved
        machine_fr = view["document"]["translations"]["fr"]["text"]
        assert machine_fr not in approved
        results = client.get(f"/v1/jobs/{job_id}/results", headers=READER).json()
        assert (
            next(r for r in results if r["id"] == ARTICLE)["translations"]["ar"]["text"] == AR_EDIT
        )

        # Another job with the same ids is its own desk: A's approved edit is neither shown
        # there nor replaced by what is approved there.
        again = finish(client, seed_articles())
        view_b = client.get(f"/v1/jobs/{again}/items/{ARTICLE}", headers=READER).json()
        assert field_of(view_b, "translation:ar")["status"] == "machine"
        client.post(
            f"/v1/jobs/{again}/items/{ARTICLE}/approve",
            json={"field": "translation:ar", "text": "نص آخر.", "version": 0},
            headers=EDITOR,
        )
        view_a = client.get(base, headers=READER).json()
        assert field_of(view_a, "translation:ar")["text"] == AR_EDIT
        approved_a = client.get(f"/v1/jobs/{job_id}/brief.md?approved=only", headers=READER).text
        assert AR_EDIT in approved_a and "نص آخر." not in approved_a

    # The corrections score per model and pair.
    from summarize.evaluate import from_edits

    store = EditStore(tmp_path / "out" / "edits.sqlite3")
    scores = from_edits(store)
    store.close()
    pairs = {(g["kind"], g["pair"]): g for g in scores["groups"]}
    assert pairs[("translation", "en-ar")]["approved"] == 2
    assert pairs[("translation", "en-ar")]["scores"]["chrf++"] < 100


# -- a desk for a team ------------------------------------------------------------------------


def test_two_editors_on_one_field_and_approving_what_was_seen(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        job_id = finish(client, seed_articles())
        base = f"/v1/jobs/{job_id}/items/{ARTICLE}"
        seen = client.get(base, headers=EDITOR).json()  # both editors load version 0
        first = client.patch(
            base, json={"field": "summary", "text": "Amal's summary.", "version": 0}, headers=EDITOR
        )
        assert first.status_code == 200
        second = client.patch(
            base,
            json={"field": "summary", "text": "Omar's summary.", "version": 0},
            headers=EDITOR2,
        )
        assert second.status_code == 409, second.text
        error = second.json()["error"]
        assert (error["type"], error["changed_by"], error["text"]) == (
            "version_conflict",
            "amal",
            "Amal's summary.",
        )
        assert (error["your_version"], error["version"]) == (0, 1)
        # Omar keeps his own text, knowingly, against the version he has now seen.
        kept = client.patch(
            base,
            json={"field": "summary", "text": "Omar's summary.", "version": 1},
            headers=EDITOR2,
        )
        assert field_of(kept.json(), "summary")["pending"]["text"] == "Omar's summary."
        # Amal approves what she saw (version 1, her draft): refused, the draft is Omar's now;
        # the answer carries his text and its signature, for "approve their text".
        mine = field_of(first.json(), "summary")
        assert mine["to_approve"] == "Amal's summary."
        stale_approval = client.post(
            f"{base}/approve",
            json={"field": "summary", "version": 1, "seen": mine["seen"]},
            headers=EDITOR,
        )
        assert stale_approval.status_code == 409
        theirs = stale_approval.json()["error"]
        assert (theirs["text"], theirs["changed_by"]) == ("Omar's summary.", "omar")
        # Naming her own text at the new version is refused too: the text moved on.
        moved = client.post(
            f"{base}/approve",
            json={"field": "summary", "version": 2, "seen": mine["seen"]},
            headers=EDITOR,
        )
        assert moved.status_code == 409 and moved.json()["error"]["text"] == "Omar's summary."
        # An approved text stays published while a newer draft is worked on.
        client.post(
            f"{base}/approve",
            json={"field": "summary", "version": 2, "seen": theirs["seen"]},
            headers=EDITOR,
        )
        client.patch(
            base, json={"field": "summary", "text": "A third try.", "version": 3}, headers=EDITOR
        )
        view = client.get(base, headers=READER).json()
        summary = field_of(view, "summary")
        assert (summary["status"], summary["text"]) == ("approved", "Omar's summary.")
        assert summary["pending"]["text"] == "A third try."
        assert view["document"]["summary"]["text"] == "Omar's summary."

        # The whole item: open warnings and drafts need acknowledging, and the item's ETag.
        assert view["open"], "tiny models' text carries warnings"
        no_tag = client.post(f"{base}/approve", json={}, headers=EDITOR)
        assert no_tag.status_code == 428
        old_tag = client.post(
            f"{base}/approve", json={}, headers={**EDITOR, "If-Match": seen["etag"]}
        )
        assert old_tag.status_code == 409 and old_tag.json()["error"]["etag"] == view["etag"]
        unconfirmed = client.post(
            f"{base}/approve", json={}, headers={**EDITOR, "If-Match": view["etag"]}
        )
        assert unconfirmed.status_code == 409, unconfirmed.text
        error = unconfirmed.json()["error"]
        assert error["type"] == "acknowledgement_required"
        assert error["acknowledge"] == view["open"] and "summary: draft" in error["acknowledge"]
        confirmed = client.post(
            f"{base}/approve",
            json={"acknowledge_warnings": True},
            headers={**EDITOR, "If-Match": view["etag"]},
        )
        assert confirmed.status_code == 200, confirmed.text
        after = confirmed.json()
        assert after["line"]["state"] == "approved"
        assert field_of(after, "summary")["text"] == "A third try."
        acknowledged = [a for f in after["fields"] for a in f["acknowledged"]]
        assert "draft" in acknowledged and len(acknowledged) >= 2


def test_roles_keys_and_limits(tiny: dict[str, Path], tmp_path: Path) -> None:
    from summarize.service import load_keys

    with pytest.raises(ValueError, match=r"name=\.\.\. or role="):
        load_keys(["s3cret reader"])  # once read as an editor named "reader"
    with pytest.raises(ValueError, match="role 'boss' is not one of reader, editor, admin"):
        load_keys(["s3cret name=amal role=boss"])
    assert load_keys(["s3cret"])[0].role == "admin"
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        articles = seed_articles()[:2]
        assert (
            client.post("/v1/jobs", json={"articles": articles}, headers=EDITOR).status_code == 403
        )
        twice = client.post(
            "/v1/jobs",
            json={"articles": [articles[0], {**articles[1], "id": articles[0]["id"]}]},
            headers=ADMIN,
        )
        assert twice.status_code == 422 and articles[0]["id"] in twice.json()["error"]["message"]
        job_id = finish(client, articles)
        for key in (READER, EDITOR):
            assert client.delete(f"/v1/jobs/{job_id}", headers=key).status_code == 403
        assert client.delete(f"/v1/jobs/{job_id}", headers=ADMIN).status_code == 200
        # A field has a length limit.
        huge = client.patch(
            f"/v1/jobs/{job_id}/items/{ARTICLE}",
            json={"field": "summary", "text": "word " * 4001, "version": 0},
            headers=EDITOR,
        )
        assert huge.status_code == 422 and "text" in huge.json()["error"]["message"]
        # Headers on every answer; no Swagger UI from a CDN.
        answer = client.get(f"/v1/jobs/{job_id}", headers=READER)
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert client.get("/docs").status_code == 404
        # Failed authentication is throttled per client, with a consistent Retry-After.
        codes = [
            client.get(f"/v1/jobs/{job_id}", headers={"Authorization": "Bearer wrong"}).status_code
            for _ in range(12)
        ]
        assert codes[:10] == [401] * 10 and codes[-1] == 429
        throttled = client.get(f"/v1/jobs/{job_id}", headers=READER)
        assert throttled.status_code == 429  # the same client, even with a good key
        seconds = int(throttled.headers["retry-after"])
        assert seconds >= 1 and f"retry in {seconds} s" in throttled.json()["error"]["message"]


def test_desk_work_never_holds_the_event_loop(tiny: dict[str, Path], tmp_path: Path) -> None:
    import inspect
    import threading

    from summarize.review.desk import Desk
    from summarize.service import desk as service_desk
    from summarize.service import published

    for route in [*service_desk.router.routes, *published.router.routes]:
        assert not inspect.iscoroutinefunction(route.endpoint), route.path  # type: ignore[attr-defined]
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        job_id = finish(client, seed_articles()[:1])
        healthy = threading.Event()
        original = Desk.publish

        def slow_publish(self: Desk, docs: dict[str, Any]) -> Any:
            healthy.wait(timeout=20)  # a blocked loop could never answer /healthz
            return original(self, docs)

        answers: list[int] = []
        Desk.publish = slow_publish  # type: ignore[method-assign]
        try:
            worker = threading.Thread(
                target=lambda: answers.append(
                    client.get(f"/v1/jobs/{job_id}/items/{ARTICLE}", headers=READER).status_code
                )
            )
            worker.start()
            time.sleep(0.2)
            assert client.get("/healthz").status_code == 200
            assert worker.is_alive()  # the desk request was still working meanwhile
            healthy.set()
            worker.join(timeout=30)
        finally:
            Desk.publish = original  # type: ignore[method-assign]
        assert answers == [200]


def test_an_edited_story_summary_is_checked_against_its_members(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        job_id = finish(client, seed_articles())
        items = client.get(f"/v1/jobs/{job_id}/items", headers=READER).json()["items"]
        story = next(i["item"] for i in items if i["kind"] == "story")
        view = client.get(f"/v1/jobs/{job_id}/items/{story}", headers=READER).json()
        name = next(f["field"] for f in view["fields"] if f["stage"] == "story")
        invented = "INTERPOL met in Marrakech with 9999 delegates from 500 countries."
        done = client.post(
            f"/v1/jobs/{job_id}/items/{story}/approve",
            json={"field": name, "text": invented, "version": 0},
            headers=EDITOR,
        ).json()
        flags = {(w["code"], w["span"]) for w in field_of(done, name)["warnings"]}
        assert ("number_not_in_source", "9999") in flags
        assert ("number_not_in_source", "500") in flags


def test_a_stale_edit_is_carried_forward_with_what_changed(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(SEEDS, src)
    run_seeds(tiny, src, out)
    assert (
        invoke(
            "review",
            "edit",
            ARTICLE,
            "summary",
            "--text",
            "My careful summary.",
            "--approve",
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    (src / ARTICLE).write_text(
        (SEEDS / ARTICLE).read_text(encoding="utf-8") + "\nA late paragraph was added.",
        encoding="utf-8",
    )
    run_seeds(tiny, src, out)
    settings = load_settings(overrides=tiny_overrides(tiny, out))
    with TestClient(create_app(settings, KEYS, start_worker=False)) as client:
        base = f"/v1/jobs/folder/items/{ARTICLE}"
        summary = field_of(client.get(base, headers=READER).json(), "summary")
        assert summary["status"] == "stale"
        stale = summary["stale"]
        assert stale["text"] == "My careful summary." and stale["was"] == "approved"
        assert ["+", "A late paragraph was added."] in stale["source_diff"]
        # Approving a stale field needs the text chosen: never the machine's by default, and
        # the view offers no text to name (`seen`).
        assert summary["seen"] is None and summary["to_approve"] is None
        blind = client.post(
            f"{base}/approve",
            json={
                "field": "summary",
                "version": summary["version"],
                "seen": signature(summary["machine_text"]),
            },
            headers=EDITOR,
        )
        assert blind.status_code == 422 and "stale" in blind.json()["error"]["message"]
        redo = client.post(
            f"{base}/approve",
            json={"field": "summary", "text": stale["text"], "version": summary["version"]},
            headers=EDITOR,
        )
        assert field_of(redo.json(), "summary")["text"] == "My careful summary."
    assert read(out, ARTICLE)["summary"]["text"] == "My careful summary."


def test_review_list_says_why_articles_are_missing(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        "run", str(SEEDS), "-o", str(out), "--format", "html,md", "-q", *tiny_args(tiny)
    )
    assert result.exit_code == 0, result.output
    listing = invoke("review", "list", "-o", str(out))
    assert listing.exit_code == 0
    assert "have no result JSON" in listing.output and "--format json" in listing.output


def test_a_folder_desk_lists_the_files_that_failed(tmp_path: Path) -> None:
    """The folder's desk says which of the last run's files failed, each with its reason, as
    a job's desk does (it listed none)."""
    out = tmp_path / "out"
    out.mkdir()
    report = {
        "sources": [
            {"id": "a.txt", "source": "in/a.txt", "status": "ok", "output": None, "cached": False},
            {
                "id": "b.txt",
                "source": "in/b.txt",
                "status": "error",
                "output": None,
                "cached": False,
                "error": {"type": "InputError", "message": "in/b.txt: not a text file"},
            },
        ]
    }
    (out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    settings = load_settings(overrides={"output_dir": str(out)})
    with TestClient(create_app(settings, KEYS, start_worker=False)) as client:
        listing = client.get("/v1/jobs/folder/items", headers=READER)
    assert listing.status_code == 200, listing.text
    assert listing.json()["failed"] == [
        {"id": "b.txt", "title": None, "source": "in/b.txt", "error": "in/b.txt: not a text file"}
    ]
