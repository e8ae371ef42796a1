"""summarize detect: the language of each article."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from summarize.cli._app import EXIT_OK, EXIT_SOME_FAILED, app
from summarize.cli._options import (
    ConfigOpt,
    _settings,
)


@app.command()
def detect(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders, .jsonl files, or - for stdin.")
    ],
    config: ConfigOpt = None,
    stdin_format: Annotated[str | None, typer.Option(help="What - reads: text or jsonl.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print each article's detected language and confidence.

    Example: summarize detect seeds/
    """
    settings = _settings(config, stdin_format=stdin_format)
    from summarize.detect import get_detector
    from summarize.ingest import collect
    from summarize.types import Skipped, SourceError

    ingested = collect(sources, settings)
    detector = get_detector(settings)
    failed = False
    for item in ingested.order:
        if isinstance(item, SourceError):
            failed = True
            typer.echo(f"error: {item.source}: {item.message}", err=True)
            continue
        if isinstance(item, Skipped):
            typer.echo(f"skipped: {item.source}: {item.reason}", err=True)
            continue
        code, prob = detector.detect(item.text)
        if as_json:
            typer.echo(
                json.dumps(
                    {"id": item.id, "language": code, "confidence": round(prob, 4)},
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(f"{item.id}\t{code}\t{prob:.3f}")
    raise typer.Exit(EXIT_SOME_FAILED if failed else EXIT_OK)
