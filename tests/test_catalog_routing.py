"""The catalogue, model resolution and the choice of routes (no weights loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarize.catalog import load_catalog, resolve
from summarize.config import Settings
from summarize.errors import ConfigError, LanguageError, ModelLoadError
from summarize.plan import Router, choose_summarizer, models_of
from summarize.translate import CopyTranslator, ModelTranslator, PivotTranslator

LICENCES_FOR_NEWSROOMS = {"apache-2.0", "mit", "cc-by-4.0"}


@pytest.fixture
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog(Settings(), extra={})


def test_catalogue_entries_are_complete_and_defaults_are_commercial(catalog) -> None:  # type: ignore[no-untyped-def]
    assert {
        "distilbart-cnn-12-6",
        "opus-mt-tc-big-en-ar",
        "opus-mt-tc-big-en-fr",
        "m2m100-418m",
        "multilingual-e5-small",  # the stories' embedder
    } == set(e.name for e in catalog.defaults())
    for entry in catalog.entries.values():
        assert entry.hub and entry.license and entry.size_mb > 0 and entry.params
        assert entry.languages or entry.pairs
        if entry.default:
            assert entry.commercial and entry.license in LICENCES_FOR_NEWSROOMS
        if entry.revision is not None:
            assert len(entry.revision) == 40
    assert catalog.get("opus-mt-en-ar").target_tokens == {"ar": ">>ara<<"}
    assert catalog.get("opus-mt-tc-big-en-ar").target_tokens == {"ar": ">>ara<<"}
    assert all(e.pinned for e in catalog.defaults()), "every default model is pinned"
    for pair in ("en-ar", "en-fr", "fr-en", "ar-en", "es-en", "de-en"):
        src, tgt = pair.split("-")
        assert catalog.pair_translators(src, tgt), pair


def test_non_commercial_models_are_never_chosen_automatically(catalog) -> None:  # type: ignore[no-untyped-def]
    assert all(e.commercial for e in catalog.summarizers_for("fr"))
    router = Router(Settings(), catalog)
    chosen = router.choose("ar", "fr")
    assert all(ref.entry.commercial for ref in models_of(chosen))


def test_routes_direct_pivot_fallback_copy(catalog) -> None:  # type: ignore[no-untyped-def]
    router = Router(Settings(), catalog)
    direct = router.choose("en", "ar")
    assert isinstance(direct, ModelTranslator) and direct.route == "direct"
    assert direct.ref.name == "opus-mt-tc-big-en-ar"  # the default wins over the lighter one
    assert router.choose("en", "fr").ref.name == "opus-mt-tc-big-en-fr"  # type: ignore[attr-defined]
    pivot = router.choose("fr", "ar")
    assert isinstance(pivot, PivotTranslator) and pivot.route == "pivot"
    assert [r.name for r in models_of(pivot)] == ["opus-mt-fr-en", "opus-mt-tc-big-en-ar"]
    fallback = router.choose("es", "zh")
    assert fallback.route == "fallback"
    assert [r.name for r in models_of(fallback)] == ["m2m100-418m"]
    assert isinstance(router.choose("fr", "fr"), CopyTranslator)
    with pytest.raises(LanguageError, match="--translator xx-ar"):
        router.choose("xx", "ar")


def test_summariser_choice_pivots_languages_it_does_not_cover(catalog) -> None:  # type: ignore[no-untyped-def]
    english = choose_summarizer("en", Settings(), catalog)
    assert english.pivot is None and english.summarizer.ref.name == "distilbart-cnn-12-6"
    french = choose_summarizer("fr", Settings(), catalog)
    assert french.pivot == "en"


def test_option_names_a_folder_or_a_pinned_hub_id(tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "m2m_100"}), encoding="utf-8")
    ref = resolve(str(folder), catalog, task="translation")
    assert ref.origin == "local" and ref.entry.lang_codes == "m2m100" and ref.entry.any_to_any
    assert ref.revision.startswith("local:")
    sha = "a" * 40
    hub = resolve(f"org/model@{sha}", catalog, task="summarization", languages=["en"])
    assert hub.origin == "hub" and hub.entry.revision == sha
    with pytest.raises(ConfigError, match="40-hex"):
        resolve("org/model@main", catalog, task="summarization")
    with pytest.raises(ConfigError, match="not in the catalogue"):
        resolve("no-such-model", catalog, task="summarization")
    with pytest.raises(ConfigError, match="translation model, not a summarization"):
        resolve("opus-mt-en-ar", catalog, task="summarization")


def test_pickle_only_folders_are_refused(tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    from summarize.catalog import check_loadable

    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    ref = resolve(str(folder), catalog, task="summarization")
    assert not ref.present
    with pytest.raises(ModelLoadError, match="pickle"):
        check_loadable(ref)


def test_user_models_from_summarize_toml(tmp_path: Path) -> None:
    extra = {
        "our-summariser": {
            "hub": "newsroom/sum",
            "revision": "b" * 40,
            "task": "summarization",
            "languages": ["fr"],
            "license": "proprietary",
            "commercial": True,
        }
    }
    catalog = load_catalog(Settings(), extra=extra)
    assert catalog.get("our-summariser").languages == ("fr",)
    plan = choose_summarizer("fr", Settings(summarizers={"fr": "our-summariser"}), catalog)
    assert plan.pivot is None and plan.summarizer.ref.name == "our-summariser"
    with pytest.raises(ConfigError, match="unknown field"):
        load_catalog(Settings(), extra={"x": {"task": "summarization", "colour": 1}})
