"""summarize watch: a watch folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import Interrupted, app
from summarize.cli._options import (
    ConfigOpt,
    OutputOpt,
    SummarizerOpt,
    ToOpt,
    TranslatorOpt,
    _run_settings,
)
from summarize.errors import UsageError


def duration(value: str) -> float:
    """`300`, `30s`, `5m`, `1h` -> seconds."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value)
    if not found:
        raise UsageError(f"--every {value!r}: give seconds, or a number with s, m or h (5m)")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]


@app.command()
def watch(
    inbox: Annotated[
        Path | None,
        typer.Argument(help="The folder files are dropped into (optional with --feed)."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            help="An RSS/Atom feed (URL or file) or a list of them (.opml, .feeds) to poll; "
            "repeat for more.",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(help="Time between two polls of the feeds: 300, 30s, 5m, 1h [default: 5m]."),
    ] = None,
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
    """Process each new or changed file in INBOX once it is completely written, and each new or
    changed entry of the feeds; keep going.

    Examples: summarize watch inbox/ --to ar,fr -o briefs/
              summarize watch --feed https://example.org/world.rss --every 5m -f json,ninjs
    """
    import threading

    if inbox is None and not feed:
        raise UsageError("give an inbox folder, a --feed, or both")
    if inbox is not None and not inbox.is_dir():
        raise UsageError(f"{inbox} is not a folder")
    settings = _run_settings(
        config,
        to,
        output,
        summarizer,
        translator,
        formats=fmt,
        watch_interval=interval,
        feed_every=duration(every) if every is not None else None,
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

    what = [str(inbox)] if inbox is not None else []
    what += [f"{len(feed)} feed(s) every {settings.feed_every:g} s"] if feed else []
    typer.echo(f"watching {' and '.join(what)} (Ctrl-C to stop)", err=True)
    try:
        watch_folder(
            inbox,
            settings,
            threading.Event(),
            interval=settings.watch_interval,
            on_batch=report,
            feeds=feed or (),
        )
    except (Interrupted, KeyboardInterrupt):
        typer.echo("stopped; finished results are kept", err=True)
