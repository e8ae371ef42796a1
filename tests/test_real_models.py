"""The real default models, opt-in: `pytest --real-models` on a machine that has downloaded
them (`summarize models download`; SUMMARIZE_REAL_MODELS_DIR if not in ./models).

The same checks as `summarize models check`, plus the main job on the sample articles. They
fail, rather than skip, when a default model is missing: asking for them is asking to run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from summarize import load_settings, run
from summarize.catalog import load_catalog
from summarize.smoke import check_model

pytestmark = pytest.mark.real_models


def _settings(**extra: object):  # type: ignore[no-untyped-def]
    models = os.environ.get("SUMMARIZE_REAL_MODELS_DIR", str(ROOT / "models"))
    return load_settings(overrides={"models_dir": models, "offline": True, **extra})


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_every_default_model_passes_its_smoke_check(engine: str) -> None:
    settings = _settings(engine=engine)
    catalog = load_catalog(settings)
    failures = [
        f"{c.name}: {'; '.join(c.problems)} (wrote {c.output!r})"
        for entry in catalog.defaults()
        for c in check_model(catalog.ref(entry.name), settings)
        if not c.passed
    ]
    assert not failures, "\n".join(failures)


def test_the_main_job_on_the_seeds(tmp_path: Path) -> None:
    report = run([SEEDS], _settings(output_dir=str(tmp_path / "out")))
    assert report.ok, [o.error for o in report.failed]
    for result in report.results:
        ar = result.translations["ar"].text
        assert ar and sum("\u0600" <= c <= "\u06ff" for c in ar) > len(ar) / 2
        assert not ar.startswith("__") and ">>" not in ar
        assert len(result.summary.text) < len(result.article.text)
        assert not [w for w in result.warnings if w.code == "truncated_output"]
