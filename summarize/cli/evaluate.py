"""summarize eval: scores against references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarize.cli._app import EXIT_OK, EXIT_SOME_FAILED, app
from summarize.cli._options import (
    ConfigOpt,
    OutputOpt,
    SummarizerOpt,
    ToOpt,
    TranslatorOpt,
    _run_settings,
)


@app.command("eval")
def eval_(
    references: Annotated[
        Path | None,
        typer.Argument(help="JSONL of {id, text, summary_ref, translations_ref: {ar, fr}}."),
    ] = None,
    from_edits: Annotated[
        bool,
        typer.Option(
            "--from-edits",
            help="Score the machine output against the editors' approved edits in the output "
            "folder instead, per model and language pair.",
        ),
    ] = False,
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--sources",
            help="Articles to run instead of the references' text (ids must match). Repeatable.",
        ),
    ] = None,
    to: ToOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    summarizer: SummarizerOpt = None,
    translator: TranslatorOpt = None,
) -> None:
    """Run the pipeline on reference articles and score it: ROUGE-1/2/L for summaries, BLEU
    and chrF++ for translations, each with its signature; writes <output>/eval.json. With
    --from-edits, the machine text is scored against the editors' approved edits instead, per
    model and language pair, and written to <output>/eval.json as well.

    Examples: summarize eval refs.jsonl --to ar,fr; summarize eval --from-edits -o outputs
    """
    settings = _run_settings(config, to, output, summarizer, translator)
    if from_edits:
        _from_edits(settings.output_dir)
        return
    if references is None:
        from summarize.errors import UsageError

        raise UsageError("give a references file, or --from-edits to score against edits")
    from summarize.evaluate import EVAL_FILE, evaluate

    scores = evaluate(references, settings, sources)
    path = settings.output_dir / EVAL_FILE
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{scores['scored']} of {scores['references']} articles scored")
    for col in ("output", "metric", "score", "signature"):
        table.add_column(col)
    if "summary" in scores:
        for key in ("rouge1", "rouge2", "rougeL"):
            table.add_row(
                "summary", key, f"{scores['summary'][key]:.2f}", scores["summary"]["signature"]
            )
    for target, tr in scores["translations"].items():
        table.add_row(target, "BLEU", f"{tr['bleu']:.2f}", tr["bleu_signature"])
        table.add_row(target, "chrF++", f"{tr['chrf++']:.2f}", tr["chrf++_signature"])
    Console(width=160).print(table)
    typer.echo(f"scores written to {path}")
    raise typer.Exit(EXIT_SOME_FAILED if scores["failed"] else EXIT_OK)


def _from_edits(output_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from summarize.errors import UsageError
    from summarize.evaluate import from_edits
    from summarize.review import EditStore

    store = EditStore.existing(output_dir)
    if store is None:
        raise UsageError(f"no edits in {output_dir}: review results first (summarize review)")
    try:
        scores = from_edits(store)
    finally:
        store.close()
    if not scores["groups"]:
        raise UsageError(f"no approved edits in {output_dir} yet ({scores['drafts']} drafts)")
    table = Table(
        title=f"{scores['approved']} approved fields, {scores['unchanged']} unchanged "
        "(machine text against the approved text)"
    )
    for col in ("kind", "model", "pair", "approved", "unchanged", "metric", "score", "signature"):
        table.add_column(col)
    for row in scores["groups"]:
        s = row["scores"]
        if row["kind"] == "summary":
            metrics = [(k, s[k], s["signature"]) for k in ("rouge1", "rouge2", "rougeL")]
        else:
            metrics = [
                ("chrF++", s["chrf++"], s["chrf++_signature"]),
                ("BLEU", s["bleu"], s["bleu_signature"]),
            ]
        for i, (name, value, sig) in enumerate(metrics):
            head = (
                [
                    row["kind"],
                    row["model"],
                    row["pair"],
                    str(row["approved"]),
                    f"{row['unchanged_share']:.0%}",
                ]
                if i == 0
                else [""] * 5
            )
            table.add_row(*head, name, f"{value:.2f}", sig)
    Console(width=200).print(table)
    import json

    from summarize.evaluate import EVAL_FILE
    from summarize.files import atomic_write

    path = output_dir / EVAL_FILE
    doc = {"mode": "from_edits", **scores}
    atomic_write(path, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    typer.echo(f"scores written to {path}")
