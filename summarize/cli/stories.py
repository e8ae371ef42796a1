"""summarize stories: the output folder's stories, and the one way to make two of them one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import EXIT_OK, stories_app
from summarize.cli._options import ConfigOpt, OutputOpt, _settings


def _open_store(config: Path | None, output: Path | None) -> Any:
    settings = _settings(config, output_dir=output)
    path = settings.output_dir / "stories.sqlite3"
    if not path.exists():
        typer.echo(f"no stories in {settings.output_dir} yet (a run with stories on makes them)")
        raise typer.Exit(EXIT_OK)
    from summarize.stories import StoryStore

    return StoryStore(path, settings.story_threshold, settings.story_window_days)


@stories_app.command("list")
def stories_list(
    output: OutputOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every story with its members, oldest first.

    Example: summarize stories list -o outputs
    """
    from summarize.stories import iso

    store = _open_store(config, output)
    rows = [
        {
            "id": s.id,
            "size": s.size,
            "first": iso(s.first),
            "last": iso(s.last),
            "members": [m.id for m in s.members],
        }
        for s in store.stories()
    ]
    store.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(
            f"{row['id']}  {row['size']:>3}  {row['first'][:10]}  {', '.join(row['members'])}"
        )


@stories_app.command("merge")
def stories_merge(
    kept: Annotated[str, typer.Argument(help="The story that stays (its id is kept).")],
    merged: Annotated[str, typer.Argument(help="The story whose members move into KEPT.")],
    output: OutputOpt = None,
    config: ConfigOpt = None,
    by: Annotated[str | None, typer.Option(help="Who merged them, for the record.")] = None,
) -> None:
    """Make two stories one, on the record (grouping itself never merges stories).

    The next run over the folder rebuilds the kept story's summary and stories.json.

    Example: summarize stories merge s-1a2b3c4d5e6f s-9f8e7d6c5b4a -o outputs --by amal
    """
    store = _open_store(config, output)
    try:
        store.merge(kept, merged, by)
    finally:
        store.close()
    typer.echo(
        f"merged story {merged} into {kept}; run `summarize run` on the folder again to "
        "rebuild its summary and stories.json"
    )
