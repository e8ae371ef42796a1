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
from conftest import SEEDS, tiny_args, tiny_overrides
from typer.testing import CliRunner

from summarize import load_settings
from summarize.cli import app
from summarize.edits import EditStore
from summarize.review import apply, machine_doc

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
    same = invoke("review", "approve", OTHER, "summary", "--editor", "omar", "-o", str(out))
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
    assert entry["status"] == "stale" and "source changed" in entry["reason"]
    assert entry["text"] == AR_EDIT and doc["translations"]["ar"]["text"] != AR_EDIT
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
    # A draft is listed, not published; approving with no text approves the draft.
    invoke("review", "edit", OTHER, "summary", "--text", "A draft summary.", "-o", str(out))
    assert read(out, OTHER)["review"]["fields"]["summary"]["status"] == "draft"
    assert read(out, OTHER)["summary"]["text"] != "A draft summary."
    invoke("review", "approve", OTHER, "summary", "-o", str(out))
    assert read(out, OTHER)["summary"]["text"] == "A draft summary."


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
    assert no_edits.exit_code == 2 and "no approved edits" in no_edits.output


def test_an_edit_under_another_model_is_stale() -> None:
    doc = {
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
            "translate:fr": {"model": "t1", "revision": "r", "settings": {}, "seconds": 1.0},
        },
    }
    from summarize.review import save_edit

    store = EditStore(Path("edits.sqlite3"))
    try:
        save_edit(store, doc, "translation:fr", "amal", text="T2.", approve=True)
        published = apply(doc, store.for_item("a"))
        assert published["translations"]["fr"]["text"] == "T2."
        # Timings alone change nothing; a new model or output makes the edit stale.
        slower = json.loads(json.dumps(doc))
        slower["provenance"]["translate:fr"]["seconds"] = 9.0
        assert apply(slower, store.for_item("a"))["translations"]["fr"]["text"] == "T2."
        other = json.loads(json.dumps(doc))
        other["provenance"]["translate:fr"]["model"] = "t2"
        stale = apply(other, store.for_item("a"))
        assert stale["translations"]["fr"]["text"] == "T."
        reason = stale["review"]["fields"]["translation:fr"]["reason"]
        assert "machine text under the edit changed" in reason
    finally:
        store.close()


# -- through the API -----------------------------------------------------------------------

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from summarize.service import create_app  # noqa: E402

EDITOR = {"Authorization": "Bearer ed-secret-1"}
READER = {"Authorization": "Bearer rd-secret-2"}
KEYS = ["ed-secret-1 amal editor", "rd-secret-2 desk-reader reader"]


def seed_articles(changed: str | None = None) -> list[dict[str, str]]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if path.name == changed:
            text += "\nA late paragraph was added."
        out.append({"id": path.name, "text": text})
    return out


def finish(client: TestClient, articles: list[dict[str, str]]) -> str:
    job = client.post("/v1/jobs", json={"articles": articles}, headers=EDITOR)
    assert job.status_code == 202, job.text
    job_id = str(job.json()["id"])
    deadline = time.monotonic() + 120
    while client.get(f"/v1/jobs/{job_id}", headers=EDITOR).json()["status"] != "done":
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.1)
    return job_id


def test_review_through_the_api(tiny: dict[str, Path], tmp_path: Path) -> None:
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", max_chars=20_000))
    with TestClient(create_app(settings, KEYS)) as client:
        job_id = finish(client, seed_articles())
        items = client.get(f"/v1/jobs/{job_id}/items", headers=READER).json()["items"]
        assert {i["item"] for i in items} >= {p.name for p in SEEDS.glob("*.txt")}
        assert all(i["state"] == "machine draft" for i in items)
        assert any(i["kind"] == "story" for i in items)
        base = f"/v1/jobs/{job_id}/items/{ARTICLE}"

        # A reader may read, not edit or approve.
        view = client.get(base, headers=READER).json()
        assert view["source"].startswith("During the opening")
        assert [f["field"] for f in view["fields"]][:2] == ["summary", "translation:ar"]
        refused = client.patch(
            base, json={"field": "translation:ar", "text": AR_EDIT}, headers=READER
        )
        assert refused.status_code == 403 and "reader" in refused.json()["error"]["message"]
        refused = client.post(f"{base}/approve", json={}, headers=READER)
        assert refused.status_code == 403

        # An editor drafts, then approves; another summary approved unchanged.
        draft = client.patch(
            base, json={"field": "translation:ar", "text": AR_EDIT}, headers=EDITOR
        )
        assert draft.status_code == 200, draft.text
        field = next(f for f in draft.json()["fields"] if f["field"] == "translation:ar")
        assert (
            field["status"] == "draft" and field["pending"] == AR_EDIT and field["text"] != AR_EDIT
        )
        done = client.post(
            f"{base}/approve", json={"field": "translation:ar"}, headers=EDITOR
        ).json()
        field = next(f for f in done["fields"] if f["field"] == "translation:ar")
        assert (field["status"], field["text"], field["by"]) == ("approved", AR_EDIT, "amal")
        other = client.post(
            f"/v1/jobs/{job_id}/items/{OTHER}/approve", json={"field": "summary"}, headers=EDITOR
        ).json()
        assert next(f for f in other["fields"] if f["field"] == "summary")["edited"] is False
        bad = client.patch(base, json={"field": "translation:de", "text": "x"}, headers=EDITOR)
        assert bad.status_code == 422 and "has no translation:de" in bad.json()["error"]["message"]
        missing = client.get(f"/v1/jobs/{job_id}/items/nope.txt", headers=EDITOR)
        assert missing.status_code == 404

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

        # The same articles again: the edit holds. One article changed: its edit is stale.
        again = finish(client, seed_articles())
        view = client.get(f"/v1/jobs/{again}/items/{ARTICLE}", headers=READER).json()
        assert next(f for f in view["fields"] if f["field"] == "translation:ar")["text"] == AR_EDIT
        changed = finish(client, seed_articles(changed=ARTICLE))
        view = client.get(f"/v1/jobs/{changed}/items/{ARTICLE}", headers=READER).json()
        field = next(f for f in view["fields"] if f["field"] == "translation:ar")
        assert field["status"] == "stale" and field["pending"] == AR_EDIT
        assert field["text"] != AR_EDIT and "source changed" in field["reason"]

    # The corrections score per model and pair.
    from summarize.evaluate import from_edits

    store = EditStore(tmp_path / "out" / "edits.sqlite3")
    scores = from_edits(store)
    store.close()
    pairs = {(g["kind"], g["pair"]): g for g in scores["groups"]}
    assert pairs[("translation", "en-ar")]["approved"] == 1
    assert pairs[("translation", "en-ar")]["scores"]["chrf++"] < 100
    assert pairs[("summary", "en")]["unchanged_share"] == 1.0
