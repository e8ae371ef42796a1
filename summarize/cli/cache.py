"""summarize cache: the result cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import EXIT_OK, cache_app
from summarize.cli._options import (
    ConfigOpt,
    OutputOpt,
    _settings,
)


def _open_cache(config: Path | None, output: Path | None) -> Any:
    settings = _settings(config, output_dir=output)
    from summarize.cache import Cache

    path = settings.resolved_cache_path
    if not path.exists():
        typer.echo(f"no cache at {path} yet (it is created by the first run)")
        raise typer.Exit(EXIT_OK)
    return Cache(path)


@cache_app.command("stats")
def cache_stats(
    output: OutputOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Entries and size of the cache, per stage.

    Example: summarize cache stats -o outputs
    """
    cache = _open_cache(config, output)
    stats = cache.stats()
    cache.close()
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    typer.echo(
        f"{stats['path']}: {stats['entries']} entries, {stats['bytes'] / 1e6:.2f} MB on disk"
    )
    for stage, s in stats["stages"].items():
        typer.echo(f"  {stage:<16} {s['entries']:>7} entries")


@cache_app.command("clear")
def cache_clear(
    output: OutputOpt = None,
    config: ConfigOpt = None,
    stage: Annotated[
        str | None, typer.Option(help="Only this stage: detect, pivot, summarize or translate.")
    ] = None,
) -> None:
    """Remove cached results (all, or one stage's), so the next run recomputes them.

    Example: summarize cache clear --stage translate
    """
    cache = _open_cache(config, output)
    removed = cache.clear(stage)
    cache.close()
    typer.echo(f"removed {removed} entries from {cache.path}")
