"""The command line, through typer's CliRunner (and a subprocess where the process matters)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, tiny_args
from typer.testing import CliRunner

from summarize.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["detect"],
        ["models"],
        ["models", "list"],
        ["models", "download"],
        ["cache"],
        ["cache", "stats"],
        ["cache", "clear"],
        ["check"],
        ["eval"],
        ["serve"],
        ["watch"],
        ["models", "verify"],
        ["models", "add"],
        ["models", "convert"],
        ["models", "check"],
        ["models", "download"],
        ["models", "list"],
        ["review"],
        ["review", "list"],
        ["review", "show"],
        ["review", "edit"],
        ["review", "approve"],
        ["review", "withdraw"],
        ["edits"],
        ["edits", "export"],
        ["stories"],
        ["stories", "list"],
        ["stories", "merge"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("summarize ")


def test_run_seeds_then_cached(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(SEEDS), "--to", "ar,fr", "-o", str(out), *tiny_args(tiny)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "5 ok (0 entirely from cache), 0 failed" in first.output
    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert "5 ok (5 entirely from cache)" in second.output
    stats = runner.invoke(app, ["cache", "stats", "-o", str(out), "--json"])
    assert json.loads(stats.output)["stages"]["summarize"]["entries"] == 5
    cleared = runner.invoke(app, ["cache", "clear", "-o", str(out), "--stage", "translate:fr"])
    assert cleared.exit_code == 0 and "removed" in cleared.output
    third = runner.invoke(app, args)
    assert "5 ok (0 entirely from cache)" in third.output


def test_some_sources_fail_exit_1_and_name_source_and_reason(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text(
        (SEEDS / "000_c73dff72cbaff43d.txt").read_text(), encoding="utf-8"
    )
    (src / "empty.txt").write_text("\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(src), "-o", str(tmp_path / "out"), *tiny_args(tiny)])
    assert result.exit_code == 1
    assert f"error: {src / 'empty.txt'}: empty" in result.output
    assert "1 ok" in result.output and "1 failed" in result.output


def test_missing_model_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(SEEDS), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("summarize: model not available: model distilbart-cnn-12-6")
    assert "summarize models download distilbart-cnn-12-6" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "x", "--to", "a r"], "not a language code"),
        (["run", "x", "--translator", "enar"], "SRC-TGT=NAME|PATH"),
        (["run", "x", "--summarizer", "nonexistent-model"], "not in the catalogue"),
        (["run", "x", "--engine", "onnx"], "engine 'onnx' is not known"),
        (["run", "x", "--to", "french"], "did you mean 'fr' (French)?"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], fragment: str, tmp_path: Path) -> None:
    Path("x").write_text("An article about a meeting in Marrakech on Monday.", "utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_detect_prints_language_per_article() -> None:
    result = runner.invoke(app, ["detect", str(SEEDS), "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 5 and {r["language"] for r in rows} == {"en"}


def test_models_list_shows_licences_and_presence() -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["distilbart-cnn-12-6"]["license"] == "apache-2.0"
    assert rows["distilbart-cnn-12-6"]["present"] is False
    assert rows["nllb-200-distilled-600m"]["commercial"] is False
    table = runner.invoke(app, ["models", "list"])
    assert "non-commercial" in table.output and "opus-mt-en-ar" in table.output


def test_models_download_offline_is_one_clear_line() -> None:
    result = runner.invoke(app, ["models", "download", "opus-mt-en-fr"])
    assert result.exit_code == 2
    assert "offline mode" in result.output and "Traceback" not in result.output
    unknown = runner.invoke(app, ["models", "download", "nope"])
    assert unknown.exit_code == 2 and "not in the catalogue" in unknown.output


def test_stdin_jsonl(tiny: dict[str, Path], tmp_path: Path) -> None:
    text = (SEEDS / "001_91f3ff2c96f99f79.txt").read_text(encoding="utf-8")
    feed = json.dumps({"id": "wire/42", "text": text, "title": "INTERPOL"}) + "\n"
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", "-", "--stdin-format", "jsonl", "-o", str(out), *tiny_args(tiny)], input=feed
    )
    assert result.exit_code == 0, result.output
    [path] = [p for p in out.glob("*.json") if p.name not in ("report.json", "stories.json")]
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["id"] == "wire/42" and doc["title"] == "INTERPOL"
    assert path.parent == out  # the slash in the id did not make a folder


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = (
        "import sys; from summarize.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['run', '--help'])\n"
        "assert r.exit_code == 0 and 'Usage' in r.output, r.output\n"
        "print(sorted(m for m in ('torch', 'transformers', 'langdetect') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "summarize", "--version"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "summarize" in done.stdout


def test_jsonl_to_stdout(tiny: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            str(SEEDS / "002_368337d6acc914b1.txt"),
            "-f",
            "jsonl",
            "-o",
            "-",
            "-q",
            *tiny_args(tiny),
        ],
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert json.loads(line)["id"] == "002_368337d6acc914b1.txt"
    refused = runner.invoke(app, ["run", str(SEEDS), "-o", "-"])
    assert refused.exit_code == 2 and "--format jsonl" in refused.output


def test_report_and_closing_line_count_skipped_files(tiny: dict[str, Path], tmp_path: Path) -> None:
    """A user who drops scan.pdf into the inbox learns it was not read, and why."""
    import shutil

    from conftest import tiny_args

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SEEDS / "001_91f3ff2c96f99f79.txt", inbox)
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.7")
    (inbox / "photo.jpg").write_bytes(b"\xff\xd8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(inbox), "-o", str(out), *tiny_args(tiny)])
    assert result.exit_code == 0, result.output
    assert "1 sources: 1 ok (0 entirely from cache), 0 failed, 2 files skipped" in result.output
    assert f"skipped: {inbox / 'scan.pdf'}: a PDF: not supported yet" in result.output
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert doc["summary"]["skipped"] == 2
    skipped = {Path(s["source"]).name: s for s in doc["sources"] if s["status"] == "skipped"}
    assert set(skipped) == {"scan.pdf", "photo.jpg"}
    assert "an image" in skipped["photo.jpg"]["reason"]


def test_a_target_no_model_serves_is_one_line_before_any_work(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    models = [
        "--summarizer",
        str(tiny["bart"]),
        "--translator",
        f"*={tiny['m2m100']}",
    ]
    article = str(SEEDS / "000_c73dff72cbaff43d.txt")
    out = tmp_path / "none"
    refused = runner.invoke(app, ["run", article, "--to", "xx-yy", "-o", str(out), *models])
    assert refused.exit_code == 2, refused.output
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.output
    assert "target 'xx-yy'" in lines[0] and "they offer: af, am, ar" in lines[0]
    assert not (out / "report.json").exists()  # no work was started
    # A regional code the model knows as its language: mapped, and said.
    out = tmp_path / "pt"
    mapped = runner.invoke(app, ["run", article, "--to", "pt-br", "-o", str(out), *models])
    assert mapped.exit_code == 0, mapped.output
    assert "target pt-br: the translation models know it as pt" in mapped.output
    doc = json.loads((out / "000_c73dff72cbaff43d.txt.json").read_text(encoding="utf-8"))
    assert list(doc["translations"]) == ["pt"]


def test_review_fields_take_what_targets_take() -> None:
    from summarize.review import valid_field

    assert valid_field("translation:pt-br") and valid_field("title:zh-hant")
    assert not valid_field("translation:pt_br")


@pytest.mark.slow
def test_ctrl_c_at_any_moment_is_one_line_and_the_rerun_resumes(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Ctrl-C at several moments of a run (one, two, three results into it): each time exit
    130, one "interrupted" line, no traceback; every result written is whole JSON; then the
    same command completes, computing only what is missing."""
    import os
    import signal
    import time

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(5):
        for path in sorted(SEEDS.glob("*.txt")):
            text = path.read_text(encoding="utf-8") + f"\n\nUpdate number {i} of the day."
            (src / f"{i}-{path.name}").write_text(text, encoding="utf-8")
    total = len(list(src.iterdir()))
    command = [sys.executable, "-m", "summarize", "run", str(src), "-o", str(out)]
    command += ["--to", "fr", "--no-stories", *tiny_args(tiny)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}

    def written() -> int:
        return len([p for p in out.glob("*.json") if p.name != "report.json"])

    for more in (1, 2, 3):
        wanted = written() + more  # the moment: that many new results into the run
        proc = subprocess.Popen(
            command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        deadline = time.monotonic() + 120
        while written() < wanted and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err[-2000:]
        if proc.returncode == 130:
            line = err.strip().splitlines()[-1]  # one line, saying how far the run came
            assert re.match(r"summarize: interrupted after \d+ of \d+ articles; ", line), err
        else:  # it finished before the signal landed
            assert proc.returncode == 0, err[-2000:]
        for path in out.glob("*.json"):
            json.loads(path.read_text(encoding="utf-8"))  # nothing half-written
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert written() == total


def test_no_targets_is_said_not_silent(tiny: dict[str, Path], tmp_path: Path) -> None:
    """`--to ''` is allowed (summaries only) and said: it translated nothing, silently."""
    seed = sorted(SEEDS.glob("*.txt"))[0]
    result = runner.invoke(
        app, ["run", str(seed), "--to", "", "-o", str(tmp_path / "out"), *tiny_args(tiny)]
    )
    assert result.exit_code == 0, result.output
    assert "no target languages: summaries only, nothing translated" in result.output


def test_a_run_of_nothing_that_exists_is_a_usage_error_that_makes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(tmp_path / "nope.txt"), "-o", str(out)])
    assert result.exit_code == 2 and "no such file or folder" in result.output, result.output
    assert not out.exists()
