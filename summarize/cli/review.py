"""summarize review: the review desk for people without the page, on an output folder; and
summarize edits: what editors changed, for use elsewhere."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import edits_app, review_app
from summarize.cli._options import ConfigOpt, OutputOpt, _settings

ItemArg = Annotated[
    str, typer.Argument(help="An article id, or story:<id> (see `summarize review list`).")
]
EditorOpt = Annotated[
    str | None,
    typer.Option("--editor", help="Who is editing [default: your login name]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _desk(config: Path | None, output: Path | None) -> Any:
    from summarize.desk import Desk

    return Desk(_settings(config, output_dir=output))


def _editor(name: str | None) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "editor"


@review_app.command("list")
def review_list(
    output: OutputOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """The queue: every article and story of the folder, its review state and each field's.

    Example: summarize review list -o outputs
    """
    desk = _desk(config, output)
    try:
        items = desk.items()
    finally:
        desk.close()
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for row in items:
        marks = " ".join(f"{f}={s}" for f, s in row["fields"].items() if s != "machine")
        typer.echo(
            f"{row['item']:<28} {row['state']:<14} {row['approved']}/{row['of']} approved"
            f"  {row['warnings']} warnings  {marks}".rstrip()
        )


@review_app.command("show")
def review_show(
    item: ItemArg, output: OutputOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """One item as published: each field's text, its state, who approved it, its warnings.

    Example: summarize review show seed-01.txt
    """
    from summarize import review

    desk = _desk(config, output)
    try:
        doc = desk.published(item)
    finally:
        desk.close()
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{review.item_id(doc)}: {doc['review']['state']}")
    slots = {f: review.text_of(doc, f) for f in review.fields(doc)}
    for field, text in slots.items():
        entry = doc["review"]["fields"].get(field, {})
        state = review.status(doc, field)
        who = f" by {entry.get('by')} {entry.get('at')}" if entry else ""
        typer.echo(f"\n[{field}] {state}{who}")
        typer.echo(text)
        if state in ("draft", "stale"):
            typer.echo(f"  pending edit: {entry.get('text')}")
        if entry.get("reason"):
            typer.echo(f"  stale: {entry['reason']}")
    for w in doc.get("warnings", []):
        typer.echo(f"  ! {w['stage']}: {w['code']}: {w['message']}")


@review_app.command("edit")
def review_edit(
    item: ItemArg,
    field: Annotated[
        str,
        typer.Argument(
            help="summary, title, translation:<lang>, title:<lang> or story_summary:<lang>."
        ),
    ],
    text: Annotated[
        str | None, typer.Option("--text", help="The new text (or --file, or stdin).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the new text from this file.")
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve it at once.")] = False,
    editor: EditorOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Correct one field. It is kept as a draft (or approved with --approve); the machine text
    stays in the cache, and the folder's result and briefs are rewritten.

    Example: summarize review edit seed-01.txt translation:ar --text "..." --approve
    """
    from summarize.errors import UsageError

    if text is None and file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{file}: cannot read the new text ({exc})") from None
    if text is None:
        if sys.stdin.isatty():
            raise UsageError("give the new text with --text, --file or on stdin")
        text = sys.stdin.read()
    desk = _desk(config, output)
    try:
        edit = desk.edit(item, field, _editor(editor), text=text, approve=approve)
    finally:
        desk.close()
    what = "approved" if edit.status == "approved" else "kept as a draft"
    typer.echo(f"{item} {field}: {what} ({'edited' if edit.changed else 'unchanged'})")


@review_app.command("approve")
def review_approve(
    item: ItemArg,
    fields: Annotated[
        list[str] | None,
        typer.Argument(help="Fields to approve [default: every field the machine wrote]."),
    ] = None,
    editor: EditorOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Approve fields as they stand: a pending draft if there is one, else the machine text.

    Example: summarize review approve seed-01.txt summary
    """
    desk = _desk(config, output)
    try:
        if fields:
            done = [desk.edit(item, f, _editor(editor), approve=True) for f in fields]
        else:
            done = desk.approve_all(item, _editor(editor))
    finally:
        desk.close()
    for edit in done:
        typer.echo(f"{item} {edit.field}: approved ({'edited' if edit.changed else 'unchanged'})")


@edits_app.command("export")
def edits_export(
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    include_drafts: Annotated[
        bool, typer.Option("--drafts", help="Include drafts, not only approved edits.")
    ] = False,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The editors' corrections as JSONL pairs (input, machine text, approved text, model,
    languages), for fine-tuning elsewhere.

    Example: summarize edits export --out corrections.jsonl
    """
    from summarize.edits import EditStore
    from summarize.evaluate import export_edits
    from summarize.files import atomic_write

    settings = _settings(config, output_dir=output)
    store = EditStore.existing(settings.output_dir)
    if store is None:
        typer.echo(f"no edits in {settings.output_dir} yet", err=True)
        text = ""
    else:
        text = export_edits(store, include_drafts=include_drafts)
        store.close()
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write(out, text.encode("utf-8"))
        typer.echo(f"{text.count(chr(10))} corrections written to {out}", err=True)
