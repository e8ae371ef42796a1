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
        Path, typer.Argument(help="JSONL of {id, text, summary_ref, translations_ref: {ar, fr}}.")
    ],
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
    and chrF++ for translations, each with its signature; writes <output>/eval.json.

    Example: summarize eval refs.jsonl --to ar,fr
    """
    settings = _run_settings(config, to, output, summarizer, translator)
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
