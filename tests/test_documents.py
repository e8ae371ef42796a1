"""The documents a run writes have exactly the shape `summarize.documents` names: every key of
every result, story and report line is one its TypedDict declares, every required key is
there, and each value has the declared type, nested documents included. A key added or renamed
in one place only fails here."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, tiny_overrides

from summarize import documents, load_settings, run
from summarize.errors import SummarizeError


def problems(value: Any, tp: Any, where: str = "") -> list[str]:
    """Where `value` departs from the type `tp` (a TypedDict, container, union or scalar)."""
    if tp is Any:
        return []
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(tp)
        out = [f"{where}.{k}: not declared" for k in value if k not in hints]
        out += [f"{where}.{k}: missing" for k in tp.__required_keys__ if k not in value]
        for key, sub in hints.items():
            if key in value:
                out += problems(value[key], sub, f"{where}.{key}")
        return out
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        found = [problems(value, a, where) for a in args]
        return [] if any(not f for f in found) else min(found, key=len)
    if origin is typing.NotRequired:
        return problems(value, args[0], where)
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{where}[{k!r}]")]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [p for i, v in enumerate(value) for p in problems(v, args[0], f"{where}[{i}]")]
    if tp is type(None):
        return [] if value is None else [f"{where}: not null"]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    return [] if isinstance(value, tp) else [f"{where}: {value!r} is not {tp.__name__}"]


def test_the_checker_sees_a_departure() -> None:
    good = {"code": "numbers", "stage": "summarize", "message": "m", "span": "s"}
    assert problems(good, documents.WarningDoc) == []
    assert problems({**good, "extra": 1}, documents.WarningDoc) == [".extra: not declared"]
    assert problems({k: v for k, v in good.items() if k != "span"}, documents.WarningDoc) == [
        ".span: missing"
    ]
    assert problems({**good, "code": 3}, documents.WarningDoc) == [".code: 3 is not str"]


@pytest.fixture(scope="module")
def written(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run over the seeds, one of them twice under another name (a story of two, with its
    own summary)."""
    root = tmp_path_factory.mktemp("documents")
    folder = root / "in"
    folder.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    for path in seeds[:3]:
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "again.txt").write_text(seeds[0].read_text(encoding="utf-8"), encoding="utf-8")
    out = root / "out"
    settings = load_settings(
        overrides=tiny_overrides(
            tiny, out, targets=["ar", "fr"], formats=["json"], story_embedder="none"
        )
    )
    report = run([folder], settings)
    if not report.ok:
        raise SummarizeError(f"the run failed: {[o.error for o in report.failed]}")
    return out


def test_every_result_document_is_a_result_doc(written: Path) -> None:
    results = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in written.glob("*.json")
        if p.name not in ("report.json", "stories.json")
    ]
    assert len(results) == 4
    for doc in results:
        assert problems(doc, documents.ResultDoc, doc["id"]) == []


def test_every_story_and_report_line_has_its_declared_shape(written: Path) -> None:
    stories = json.loads((written / "stories.json").read_text(encoding="utf-8"))["stories"]
    assert any(s["size"] >= 2 and "summary" in s for s in stories)
    for story in stories:
        assert problems(story, documents.StoryDoc, story["id"]) == []
    report = json.loads((written / "report.json").read_text(encoding="utf-8"))
    for line in report["sources"]:
        assert problems(line, documents.OutcomeDoc, line["source"]) == []


def test_a_byline_sits_after_the_date_where_readers_have_found_it() -> None:
    from summarize.types import Article, Detection, Result, StageRecord, Summary

    record = StageRecord("m", "r", "none", {}, 0.0, False)
    article = Article(
        "a", "a", "Text.", "h", "a.txt", published="2026-12-05", outlet="Wire", author="A. B."
    )
    doc = documents.result_json(
        Result(
            article, Detection("en", 1.0, "declared", record), Summary("S.", "en", 1, record), {}
        )
    )
    assert problems(doc, documents.ResultDoc) == []
    keys = list(doc)
    assert keys[keys.index("published") + 1 : keys.index("published") + 3] == ["outlet", "author"]
