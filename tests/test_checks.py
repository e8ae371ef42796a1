"""Warnings: each fires on the crafted fault and stays quiet on the honest variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from summarize.checks import check_degenerate, check_language, check_names, check_numbers, numbers
from summarize.config import Settings
from summarize.detect import LangdetectDetector
from summarize.text import normalize, split_sentences

SOURCE = (
    "The company said on Monday that revenue reached 17.3 billion dollars in 2025, up 12% "
    "from a year earlier, and that 1,200 staff in five countries would join the "
    "International Criminal Police Organization (INTERPOL) programme in Marrakech."
)
DATA = Path(__file__).parent / "data"


def codes(flags: list) -> list[str]:  # type: ignore[type-arg]
    return [f.code for f in flags]


def test_a_changed_figure_is_flagged_and_the_honest_one_is_not() -> None:
    changed = "Revenue reached 17.8 billion dollars in 2025."
    honest = "Revenue reached $17.3bn in 2025, up 12 percent, with 1,200 staff in 5 countries."
    [flag] = check_numbers(SOURCE, changed, "summarize")
    assert flag.code == "number_not_in_source" and flag.span == "17.8 billion"
    assert check_numbers(SOURCE, honest, "summarize") == []


@pytest.mark.parametrize(
    "text",
    [
        "Le chiffre d'affaires a atteint 17,3 milliards de dollars, avec 1 200 salariés.",
        "Le chiffre d'affaires a atteint 17\u202f300\u202f000\u202f000 dollars (+12 %).",
        "بلغت الإيرادات ١٧٫٣ مليار دولار في ٢٠٢٥ بزيادة ١٢٪ مع ١٬٢٠٠ موظف",
        "بلغت الإيرادات ۱۷٫۳ مليار دولار مع ۱۲۰۰ موظف",
    ],
)
def test_numbers_match_across_locales_and_digit_systems(text: str) -> None:
    assert check_numbers(SOURCE, text, "translate") == []


def test_a_wrong_arabic_indic_number_is_flagged() -> None:
    [flag] = check_numbers(SOURCE, "انضم ١٣٠٠ موظف إلى البرنامج", "translate:ar")
    assert flag.span == "١٣٠٠"


def test_number_readings() -> None:
    values = {m.text: m.values for m in numbers("17.3 billion, 1,200, 1 200, ٣٠٠ and 45%")}
    assert values["17.3 billion"] >= {17.3e9} and 173.0 not in values["17.3 billion"]
    assert values["1,200"] == {1200.0, 1.2}
    assert values["1 200"] == {1200.0} and values["٣٠٠"] == {300.0}


def test_invented_names_and_acronyms_are_flagged() -> None:
    invented = "The United Nations Security Council met Europol in Marrakech."
    flags = check_names(SOURCE, invented, "summarize")
    assert [f.span for f in flags] == [
        "United Nations Security Council",
        "Europol",
    ] or "United Nations Security Council" in [f.span for f in flags]
    honest = "INTERPOL's programme: the International Criminal Police Organization met."
    assert check_names(SOURCE, honest, "summarize") == []


def test_names_have_no_false_positives_on_the_sample_articles() -> None:
    """Every real sentence of every sample article, checked against its own article."""
    sentences = 0
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for sentence in split_sentences(normalize(text)):
            sentences += 1
            assert check_names(text, sentence, "s") == [], sentence
            assert check_numbers(text, sentence, "s") == [], sentence
    assert sentences > 50


def test_names_across_articles_catch_real_differences() -> None:
    from summarize.checks.names import _fold

    a = (SEEDS / "000_c73dff72cbaff43d.txt").read_text(encoding="utf-8")
    b = (SEEDS / "004_a5efb876e58d0b7a.txt").read_text(encoding="utf-8")
    flagged = {f.span for s in split_sentences(normalize(b)) for f in check_names(a, s, "s")}
    assert flagged, "another article's names should not all be in this one"
    assert all(_fold(span) not in _fold(a) for span in flagged)


def test_a_french_translation_that_is_really_english() -> None:
    detect = LangdetectDetector(Settings()).detect
    english = (
        "The General Assembly of INTERPOL opened on Monday in Marrakech with delegates "
        "from many countries."
    )
    french = (
        "L'Assemblée générale d'INTERPOL s'est ouverte lundi à Marrakech en présence de "
        "délégués de nombreux pays."
    )
    [flag] = check_language(english, "fr", "translate:fr", detect)
    assert flag.code == "wrong_language" and "reads as en" in flag.message
    assert check_language(french, "fr", "translate:fr", detect) == []


def test_loops_empty_and_overlong_outputs() -> None:
    loop = "The assembly met. The meeting was held in in in in Marrakech."
    assert codes(check_degenerate(loop, "summarize")) == ["degenerate"]
    phrase = "the police chiefs met the police chiefs met the police chiefs met again"
    assert "repeated 3 times" in check_degenerate(phrase, "summarize")[0].message
    assert codes(check_degenerate("   ", "summarize")) == ["degenerate"]
    assert codes(check_degenerate("A long summary.", "summarize", source="Short.")) == [
        "degenerate"
    ]
    honest = "The assembly met in Marrakech; delegates from 196 countries attended."
    assert check_degenerate(honest, "summarize", source=SOURCE) == []


def test_summarize_check_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from summarize.cli import app

    source = tmp_path / "source.txt"
    source.write_text(SOURCE, encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "Revenue reached 17.8 billion dollars, the United Nations Security Council said.",
        encoding="utf-8",
    )
    good = tmp_path / "good.txt"
    good.write_text("Revenue reached 17.3 billion dollars in 2025, up 12%.", encoding="utf-8")
    runner = CliRunner()
    flagged = runner.invoke(app, ["check", str(source), str(bad), "--lang", "en"])
    assert flagged.exit_code == 1
    assert "number_not_in_source: '17.8 billion'" in flagged.output
    assert "name_not_in_source" in flagged.output
    clean = runner.invoke(app, ["check", str(source), str(good), "--lang", "en"])
    assert clean.exit_code == 0 and "no warnings" in clean.output
    french = tmp_path / "fr.txt"
    french.write_text(
        "The revenue reached 17.3 billion dollars in 2025, the company said on Monday.",
        encoding="utf-8",
    )
    wrong = runner.invoke(app, ["check", str(source), str(french), "--lang", "fr", "--json"])
    assert wrong.exit_code == 1
    assert [w["code"] for w in json.loads(wrong.output)] == ["wrong_language"]
    missing = runner.invoke(app, ["check", str(source), str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2


def test_warnings_reach_json_markdown_and_html(tiny: dict[str, Path], tmp_path: Path) -> None:
    from conftest import tiny_overrides

    from summarize import load_settings, run

    out = tmp_path / "out"
    report = run(
        [SEEDS],
        # Per-article briefs: with stories, the seeds' brief is their story (test_stories).
        load_settings(overrides=tiny_overrides(tiny, out, formats="json,md,html", stories=False)),
    )
    docs = [json.loads(Path(r.output).read_text(encoding="utf-8")) for r in report.results]  # type: ignore[arg-type]
    flagged = [w for doc in docs for w in doc["warnings"]]
    # Random-weight models write loops and English-looking gibberish for ar/fr targets.
    assert flagged, "tiny models' output should draw warnings"
    assert {w["code"] for w in flagged} <= {
        "number_not_in_source",
        "name_not_in_source",
        "content_not_in_source",
        "date_not_in_source",
        "place_not_in_source",
        "wrong_language",
        "degenerate",
        # Random weights rarely choose to end: they run to the length limit, and it is said.
        "truncated_output",
    }
    assert any(w["code"] == "truncated_output" for w in flagged)
    md = (out / "brief.md").read_text(encoding="utf-8")
    page = (out / "brief.html").read_text(encoding="utf-8")
    # Briefs speak to the reader, in the desk's wording; the operator's advice stays in the
    # report and the logs.
    from summarize.briefs import _md_escape
    from summarize.review import for_editor, stages

    for doc in docs:
        slots = {stage: (name, lang) for name, (stage, lang) in stages(doc).items()}
        for warning in doc["warnings"]:
            words = for_editor(warning, *slots[warning["stage"]])
            assert f"> ⚠ {_md_escape(words)}" in md
            assert f'data-stage="{warning["stage"]}"' in page
            assert f'data-code="{warning["code"]}"' in page
    assert "max_new_tokens" not in md and "max_new_tokens" not in page
    assert all({"code", "stage", "message", "span"} == set(w) for w in flagged)


@pytest.mark.parametrize("apostrophe", ["'", "’"])
def test_french_elision_is_stripped_in_candidates_and_sources(apostrophe: str) -> None:
    source = f"La réunion d{apostrophe}Interpol s'ouvre à Marrakech. INTERPOL compte 196 pays."
    for honest in (f"Le rôle de l{apostrophe}INTERPOL grandit.", "Selon Interpol, tout va bien."):
        assert check_names(source, honest, "s", "fr") == [], honest
    for elided, name in (
        (f"l{apostrophe}ONU", "ONU"),
        (f"jusqu{apostrophe}à l{apostrophe}OTAN", "OTAN"),
    ):
        flags = check_names(source, f"Le rapport cite {elided} et Marrakech.", "s", "fr")
        assert [f.span for f in flags] == [name]


def test_single_word_names_are_checked_where_a_capital_means_a_name() -> None:
    source = "The assembly opened in Marrakech on Monday. Morocco hosted it in November."
    flagged = check_names(source, "The assembly opened in Paris, said Macron.", "s", "en")
    assert [f.span for f in flagged] == ["Paris", "Macron"]
    # Sentence starts, days, months, titles, directions and demonyms are not names.
    honest = (
        "Delegates met on Monday. President and General spoke: Moroccan hosts welcomed "
        "them in November, between East and West. “Cooperation” matters."
    )
    assert check_names(source, honest, "s", "en") == []
    # German capitalises every noun: only acronyms and runs of capitals count there.
    assert check_names(source, "Die Versammlung tagte in Marrakech.", "s", "de") == []
    # The same country in another language is the same name.
    assert check_names(source, "L'Assemblée s'est ouverte au Maroc.", "s", "fr") == []


def test_name_check_figures_as_measured() -> None:
    """bench/names.py's figures, which the README reports, hold."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("names_bench", ROOT / "bench" / "names.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    m = bench.measure()
    assert m["sample_false_alarms"] == 0 and m["sample_sentences"] >= 80
    for lang in ("en", "fr"):
        assert m[lang]["false_alarms"] == [] and m[lang]["missed"] == []
        assert m[f"heldout_{lang}"]["missed"] == []
    assert m["heldout_en"]["false_alarms"] == []
    assert m["heldout_fr"]["false_alarms"] == ["Intérieur"]  # "Interior": a known miss


