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
VersionOpt = Annotated[
    int | None,
    typer.Option(
        "--version",
        help="The field version you saw (`review show` prints it): refused if someone changed "
        "the field since [default: no check].",
    ),
]


def _desk(config: Path | None, output: Path | None) -> Any:
    from summarize.review.desk import Desk

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
        note = desk.missing_results_note()
    finally:
        desk.close()
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if note:
        typer.echo(f"note: {note}", err=True)
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
        seen = desk.item_state(item)
        item_sha = desk.item_sha(item)
    finally:
        desk.close()
    if as_json:
        # What `review approve` takes to approve each field, or the whole item, as shown.
        shas = {f: v.split(":", 1)[1] for f, v in seen.items()}
        approve = {"item_sha": item_sha, "fields": {f: s for f, s in shas.items() if s != "stale"}}
        typer.echo(json.dumps(doc | {"approve": approve}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{review.item_id(doc)}: {doc['review']['state']}")
    typer.echo(f"item sha: {item_sha} (approve all of it as shown: --sha {item_sha})")
    slots = {f: review.text_of(doc, f) for f in review.fields(doc)}
    for field, text in slots.items():
        entry = doc["review"]["fields"].get(field, {})
        state = review.status(doc, field)
        who = f" by {entry.get('by')} {entry.get('at')}" if entry else ""
        typer.echo(f"\n[{field}] {state} (version {entry.get('version', 0)}){who}")
        typer.echo(text)
        if entry.get("pending"):
            typer.echo(f"  draft by {entry['pending']['by']}: {entry['pending']['text']}")
        sha = seen[field].split(":", 1)[1]
        if sha != "stale":
            what = "the draft above" if entry.get("pending") else "this text"
            typer.echo(f"  sha: {sha} (approve {what}: review approve {item} {field} --sha {sha})")
        if entry.get("stale"):
            stale = entry["stale"]
            typer.echo(f"  stale ({stale['reason']}); the earlier {stale['was']}: {stale['text']}")
        if entry.get("acknowledged"):
            typer.echo(f"  approved with: {', '.join(entry['acknowledged'])}")
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
    version: VersionOpt = None,
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
        if approve:
            done = desk.approve(item, field, _editor(editor), version=version, text=text)
        else:
            done = desk.edit(item, field, _editor(editor), text, version=version)
    finally:
        desk.close()
    what = "approved" if approve else "kept as a draft (what was approved stays published)"
    kept = done.approved if approve else done.draft
    changed = "edited" if kept is not None and kept.changed else "unchanged"
    typer.echo(f"{item} {field}: {what} ({changed}), version {done.version}")


@review_app.command("approve")
def review_approve(
    item: ItemArg,
    fields: Annotated[
        list[str] | None,
        typer.Argument(help="Fields to approve [default: every field the machine wrote]."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Approve the whole item even with open warnings or pending drafts (they are "
            "listed as acknowledged in its review).",
        ),
    ] = False,
    sha: Annotated[
        list[str] | None,
        typer.Option(
            "--sha",
            help="What you approve, as `review show` printed it: a field's sha (once per "
            "field named), or the item's sha with no field. Refused if the text changed since.",
        ),
    ] = None,
    version: VersionOpt = None,
    editor: EditorOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Approve what `review show` showed you: a pending draft if there is one, else the
    published text, named by the sha printed beside it (on a terminal, without --sha, the text
    is shown and you are asked). A stale field is approved only through `review edit
    --approve` with the text you choose. With no field, every field of the item, named by the
    item's sha; open warnings or drafts then need --force.

    Example: summarize review approve seed-01.txt summary --sha 3f2a9c0d1e4b5a67
    """
    from summarize.errors import UsageError

    shas = list(sha or [])
    if fields and shas and len(shas) != len(fields):
        raise UsageError(f"give one --sha per field: {len(fields)} fields, {len(shas)} --sha")
    if not fields and len(shas) > 1:
        raise UsageError("with no field, give the item's sha once (`review show` prints it)")
    desk = _desk(config, output)
    try:
        if not shas:
            shas = _confirm(desk, item, fields)
        if fields:
            done = [
                desk.approve(item, f, _editor(editor), version=version, seen=s)
                for f, s in zip(fields, shas, strict=True)
            ]
        else:
            done = desk.approve_item(item, _editor(editor), sha=shas[0], force=force)
    finally:
        desk.close()
    for state in done:
        edit = state.approved
        if edit is not None:
            changed = "edited" if edit.changed else "unchanged"
            extra = f"; acknowledged {', '.join(edit.acknowledged)}" if edit.acknowledged else ""
            typer.echo(f"{item} {edit.field}: approved ({changed}){extra}")


@review_app.command("withdraw")
def review_withdraw(
    item: ItemArg,
    field: Annotated[str, typer.Argument(help="The field whose approval is withdrawn.")],
    version: VersionOpt = None,
    editor: EditorOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Withdraw a field's approval: its text goes back to being a draft, recorded in the
    history, and the folder's approved outputs (briefs, ninjs) no longer carry it.

    Example: summarize review withdraw seed-01.txt summary
    """
    desk = _desk(config, output)
    try:
        if version is None:
            version = desk.versions(item).get(field, 0)
        desk.withdraw(item, field, _editor(editor), version=version)
    finally:
        desk.close()
    typer.echo(f"{item} {field}: approval withdrawn (back to a draft)")


def _confirm(desk: Any, item: str, fields: list[str] | None) -> list[str]:
    """On a terminal, the texts an approval would approve, shown, and the editor asked; the
    shas of what was shown. Elsewhere, a usage error naming --sha: never an unseen approval."""
    from summarize import review
    from summarize.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError(
            f"name what you approve: run `summarize review show {item}` and pass the sha it "
            "prints beside the text (--sha), or send the text (review edit --approve)"
        )
    doc = desk.published(item)
    state = desk.item_state(item)
    names = fields or list(state)
    for field in names:
        shown = desk.to_approve(doc, field) if field in state else None
        if shown is None:
            raise UsageError(f"{item} {field}: nothing to approve as it stands; see review show")
        typer.echo(f"[{field}] {review.field_label(field)}:\n{shown}\n")
    if not typer.confirm(f"Approve {'these texts' if len(names) > 1 else 'this text'}?"):
        raise UsageError("nothing approved")
    if not fields:
        return [desk.item_sha(item)]
    return [state[f].split(":", 1)[1] for f in names]


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
    from summarize.evaluate import export_edits
    from summarize.files import atomic_write
    from summarize.review import EditStore

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
