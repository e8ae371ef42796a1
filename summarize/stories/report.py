""" "Reported by only some": the facts a story's members do not all give."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from summarize.stories.model import Story

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


def only_some_report(story: Story, limit: int = 20) -> list[dict[str, Any]]:
    """Names and numbers some members report and others do not (what an editor reconciles),
    shown as the articles write them."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    reports = story.reports  # a copy reports nothing of its own
    for m in reports:
        # A country found only by its name in any language (`t:`) is the same fact as one
        # found among the article's names (`w:`): "Russland" reports Russia.
        for key in {"w:" + k[2:] if k.startswith("t:") else k for k in m.marks}:
            counts[key] += 1
        for key, written in m.marks.items():
            key = "w:" + key[2:] if key.startswith("t:") else key
            if not shown.get(key):  # a whole name over a fragment cut at a text's end ("")
                shown[key] = written
    partial = sorted(
        (k for k, n in counts.items() if n < len(reports)), key=lambda k: (-counts[k], k)
    )
    out: list[dict[str, Any]] = []
    said: set[str] = set()
    for k in partial:
        value = shown[k]
        if (
            not value or value.casefold() in said
        ):  # "": ordinary words, not a fact  # two keys written alike (15.000 and 15000) are one entry
            continue
        said.add(value.casefold())
        out.append(
            {
                "kind": "number" if k.startswith("n:") else "name",
                "value": value,
                "members": counts[k],
            }
        )
        if len(out) == limit:
            break
    return out
