"""The CTranslate2 engine beside transformers: parity at float32, routing of `auto`, signatures."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS, tiny_overrides

from summarize import load_settings, run
from summarize.catalog import load_catalog, resolve
from summarize.config import Settings
from summarize.engines import clear_pool, describe, get_model

pytest.importorskip("ctranslate2")

GREEDY = {"num_beams": 1, "max_length": 16, "min_length": 0, "no_repeat_ngram_size": 0}
TEXTS = [
    "The General Assembly opened in Marrakech on Monday.",
    "Delegates from 196 countries attend the meeting until November 27.",
    "Cooperation between police forces matters.",
]


@pytest.mark.parametrize(
    ("role", "langs"), [("bart", None), ("t5", None), ("en-ar", None), ("m2m100", ("en", "fr"))]
)
def test_float32_greedy_gives_the_same_text_on_both_engines(
    tiny: dict[str, Path], tmp_path: Path, role: str, langs: tuple[str, str] | None
) -> None:
    settings = {
        name: Settings(engine=name, compute_type="float32", models_dir=tmp_path)
        for name in ("transformers", "ctranslate2")
    }
    ref = resolve(
        str(tiny[role]), load_catalog(settings["transformers"], extra={}), task="translation"
    )
    texts = [f">>ara<< {t}" for t in TEXTS] if role == "en-ar" else TEXTS
    params = dict(GREEDY)
    src, tgt = langs or (None, None)
    outputs = {
        name: get_model(ref, s).generate(texts, params, src_lang=src, tgt_lang=tgt)
        for name, s in settings.items()
    }
    assert all(outputs["transformers"])
    assert outputs["ctranslate2"] == outputs["transformers"]


def test_auto_is_ctranslate2_for_what_it_runs_converting_once_on_first_use(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """`auto` (the default) picks CTranslate2 by architecture, before any conversion, so the
    signature is the same before and after; the first use converts, later uses reuse it."""
    import json
    import shutil

    settings = Settings(compute_type="int8", models_dir=tmp_path / "models")
    assert settings.engine == "auto"
    catalog = load_catalog(settings, extra={})
    marian = resolve(str(tiny["en-fr"]), catalog, task="translation", pair=("en", "fr"))
    before = describe(marian, settings, {})
    assert (before["engine"], before["compute_type"]) == ("ctranslate2", "int8")
    assert "ctranslate2" in before["engine_version"] and "torch" not in before["engine_version"]
    converted = tmp_path / "models" / f"{tiny['en-fr'].name}-ct2-int8"
    assert not converted.exists()
    clear_pool()
    [out] = get_model(marian, settings).generate(TEXTS[:1], GREEDY)
    assert out.text and (converted / "model.bin").is_file()
    assert json.loads((converted / ".summarize.json").read_text())["source"] == tiny["en-fr"].name
    assert describe(marian, settings, {}) == before
    mtime = (converted / "model.bin").stat().st_mtime_ns
    clear_pool()
    get_model(marian, settings).generate(TEXTS[:1], GREEDY)
    assert (converted / "model.bin").stat().st_mtime_ns == mtime, "converted twice"
    # An architecture CTranslate2 is not used for here stays on transformers.
    other = tmp_path / "pegasus-like"
    shutil.copytree(tiny["bart"], other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "pegasus_x"}))
    ref = resolve(str(other), catalog, task="summarization")
    assert describe(ref, settings, {})["engine"] == "transformers"
    clear_pool()


def test_engines_never_share_cache_entries(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    article = SEEDS / "001_91f3ff2c96f99f79.txt"
    first = run(
        [article], load_settings(overrides=tiny_overrides(tiny, out, engine="transformers"))
    )
    clear_pool()
    ct2_settings = load_settings(
        overrides=tiny_overrides(
            tiny,
            out,
            engine="ctranslate2",
            compute_type="int8",
            models_dir=str(tmp_path / "models"),
        )
    )
    ct2 = run([article], ct2_settings)
    assert first.ok and ct2.ok, [o.error for o in ct2.failed]
    recs = ct2.results[0].records()
    assert not recs["summarize"].cached and not recs["translate:ar"].cached
    assert recs["detect"].cached  # detection does not depend on the engine
    assert recs["summarize"].engine == "ctranslate2"
    assert "ctranslate2" in recs["summarize"].versions
    again = run([article], ct2_settings)
    assert again.results[0].all_cached


def test_cuda_runs_where_there_is_a_gpu_and_is_one_clear_error_where_not(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """On a machine without a usable GPU, --device cuda is one setup error (not one error per
    article); on one with a GPU, the same run succeeds on it."""
    import ctranslate2

    from summarize.errors import ModelLoadError

    clear_pool()
    settings = load_settings(
        overrides=tiny_overrides(
            tiny,
            tmp_path / "out",
            engine="ctranslate2",
            device="cuda",
            compute_type="float16",
            models_dir=str(tmp_path / "models"),
        )
    )
    gpu = ctranslate2.get_cuda_device_count() > 0
    try:
        report = run([SEEDS], settings)
    except ModelLoadError as exc:
        assert not gpu, f"a GPU is here, yet: {exc}"
        assert "--device cpu" in str(exc)
    else:
        assert gpu, "no GPU here, yet the cuda run did not fail"
        assert report.ok and report.results[0].records()["summarize"].device == "cuda"
    finally:
        clear_pool()


ARABIC = "افتتحت الجمعية العامة للإنتربول في مراكش يوم الاثنين بحضور 196 دولة."
FRENCH = "L'Assemblée générale s'est ouverte lundi à Marrakech, « en présence » de 196 pays."


@pytest.mark.parametrize("role", ["bart", "t5", "en-ar", "en-fr", "m2m100"])
def test_torch_free_tokens_are_the_transformers_tokens(
    tiny: dict[str, Path], tmp_path: Path, role: str
) -> None:
    """The CTranslate2 engine tokenizes with tokenizers/sentencepiece alone: token for token
    what the transformers tokenizer gives, and the same text back."""
    import json

    from transformers import AutoTokenizer

    from summarize.convert import convert
    from summarize.engines.plain import plain_tokenizer

    folder = convert(
        resolve(str(tiny[role]), load_catalog(Settings(), extra={}), task="translation"),
        tmp_path,
        "int8",
    )
    model_type = json.loads((tiny[role] / "config.json").read_text())["model_type"]
    plain = plain_tokenizer(folder, model_type, "m2m100" if role == "m2m100" else None)
    assert plain is not None, f"{role}: no torch-free tokenizer"
    hf = AutoTokenizer.from_pretrained(str(tiny[role]))
    texts = [*TEXTS, ARABIC, FRENCH, "  spaces  and\ttabs ", "Zürich — “quotes” … 3,5 %"]
    if role == "en-ar":
        texts = [f">>ara<< {t}" for t in texts]
    if role == "m2m100":
        hf.src_lang = "fr"
    want = [hf.convert_ids_to_tokens(ids) for ids in hf(texts)["input_ids"]]
    assert plain.encode(texts, src_lang="fr" if role == "m2m100" else None) == want
    for tokens in want:
        ids = hf.convert_tokens_to_ids(tokens)
        if role == "m2m100":  # transformers' decode keeps the language token; ours drops it
            ids = ids[1:]
        assert plain.decode(tokens) == hf.decode(ids, skip_special_tokens=True).strip()


def test_a_ctranslate2_run_imports_neither_torch_nor_transformers(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """On converted models the default engine runs the whole pipeline without torch."""
    import subprocess
    import sys

    from conftest import tiny_args

    models = tmp_path / "models"
    settings = load_settings(
        overrides={**tiny_overrides(tiny, tmp_path / "warm"), "models_dir": str(models)}
    )
    assert run([SEEDS / "001_91f3ff2c96f99f79.txt"], settings).ok  # converts them once
    probe = (
        "import sys, runpy; sys.argv = ['summarize', 'run', *sys.argv[1:]];\n"
        "try:\n    runpy.run_module('summarize', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print('HEAVY', heavy, 'EXIT', code)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            str(SEEDS),
            "-o",
            str(tmp_path / "out"),
            "-q",
            *tiny_args(tiny),
        ],
        env={**__import__("os").environ, "SUMMARIZE_MODELS_DIR": str(models)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "HEAVY [] EXIT 0" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr == "", "a normal run prints nothing but our own lines"


def test_length_is_never_left_to_chance(tiny: dict[str, Path], tmp_path: Path) -> None:
    """No model falls back to transformers' 20 tokens: a translation may take 2x its input
    + 16, a summary 256 new tokens, and an output that stops at its limit says so."""
    import json
    import shutil

    from summarize.engines import LENGTH_FROM_INPUT, effective_generation, output_limits

    assert output_limits({LENGTH_FROM_INPUT: [2, 16]}, [10, 100], cap=128) == [36, 128]
    assert output_limits({"max_length": 20}, [5]) == [19]
    for role, task in (("en-fr", "translation"), ("bart", "summarization")):
        folder = tmp_path / f"no-limit-{role}"
        shutil.copytree(tiny[role], folder)
        gen = json.loads((folder / "generation_config.json").read_text())
        gen.pop("max_length")
        (folder / "generation_config.json").write_text(json.dumps(gen))
        ref = resolve(str(folder), load_catalog(Settings(), extra={}), task=task)  # type: ignore[arg-type]
        params = effective_generation(ref, task, {})
        assert "max_length" not in params
        if task == "translation":
            assert params[LENGTH_FROM_INPUT] == [2, 16]
        else:
            assert params["max_new_tokens"] == 256
    ref = resolve(str(tiny["en-fr"]), load_catalog(Settings(), extra={}), task="translation")
    for engine in ("transformers", "ctranslate2"):
        clear_pool()
        model = get_model(ref, Settings(engine=engine, models_dir=tmp_path / "m"))
        short = {"num_beams": 1, "max_new_tokens": 3}
        [cut] = model.generate([TEXTS[1]], short)
        assert cut.truncated, engine
        assert model.count_tokens([cut.text])[0] <= 3 + 1, engine  # + </s>
    clear_pool()


def test_a_cut_off_output_is_a_warning_in_the_result(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    overrides = tiny_overrides(tiny, out, translation_generation={"max_new_tokens": 2})
    report = run([SEEDS / "001_91f3ff2c96f99f79.txt"], load_settings(overrides=overrides))
    assert report.ok
    flags = [w for w in report.results[0].warnings if w.code == "truncated_output"]
    assert {w.stage for w in flags} >= {"translate:ar", "translate:fr"}
    by_stage = {w.stage: w.message for w in flags}
    assert "max_new_tokens in [translation_generation]" in by_stage["translate:ar"]


def test_first_use_converts_once_with_a_line_and_transformers_runs_quietly(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """A CLI run says, once per model, that it converts it; later runs say nothing; and a run on
    the transformers engine prints no transformers warnings."""
    import os
    import subprocess

    from conftest import cli_run

    env = {**os.environ, "SUMMARIZE_MODELS_DIR": str(tmp_path / "models")}
    seed = SEEDS / "001_91f3ff2c96f99f79.txt"
    first = cli_run(tiny, seed, tmp_path / "out")
    first.remove("-q")
    done = subprocess.run(first, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "to CTranslate2 int8" in line]
    assert len(lines) == 3 and all(line.startswith("summarize: converting") for line in lines)
    # The run says once that stories are joined on words alone (no embedder here).
    others = [
        ln
        for ln in done.stderr.splitlines()
        if ln not in lines and not ln.startswith("warning: stories are joined on words")
    ]
    assert len(others) == 1 and others[0].startswith("1 sources: 1 ok"), done.stderr
    again = subprocess.run(
        cli_run(tiny, seed, tmp_path / "out2"), env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and again.stderr == ""
    hf = subprocess.run(
        [*cli_run(tiny, seed, tmp_path / "out3"), "--engine", "transformers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert hf.returncode == 0 and hf.stderr == "", hf.stderr


def test_nothing_but_the_safe_path_ever_unpickles() -> None:
    """Weights are never unpickled: the package's one torch.load is the safe path's, with
    weights_only=True, and models load from safetensors only. (The Ray executor pickles its own
    work items between the driver and its workers, as Ray does with every task argument: data
    this process made, never a file.)"""
    import ast

    root = Path(__file__).resolve().parent.parent / "summarize"
    calls = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = f"{owner.id if isinstance(owner, ast.Name) else '?'}.{node.func.attr}"
                if name in ("torch.load", "pickle.load", "pickle.loads", "joblib.load"):
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
                    calls.append((path.name, name, kwargs.get("weights_only")))
    assert sorted(calls) == [
        ("hub.py", "torch.load", True),
        ("ray.py", "pickle.loads", None),
        ("ray.py", "pickle.loads", None),
    ]
    assert "use_safetensors=True" in (root / "engines" / "hf.py").read_text(encoding="utf-8")


def test_m2m100_codes_are_transformers_own() -> None:
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    from summarize.engines.tokens import M2M100_CODES

    assert frozenset(FAIRSEQ_LANGUAGE_CODES["m2m100"]) == M2M100_CODES


def test_each_batch_gives_its_freed_memory_back(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watch folder or service runs batch after batch in one process: each batch ends by
    returning the heap's free pages (glibc malloc_trim), so the process does not keep every
    batch's buffers resident."""
    import sys

    from summarize import load_settings, run
    from summarize.engines import ct2

    assert ct2.release_memory() is sys.platform.startswith("linux")
    calls: list[int] = []
    monkeypatch.setattr(ct2, "release_memory", lambda: calls.append(1) or True)
    settings = load_settings(overrides=tiny_overrides(tiny, tmp_path / "out", stories=False))
    first = sorted(SEEDS.glob("*.txt"))
    assert run(first[:2], settings).ok and run(first[2:3], settings).ok
    assert len(calls) == 2
