"""How well the warnings catch real models' unfaithful summaries.

    python bench/factuality.py --data ../shared/data/factuality-dev/frank-valid.jsonl [--json]
    python bench/factuality.py --data ... --entailment     # with the NLI model, when present

FRANK (Pagnoni et al., 2021): real summaries of CNN/DailyMail and XSum (BBC) articles by nine
models, labelled by people (1 = every sentence faithful). Each summary is checked against its
article by the product's own checks (`summarize.checks.check_text`, as a summary in English);
"any warning" is read as "not faithful". Printed: balanced accuracy, precision, recall and the
false-alarm rate on faithful summaries; the same per warning code, the recall per error
category (`EntE`, `CircE`, `OutE`, ...), and the figures per dataset and per model. Skipped,
saying so, when the file is absent (a user's clone does not have it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from summarize.checks import check_text


def _scores(rows: list[tuple[bool, bool]]) -> dict[str, Any]:
    """rows: (unfaithful by the people, warned by the checks)."""
    tp = sum(1 for bad, warned in rows if bad and warned)
    fp = sum(1 for bad, warned in rows if not bad and warned)
    bad = sum(1 for b, _ in rows if b)
    good = len(rows) - bad
    recall = tp / bad if bad else float("nan")
    false_alarms = fp / good if good else float("nan")
    return {
        "summaries": len(rows),
        "unfaithful": bad,
        "warned": tp + fp,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(recall, 3),
        "false_alarm_rate": round(false_alarms, 3),
        "balanced_accuracy": round((recall + 1 - false_alarms) / 2, 3) if bad and good else None,
    }


def measure(path: Path, entailment: bool = False) -> dict[str, Any]:
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    checker: Any = None
    if entailment:
        from summarize.config import load_settings
        from summarize.plan import load_entailment

        checker = load_entailment(load_settings())
    flagged: list[set[str]] = []
    for r in records:
        flags = check_text(
            r["source"], r["summary"], "summarize", "en", None, is_summary=True, source_lang="en"
        )
        if checker is not None:
            flags += checker.check(r["source"], r["summary"], "summarize")
        flagged.append({f.code for f in flags})
    bad = [r["label"] == 0 for r in records]
    out: dict[str, Any] = {
        "file": str(path),
        "overall": _scores([(b, bool(codes)) for b, codes in zip(bad, flagged, strict=True)]),
    }
    codes = sorted({c for cs in flagged for c in cs})
    out["by_code"] = {
        code: _scores([(b, code in cs) for b, cs in zip(bad, flagged, strict=True)])
        for code in codes
    }
    categories: dict[str, list[bool]] = defaultdict(list)
    for r, codes_here in zip(records, flagged, strict=True):
        for category in r["categories"]:
            categories[category].append(bool(codes_here))
    out["recall_by_category"] = {
        c: {"unfaithful": len(v), "recall": round(sum(v) / len(v), 3)}
        for c, v in sorted(categories.items())
    }
    for key, name in (("dataset", "by_dataset"), ("model_name", "by_model")):
        groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
        for r, b, cs in zip(records, bad, flagged, strict=True):
            groups[str(r[key])].append((b, bool(cs)))
        out[name] = {g: _scores(rows) for g, rows in sorted(groups.items())}
    return out


def _line(name: str, s: dict[str, Any]) -> str:
    return (
        f"{name:<24} n={s['summaries']:<4} warned={s['warned']:<4} "
        f"precision={s['precision']} recall={s['recall']} "
        f"false alarms={s['false_alarm_rate']} balanced acc={s['balanced_accuracy']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="FRANK's frank-valid.jsonl")
    parser.add_argument("--entailment", action="store_true", help="add the NLI check")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"skipped: no {args.data} (the development data is not here)")
        return
    out = measure(args.data, args.entailment)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(_line("any warning", out["overall"]))
    print("per warning code:")
    for code, s in out["by_code"].items():
        print("  " + _line(code, s))
    print("recall per error category:")
    for c, s in out["recall_by_category"].items():
        print(f"  {c:<8} {s['recall']} of {s['unfaithful']}")
    for name in ("by_dataset", "by_model"):
        print(name.replace("_", " ") + ":")
        for g, s in out[name].items():
            print("  " + _line(g, s))


if __name__ == "__main__":
    main()
