"""The whole pipeline on tiny random-weight models of the real architectures."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEEDS, big_batch, cli_run, tiny_args, tiny_overrides

from summarize import load_settings, run
from summarize.errors import ModelNotAvailable
from summarize.types import BatchReport

DATA = Path(__file__).parent / "data"
REQUIRED = {"id", "language", "summary", "translations", "provenance"}


def settings_for(tiny: dict[str, Path], out: Path, **extra: Any):  # type: ignore[no-untyped-def]
    return load_settings(overrides=tiny_overrides(tiny, out, **extra))


def provenance(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / f"{name}.json").read_text(encoding="utf-8"))["provenance"]  # type: ignore[no-any-return]


def test_seeds_end_to_end_then_everything_cached(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run([SEEDS], settings_for(tiny, out))
    assert report.ok and len(report.results) == 5
    files = sorted(out.glob("*.json"))
    assert len(files) == 7  # five results, report.json and stories.json
    for result in report.results:
        doc = json.loads(Path(result.output).read_text(encoding="utf-8"))  # type: ignore[arg-type]
        assert set(doc) >= REQUIRED
        assert doc["language"]["code"] == "en" and doc["language"]["confidence"] > 0.9
        assert doc["summary"]["lang"] == "en" and doc["summary"]["text"]
        assert set(doc["translations"]) == {"ar", "fr"}
        assert all(t["route"] == "direct" and t["text"] for t in doc["translations"].values())
        stages = {"detect", "summarize", "translate:ar", "translate:fr"}
        if doc["title"]:  # a headline is translated too
            stages |= {"title:ar", "title:fr"}
        assert set(doc["provenance"]) == stages
        for rec in doc["provenance"].values():
            assert {"model", "revision", "engine", "settings", "seconds", "cached"} <= set(rec)
            assert rec["cached"] is False
        # Sample articles are ~900 tokens; the tiny model takes 128: chunked, not truncated.
        assert doc["summary"]["chunks"] > 1
    report_doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report_doc["summary"]["ok"] == 5 and report_doc["summary"]["failed"] == 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("0*.json")}

    again = run([SEEDS], settings_for(tiny, out))
    assert again.ok and all(o.cached for o in again.outcomes)
    assert all(all(r.cached for r in res.records().values()) for res in again.results)
    # Unchanged results are not rewritten.
    assert {p: p.stat().st_mtime_ns for p in out.glob("0*.json")} == mtimes
    assert json.loads((out / "report.json").read_text())["summary"]["fully_cached"] == 5


def test_a_run_where_nothing_changed_checks_nothing_and_generates_nothing(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reproduced: a cached re-run spent most of its time rerunning the checks. Warnings are
    kept with the cached result, keyed by the texts, the languages and the checks' version."""
    import summarize.stages as stages_module
    from summarize.summarise import Seq2SeqSummarizer
    from summarize.translate import ModelTranslator

    out = tmp_path / "out"
    first = run([SEEDS], settings_for(tiny, out))
    assert first.computed["check"] > 0 and first.computed["summarize"] == 5
    warnings = {r.article.id: r.warnings for r in first.results}

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed on a run where nothing changed")

    monkeypatch.setattr(stages_module, "check_text", never)
    monkeypatch.setattr(Seq2SeqSummarizer, "summarize", never)
    monkeypatch.setattr(ModelTranslator, "translate", never)
    again = run([SEEDS], settings_for(tiny, out))
    assert again.ok and again.computed == {}
    assert {r.article.id: r.warnings for r in again.results} == warnings
    assert again.stories and "summary" in again.stories[0]
    computed = json.loads((out / "report.json").read_text())["summary"]["computed"]
    assert set(computed.values()) == {0}

    # A new version of the checks (their signature) recomputes the warnings, nothing else.
    monkeypatch.undo()
    monkeypatch.setattr(
        "summarize.checks._signature", lambda: (("checks", "next"), ("libraries", "same"))
    )
    monkeypatch.setattr(Seq2SeqSummarizer, "summarize", never)
    monkeypatch.setattr(ModelTranslator, "translate", never)
    rechecked = run([SEEDS], settings_for(tiny, out))
    assert set(rechecked.computed) == {"check"}
    assert {r.article.id: r.warnings for r in rechecked.results} == warnings


