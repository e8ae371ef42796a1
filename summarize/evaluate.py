"""Evaluate: score the pipeline's summaries and translations against references.

ROUGE-1/2/L for summaries (with a tokenizer that keeps Arabic and accented letters: the stock
`rouge-score` tokenizer drops every non-Latin letter), BLEU and chrF++ for translations with
sacrebleu, each reported with its signature so a score can be compared and reproduced.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from summarize.config import Settings
from summarize.errors import InputError, UsageError

EVAL_FILE = "eval.json"
_WORD = re.compile(r"\w+", re.UNICODE)
# Arabic short vowels and other marks (tashkeel) and the tatweel do not change a word.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


class UnicodeTokenizer:
    """Tokens for ROUGE in any script: NFKC, case-folded, Arabic marks removed, words kept."""

    name = "unicode-words.v1"

    def tokenize(self, text: str) -> list[str]:
        text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text).casefold())
        return _WORD.findall(text)


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Mean ROUGE-1/2/L F1 (0-100) over pairs, with a signature."""
    from rouge_score import rouge_scorer

    tokenizer = UnicodeTokenizer()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=tokenizer)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(1, len(predictions))
    import importlib.metadata

    signature = (
        f"rouge-score:{importlib.metadata.version('rouge-score')}|tok:{tokenizer.name}"
        f"|stem:no|measure:f1|n:{len(predictions)}"
    )
    return {key: round(100 * value / n, 2) for key, value in totals.items()} | {
        "signature": signature
    }


def translation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF++ with sacrebleu, with their signatures."""
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    bleu, chrf = BLEU(), CHRF(word_order=2)
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": round(bleu_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf++": round(chrf_score.score, 2),
        "chrf++_signature": str(chrf.get_signature()),
        "n": len(hypotheses),
    }


def read_references(path: Path) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}", f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or "id" not in obj:
            raise InputError(f"{path}:{number}", "each line needs an 'id'")
        items.append(obj)
    if not items:
        raise UsageError(f"{path} has no references")
    return items


def evaluate(
    references_path: Path, settings: Settings, sources: Sequence[str | Path] | None = None
) -> dict[str, Any]:
    """Run the pipeline on the references' articles (or on `sources`), score the outputs, and
    write the scores to `<output>/eval.json` (atomically); returns them."""
    from summarize.api import run
    from summarize.files import atomic_write

    refs = read_references(references_path)
    if sources:
        report = run(sources, settings)
    else:
        missing = [r["id"] for r in refs if not isinstance(r.get("text"), str)]
        if missing:
            raise UsageError(
                f"references without 'text' ({', '.join(map(str, missing[:3]))}); "
                "give the articles with --sources"
            )
        with tempfile.TemporaryDirectory() as tmp:
            feed = Path(tmp) / "articles.jsonl"
            feed.write_text(
                "".join(
                    json.dumps({"id": str(r["id"]), "text": r["text"]}, ensure_ascii=False) + "\n"
                    for r in refs
                ),
                encoding="utf-8",
            )
            report = run([feed], settings)
    produced = {r.article.id: r for r in report.results}
    scored = [r for r in refs if str(r["id"]) in produced]
    out: dict[str, Any] = {
        "references": len(refs),
        "scored": len(scored),
        "failed": [{"id": o.id, "error": o.error.message} for o in report.failed if o.error],
    }
    pairs = [
        (produced[str(r["id"])].summary.text, r["summary_ref"])
        for r in scored
        if isinstance(r.get("summary_ref"), str)
    ]
    if pairs:
        out["summary"] = rouge([p for p, _ in pairs], [ref for _, ref in pairs])
    out["translations"] = {}
    for target in settings.targets:
        tpairs = [
            (produced[str(r["id"])].translations[target].text, r["translations_ref"][target])
            for r in scored
            if isinstance(r.get("translations_ref"), dict)
            and isinstance(r["translations_ref"].get(target), str)
            and target in produced[str(r["id"])].translations
        ]
        if tpairs:
            out["translations"][target] = translation_scores(
                [h for h, _ in tpairs], [ref for _, ref in tpairs]
            )
    text = json.dumps(out, ensure_ascii=False, indent=2) + "\n"
    atomic_write(settings.output_dir / EVAL_FILE, text.encode("utf-8"))
    return out


# -- what editors' corrections say about the models ----------------------------------------


def _kind(field: str, source_lang: str, target_lang: str) -> str:
    """A summary is scored with ROUGE; a translation (a headline too) with BLEU and chrF++."""
    if field == "summary" or (field.startswith("story_summary:") and source_lang == target_lang):
        return "summary"
    return "translation"


def from_edits(store: Any) -> dict[str, Any]:
    """Score the machine text against the approved edits, per model and language pair: ROUGE
    for summaries, BLEU and chrF++ for translations (with signatures), and the share of
    fields approved unchanged, so a newsroom sees which model or pair needs attention."""
    from summarize.review.model import SOURCE_FIELDS

    approved = [e for e in store.all("approved") if e.field not in SOURCE_FIELDS]
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for edit in approved:
        kind = _kind(edit.field, edit.source_lang, edit.target_lang)
        pair = edit.target_lang if kind == "summary" else f"{edit.source_lang}-{edit.target_lang}"
        groups.setdefault((kind, edit.model, pair), []).append(edit)
    rows = []
    for (kind, model, pair), edits in sorted(groups.items()):
        machine = [e.machine_text for e in edits]
        final = [e.text for e in edits]
        row: dict[str, Any] = {
            "kind": kind,
            "model": model,
            "pair": pair,
            "approved": len(edits),
            "unchanged": sum(not e.changed for e in edits),
            "unchanged_share": round(sum(not e.changed for e in edits) / len(edits), 4),
        }
        if kind == "summary":
            row["scores"] = rouge(machine, final)
        else:
            row["scores"] = translation_scores(machine, final)
        rows.append(row)
    return {
        "approved": len(approved),
        "unchanged": sum(not e.changed for e in approved),
        "drafts": len(store.all("draft")),
        "groups": rows,
    }


def export_edits(store: Any, *, include_drafts: bool = False) -> str:
    """One JSON line per correction: what the model read, what it wrote, what was approved."""
    from summarize.review import when

    lines = []
    edits = store.all() if include_drafts else store.all("approved")
    for e in edits:
        source = e.input_text or store.source(e.input_hash) or ""
        doc = {
            "scope": e.scope,
            "item": e.item,
            "field": e.field,
            "status": e.status,
            "model": e.model,
            "source_lang": e.source_lang,
            "target_lang": e.target_lang,
            "input": source,
            "machine": e.machine_text,
            "edited": e.text,
            "changed": e.changed,
            "editor": e.editor,
            "at": when(e.at),
        }
        lines.append(json.dumps(doc, ensure_ascii=False) + "\n")
    return "".join(lines)