def test_number_words_are_parsed_not_summed() -> None:
    """`quatre-vingt-dix` is 90 (not 4 + 20 + 10), in every language text2num reads."""
    for source, candidate in (
        ("quatre-vingt-dix délégations sont venues", "90 délégations"),
        ("soixante-dix pays ont signé", "70 pays"),
        ("one hundred and ninety-six member states", "196 member states"),
        ("noventa delegaciones", "90 delegaciones"),
        ("the forty-seventh conference", "the 47th conference"),
    ):
        assert check_numbers(source, candidate, "s") == [], (source, candidate)
    assert [f.span for f in check_numbers("quatre-vingt-dix pays", "34 pays", "s")] == ["34"]


# -- real summaries' patterns (FRANK): false alarms gone, misses found ----------------------

WIRE = (
    "Hungarian officials said on Monday that the five-year-old girl was found safe in Budapest. "
    "Police said the reward of £50,000 offered by her family would be paid. Half a million "
    "people had shared the appeal, and two-thirds of them were in Hungary. The PM, Dr Ferenc "
    "Kovacs of the interior ministry and Sen. Mark Hall thanked volunteers."
)


def check(candidate: str, lang: str = "en", source: str = WIRE) -> list[tuple[str, str]]:
    from summarize.checks import check_text

    flags = check_text(
        source, candidate, "summarize", lang, None, is_summary=True, source_lang="en"
    )
    return [(f.code, f.span) for f in flags]


