from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from summarize.config import Settings
from summarize.errors import UsageError
from summarize.ingest import collect
from summarize.types import Article, SourceError

# Short texts are fine here: these tests are about reading, not length rules.
LOOSE = Settings(min_chars=3)


def test_folder_is_recursive_sorted_and_ids_are_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("Zed text here.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Alpha text here.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    got = collect([tmp_path], LOOSE)
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
    got = collect([path], LOOSE)
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
    # A record that was parsed keeps its id in the report; an unparsable line has none.
    ids = {e.source: e.id for e in got.errors}
    assert ids[f"{path}:2"] is None and ids[f"{path}:6"] is None
    assert (ids[f"{path}:3"], ids[f"{path}:4"], ids[f"{path}:7"]) == ("a2", "a3", "7")
    assert ids[f"{path}:9"] == "a1"
    # The report keeps input order: articles and errors interleaved as they came.
    assert [type(x).__name__ for x in got.order][:3] == ["Article", "SourceError", "SourceError"]


def test_empty_and_undecodable_files_are_per_source_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n\t", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "good.txt").write_text("A good article.", encoding="utf-8")
    (tmp_path / "bom.txt").write_bytes("\ufeffWith a BOM.".encode())
    (tmp_path / "utf16.txt").write_bytes("Sixteen bits.".encode("utf-16"))
    got = collect([tmp_path, tmp_path / "missing.txt"], LOOSE)
    assert sorted(a.id for a in got.articles) == ["bom.txt", "good.txt", "latin.txt", "utf16.txt"]
    texts = {a.id: a.text for a in got.articles}
    assert texts["bom.txt"] == "With a BOM." and texts["latin.txt"] == "café crème"
    messages = {Path(e.source).name: e.message for e in got.errors}
    assert "empty" in messages["empty.txt"]
    assert "no such file" in messages["missing.txt"]


def test_stdin_text_and_jsonl() -> None:
    got = collect(["-"], LOOSE, stdin=io.StringIO("An article from a pipe."))
    assert [(a.id, a.source) for a in got.articles] == [("stdin", "stdin")]
    feed = io.StringIO('{"id": "x", "text": "From JSONL."}\n{"id": "y"}\n')
    got = collect(["-"], Settings(stdin_format="jsonl", min_chars=3), stdin=feed)
    assert [a.id for a in got.articles] == ["x"]
    assert got.errors[0].source == "stdin:2"


def test_hash_is_of_normalised_text_and_ids_are_stable(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Same   words\nhere.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Same words here.", encoding="utf-8")
    got = collect([tmp_path], LOOSE)
    assert got.articles[0].hash == got.articles[1].hash
    again = collect([tmp_path], LOOSE)
    assert [a.id for a in again.articles] == [a.id for a in got.articles]


def test_no_sources_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        collect([], LOOSE)


def test_outputs_are_articles_or_errors_only(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    got = collect([tmp_path / "a.txt"], LOOSE)
    assert all(isinstance(x, (Article, SourceError)) for x in got.order)


def test_a_folder_scan_says_what_it_left_out_and_why(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("A story to read.", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "notes").write_text("no extension", encoding="utf-8")
    (tmp_path / ".draft.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref", encoding="utf-8")
    got = collect([tmp_path], LOOSE)
    assert [a.id for a in got.articles] == ["story.txt"] and got.errors == []
    why = {Path(s.source).name: s.reason for s in got.skipped}
    assert set(why) == {"scan.pdf", "photo.jpg", "notes", ".draft.txt", ".git"}
    assert "PDF: not supported yet" in why["scan.pdf"] and "pdftotext" in why["scan.pdf"]
    assert "an image" in why["photo.jpg"] and "no extension" in why["notes"]
    assert "hidden file" in why[".draft.txt"] and "hidden folder" in why[".git"]
    assert all(".txt" in r for n, r in why.items() if not n.startswith("."))
    globbed = collect([tmp_path], Settings(glob="*.pdf", min_chars=3))
    assert (
        "does not match --glob '*.pdf'"
        in {Path(s.source).name: s.reason for s in globbed.skipped}["story.txt"]
    )


def test_a_bad_byte_in_jsonl_costs_one_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "Fine."}\n{"id": "b", "text": "caf\xe9"}\n'
        b'{"id": "c", "text": "Also fine."}\n'
    )
    got = collect([path], LOOSE)
    assert [a.id for a in got.articles] == ["a", "c"]
    assert got.errors[0].source == f"{path}:2" and "not UTF-8" in got.errors[0].message


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("lang", "encoding"),
    [
        ("ar", "cp1256"),
        ("ar", "iso-8859-6"),
        ("fr", "latin-1"),
        ("fr", "cp1252"),
        ("es", "latin-1"),
        ("ar", "utf-16"),
        ("fr", "utf-32"),
        ("ar", "utf-8-sig"),
    ],
)
def test_legacy_encodings_come_out_as_the_right_text(
    tmp_path: Path, lang: str, encoding: str
) -> None:
    text = (DATA / f"corpus_{lang}.txt").read_text(encoding="utf-8")
    # Characters a legacy code page cannot hold are not what this test is about.
    text = text.encode(encoding, errors="ignore").decode(encoding).lstrip("\ufeff")
    path = tmp_path / f"{lang}-{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    got = collect([path], Settings())
    assert not got.errors, got.errors
    article = got.articles[0]
    assert article.text == text.strip()
    if encoding.startswith("utf-"):
        assert article.encoding_method == "bom" and article.encoding_confidence == 1.0
    else:
        assert article.encoding_method == "detected" and article.encoding_confidence > 0.5


def test_bad_input_rules_name_the_reason(tmp_path: Path) -> None:
    (tmp_path / "numbers.txt").write_text("12 345 678 910 1112 1314 1516 1718 1920", "utf-8")
    (tmp_path / "short.txt").write_text("Too short.", "utf-8")
    (tmp_path / "long.txt").write_text("word " * 100, "utf-8")
    (tmp_path / "binary.txt").write_bytes(b"PK\x03\x04\x14\x00" * 50)
    (tmp_path / "ok.txt").write_text("A perfectly ordinary sentence about the news.", "utf-8")
    got = collect([tmp_path], Settings(max_chars=300))
    reasons = {Path(e.source).name: e.message for e in got.errors}
    assert "no letters" in reasons["numbers.txt"]
    assert "too short" in reasons["short.txt"] and "min_chars" in reasons["short.txt"]
    assert "too long" in reasons["long.txt"] and "max_chars" in reasons["long.txt"]
    assert "not a text file" in reasons["binary.txt"]
    assert [a.id for a in got.articles] == ["ok.txt"]


def test_markdown_html_and_json_articles(tmp_path: Path) -> None:
    (tmp_path / "story.md").write_text(
        "# Marrakech hosts INTERPOL\n\nThe **General Assembly** opened on [Monday](http://x) "
        "in Marrakech.\n\n- Delegates from 196 countries attend.\n\n```\ncode()\n```\n",
        "utf-8",
    )
    (tmp_path / "page.html").write_text(
        "<html><head><title>INTERPOL in Marrakech</title></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/world'>World</a> | <a>Sport</a></nav>"
        "<div class='weather-widget'>Marrakech 25°C sunny</div>"
        "<article><h1>INTERPOL in Marrakech</h1><p>The General Assembly of the International "
        "Criminal Police Organization opened on Monday in Marrakech, with delegates from 196 "
        "countries attending the four-day meeting.</p><p>Officials praised the city for hosting "
        "the event for the second time, saying cooperation between police forces matters.</p>"
        "</article><footer>Copyright 2026 Example News. All rights reserved.</footer>"
        "<script>alert(1)</script></body></html>",
        "utf-8",
    )
    (tmp_path / "batch.json").write_text(
        json.dumps(
            [
                {"id": "j1", "text": "An article from a JSON array export."},
                {"id": "j2", "text": 5},
            ]
        ),
        "utf-8",
    )
    got = collect([tmp_path], Settings())
    by_id = {a.id: a for a in got.articles}
    md = by_id["story.md"]
    assert md.title == "Marrakech hosts INTERPOL"
    assert "**" not in md.text and "](" not in md.text and "code()" not in md.text
    assert "General Assembly opened on Monday" in md.text
    page = by_id["page.html"]
    assert page.title == "INTERPOL in Marrakech"
    assert "196 countries" in page.text
    for boilerplate in ("Sport", "sunny", "Copyright", "alert"):
        assert boilerplate not in page.text
    assert by_id["j1"].line == 1
    assert [e.source for e in got.errors] == [f"{tmp_path / 'batch.json'}[1]"]


def test_glob_chooses_files_in_a_folder(tmp_path: Path) -> None:
    for name in ("a.txt", "b.html", "c.md"):
        (tmp_path / name).write_text("# T\n\nSome article text for the glob test.", "utf-8")
    got = collect([tmp_path], Settings(glob="*.md"))
    assert [a.id for a in got.articles] == ["c.md"]
    none = collect([tmp_path], Settings(glob="*.xml"))
    assert "no files matching *.xml" in none.errors[0].message


def test_a_wrapped_markdown_paragraph_keeps_its_spaces(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# Title\n\nThe first line of a paragraph\nwraps onto the second line,\\\nand a hard break.\n",
        encoding="utf-8",
    )
    [article] = collect([tmp_path / "a.md"], LOOSE).articles
    assert article.text == (
        "The first line of a paragraph wraps onto the second line, and a hard break."
    )


def test_html_without_its_parser_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pip 23 lxml's html_clean extra was skipped and trafilatura failed to import: every
    HTML article said only "(ImportError)". Now each says what is missing and the rest go on."""
    import sys

    (tmp_path / "page.html").write_text("<html><body><p>Text.</p></body></html>", "utf-8")
    (tmp_path / "plain.txt").write_text("Parliament met on Tuesday in Lisbon.", "utf-8")
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # import trafilatura raises
    got = collect([tmp_path], LOOSE)
    assert [e.source for e in got.errors] == [str(tmp_path / "page.html")]
    assert "pip install lxml_html_clean" in got.errors[0].message
    assert [a.id for a in got.articles] == ["plain.txt"]


def test_a_record_with_a_lone_surrogate_fails_alone_named_by_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wire.jsonl"
    good = json.dumps({"id": "ok", "text": "Parliament met on Tuesday in Lisbon."})
    bad = json.dumps({"id": "a\ud800", "text": "Parliament met.", "title": "x"})  # \ud800
    path.write_text(f"{bad}\n{good}\n", encoding="utf-8")
    got = collect([path], LOOSE)
    assert [a.id for a in got.articles] == ["ok"]
    [error] = got.errors
    assert error.source == f"{path}:1" and "lone surrogate" in error.message
    json.dumps(error.id, ensure_ascii=False).encode("utf-8")  # reportable: no surrogate left
