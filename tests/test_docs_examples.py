"""The Python examples of the README and the docs run as written, with the tiny models named
in a summarize.toml beside them (as a newsroom would name its own): a reader who copies one
gets no error. (The webhook receiver's example is run by tests/test_webhooks.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

PAGES = [ROOT / "README.md", ROOT / "docs" / "python.md"]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_python_examples_run_as_written(
    page: Path, tiny: dict[str, Path], isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "summarize.toml").write_text(
        f'summarizer = "{tiny["bart"]}"\n'
        "[translators]\n"
        f'"en-ar" = "{tiny["en-ar"]}"\n'
        f'"en-fr" = "{tiny["en-fr"]}"\n'
        f'"*" = "{tiny["m2m100"]}"\n',
        encoding="utf-8",
    )
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    blocks = [b for b in python_blocks(page) if "Summarizer" in b]
    assert blocks, f"{page.name} shows no Python example"
    for block in blocks:
        exec(compile(block, str(page), "exec"), {"text": seeds[0], "texts": seeds})
    printed = capsys.readouterr().out
    assert printed.startswith("en "), printed[:200]  # result.language, then the texts