@pytest.mark.parametrize(
    "honest",
    [
        "PM thanks volunteers after the girl is found.",  # a title, not a name
        "The MP and Dr Kovacs thanked volunteers; Sen. Hall did too.",
        "A 5-year-old girl was found safe in Budapest.",  # five-year-old, in digits
        "Some 500,000 people shared the appeal.",  # half a million
        "a reward of £50, 000 will be paid .",  # a number split by tokenisation
        "UNK officials said the girl was found -LRB- in budapest -RRB- .",  # placeholders
        "the pm said the five-year-old was found safe on monday in hungary .",  # lower case
    ],
)
def test_real_summaries_false_alarms_are_gone(honest: str) -> None:
    assert check(honest) == [], honest


def test_a_lower_cased_summary_still_has_its_names() -> None:
    from summarize.checks.names import truecase

    assert truecase("dr ferenc kovacs of the interior ministry", WIRE) == (
        "Dr Ferenc Kovacs of the interior ministry"
    )
    # An invented name in lower case has no capital to give it away: it is content the
    # article does not have, and rare.
    assert ("content_not_in_source", "orban") in check("viktor orban thanked the volunteers .")


def test_places_and_days_the_source_does_not_give_are_flagged() -> None:
    assert check("the girl was found in linz , austria on tuesday .") == [
        ("date_not_in_source", "tuesday"),
        ("place_not_in_source", "austria"),
        ("content_not_in_source", "linz"),
    ]
    # Compared by meaning across languages; `may` and `turkey` only when capitalised.
    assert check("La fillette a été retrouvée lundi en Hongrie.", "fr") == []
    assert check("officials may say more about the turkey served to volunteers .") == []
    assert ("date_not_in_source", "May") in check("Officials will say more in May.")