def test_changing_the_translation_model_reruns_only_translation(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run([SEEDS], settings_for(tiny, out))
    changed = tiny_overrides(tiny, out)
    changed["translators"] = [f"en-ar={tiny['en-ar']}", f"en-fr={tiny['m2m100']}"]
    report = run([SEEDS], load_settings(overrides=changed))
    assert report.ok
    for result in report.results:
        recs = result.records()
        assert recs["detect"].cached and recs["summarize"].cached and recs["translate:ar"].cached
        assert not recs["translate:fr"].cached
        assert recs["translate:fr"].model == "tiny-m2m100"


def test_changing_a_generation_setting_reruns_that_stage(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run([SEEDS / "000_c73dff72cbaff43d.txt"], settings_for(tiny, out))
    report = run(
        [SEEDS / "000_c73dff72cbaff43d.txt"],
        settings_for(tiny, out, summary_generation={"num_beams": 1}),
    )
    recs = report.results[0].records()
    assert not recs["summarize"].cached and recs["summarize"].settings["num_beams"] == 1
    assert recs["detect"].cached


def test_other_languages_pivot_and_fall_back(tiny: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for lang in ("fr", "ar", "es"):
        (src / f"{lang}.txt").write_text(
            (DATA / f"corpus_{lang}.txt").read_text(encoding="utf-8"), encoding="utf-8"
        )
    out = tmp_path / "out"
    empty = tmp_path / "catalog.toml"
    empty.write_text("", encoding="utf-8")
    report = run([src], settings_for(tiny, out, catalog_path=str(empty)))
    assert report.ok, [o.error for o in report.failed]
    by_id = {r.article.id: r for r in report.results}
    french = by_id["fr.txt"]
    assert french.detection.code == "fr" and french.pivot is not None
    assert french.pivot.model == "tiny-marian-fr-en" and french.summary.lang == "en"
    arabic = by_id["ar.txt"]
    assert arabic.detection.code == "ar" and arabic.pivot.model == "tiny-marian-ar-en"  # type: ignore[union-attr]
    # Spanish has no es-en model among the tiny ones: the any-to-any model pivots it.
    spanish = by_id["es.txt"]
    assert spanish.pivot is not None and spanish.pivot.model == "tiny-m2m100"
    assert set(provenance(out, "fr.txt")) == {
        "detect",
        "pivot",
        "summarize",
        "translate:ar",
        "translate:fr",
    }


def test_target_equal_to_summary_language_is_copied(tiny: dict[str, Path], tmp_path: Path) -> None:
    report = run(
        [SEEDS / "001_91f3ff2c96f99f79.txt"], settings_for(tiny, tmp_path / "out", targets="en,ar")
    )
    tr = report.results[0].translations
    assert tr["en"].route == "copy" and tr["en"].text == report.results[0].summary.text
    assert tr["ar"].route == "direct"


def test_bad_sources_are_recorded_and_the_batch_goes_on(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.txt").write_text(
        (SEEDS / "002_368337d6acc914b1.txt").read_text(), encoding="utf-8"
    )
    (src / "empty.txt").write_text("", encoding="utf-8")
    (src / "tiny.txt").write_text("Ok. Score 12-10, 33:31, 2026.", encoding="utf-8")
    (src / "bytes.txt").write_bytes(b"PK\x03\x04\x14\x00\x08\x00" * 40)
    out = tmp_path / "out"
    report = run([src], settings_for(tiny, out))
    assert not report.ok
    status = {o.source.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert status["good.txt"].status == "ok"
    assert "empty" in status["empty.txt"].error.message  # type: ignore[union-attr]
    assert "language undetermined" in status["tiny.txt"].error.message  # type: ignore[union-attr]
    assert "not a text file" in status["bytes.txt"].error.message  # type: ignore[union-attr]
    assert (out / "good.txt.json").exists()
    report_doc = json.loads((out / "report.json").read_text())
    assert report_doc["summary"] == {**report_doc["summary"], "ok": 1, "failed": 3}
    # --lang rescues the short one.
    forced = run([src / "tiny.txt"], settings_for(tiny, out, lang="en"))
    assert forced.ok and forced.results[0].detection.method == "option"


def test_missing_model_offline_stops_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ModelNotAvailable, match="summarize models download distilbart-cnn-12-6"):
        run([SEEDS], load_settings(overrides={"output_dir": str(out)}))
    assert not list(out.glob("*.json"))


def test_offline_a_missing_pair_model_gives_way_to_the_fallback_that_is_here(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Reproduced (service): a Spanish article while opus-mt-es-en is not downloaded, even with
    '*=<folder>' given, failed the whole batch. The plan takes the route whose models are here
    and says so; an article no route serves fails alone, named."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "es.txt").write_text((DATA / "corpus_es.txt").read_text(encoding="utf-8"))
    (inbox / "en.txt").write_text(SEEDS.joinpath("002_368337d6acc914b1.txt").read_text())
    report = run([inbox], settings_for(tiny, out))
    assert report.ok, [o.error for o in report.failed]
    spanish = next(r for r in report.results if r.article.id == "es.txt")
    assert spanish.pivot is not None and spanish.pivot.model == "tiny-m2m100"
    [notice] = [w for w in report.warnings if w.startswith("translation es->en")]
    assert "opus-mt-es-en is not downloaded" in notice and "offline" in notice

    # No fallback configured: the Spanish article fails with the reason, the English one is done.
    overrides = tiny_overrides(tiny, tmp_path / "out2")
    overrides["translators"] = [t for t in overrides["translators"] if not t.startswith("*=")]
    alone = run([inbox], load_settings(overrides=overrides))
    [failed] = alone.failed
    assert failed.id == "es.txt" and failed.error is not None
    assert "summarize models download opus-mt-es-en" in failed.error.message
    assert [r.article.id for r in alone.results] == ["en.txt"]


def test_missing_model_without_network_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable, match=r"no connection to 127\.0\.0\.1:9"):
        run(
            [SEEDS],
            load_settings(overrides={"output_dir": str(tmp_path / "out"), "network_timeout": 2}),
        )
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_kill_9_mid_batch_then_resume_redoes_only_unfinished(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    src, out = tmp_path / "big", tmp_path / "out"
    total = big_batch(src, 5)
    # The editions are near-duplicates of each other: without stories each is its own work.
    cmd = cli_run(tiny, src, out, "--batch-size", "2", "--no-stories")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*_0*.json"))) < 4:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name for p in out.glob("*_0*.json")}
    assert 4 <= len(finished) < total, "the run should have been killed part-way"
    for path in out.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # every file whole
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    report: BatchReport = run(
        [src], load_settings(overrides=tiny_overrides(tiny, out, batch_size=2, stories=False))
    )
    assert report.ok and len(report.results) == total
    for result in report.results:
        name = Path(result.output).name  # type: ignore[arg-type]
        if name in finished:
            assert result.all_cached, f"{name} was finished before the kill but redone"
    assert sum(1 for r in report.results if not r.all_cached) >= total - len(finished) - 2


def test_two_runs_sharing_an_output_folder(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "summarize",
        "run",
        str(SEEDS),
        "-o",
        str(out),
        "-q",
        *tiny_args(tiny),
    ]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["ok"] == 5
    for path in out.glob("0*.json"):
        assert set(json.loads(path.read_text())) >= REQUIRED


def test_no_cache_writes_no_cache(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run([SEEDS / "003_e4bd439a4009ed1f.txt"], settings_for(tiny, out, cache=False))
    assert report.ok and not (out / "cache.sqlite3").exists()


def test_architectures_t5_summariser_and_m2m100_fallback(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    overrides = tiny_overrides(tiny, tmp_path / "out", summarizer=str(tiny["t5"]))
    overrides["translators"] = [f"*={tiny['m2m100']}"]
    # No pair models at all (an empty catalogue): every translation takes the fallback.
    empty = tmp_path / "catalog.toml"
    empty.write_text("", encoding="utf-8")
    overrides["catalog_path"] = str(empty)
    report = run([SEEDS / "004_a5efb876e58d0b7a.txt"], load_settings(overrides=overrides))
    assert report.ok, [o.error for o in report.failed]
    result = report.results[0]
    assert result.summary.record.model == "tiny-t5"
    assert {t.route for t in result.translations.values()} == {"fallback"}


def test_marian_target_token_is_found_in_the_vocabulary(tiny: dict[str, Path]) -> None:
    from summarize.catalog import load_catalog, resolve
    from summarize.config import Settings
    from summarize.translate import ModelTranslator

    settings = Settings()
    catalog = load_catalog(settings, extra={})
    en_ar = ModelTranslator(
        resolve(str(tiny["en-ar"]), catalog, task="translation", pair=("en", "ar")),
        settings,
        "en",
        "ar",
        "direct",
    )
    assert en_ar.target_token == ">>ara<<"
    en_fr = ModelTranslator(
        resolve(str(tiny["en-fr"]), catalog, task="translation", pair=("en", "fr")),
        settings,
        "en",
        "fr",
        "direct",
    )
    assert en_fr.target_token == ""
    out = en_ar.translate(["First sentence. Second one?", "First sentence."])
    assert len(out) == 2 and all(out)


def test_long_article_is_chunked_within_the_model_limit(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarize.catalog import load_catalog, resolve
    from summarize.config import Settings
    from summarize.summarise import Seq2SeqSummarizer

    settings = Settings()
    summarizer = Seq2SeqSummarizer(
        resolve(
            str(tiny["bart"]),
            load_catalog(settings, extra={}),
            task="summarization",
            languages=["en"],
        ),
        settings,
    )
    seen: list[str] = []
    original = summarizer.model.generate

    def spy(texts, params, **kw):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return original(texts, params, **kw)

    monkeypatch.setattr(summarizer.model, "generate", spy)
    long_text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))) * 4
    [out] = summarizer.summarize([long_text])
    assert out.chunks > 20 and out.text
    counts = summarizer.model.count_tokens(seen)
    assert max(counts) <= summarizer.max_input
    # Every word of the article went into some chunk: nothing was dropped.
    first_level = " ".join(seen[: out.chunks]).split()
    assert first_level == long_text.split()


def test_a_messy_newsroom_folder_in_one_batch(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Issue 4's batch: four languages in four encodings, broken files, hostile JSONL ids."""
    src, out = tmp_path / "inbox", tmp_path / "out"
    src.mkdir()
    english = (SEEDS / "000_c73dff72cbaff43d.txt").read_text(encoding="utf-8")
    corpus = {
        lang: (DATA / f"corpus_{lang}.txt").read_text(encoding="utf-8")
        for lang in ("fr", "es", "ar")
    }
    (src / "en.txt").write_text(english, encoding="utf-8")
    (src / "fr.txt").write_bytes(corpus["fr"].encode("utf-16"))
    (src / "es.txt").write_bytes(corpus["es"].encode("latin-1"))
    arabic = corpus["ar"].encode("cp1256", errors="ignore")
    (src / "ar.txt").write_bytes(arabic)
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (src / "numbers.txt").write_text("2026 11 23 12:00 +0100 4.5 17.3 300 196 27 93", "utf-8")
    (src / "long.txt").write_text(english * 3, encoding="utf-8")
    hostile = ["../../etc/passwd", "/abs/path", "nul\x00byte", "CON", "x" * 500, "a/b", "a_b"]
    (src / "feed.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "text": english}) for i in hostile), encoding="utf-8"
    )
    empty = src / "catalog.toml"  # not an article suffix: ingest skips it
    empty.write_text("", encoding="utf-8")  # only the tiny models are in play
    overrides = tiny_overrides(
        tiny,
        out,
        max_chars=len(english) * 2,
        formats="json,html",
        catalog_path=str(empty),
        stories=False,  # the brief checked below is per article
    )
    settings = load_settings(overrides=overrides)
    report = run([src], settings)
    assert not report.ok
    by_id = {o.id: o for o in report.outcomes}
    langs = {r.article.id: r.detection.code for r in report.results}
    assert {k: langs[k] for k in ("en.txt", "fr.txt", "es.txt", "ar.txt")} == {
        "en.txt": "en",
        "fr.txt": "fr",
        "es.txt": "es",
        "ar.txt": "ar",
    }
    encodings = {r.article.id: r.article.encoding for r in report.results}
    assert encodings["fr.txt"] == "utf-16-le" and encodings["ar.txt"] == "cp1256"
    for bad, reason in [
        ("empty.txt", "empty"),
        ("binary.txt", "not a text file"),
        ("numbers.txt", "no letters"),
        ("long.txt", "too long"),
    ]:
        assert by_id[bad].status == "error" and reason in by_id[bad].error.message, bad  # type: ignore[union-attr]
    for article_id in hostile:
        assert by_id[article_id].status == "ok", article_id
    # Nothing was written outside the output folder, and no two ids share a file.
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(src)]
    assert all(p.is_relative_to(out) for p in written), written
    outputs = [o.output for o in report.outcomes if o.output]
    assert len(outputs) == len(set(outputs))
    kept = {json.loads(Path(p).read_text(encoding="utf-8"))["id"] for p in outputs}
    assert set(hostile) <= kept
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert page.count('dir="rtl" lang="ar"') == len(report.results)


class _Elsewhere:
    """An executor computing on "another node" with its own settings, as a Ray worker plans
    its wave on its node: same code, possibly other models there."""

    name = "elsewhere"

    def __init__(self, settings: Any) -> None:
        from summarize.cache import RecordingCache
        from summarize.catalog import load_catalog
        from summarize.plan import Plan
        from summarize.stages import Stages

        self.stages = Stages(Plan(settings, load_catalog(settings)), RecordingCache())

    def run(self, stages: Any, items: list[Any]) -> Any:
        import dataclasses

        from summarize.executors.ray import compute_items, shippable
        from summarize.types import Placement

        there = Placement("node-b", "node-b.example", 1, 0, 0.0)
        for it in compute_items(self.stages, [shippable(it) for it in items]):
            yield dataclasses.replace(it, placement=there)

    def warnings(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


@pytest.mark.parametrize("same", [True, False], ids=["same-plan", "other-model-there"])
def test_an_output_computed_off_this_plan_is_said_and_the_claim_holds(
    tiny: dict[str, Path], tmp_path: Path, same: bool
) -> None:
    """The driver's plan is the one authority on routes, and the cache is keyed by it: what a
    worker computed with another route (another model on its node) is kept but said, with
    what it costs (a re-run from here computes it again); the same plan there says nothing."""
    from summarize import Summarizer

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(
        sorted(SEEDS.glob("*.txt"))[1].read_text(encoding="utf-8"), encoding="utf-8"
    )
    here = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", targets=["fr"]))
    there = (
        here
        if same
        else load_settings(
            overrides=tiny_overrides(
                tiny, tmp_path / "out", targets=["fr"], summarizer=str(tiny["t5"])
            )
        )
    )
    with Summarizer(here, executor=_Elsewhere(there)) as s:
        first = s.run([folder])
    assert first.ok
    said = [w for w in first.warnings if "where this machine's plan runs" in w]
    with Summarizer(here) as s:  # a re-run here, on the local executor
        again = s.run([folder])
    if same:
        assert said == [] and again.computed == {}
    else:
        assert len(said) == 1, first.warnings
        assert "1 summarize outputs were computed on node-b.example with tiny-t5" in said[0]
        assert "plan runs tiny-bart" in said[0]
        assert again.computed.get("summarize") == 1  # as said: not found in the cache
