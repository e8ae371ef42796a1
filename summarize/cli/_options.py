"""Options and settings shared by the commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.config import Settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="A summarize.toml to read (default: ./summarize.toml if present).",
        dir_okay=False,
    ),
]
NoPickleOpt = Annotated[
    bool,
    typer.Option(
        "--no-pickle",
        help="Refuse revisions with only pickle weights (pytorch_model.bin) instead of "
        "converting them safely (sha256-checked, weights_only) to safetensors.",
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Output and cache folder [default: outputs].")
]


ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        "-t",
        metavar="LANGS",
        help="Target languages, comma-separated codes [default: ar,fr].",
    ),
]
SummarizerOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="MODEL",
        help="Summarisation model: catalogue name, hub id or folder; LANG=MODEL for "
        "one language. Repeatable.",
    ),
]
TranslatorOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="SRC-TGT=MODEL",
        help="SRC-TGT=MODEL (catalogue name, hub id or folder); *=MODEL sets the "
        "any-to-any fallback. Repeatable.",
    ),
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    """Settings from defaults, the configuration file, the environment, then these options.
    A misspelt SUMMARIZE_* variable is one warning line (an unknown key in the file is an
    error: the file is ours to check, the environment is shared)."""
    import os

    import typer

    from summarize.config import env_warnings, load_settings

    for line in env_warnings(os.environ):
        typer.echo(f"summarize: warning: {line}", err=True)
    return load_settings(
        config, overrides={k: v for k, v in overrides.items() if v is not None and v != []}
    )


def _run_settings(
    config: Path | None,
    to: str | None,
    output: Path | None,
    summarizer: list[str] | None,
    translator: list[str] | None,
    **more: Any,
) -> Settings:
    """Settings for the commands that run the pipeline (run, serve, watch, eval)."""
    main_summarizer, per_lang = _split_summarizers(summarizer)
    return _settings(
        config,
        targets=to,
        output_dir=output,
        summarizer=main_summarizer,
        summarizers=per_lang,
        translators=translator,
        **more,
    )


def _split_summarizers(values: list[str] | None) -> tuple[str | None, list[str]]:
    """`--summarizer NAME|PATH` sets the main one; `--summarizer fr=NAME|PATH` one per language."""
    main: str | None = None
    per_lang: list[str] = []
    for value in values or []:
        key, sep, _ = value.partition("=")
        if sep and key.isalpha() and len(key) <= 3:
            per_lang.append(value)
        else:
            main = value
    return main, per_lang


def _show_progress_lines() -> None:
    """The library says what it does once in a while (a model converted on first use) through
    the `summarize` logger; a command that is not quiet shows those lines on stderr."""
    import logging

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            typer.echo(f"summarize: {record.getMessage()}", err=True)

    logger = logging.getLogger("summarize")
    if not any(type(h).__name__ == "Echo" for h in logger.handlers):
        logger.addHandler(Echo())
    logger.setLevel(logging.INFO)
    logger.propagate = False


@contextlib.contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """Writes to file descriptor 2 from below Python (Ray's C++ core, the processes it starts)
    go to `path`; Python's own `sys.stderr` (our lines, the progress bar) keeps the terminal."""
    import os
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    previous = sys.stderr
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1, errors="backslashreplace")
    os.dup2(log, 2)
    os.close(log)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)
        sys.stderr.close()
        sys.stderr = previous
