from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from summarize.config import Settings
from summarize.errors import UsageError
from summarize.ingest import collect
from summarize.types import Article, SourceError


def test_folder_is_recursive_sorted_and_ids_are_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("Zed text here.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Alpha text here.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    got = collect([tmp_path], Settings())
    assert [a.id for a in got.articles] == ["a.txt", "b/z.txt"]
    assert got.errors == []
    assert got.articles[1].safe_name != "b/z.txt" and "/" not in got.articles[1].safe_name


def test_jsonl_good_and_bad_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    lines = [
        json.dumps(
            {
                "id": "a1",
                "text": "First article text.",
                "title": "T",
                "lang": "FR",
                "url": "http://x",
            }
        ),
        "{not json",
        json.dumps({"id": "a2"}),
        json.dumps({"id": "a3", "text": 42}),
        "",
        json.dumps({"text": "no id"}),
        json.dumps({"id": 7, "text": "   "}),
        json.dumps({"id": 8, "text": "Numeric id is fine."}),
        json.dumps({"id": "a1", "text": "Duplicate id."}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    got = collect([path], Settings())
    assert [a.id for a in got.articles] == ["a1", "8"]
    first = got.articles[0]
    assert (first.title, first.lang, first.url, first.line) == ("T", "fr", "http://x", 1)
    errors = {e.source: e.message for e in got.errors}
    assert "not valid JSON" in errors[f"{path}:2"]
    assert "missing the 'text'" in errors[f"{path}:3"]
    assert "must be a string" in errors[f"{path}:4"]
    assert "missing an 'id'" in errors[f"{path}:6"]
    assert "empty" in errors[f"{path}:7"]
    assert "duplicate id 'a1'" in errors[f"{path}:9"]
    # The report keeps input order: articles and errors interleaved as they came.
    assert [type(x).__name__ for x in got.order][:3] == ["Article", "SourceError", "SourceError"]


def test_empty_and_undecodable_files_are_per_source_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n\t", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "good.txt").write_text("A good article.", encoding="utf-8")
    (tmp_path / "bom.txt").write_bytes("\ufeffWith a BOM.".encode())
    (tmp_path / "utf16.txt").write_bytes("Sixteen bits.".encode("utf-16"))
    got = collect([tmp_path, tmp_path / "missing.txt"], Settings())
    assert sorted(a.id for a in got.articles) == ["bom.txt", "good.txt", "utf16.txt"]
    assert {a.id: a.text for a in got.articles}["bom.txt"] == "With a BOM."
    messages = {Path(e.source).name: e.message for e in got.errors}
    assert "empty" in messages["empty.txt"]
    assert "not UTF-8" in messages["latin.txt"]
    assert "no such file" in messages["missing.txt"]


def test_stdin_text_and_jsonl() -> None:
    got = collect(["-"], Settings(), stdin=io.StringIO("An article from a pipe."))
    assert [(a.id, a.source) for a in got.articles] == [("stdin", "stdin")]
    feed = io.StringIO('{"id": "x", "text": "From JSONL."}\n{"id": "y"}\n')
    got = collect(["-"], Settings(stdin_format="jsonl"), stdin=feed)
    assert [a.id for a in got.articles] == ["x"]
    assert got.errors[0].source == "stdin:2"


def test_hash_is_of_normalised_text_and_ids_are_stable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Same   words\nhere.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Same words here.", encoding="utf-8")
    got = collect([tmp_path], Settings())
    assert got.articles[0].hash == got.articles[1].hash
    again = collect([tmp_path], Settings())
    assert [a.id for a in again.articles] == [a.id for a in got.articles]


def test_no_sources_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        collect([], Settings())


def test_outputs_are_articles_or_errors_only(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    got = collect([tmp_path / "a.txt"], Settings())
    assert all(isinstance(x, (Article, SourceError)) for x in got.order)


def test_a_bad_byte_in_jsonl_costs_one_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "Fine."}\n{"id": "b", "text": "caf\xe9"}\n'
        b'{"id": "c", "text": "Also fine."}\n'
    )
    got = collect([path], Settings())
    assert [a.id for a in got.articles] == ["a", "c"]
    assert got.errors[0].source == f"{path}:2" and "not UTF-8" in got.errors[0].message
