"""IPTC ninjs out: every item valid against IPTC's own JSON Schema (3.1 and 2.2), each text
its own item in its language tied to the others through associations, only approved text
usable, provenance in the standard's fields, and a round trip through an independent reader."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEEDS, polite, tiny_overrides

from summarize import load_settings, ninjs, run
from summarize.errors import ConfigError

SCHEMAS = ROOT.parent / "shared" / "schemas" / "ninjs"
needs_schemas = pytest.mark.skipif(
    not (SCHEMAS / "ninjs-schema_3.1.json").is_file(), reason="needs ../shared/schemas/ninjs"
)
pytest.importorskip("jsonschema")


def schema(version: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"ninjs-schema_{version}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def folder(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ninjs") / "out"
    settings = load_settings(overrides=tiny_overrides(tiny, out, formats="json,ninjs"))
    assert run([SEEDS], settings).ok
    return out


def docs_and_stories(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    skip = {"report.json", "stories.json"}
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.name not in skip]
    stories = json.loads((out / "stories.json").read_text())["stories"]
    return docs, stories


@needs_schemas
def test_run_writes_one_valid_item_per_text_and_language(
    folder: Path, tiny: dict[str, Path]
) -> None:
    files = sorted((folder / "ninjs").glob("*.json"))
    items = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    docs, stories = docs_and_stories(folder)
    texts = sum(1 + len(d["translations"]) for d in docs)
    story_texts = sum(1 + len(s["translations"]) for s in stories if s["size"] >= 2)
    assert len(items) == texts + story_texts
    for item in items:
        assert ninjs.validate(item, schema("3.1")) == [], item["uri"]
    by_uri = {i["uri"]: i for i in items}
    assert len(by_uri) == len(items)  # one URI per article (or story) and language
    # Each translation names its original and the original lists every translation.
    doc = docs[0]
    src = ninjs.item_uri("article", doc["id"], doc["summary"]["lang"])
    original = by_uri[src]
    for target in doc["translations"]:
        uri = ninjs.item_uri("article", doc["id"], target)
        assert {"name": f"translation-{target}", "rel": "translation", "uri": uri}.items() <= next(
            a for a in original["associations"] if a["uri"] == uri
        ).items()
        back = by_uri[uri]["associations"][0]
        assert (back["rel"], back["uri"], by_uri[uri]["language"]) == ("translationOf", src, target)
    # A story's item lists its members; each member's item names the story's event.
    story = next(s for s in stories if s["size"] >= 2)
    story_item = by_uri[ninjs.item_uri("story", story["id"], story["summary"]["lang"])]
    members = {a["uri"] for a in story_item["associations"] if a["rel"] == "member"}
    assert members == {ninjs.item_uri("article", m["id"], m["lang"]) for m in story["members"]}
    assert original["events"][0]["id"] == story["id"]
    # Machine drafts are withheld; the model that made the text is named with its revision.
    assert {i["pubStatus"] for i in items} == {"withheld"}
    enhancer = next(s for s in original["infoSources"] if s["role"] == "enhancer")
    assert doc["provenance"]["summarize"]["revision"] in enhancer["literal"]
    assert original["digitalSourceType"]["name"] == "trainedAlgorithmicMedia"
    assert "Machine draft" in original["edNote"]
    # A re-run rewrites no item that did not change.
    stamps = {p.name: p.stat().st_mtime_ns for p in files}
    assert run([SEEDS], load_settings(overrides=tiny_overrides(tiny, folder, formats="ninjs"))).ok
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "ninjs").glob("*.json")} == stamps


@needs_schemas
def test_version_2_2_is_valid_against_its_own_schema(folder: Path) -> None:
    docs, stories = docs_and_stories(folder)
    items = ninjs.items(docs, stories, ninjs.NinjsOptions(version="2.2", drafts=True))
    assert items and all(ninjs.validate(i, schema("2.2")) == [] for i in items)
    assert all("versioncreated" in i and "versionCreated" not in i for i in items)
    assert {i["pubstatus"] for i in items} == {"usable"}  # drafts asked for
    # 3.1 items are not 2.2 items: the schema tells them apart.
    assert ninjs.validate(ninjs.items(docs, stories)[0], schema("2.2"))


@needs_schemas
def test_round_trip_through_an_independent_reader(folder: Path) -> None:
    """The reader reads IPTC's own examples (both versions) by the standard's names; the
    project's items read back by it give the texts of the result documents."""
    for version in ("2.2", "3.1"):
        for path in sorted((SCHEMAS / f"examples-{version}").glob("*.json")):
            raw = json.loads(path.read_text(encoding="utf-8"))
            got = ninjs.read(raw)
            assert got.uri == raw["uri"]
            heads = raw.get("headlines") or []
            assert got.headline == (heads[0]["value"] if heads else None)
            assert ninjs.validate(raw, schema(version)) == [], path.name
    docs, stories = docs_and_stories(folder)
    for version in ("3.1", "2.2"):
        read = {
            r.uri: r
            for r in map(ninjs.read, ninjs.items(docs, stories, ninjs.NinjsOptions(version)))
        }
        for doc in docs:
            lang = doc["summary"]["lang"]
            assert read[ninjs.item_uri("article", doc["id"], lang)].body == doc["summary"]["text"]
            for target, tr in doc["translations"].items():
                got = read[ninjs.item_uri("article", doc["id"], target)]
                assert (got.body, got.language, got.usable) == (tr["text"], target, False)
            if doc.get("title"):
                assert read[ninjs.item_uri("article", doc["id"], lang)].headline == doc["title"]


