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


# -- every text of a document declared: a reviewable field, or why it is not one ----------


def _text_paths(tp: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The key paths of a document type that can hold text (`*`: any key or list index);
    a part typed `dict[str, Any]` or `Any` is one opaque path."""
    if tp is Any:
        return [path]
    if typing.is_typeddict(tp):
        return [
            p
            for key, sub in typing.get_type_hints(tp).items()
            for p in _text_paths(sub, (*path, key))
        ]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType, typing.NotRequired):
        return list(dict.fromkeys(p for a in args for p in _text_paths(a, path)))
    if origin is dict:
        return [path] if args[1] is Any else _text_paths(args[1], (*path, "*"))
    if origin is list:
        return _text_paths(args[0], (*path, "*"))
    return [path] if tp is str else []


def _declared(table: dict[tuple[str, ...], str], path: tuple[str, ...]) -> str | None:
    """The declaration of `path`, or of the part of the document it lies in."""
    for n in range(len(path), 0, -1):
        if path[:n] in table:
            return table[path[:n]]
    return None


@pytest.mark.parametrize("kind", sorted(documents.TEXT_KEYS))
def test_every_text_key_of_a_document_type_is_declared(kind: str) -> None:
    """A document type that gains a text key fails here until the key is declared: a field an
    editor reviews, or why it is not published as reviewed text."""
    tp, table = documents.TEXT_KEYS[kind]
    paths = _text_paths(tp)
    assert ("summary", "text") in paths  # the walk sees nested texts
    undeclared = [p for p in paths if _declared(table, p) is None]
    assert undeclared == [], f"{kind}: text keys declared nowhere: {undeclared}"
    stale = [p for p in table if not any(q[: len(p)] == p for q in paths)]
    assert stale == [], f"{kind}: declared keys the type no longer has: {stale}"


def _fields_of(kind: str, doc: dict[str, Any]) -> dict[str, str]:
    """field -> text, for every text of `doc` its declaration names a reviewable field."""
    table = documents.TEXT_KEYS[kind][1]
    out: dict[str, str] = {}
    for path, keys in _walk_declared(doc, table):
        field = documents.declared_field(kind, path)
        if field is None:
            continue
        text = _at(doc, keys)
        lang = next((k for p, k in zip(path, keys, strict=True) if p == "*"), "")
        summary_lang = str((doc.get("summary") or {}).get("lang", ""))
        out[field.format(lang=lang, summary_lang=summary_lang)] = text
    return out


def _walk_declared(
    value: Any,
    table: dict[tuple[str, ...], str],
    path: tuple[str, ...] = (),
    keys: tuple[Any, ...] = (),
) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
    """(declared path, the concrete keys) of every text in `value`."""
    if path in table and not isinstance(value, dict | list):
        return [(path, keys)] if isinstance(value, str) else []
    if isinstance(value, dict):
        out = []
        for k, sub in value.items():
            step = (
                k
                if (*path, k) in table or any(p[: len(path) + 1] == (*path, k) for p in table)
                else "*"
            )
            out += _walk_declared(sub, table, (*path, step), (*keys, k))
        return out
    if isinstance(value, list):
        return [
            p
            for i, sub in enumerate(value)
            for p in _walk_declared(sub, table, (*path, "*"), (*keys, i))
        ]
    return []


def _at(doc: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        doc = doc[k]
    return doc


def test_the_declared_fields_are_the_fields_the_desk_reviews(written: Path) -> None:
    """On a run's documents, the texts the declaration names fields are exactly the fields the
    desk reviews (`review.fields`), each holding the text `review.text_of` reads."""
    from summarize import review

    stories = json.loads((written / "stories.json").read_text(encoding="utf-8"))["stories"]
    results = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in written.glob("*.json")
        if p.name not in ("report.json", "stories.json")
    ]
    seen_kinds = set()
    for kind, doc in [("result", d) for d in results] + [("story", s) for s in stories]:
        doc = review.machine_doc(doc)
        if kind == "story" and "summary" not in doc:
            continue
        declared = _fields_of(kind, doc)
        assert set(declared) == set(review.fields(doc)), (kind, doc["id"])
        for field, text in declared.items():
            assert review.text_of(doc, field) == text, (kind, doc["id"], field)
            seen_kinds.add(field.split(":")[0])
    assert {"summary", "translation", "title", "story_summary", "story_title"} <= seen_kinds
