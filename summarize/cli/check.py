"""summarize check: warnings on any text against its source."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from summarize.cli._app import EXIT_OK, EXIT_SOME_FAILED, app
from summarize.cli._options import (
    ConfigOpt,
    _settings,
)


@app.command()
def check(
    source: Annotated[Path, typer.Argument(help="The source article (a file).")],
    candidate: Annotated[Path, typer.Argument(help="The text to check against it (a file).")],
    lang: Annotated[
        str | None, typer.Option(help="The candidate's expected language (checked if given).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the warnings as JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Check any summary or translation, human or machine written, against its source.

    Flags numbers and names absent from the source, text in the wrong language, repetition
    loops, empty text, and a summary longer than its source. Exit code 1 if anything is flagged.

    Example: summarize check article.txt reporter-summary.txt --lang en
    """
    settings = _settings(config, min_chars=1)
    from summarize.runner import check_files

    flags = check_files(source, candidate, settings, lang)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(f) for f in flags], ensure_ascii=False, indent=2))
    else:
        for flag in flags:
            typer.echo(f"{flag.code}: {flag.message}")
        if not flags:
            typer.echo("no warnings")
    raise typer.Exit(EXIT_SOME_FAILED if flags else EXIT_OK)