def test_content_the_article_does_not_have_is_its_own_warning() -> None:
    # One rare new word is enough; `announced` and `died` are common.
    assert check("the girl was found by a schnauzer , police announced .") == [
        ("content_not_in_source", "schnauzer")
    ]
    # Two merely uncommon new words are too (neither alone would be).
    assert check("a suspected overdose , police announced .") == [
        ("content_not_in_source", "overdose"),
        ("content_not_in_source", "suspected"),
    ]
    assert check("police announced a suspected case .") == []
    # Only for a summary in its source's language: a translation's words are all new.
    from summarize.checks import check_text

    french = check_text(
        WIRE, "La fillette a été retrouvée saine et sauve.", "translate:fr", "fr", None
    )
    assert [f.code for f in french] == []


def test_spelled_numbers_in_a_summary_are_checked_from_ten_up() -> None:
    assert check("twenty people shared the appeal .") == [("number_not_in_source", "twenty")]
    assert check("one of the three officials and hundreds of volunteers .") == []


def test_warning_figures_on_the_development_half() -> None:
    """The issue's targets, on FRANK's development half (skipped where it is absent)."""
    data = ROOT.parent / "shared" / "data" / "factuality-dev" / "frank-valid.jsonl"
    if not data.exists():
        pytest.skip(f"no {data}: the development data sits beside the repository in CI")
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from factuality import measure

    out = measure(data)
    overall = out["overall"]
    assert overall["false_alarm_rate"] <= 0.05
    assert overall["recall"] >= 0.30
    assert overall["balanced_accuracy"] >= 0.62
    assert out["by_code"]["number_not_in_source"]["precision"] >= 0.95


def test_the_checks_are_safe_under_concurrency() -> None:
    """Reproduced: one Snowball stemmer shared by the service's threads raised IndexError
    (a desk request answered 500 after its write had been committed)."""
    from concurrent.futures import ThreadPoolExecutor

    from summarize.checks.novelty import novel_words

    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    jobs = [(seeds[i % 5], seeds[(i + 1) % 5]) for i in range(160)]
    expected = [novel_words(src, cand, "en") for src, cand in jobs[:5]]
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda job: novel_words(job[0], job[1], "en"), jobs))
    assert all(got[i] == expected[i % 5] for i in range(len(jobs)))
