"""The CTranslate2 engine beside transformers: parity at float32, routing of `auto`, signatures."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEEDS, tiny_overrides

from summarize import load_settings, run
from summarize.catalog import load_catalog, resolve
from summarize.config import Settings
from summarize.engines import clear_pool, describe, get_model, resolve_engine

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


def test_auto_uses_ctranslate2_only_where_a_converted_model_is_present(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    from summarize.convert import convert

    settings = Settings(engine="auto", compute_type="int8", models_dir=tmp_path)
    catalog = load_catalog(settings, extra={})
    bart = resolve(str(tiny["bart"]), catalog, task="summarization")
    marian = resolve(str(tiny["en-fr"]), catalog, task="translation", pair=("en", "fr"))
    convert(bart, tmp_path, "int8")
    assert resolve_engine(bart, settings) == "ctranslate2"
    assert resolve_engine(marian, settings) == "transformers"
    a, b = describe(bart, settings, {}), describe(marian, settings, {})
    assert (a["engine"], a["compute_type"]) == ("ctranslate2", "int8")
    assert (b["engine"], b["compute_type"]) == ("transformers", "float32")
    assert "ctranslate2" in a["engine_version"]


def test_engines_never_share_cache_entries(tiny: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    article = SEEDS / "001_91f3ff2c96f99f79.txt"
    first = run([article], load_settings(overrides=tiny_overrides(tiny, out)))
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


def test_a_device_that_cannot_run_stops_the_run_with_one_clear_error(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """An engine that cannot load (no CUDA here) is one setup error, not one error per article."""
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
    with pytest.raises(ModelLoadError, match="--device cpu"):
        run([SEEDS], settings)
    clear_pool()
