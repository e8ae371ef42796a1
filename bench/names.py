"""How well the name check tells invented names from honest ones.

    python bench/names.py [--json]

- False alarms on the sample articles: every sentence of each article checked against its own
  article (must be zero).
- False alarms on paraphrases: `tests/data/names_eval.json`'s English and French sentences that
  say only what their article says, checked against it.
- Recall: the share of its crafted inventions (changed names, added places and people, elided
  acronyms) that the check flags, by language.
- The same on the held-out sets, written after the rules were frozen.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarize.checks import check_names  # noqa: E402
from summarize.text import normalize, split_sentences  # noqa: E402


def _check(source: str, text: str, lang: str) -> list[Any]:
    # Before the language argument existed, check_names took (source, candidate, stage).
    if "lang" in inspect.signature(check_names).parameters:
        return check_names(source, text, "s", lang)
    return check_names(source, text, "s")


def measure() -> dict[str, Any]:
    seeds = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("seeds/*.txt"))}
    data = json.loads((ROOT / "tests" / "data" / "names_eval.json").read_text(encoding="utf-8"))
    own = [
        (seed, sentence)
        for seed, text in seeds.items()
        for sentence in split_sentences(normalize(text))
    ]
    own_alarms = [(s, f.span) for s, sent in own for f in _check(seeds[s], sent, "en")]
    out: dict[str, Any] = {
        "sample_sentences": len(own),
        "sample_false_alarms": len(own_alarms),
    }
    for lang, prefix in (("en", ""), ("fr", ""), ("en", "heldout_"), ("fr", "heldout_")):
        para = [p for p in data[prefix + "paraphrases"] if p["lang"] == lang]
        alarms = [
            (p["text"], f.span) for p in para for f in _check(seeds[p["seed"]], p["text"], lang)
        ]
        inv = [i for i in data[prefix + "inventions"] if i["lang"] == lang]
        caught = [
            i
            for i in inv
            if any(
                i["invented"] in f.span or f.span in i["invented"]
                for f in _check(seeds[i["seed"]], i["text"], lang)
            )
        ]
        out[prefix + lang] = {
            "paraphrases": len(para),
            "paraphrases_flagged": len({t for t, _ in alarms}),
            "false_alarms": [span for _, span in alarms],
            "inventions": len(inv),
            "caught": len(caught),
            "missed": [i["invented"] for i in inv if i not in caught],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    m = measure()
    if args.json:
        print(json.dumps(m, ensure_ascii=False))
        return
    print(f"sample articles: {m['sample_false_alarms']} false alarms on {m['sample_sentences']}")
    for lang in ("en", "fr", "heldout_en", "heldout_fr"):
        r = m[lang]
        print(
            f"{lang}: paraphrases flagged {r['paraphrases_flagged']}/{r['paraphrases']} "
            f"{r['false_alarms']}; recall {r['caught']}/{r['inventions']} missed {r['missed']}"
        )


if __name__ == "__main__":
    main()
