"""Scoring against values computed independently: sacrebleu's documented example, and ROUGE
worked out by hand (in the comments) for Arabic and French."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, tiny_args
from typer.testing import CliRunner

from summarize.cli import app
from summarize.evaluate import UnicodeTokenizer, rouge, translation_scores

# sacrebleu's README example: BLEU = 48.53, chrF2 = 59.73 (two reference sets).
HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFS_A = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]
REFS_B = ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]


def test_bleu_and_chrf_match_sacrebleus_documented_example() -> None:
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    assert round(BLEU().corpus_score(HYPS, [REFS_A, REFS_B]).score, 2) == 48.53
    assert round(CHRF().corpus_score(HYPS, [REFS_A, REFS_B]).score, 2) == 59.73
    # Our wrapper, with one reference set, on cases whose value is known by construction.
    same = translation_scores(["le chat est noir"], ["le chat est noir"])
    assert same["bleu"] == 100.0 and same["chrf++"] == 100.0
    disjoint = translation_scores(["xyz"], ["abc"])
    assert disjoint["bleu"] == 0.0 and disjoint["chrf++"] == 0.0
    assert "nw:2" in same["chrf++_signature"] and "tok:13a" in same["bleu_signature"]


def test_rouge_on_arabic_by_hand() -> None:
    # pred: قال الرئيس إن الاجتماع ناجح (5 tokens); ref: قال الرئيس إن المؤتمر ناجح جدا (6)
    # ROUGE-1: 4 shared -> P 4/5, R 4/6, F1 = 8/11 = 72.73
    # ROUGE-2: 2 shared bigrams of 4 and 5 -> P 1/2, R 2/5, F1 = 4/9 = 44.44
    # ROUGE-L: LCS 4 (قال الرئيس إن ناجح) -> 72.73
    scores = rouge(["قال الرئيس إن الاجتماع ناجح"], ["قال الرئيس إن المؤتمر ناجح جدا"])
    assert (scores["rouge1"], scores["rouge2"], scores["rougeL"]) == (72.73, 44.44, 72.73)
    assert "tok:unicode-words.v1" in scores["signature"]


def test_the_stock_rouge_tokenizer_would_drop_arabic_ours_does_not() -> None:
    from rouge_score import tokenize

    text = "قالَ الرئيسُ إنّ الاجتماع ناجح"
    assert tokenize.tokenize(text, None) == []
    assert UnicodeTokenizer().tokenize(text) == ["قال", "الرئيس", "إن", "الاجتماع", "ناجح"]
    # French: case and accents kept as letters, case folded.
    assert UnicodeTokenizer().tokenize("Élection présidentielle") == ["élection", "présidentielle"]
    same = rouge(["Élection présidentielle"], ["élection Présidentielle"])
    assert same["rouge1"] == 100.0


def test_eval_from_the_cli(tiny: dict[str, Path], tmp_path: Path) -> None:
    refs = tmp_path / "refs.jsonl"
    text = (SEEDS / "002_368337d6acc914b1.txt").read_text(encoding="utf-8")
    refs.write_text(
        json.dumps(
            {
                "id": "a1",
                "text": text,
                "summary_ref": "INTERPOL praised Morocco in Marrakech.",
                "translations_ref": {
                    "ar": "أشاد الإنتربول بالمغرب في مراكش.",
                    "fr": "INTERPOL a salué le Maroc à Marrakech.",
                },
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(refs), "-o", str(out), *tiny_args(tiny)])
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    assert scores["scored"] == 1
    assert set(scores["summary"]) >= {"rouge1", "rouge2", "rougeL", "signature"}
    assert set(scores["translations"]) == {"ar", "fr"}
    assert "BLEU" in result.output and "chrF++" in result.output


def test_eval_needs_text_or_sources(tmp_path: Path) -> None:
    refs = tmp_path / "refs.jsonl"
    refs.write_text('{"id": "x", "summary_ref": "s"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(refs)])
    assert result.exit_code == 2 and "--sources" in result.output


@pytest.mark.parametrize("bad", ["{oops", '{"no_id": 1}'])
def test_eval_bad_reference_lines(tmp_path: Path, bad: str) -> None:
    refs = tmp_path / "refs.jsonl"
    refs.write_text(bad + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(refs)])
    assert result.exit_code == 2 and f"{refs}:1" in result.output