def test_bad_ninjs_settings_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ninjs_version"):
        load_settings(overrides={"ninjs_version": "9", "output_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="ninjs_uri_prefix"):
        load_settings(overrides={"ninjs_uri_prefix": "no scheme", "output_dir": str(tmp_path)})


@needs_schemas
def test_the_service_gives_ninjs_with_approved_text_usable(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from summarize.service import create_app

    editor = {"Authorization": "Bearer ed-1"}
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out"))
    articles = [
        {"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("*.txt"))
    ]
    keys = ["ad-1 name=chief role=admin", "ed-1 name=amal role=editor"]
    with TestClient(create_app(settings, keys)) as client:
        admin = {"Authorization": "Bearer ad-1"}
        job = client.post("/v1/jobs", json={"articles": articles}, headers=admin).json()["id"]
        deadline = time.monotonic() + 120
        while (
            polite(lambda: client.get(f"/v1/jobs/{job}", headers=editor)).json()["status"] != "done"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.5)  # the key's rate refills two a second
        item = articles[0]["id"]
        url = f"/v1/jobs/{job}/items/{item}"
        approved = client.post(
            f"{url}/approve",
            json={"field": "translation:fr", "version": 0, "text": "Texte revu par Amal."},
            headers=editor,
        )
        assert approved.status_code == 200, approved.text
        items = client.get(f"/v1/jobs/{job}/results?format=ninjs", headers=editor).json()
        assert items and all(ninjs.validate(i, schema("3.1")) == [] for i in items)
        fr = next(i for i in items if i["uri"] == ninjs.item_uri("article", item, "fr"))
        assert fr["pubStatus"] == "usable" and fr["bodies"][0]["value"] == "Texte revu par Amal."
        assert {"name": "amal", "role": "editor"} in fr["infoSources"]
        assert fr["digitalSourceType"]["name"] == "compositeWithTrainedAlgorithmicMedia"
        assert "edited by amal" in fr["by"] and "edNote" not in fr
        one = client.get(f"{url}?format=ninjs&ninjs_version=2.2", headers=editor).json()
        assert {i["language"] for i in one} == {"en", "ar", "fr"}
        assert all(ninjs.validate(i, schema("2.2")) == [] for i in one)
        bad = client.get(f"/v1/jobs/{job}/results?format=ninjs&ninjs_version=9", headers=editor)
        assert bad.status_code == 422
