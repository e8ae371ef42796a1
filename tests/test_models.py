"""Model management against a loopback hub: pinning, safetensors only, atomic and resumable
downloads, verification, user models, licence warnings, and the README table."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, tiny_overrides
from fake_hub import COMMIT, FakeHub
from typer.testing import CliRunner

from summarize import load_settings, run
from summarize.catalog import load_catalog
from summarize.cli import app
from summarize.errors import ModelNotAvailable
from summarize.hub import download, file_sha256, verify

runner = CliRunner()
REPO = "org/tiny-en-fr"


@pytest.fixture
def hub_folder(tiny: dict[str, Path], tmp_path: Path) -> Path:
    """The tiny en->fr model as the hub has it, plus weights summarize must never fetch."""
    folder = tmp_path / "hub-repo"
    shutil.copytree(tiny["en-fr"], folder)
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 pickle, never to be loaded" * 100)
    (folder / "README.md").write_text("# model card", encoding="utf-8")
    return folder


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    Path("summarize.toml").write_text(
        f'[models.tiny-hub]\nhub = "{REPO}"\nrevision = "{COMMIT}"\ntask = "translation"\n'
        'pairs = ["en-fr"]\nlicense = "mit"\n\n'
        f'[models.tiny-unpinned]\nhub = "{REPO}"\ntask = "translation"\npairs = ["en-fr"]\n'
        'license = "cc-by-nc-4.0"\ncommercial = false\n',
        encoding="utf-8",
    )
    return tmp_path / "models"


def _with_hub(monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)


def test_download_is_pinned_safetensors_only_and_recorded(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        settings = load_settings()
        ref = load_catalog(settings).ref("tiny-hub")
        download(ref, settings, progress=False)
        revisions = {
            re.search(r"/(?:tree|resolve)/([^/]+)", path).group(1)  # type: ignore[union-attr]
            for _, path, _ in hub.requests
            if "/resolve/" in path or "/tree/" in path
        }
    assert revisions == {COMMIT}
    assert "pytorch_model.bin" not in hub.fetched() and "model.safetensors" in hub.fetched()
    assert not (ref.path / "pytorch_model.bin").exists()
    record = json.loads((ref.path / ".summarize.json").read_text())
    assert record["revision"] == COMMIT and "model.safetensors" in record["files"]
    assert ref.revision == COMMIT
    assert verify(ref) == []
    with (ref.path / "config.json").open("a") as fh:
        fh.write(" ")
    assert verify(ref) == ["config.json: contents changed"]
    assert not list(online.glob(".*incomplete*"))


def test_unpinned_entries_record_the_commit_they_got(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        result = runner.invoke(app, ["models", "download", "tiny-unpinned"])
    assert result.exit_code == 0, result.output
    assert f"at revision {COMMIT}" in result.output and "non-commercial" in result.output


def test_a_revision_without_any_usable_weights_is_refused(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (hub_folder / "model.safetensors").unlink()
    (hub_folder / "pytorch_model.bin").unlink()
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        settings = load_settings()
        ref = load_catalog(settings).ref("tiny-hub")
        with pytest.raises(ModelNotAvailable, match="no weights we can use"):
            download(ref, settings, progress=False)
    assert not ref.path.exists()


def test_a_pickle_only_revision_becomes_safetensors_with_the_same_outputs(
    tiny: dict[str, Path], hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safe path: the pickle is sha256-checked, read with weights_only, written once as
    safetensors (tied weights kept tied) and deleted; the model then generates exactly what
    the original does."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    original = AutoModelForSeq2SeqLM.from_pretrained(str(tiny["en-fr"]))
    torch.save(original.state_dict(), hub_folder / "pytorch_model.bin")
    (hub_folder / "model.safetensors").unlink()
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        settings = load_settings()
        ref = load_catalog(settings).ref("tiny-hub")
        download(ref, settings, progress=False)
    assert "pytorch_model.bin" in hub.fetched()
    assert not (ref.path / "pytorch_model.bin").exists()
    record = json.loads((ref.path / ".summarize.json").read_text())
    assert record["weights_from"]["sha256"] == file_sha256(hub_folder / "pytorch_model.bin")
    assert verify(ref) == []
    converted = AutoModelForSeq2SeqLM.from_pretrained(str(ref.path), use_safetensors=True)
    assert converted.get_output_embeddings().weight.data_ptr() == (
        converted.get_input_embeddings().weight.data_ptr()
    )
    ids = torch.tensor([[5, 6, 7, 8, 0]])
    with torch.inference_mode():
        want = original.generate(ids, max_new_tokens=8, num_beams=1, do_sample=False)
        got = converted.generate(ids, max_new_tokens=8, num_beams=1, do_sample=False)
    assert torch.equal(want, got)


@pytest.mark.slow
def test_a_killed_download_leaves_no_model_and_resumes(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resume is per file: what finished before the kill is not fetched again. (huggingface_hub
    2.x downloads each file to a process-unique temporary file, so an interrupted file starts
    over.)"""
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        hub.slow_file, hub.slow_seconds = "model.safetensors", 20.0
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
        proc = subprocess.Popen(
            [sys.executable, "-m", "summarize", "models", "download", "tiny-hub"],
            cwd=Path.cwd(),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "model.safetensors" not in hub.fetched():
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        staging = online / ".tiny-hub.incomplete"
        assert not (online / "tiny-hub").exists(), "a killed download must not leave a model"
        finished = {p.name for p in staging.iterdir() if p.is_file()}
        assert finished and "model.safetensors" not in finished
        before = len(hub.requests)
        hub.slow_file = None
        result = runner.invoke(app, ["models", "download", "tiny-hub"])
        assert result.exit_code == 0, result.output
        refetched = [
            p.rsplit("/", 1)[-1]
            for m, p, _ in hub.requests[before:]
            if m == "GET" and "/resolve/" in p
        ]
    assert "model.safetensors" in refetched
    assert not finished & set(refetched), "files finished before the kill were fetched again"
    ref = load_catalog(load_settings()).ref("tiny-hub")
    assert ref.present and verify(ref) == []
    assert (ref.path / "model.safetensors").read_bytes() == (
        hub_folder / "model.safetensors"
    ).read_bytes()
    assert not list(ref.path.glob("*.incomplete")) and not (ref.path / ".cache").exists()
    again = runner.invoke(app, ["models", "download", "tiny-hub"])
    assert "already present" in again.output


def test_verify_and_offline_messages_from_the_cli(online: Path) -> None:
    result = runner.invoke(app, ["models", "verify", "tiny-hub"])
    assert result.exit_code == 1 and "not downloaded" in result.output
    offline = runner.invoke(app, ["models", "download", "tiny-hub"], env={"SUMMARIZE_OFFLINE": "1"})
    assert offline.exit_code == 2 and "offline mode" in offline.output
    assert len(offline.output.strip().splitlines()) == 1


def test_models_add_writes_a_valid_entry(tmp_path: Path) -> None:
    sha = "d" * 40
    result = runner.invoke(
        app,
        [
            "models",
            "add",
            "our-sum",
            "--hub",
            "newsroom/sum",
            "--revision",
            sha,
            "--languages",
            "fr",
            "--license",
            "proprietary",
        ],
    )
    assert result.exit_code == 0, result.output
    entry = load_catalog(load_settings()).get("our-sum")
    assert entry is not None and entry.revision == sha and entry.languages == ("fr",)
    again = runner.invoke(app, ["models", "add", "our-sum", "--hub", "x/y", "--revision", sha])
    assert again.exit_code == 2 and "already has a model" in again.output
    bad = runner.invoke(app, ["models", "add", "x", "--hub", "x/y", "--revision", "main"])
    assert bad.exit_code == 2 and "40-hex" in bad.output


def test_non_commercial_models_warn_once_per_run(tiny: dict[str, Path], tmp_path: Path) -> None:
    Path("summarize.toml").write_text(
        '[models.nc-summariser]\nhub = "org/nc"\ntask = "summarization"\nlanguages = ["en"]\n'
        'license = "cc-by-nc-4.0"\ncommercial = false\n',
        encoding="utf-8",
    )
    models = Path(os.environ["SUMMARIZE_MODELS_DIR"])
    shutil.copytree(tiny["bart"], models / "nc-summariser")
    overrides = tiny_overrides(tiny, tmp_path / "out", summarizer="nc-summariser")
    report = run([SEEDS], load_settings(overrides=overrides))
    assert report.ok
    assert len([w for w in report.warnings if "cc-by-nc-4.0" in w]) == 1
    # With no embedder at hand, the run says once that stories are joined on words alone.
    assert len([w for w in report.warnings if "joined on words" in w]) == 1, report.warnings
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["warnings"] == report.warnings


def test_readme_catalogue_table_matches_the_catalogue() -> None:
    table = runner.invoke(app, ["models", "list", "--markdown"]).output.strip()
    assert table in (ROOT / "docs" / "models.md").read_text(encoding="utf-8"), (
        "docs/models.md's catalogue table is stale: paste `summarize models list --markdown`"
    )


@pytest.mark.parametrize("role", ["bart", "en-ar", "m2m100", "t5"])
def test_convert_every_architecture_to_ctranslate2(
    tiny: dict[str, Path], tmp_path: Path, role: str
) -> None:
    pytest.importorskip("ctranslate2")
    result = runner.invoke(app, ["models", "convert", str(tiny[role]), "--quantization", "int8"])
    assert result.exit_code == 0, result.output
    out = Path(os.environ["SUMMARIZE_MODELS_DIR"]) / f"{tiny[role].name}-ct2-int8"
    assert (out / "model.bin").is_file() and (out / "config.json").is_file()
    record = json.loads((out / ".summarize.json").read_text())
    assert record["source"] == tiny[role].name and record["quantization"] == "int8"
    assert record["source_revision"].startswith("local:")
    import ctranslate2

    translator = ctranslate2.Translator(str(out), device="cpu")
    assert translator.translate_batch([["▁a"]], max_decoding_length=3)


def test_convert_refuses_what_is_not_there() -> None:
    result = runner.invoke(app, ["models", "convert", "opus-mt-en-fr"])
    assert result.exit_code == 2 and "summarize models download opus-mt-en-fr" in result.output
    bad = runner.invoke(app, ["models", "convert", "opus-mt-en-fr", "--quantization", "int3"])
    assert bad.exit_code == 2


# -- the real catalogue, against replicas of its pinned revisions --------------------------


@pytest.fixture
def replica_hub(tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    from hub_replicas import REPLICAS, build_replica

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    repos = {r.repo: build_replica(r, tiny[r.tiny], tmp_path / "replicas") for r in REPLICAS}
    return FakeHub(repos=repos)


@pytest.mark.slow
def test_every_default_model_downloads_as_pinned_and_runs(
    replica_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`summarize models download` for the real default catalogue, each entry fetched at its
    pin from a replica of the real file listing, ends with weights the product loads and runs."""
    from hub_replicas import REPLICAS

    catalog = load_catalog(load_settings())
    defaults = {e.name: e for e in catalog.defaults()}
    replicas = {r.name: r for r in REPLICAS}
    assert set(defaults) == set(replicas), "every default entry needs a replica (and no more)"
    for name, entry in defaults.items():
        assert entry.hub == replicas[name].repo
        assert entry.revision == replicas[name].revision, f"{name}: pin and replica differ"
    with replica_hub as hub:
        _with_hub(monkeypatch, hub)
        result = runner.invoke(app, ["models", "download"])
        assert result.exit_code == 0, result.output
        fetched = {r.name: set(hub.fetched(r.repo)) for r in REPLICAS}
    for replica in REPLICAS:
        ref = catalog.ref(replica.name)
        assert ref.present and ref.revision == replica.revision
        assert verify(ref) == []
        files = {p.name for p in ref.path.iterdir()}
        assert "pytorch_model.bin" not in files and "model.safetensors" in files
        assert fetched[replica.name] <= replica.fetched, "a phantom was fetched"
    record = json.loads((catalog.ref("distilbart-cnn-12-6").path / ".summarize.json").read_text())
    assert record["weights_from"]["file"] == "pytorch_model.bin"
    assert record["weights_from"]["method"].startswith("torch.load(weights_only=True)")
    # The main job on the downloaded defaults: no option names a model.
    out = tmp_path / "out"
    report = run([SEEDS / "001_91f3ff2c96f99f79.txt"], load_settings(overrides={"output_dir": out}))
    assert report.ok, [o.error for o in report.failed]
    result_doc = json.loads((out / f"{report.results[0].article.id}.json").read_text())
    models = {rec["model"] for rec in result_doc["provenance"].values()}
    assert models - {"langdetect"} == {
        "distilbart-cnn-12-6",
        "opus-mt-tc-big-en-ar",
        "opus-mt-tc-big-en-fr",
    }


def test_a_pickle_that_would_run_code_is_never_unpickled(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The safe path loads pickles with weights_only: a pickle carrying code is refused, its
    code never runs, and nothing is left behind."""
    import pickle

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    (hub_folder / "model.safetensors").unlink()
    (hub_folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": Exploit()}))
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        result = runner.invoke(app, ["models", "download", "tiny-hub"])
    assert result.exit_code == 2 and "weights_only refused it" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not marker.exists(), "the pickle's code ran"
    assert not (online / "tiny-hub").exists()


def test_no_pickle_refuses_a_pickle_only_revision(
    hub_folder: Path, online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (hub_folder / "model.safetensors").unlink()
    with FakeHub(REPO, hub_folder) as hub:
        _with_hub(monkeypatch, hub)
        result = runner.invoke(app, ["models", "download", "tiny-hub", "--no-pickle"])
        assert "pytorch_model.bin" not in hub.fetched()
    assert result.exit_code == 2 and "--no-pickle" in result.output


# -- summarize models check ---------------------------------------------------------------


def test_smoke_properties_tell_a_working_model_from_a_broken_one() -> None:
    """The verdicts `models check` gives, on outputs a real model and a broken one write."""
    from summarize.detect import get_detector
    from summarize.smoke import ARTICLE, summary_problems, translation_problems

    assert translation_problems("fr", "La réunion a lieu lundi.") == []
    assert translation_problems("ar", "الاجتماع يوم الإثنين.") == []
    assert translation_problems("fr", "La réunion a lieu mardi.")
    assert translation_problems("ar", "The meeting is on Monday.")  # not Arabic, no الاثنين
    assert translation_problems("fr", "")
    detect = get_detector(load_settings()).detect
    good = (
        "Train drivers in Sweden began a three-day strike on Tuesday, halting commuter services "
        "around Stockholm. The union said talks over working hours and pay had broken down."
    )
    assert summary_problems(ARTICLE, good, "en", detect) == []
    assert summary_problems(ARTICLE, ARTICLE + " More.", "en", detect)  # not shorter
    assert summary_problems(
        ARTICLE, "strike strike strike strike strike strike strike", "en", detect
    )
    french = "Les conducteurs de train en Suède ont commencé une grève de trois jours mardi."
    assert any("not 'en'" in p for p in summary_problems(ARTICLE, french, "en", detect))
    # Fluent English about something else: what random weights trained on other news write.
    other = (
        "Police chiefs from 196 countries opened the INTERPOL General Assembly in Marrakech. "
        "Delegates will discuss cybercrime and fraud."
    )
    problems = summary_problems(ARTICLE, other, "en", detect)
    assert any("words are the article's" in p for p in problems)
    assert any("names 0 of what the article is about" in p for p in problems)


def test_models_check_runs_each_downloaded_model_and_fails_random_weights(
    tiny: dict[str, Path],
) -> None:
    """Tiny random-weight models stand in for downloaded catalogue models: every check runs
    through the real loading and generation code, and every one fails, as it must."""
    models = Path(os.environ["SUMMARIZE_MODELS_DIR"])
    shutil.copytree(tiny["bart"], models / "distilbart-cnn-12-6")
    shutil.copytree(tiny["en-ar"], models / "opus-mt-tc-big-en-ar")
    result = runner.invoke(app, ["models", "check", "--json"])
    assert result.exit_code == 1, result.output
    checks = json.loads(result.stdout)
    assert {c["name"] for c in checks} == {"distilbart-cnn-12-6", "opus-mt-tc-big-en-ar (en->ar)"}
    assert not any(c["passed"] for c in checks)
    assert all(c["output"] and c["problems"] for c in checks)
    missing = runner.invoke(app, ["models", "check", "opus-mt-tc-big-en-fr"])
    assert missing.exit_code == 1
    assert "summarize models download opus-mt-tc-big-en-fr" in missing.output
    unknown = runner.invoke(app, ["models", "check", "no-such-model"])
    assert unknown.exit_code == 2 and "not in the catalogue" in unknown.output


def test_models_check_also_runs_the_models_the_settings_name_by_folder(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """A summariser and translators named by folder (no catalogue download at all) are
    checked too, each pair it is named for once: what a run would use is what is judged."""
    config = tmp_path / "summarize.toml"
    config.write_text(
        f'summarizer = "{tiny["bart"]}"\n[translators]\n'
        f'en-fr = "{tiny["en-fr"]}"\nfr-en = "{tiny["en-fr"]}"\n"*" = "{tiny["m2m100"]}"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["models", "check", "--json", "--config", str(config)])
    assert result.exit_code == 1, result.output
    checks = json.loads(result.stdout)
    names = sorted(c["name"] for c in checks)
    assert names == [
        "tiny-bart",
        "tiny-m2m100 (en->ar)",
        "tiny-m2m100 (en->fr)",
        "tiny-marian-en-fr (en->fr)",
        "tiny-marian-en-fr (fr->en)",
    ]
    assert not any(c["passed"] for c in checks)  # random weights fail, as they must
    broken = tmp_path / "broken.toml"
    broken.write_text(f'summarizer = "{tmp_path / "no-such-folder"}"\n', encoding="utf-8")
    missing = runner.invoke(app, ["models", "check", "--config", str(broken)])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    assert "Traceback" not in missing.output


# -- what a careful read found ------------------------------------------------------------


def test_the_network_timeout_reaches_the_download(
    online: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huggingface_hub copies its timeouts at import: the settings' own must be in force
    while a download runs, and the originals back after."""
    import huggingface_hub
    from huggingface_hub import constants

    seen: dict[str, object] = {}

    def fake_snapshot(**kwargs: object) -> str:
        seen.update(
            etag=constants.HF_HUB_ETAG_TIMEOUT,
            download=constants.HF_HUB_DOWNLOAD_TIMEOUT,
            offline=constants.HF_HUB_OFFLINE,
            etag_arg=kwargs.get("etag_timeout"),
        )
        raise OSError("stop here")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    monkeypatch.setattr("summarize.hub.hub_listing", lambda *a: {"model.safetensors": (1, "x")})
    before = (constants.HF_HUB_ETAG_TIMEOUT, constants.HF_HUB_DOWNLOAD_TIMEOUT)
    settings = load_settings(overrides={"network_timeout": 42})
    with pytest.raises(ModelNotAvailable, match="stop here"):
        download(load_catalog(settings).ref("tiny-hub"), settings, progress=False)
    assert seen == {"etag": 42, "download": 42, "offline": False, "etag_arg": 42}
    assert before == (constants.HF_HUB_ETAG_TIMEOUT, constants.HF_HUB_DOWNLOAD_TIMEOUT)


def test_models_add_never_leaves_a_half_written_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path("summarize.toml")
    original = 'targets = ["ar"]\n' + "# a comment\n" * 200
    config.write_text(original, encoding="utf-8")
    import summarize.files as files

    def killed_before_the_rename(src: object, dst: object) -> None:
        raise OSError("killed")

    # The process dies after writing the new text but before it replaces the file.
    monkeypatch.setattr(files.os, "replace", killed_before_the_rename)
    with pytest.raises(OSError, match="killed"):
        from summarize.catalog import add_user_model

        add_user_model(config, "ours", {"hub": "a/b", "task": "translation", "pairs": ["en-fr"]})
    assert config.read_text(encoding="utf-8") == original
    assert not list(Path.cwd().glob(".summarize.toml.*"))


def test_a_replaced_model_folder_is_never_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new download or conversion is moved into place before the old one is removed."""
    import summarize.files as files

    final, staging = tmp_path / "model", tmp_path / ".model.incomplete"
    final.mkdir()
    (final / "config.json").write_text("old")
    staging.mkdir()
    (staging / "config.json").write_text("new")
    states: list[str] = []
    real_rmtree = shutil.rmtree

    def watching_rmtree(path: Path, *args: object, **kwargs: object) -> None:
        states.append((final / "config.json").read_text() if final.exists() else "MISSING")
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(files.shutil, "rmtree", watching_rmtree)
    files.replace_dir(staging, final)
    assert states == ["new"] and (final / "config.json").read_text() == "new"
    assert not list(tmp_path.glob(".model.old-*"))


@pytest.mark.slow
def test_two_processes_converting_one_model_convert_it_once(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    models = tmp_path / "converted"
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "from summarize.catalog import load_catalog, resolve; from summarize.config import Settings\n"
        "from summarize.convert import convert\n"
        f"s = Settings(models_dir=__import__('pathlib').Path({str(models)!r}))\n"
        f"ref = resolve({str(tiny['en-fr'])!r}, load_catalog(s, extra={{}}), task='translation')\n"
        "print(convert(ref, s.models_dir, 'int8'))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    lines = [ln for _, err in outs for ln in err.splitlines() if ln.startswith("converting ")]
    assert len(lines) == 1, outs
    assert len({out.strip() for out, _ in outs}) == 1
    assert (models / f"{tiny['en-fr'].name}-ct2-int8" / "model.bin").is_file()
