"""summarize: multilingual news summarisation and translation, cached per source.

    from summarize import Summarizer

    with Summarizer(targets=["ar", "fr"]) as s:
        result = s.summarize(text)          # a typed Result; result.to_dict() is the JSON

    import summarize
    report = summarize.run(["seeds/"], summarize.load_settings(overrides={"targets": "ar,fr"}))

Importing this package is cheap: models, torch and transformers load only when a run needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from summarize._version import __version__
from summarize.config import Settings, load_settings
from summarize.errors import (
    ConfigError,
    InputError,
    LanguageError,
    ModelLoadError,
    ModelNotAvailable,
    ReviewError,
    SummarizeError,
)

if TYPE_CHECKING:
    from summarize.api import Failed, Result, Summarizer
    from summarize.types import BatchReport

__all__ = [
    "ConfigError",
    "Failed",
    "InputError",
    "LanguageError",
    "ModelLoadError",
    "ModelNotAvailable",
    "Result",
    "ReviewError",
    "Settings",
    "SummarizeError",
    "Summarizer",
    "__version__",
    "load_settings",
    "run",
]


def __getattr__(name: str) -> Any:
    """`Summarizer`, `Result` and `Failed` load on first use, so `import summarize` stays cheap."""
    if name in ("Summarizer", "Result", "Failed"):
        from summarize import api

        return getattr(api, name)
    raise AttributeError(f"module 'summarize' has no attribute {name!r}")


def run(
    sources: Sequence[str | Path],
    settings: Settings | None = None,
    *,
    stdin: IO[str] | None = None,
    progress: Any = None,
) -> BatchReport:
    """Summarise and translate `sources`; see `summarize.api.run`."""
    from summarize.api import run as _run

    return _run(sources, settings, stdin=stdin, progress=progress)
