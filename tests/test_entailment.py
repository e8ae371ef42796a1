"""The optional entailment check on a tiny random model of its catalogue model's architecture
(XLM-RoBERTa for sequence classification): the real loading and scoring code, the catalogue
entry, the download at its pin from a replica of the hub listing, and off by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, tiny_overrides

from summarize import load_settings, run
from summarize.checks.entailment import CODE, EntailmentChecker
from summarize.plan import load_entailment

SOURCE = (SEEDS / "000_c73dff72cbaff43d.txt").read_text(encoding="utf-8")
SUMMARY = "INTERPOL opened its assembly in Marrakech. Morocco hosted the delegates."


def test_each_summary_sentence_gets_its_best_support(tiny: dict[str, Path]) -> None:
    checker = EntailmentChecker(tiny["nli"])
    support = checker.support(SOURCE, SUMMARY)
    assert [s for s, _ in support] == [
        "INTERPOL opened its assembly in Marrakech.",
        "Morocco hosted the delegates.",
    ]
    assert all(-1.0 <= score <= 1.0 for _, score in support)
    weakest = min(support, key=lambda item: item[1])
    strict = EntailmentChecker(tiny["nli"], threshold=1.5)  # nothing reaches it
    [flag] = strict.check(SOURCE, SUMMARY, "summarize")
    assert (flag.code, flag.stage, flag.span) == (CODE, "summarize", weakest[0])
    assert f"{weakest[1]:.2f}" in flag.message
    assert EntailmentChecker(tiny["nli"], threshold=-1.5).check(SOURCE, SUMMARY, "s") == []


def test_off_unless_its_model_is_present(tiny: dict[str, Path], tmp_path: Path) -> None:
    empty = load_settings(overrides={"models_dir": str(tmp_path / "no-models")})
    assert empty.entailment_model == "nli-minilm-l6-xnli"
    assert load_entailment(empty) is None  # in the catalogue, not downloaded: off, no download
    off = load_settings(overrides={"entailment_model": ""})
    assert load_entailment(off) is None
    folder = load_settings(overrides={"entailment_model": str(tiny["nli"])})
    assert isinstance(load_entailment(folder), EntailmentChecker)


def test_a_run_with_the_model_present_warns_on_the_weakest_sentence(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    settings = load_settings(
        overrides=tiny_overrides(
            tiny,
            out,
            stories=False,
            entailment_model=str(tiny["nli"]),
            entailment_threshold=1.5,
        )
    )
    report = run([SEEDS / "000_c73dff72cbaff43d.txt"], settings)
    assert report.ok
    doc = json.loads((out / "000_c73dff72cbaff43d.txt.json").read_text(encoding="utf-8"))
    found = [w for w in doc["warnings"] if w["code"] == CODE]
    assert [w["stage"] for w in found] == ["summarize"]
    assert found[0]["span"] and found[0]["span"] in doc["summary"]["text"]
    plain = run(
        [SEEDS / "000_c73dff72cbaff43d.txt"],
        load_settings(overrides=tiny_overrides(tiny, tmp_path / "plain", stories=False)),
    )
    assert all(w.code != CODE for r in plain.results for w in r.warnings)


def test_the_catalogue_entry_is_pinned_to_a_revision_with_safetensors() -> None:
    from summarize.catalog import load_catalog

    entry = load_catalog(load_settings()).get("nli-minilm-l6-xnli")
    assert entry is not None and entry.task == "entailment" and not entry.default
    assert entry.hub == "MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli"
    assert entry.revision == "0a71e92a985b6e1ad1828cf67ce9c459639c1dca"
    assert {"en", "fr", "ar"} <= set(entry.languages) and entry.license == "mit"


@pytest.mark.slow
def test_the_entailment_model_downloads_at_its_pin_and_runs(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`summarize models download nli-minilm-l6-xnli` from a replica of the real revision's
    listing (as its tree page shows it, onnx/ export included), then the check runs on it."""
    from fake_hub import FakeHub, HubRepo
    from hub_replicas import Replica, build_replica
    from test_models import _with_hub
    from typer.testing import CliRunner

    from summarize.catalog import load_catalog
    from summarize.cli import app

    replica = Replica(
        "nli-minilm-l6-xnli",
        "MoritzLaurer/multilingual-MiniLMv2-L6-mnli-xnli",
        "0a71e92a985b6e1ad1828cf67ce9c459639c1dca",
        "nli",
        {
            ".gitattributes": "1.53 kB",
            "README.md": "6.74 kB",
            "config.json": "1.03 kB",
            "model.safetensors": "428 MB",
            "pytorch_model.bin": "428 MB",
            "sentencepiece.bpe.model": "5.07 MB",
            "special_tokens_map.json": "280 B",
            "tokenizer.json": "17.1 MB",
            "tokenizer_config.json": None,
            "onnx/config.json": "921 B",
            "onnx/model.onnx": "428 MB",
            "onnx/tokenizer.json": "17.1 MB",
        },
        frozenset(
            {
                "config.json",
                "model.safetensors",
                "sentencepiece.bpe.model",
                "special_tokens_map.json",
                "tokenizer.json",
                "tokenizer_config.json",
            }
        ),
    )
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    repo: HubRepo = build_replica(replica, tiny["nli"], tmp_path / "replicas")
    models = tmp_path / "models"
    monkeypatch.setenv("SUMMARIZE_MODELS_DIR", str(models))
    with FakeHub(repos={replica.repo: repo}) as hub:
        _with_hub(monkeypatch, hub)
        result = CliRunner().invoke(app, ["models", "download", "nli-minilm-l6-xnli"])
        assert result.exit_code == 0, result.output
        fetched = set(hub.fetched(replica.repo))
    assert fetched <= replica.fetched, "an onnx/ file or a phantom was fetched"
    settings = load_settings()
    ref = load_catalog(settings).ref("nli-minilm-l6-xnli")
    assert ref.present and ref.revision == replica.revision
    checker = load_entailment(settings)
    assert checker is not None
    assert len(checker.support(SOURCE, SUMMARY)) == 2


def test_models_check_runs_an_entailment_model(tiny: dict[str, Path]) -> None:
    from summarize.catalog import ModelEntry, ModelRef
    from summarize.smoke import check_model

    ref = ModelRef(ModelEntry("tiny-nli", None, "entailment"), tiny["nli"], "local")
    [result] = check_model(ref, load_settings())
    assert result.task == "entailment" and "support of itself" in result.output
    assert result.passed == (not result.problems)
