from __future__ import annotations

import pytest

from summarize.text import normalize, pack, safe_name, split_sentences, text_hash


def test_latin_sentences_keep_abbreviations_decimals_and_initials() -> None:
    text = (
        "Dr. Major General Ahmed Nasser Al Raisi spoke on Monday. Profits rose 17.3 percent to "
        '$4.5 bn! Is it true? He said "yes." Then J. Smith left. The U.S. delegation agreed.'
    )
    assert split_sentences(text) == [
        "Dr. Major General Ahmed Nasser Al Raisi spoke on Monday.",
        "Profits rose 17.3 percent to $4.5 bn!",
        "Is it true?",
        'He said "yes."',
        "Then J. Smith left.",
        "The U.S. delegation agreed.",
    ]


def test_arabic_question_mark_ends_a_sentence_but_comma_and_semicolon_do_not() -> None:
    text = "افتتح الرئيس الدورة في مراكش، يوم الاثنين. هل التعاون ضروري؟ نعم؛ إنه ضروري. والمغرب يستضيف"
    assert split_sentences(text) == [
        "افتتح الرئيس الدورة في مراكش، يوم الاثنين.",
        "هل التعاون ضروري؟",
        "نعم؛ إنه ضروري.",
        "والمغرب يستضيف",
    ]


def test_french_guillemets_stay_with_their_sentence() -> None:
    text = "M. Macron a dit : « Nous irons. » Le président est arrivé."
    assert split_sentences(text) == [
        "M. Macron a dit : « Nous irons. »",
        "Le président est arrivé.",
    ]


def test_real_sample_sentences_are_not_split_inside_names(seed_texts: list[str]) -> None:
    for text in seed_texts:
        for sentence in split_sentences(normalize(text)):
            assert not sentence.endswith((" Dr.", " Mr.", " Gen."))
            assert len(sentence) > 3


@pytest.fixture
def seed_texts() -> list[str]:
    from conftest import SEEDS

    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]


def words(pieces: object) -> list[int]:
    return [len(str(p).split()) for p in pieces]  # type: ignore[attr-defined]


def test_pack_respects_the_budget_and_drops_nothing() -> None:
    sentences = ["one two three", "four five", "six seven eight nine ten eleven twelve", "x"]
    chunks = pack(sentences, words, budget=5)
    assert all(n <= 5 for n in words(chunks))
    assert " ".join(chunks).split() == " ".join(sentences).split()


def test_pack_cuts_an_overlong_sentence_and_a_spaceless_string() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(23))
    chunks = pack([long_sentence], words, budget=4)
    assert all(n <= 4 for n in words(chunks))
    assert " ".join(chunks).split() == long_sentence.split()
    blob = "a" * 50
    parts = pack([blob], lambda ps: [len(p) for p in ps], budget=8)
    assert "".join(parts).replace(" ", "") == blob
    assert all(len(p.replace(" ", "")) <= 8 for p in parts)


def test_hash_ignores_whitespace_and_unicode_composition() -> None:
    assert text_hash("Caf\u00e9  au\nlait ") == text_hash("Cafe\u0301 au lait")
    assert text_hash("a") != text_hash("b")


@pytest.mark.parametrize(
    "article_id",
    [
        "../../etc/x",
        "/abs/path",
        "a\x00b",
        "CON",
        "x" * 500,
        "report",
        ".hidden",
        "sub/a.txt",
        "\u202e\u0001",
    ],
)
def test_safe_names_stay_inside_the_folder(article_id: str) -> None:
    name = safe_name(article_id)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".")
    assert len(name) <= 110
    assert name != article_id  # something had to change, so a hash was added


def test_safe_names_do_not_collide_and_keep_plain_ids() -> None:
    assert safe_name("000_c73dff72cbaff43d.txt") == "000_c73dff72cbaff43d.txt"
    assert safe_name("a/b") != safe_name("a_b")
    assert safe_name("a?b") != safe_name("a*b")
