"""Stories and headlines: articles on one event grouped across outlets and languages, a story
summary in every language, near-duplicates summarised once, headlines found and translated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, tiny_overrides

from summarize import load_settings, run
from summarize.ingest import headline
from summarize.stories import Member, features, group, shingles

EVAL = json.loads((ROOT / "tests" / "data" / "stories_eval.json").read_text(encoding="utf-8"))
HEADLINED = {
    "001_91f3ff2c96f99f79.txt": "Raisi: INTERPOL’s activities have gained exceptional recognition",
    "002_368337d6acc914b1.txt": "Marrakech Hosts 93rd INTERPOL General Assembly as "
    "Organization Praises Morocco’s Global Security Leadership",
}


def test_a_headline_is_a_short_first_line_that_does_not_end_like_a_sentence() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        assert headline(path.read_text(encoding="utf-8")) == HEADLINED.get(path.name), path.name
    assert headline("Raisi : les activités d’INTERPOL saluées\nMARRAKECH - Le président...")
    assert headline("One line only, no body") is None
    assert headline("A sentence that ends.\nThe body.") is None
    assert headline("x" * 201 + "\nbody") is None


def _members(with_eval: bool) -> tuple[list[Member], list[str]]:
    arts = [
        (p.name, "en", p.read_text(encoding="utf-8"), "interpol")
        for p in sorted(SEEDS.glob("*.txt"))
    ]
    if with_eval:
        arts += [(a["id"], a["lang"], a["text"], a["story"]) for a in EVAL["articles"]]
    members = [
        Member(str(i), aid, lang, None, None, features(text, lang), shingles(text), float(i))
        for i, (aid, lang, text, _) in enumerate(arts)
    ]
    return members, [a[3] for a in arts]


def test_grouping_as_measured_on_the_seeds_and_unrelated_articles() -> None:
    """The figures the README gives: every pair right at the default threshold."""
    members, labels = _members(with_eval=True)
    groups, duplicates = group(members, 0.2)
    story = {k: n for n, g in enumerate(groups) for k in g}
    right = wrong = missed = apart = 0
    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            same, together = labels[i] == labels[j], story[i] == story[j]
            right += same and together
            missed += same and not together
            wrong += together and not same
            apart += not same and not together
    assert (right, missed, wrong, apart) == (22, 0, 0, 56)
    names = [m.id for m in members]
    assert {names[k]: names[v] for k, v in duplicates.items()} == {
        "en-interpol-wire": "001_91f3ff2c96f99f79.txt"
    }
    seeds_only, _ = _members(with_eval=False)
    assert [len(g) for g in group(seeds_only, 0.2)[0]] == [5]


def test_the_seeds_are_one_story_with_a_summary_in_every_language(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    settings = load_settings(overrides=tiny_overrides(tiny, out, formats="json,md,html"))
    report = run([SEEDS], settings)
    assert report.ok
    ids = {r.story.id if r.story else None for r in report.results}
    assert len(ids) == 1 and None not in ids
    assert all(r.story is not None and r.story.size == 5 for r in report.results)
    titles = {r.article.id: r.article.title for r in report.results}
    assert {k: v for k, v in titles.items() if v} == HEADLINED
    for r in report.results:
        assert set(r.titles) == ({"ar", "fr"} if r.article.title else set())
    doc = json.loads((out / "stories.json").read_text(encoding="utf-8"))
    [story] = doc["stories"]
    assert story["size"] == 5 and story["languages"] == ["en"] and story["outlets"] == ["seeds"]
    assert story["summary"]["text"] and set(story["translations"]) == {"ar", "fr"}
    assert story["headline"] in HEADLINED.values()
    assert {m["id"] for m in story["members"]} == set(titles)
    md = (out / "brief.md").read_text(encoding="utf-8")
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert md.index("### Story summary") < md.index("### Articles")
    assert "<article" not in page and page.count('<section class="story"') == 1
    assert page.count('dir="rtl" lang="ar"') == 1  # the story summary's Arabic
    for title in HEADLINED.values():
        assert title.split(":")[0] in md
    # A rerun is fully cached, the story summary too.
    again = run([SEEDS], settings)
    assert all(r.all_cached for r in again.results)
    redoc = json.loads((out / "stories.json").read_text(encoding="utf-8"))["stories"][0]
    assert all(rec["cached"] for rec in redoc["provenance"].values())
    assert redoc["summary"] == story["summary"] and redoc["id"] == story["id"]


@pytest.mark.slow
def test_other_events_stay_apart_a_french_report_joins_and_a_copy_is_summarised_once(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    shutil.copytree(SEEDS, inbox)
    for art in EVAL["articles"]:
        (inbox / f"{art['id']}.txt").write_text(art["text"], encoding="utf-8")
    overrides = tiny_overrides(tiny, out)
    # German and Spanish articles reach English through the tiny any-to-any model.
    overrides["translators"] += [f"de-en={tiny['m2m100']}", f"es-en={tiny['m2m100']}"]
    report = run([inbox], load_settings(overrides=overrides))
    assert report.ok, [o.error for o in report.failed]
    by_id = {r.article.id: r for r in report.results}
    label = {p.name: "interpol" for p in SEEDS.glob("*.txt")}
    label.update({f"{a['id']}.txt": a["story"] for a in EVAL["articles"]})
    for a in by_id.values():
        for b in by_id.values():
            assert (a.story == b.story) == (label[a.article.id] == label[b.article.id]), (
                a.article.id,
                b.article.id,
            )
    copy, original = by_id["en-interpol-wire.txt"], by_id["001_91f3ff2c96f99f79.txt"]
    assert copy.duplicate_of == original.article.id
    assert copy.summary == original.summary  # the same summary, computed once
    stories = json.loads((out / "stories.json").read_text(encoding="utf-8"))["stories"]
    interpol = next(s for s in stories if s["size"] == 7)
    assert interpol["languages"] == ["en", "fr"]
    assert "en-interpol-wire.txt" not in interpol["summary"]["from"]  # a copy adds nothing


def test_stories_grow_across_runs_sharing_a_folder_and_can_be_turned_off(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    out = tmp_path / "out"
    settings = load_settings(overrides=tiny_overrides(tiny, out))
    first = run(seeds[:3], settings)
    second = run(seeds[3:], settings)
    assert first.ok and second.ok
    [story] = json.loads((out / "stories.json").read_text(encoding="utf-8"))["stories"]
    assert story["size"] == 5
    assert {r.story.id for r in second.results if r.story} == {story["id"]}
    off = tmp_path / "off"
    quiet = run(seeds, load_settings(overrides=tiny_overrides(tiny, off, stories=False)))
    assert quiet.ok and all(r.story is None for r in quiet.results)
    assert not (off / "stories.json").exists()
