"""summarize watch: a watch folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import app
from summarize.cli._options import (
    ConfigOpt,
    OutputOpt,
    SummarizerOpt,
    ToOpt,
    TranslatorOpt,
    _run_settings,
)
from summarize.errors import UsageError


@app.command()
def watch(
    inbox: Annotated[Path, typer.Argument(help="The folder feeds drop files into.")],
    to: ToOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="As for run [default: json,html].")
    ] = "json,html",
    interval: Annotated[
        float | None, typer.Option(help="Seconds between scans [default: 1; watch_interval].")
    ] = None,
    config: ConfigOpt = None,
    summarizer: SummarizerOpt = None,
    translator: TranslatorOpt = None,
) -> None:
    """Process each new or changed file in INBOX once it is completely written; keep going.

    Example: summarize watch inbox/ --to ar,fr -o briefs/
    """
    import threading

    if not inbox.is_dir():
        raise UsageError(f"{inbox} is not a folder")
    settings = _run_settings(
        config, to, output, summarizer, translator, formats=fmt, watch_interval=interval
    )
    from summarize.watch import watch as watch_folder

    def report(batch: Any) -> None:
        for outcome in batch.failed:
            typer.echo(f"error: {outcome.error.source}: {outcome.error.message}", err=True)
        for outcome in batch.skipped:
            typer.echo(f"skipped: {outcome.source}: {outcome.reason}", err=True)
        typer.echo(
            f"{len(batch.succeeded)} done, {len(batch.failed)} failed, {len(batch.skipped)} "
            f"skipped; results in {settings.output_dir}/",
            err=True,
        )

    typer.echo(f"watching {inbox} (Ctrl-C to stop)", err=True)
    try:
        watch_folder(
            inbox, settings, threading.Event(), interval=settings.watch_interval, on_batch=report
        )
    except KeyboardInterrupt:
        typer.echo("stopped; finished results are kept", err=True)
