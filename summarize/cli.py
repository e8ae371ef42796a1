"""The command line: parse options, call the library, render what it returns.

No business logic here. Heavy modules (torch, transformers, the runner) are imported inside
the commands, so `summarize --help` answers at once.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from summarize._version import __version__
from summarize.errors import (
    CacheError,
    ClusterError,
    ConfigError,
    InputError,
    LanguageError,
    ModelLoadError,
    ModelNotAvailable,
    SummarizeError,
    UsageError,
)

# Exit codes: 0 all good; 1 some sources failed (the rest written); 2 the run could not start.
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
# One table maps every error type to how the CLI reports it.
ERROR_TABLE: list[tuple[type[BaseException], str]] = [
    (ModelNotAvailable, "model not available"),
    (ModelLoadError, "model cannot be loaded"),
    (ConfigError, "configuration error"),
    (UsageError, "usage error"),
    (CacheError, "cache error"),
    (ClusterError, "cluster error"),
    (InputError, "input error"),
    (LanguageError, "language error"),
    (SummarizeError, "error"),
]

app = typer.Typer(
    name="summarize",
    help="Summarise news articles and translate the summaries (Arabic, French, ...), cached per source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(
    help="The model catalogue: what is known, what is present, downloads.", no_args_is_help=True
)
cache_app = typer.Typer(help="The result cache in the output folder.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(cache_app, name="cache")


def fail(exc: BaseException) -> NoReturn:
    """Print one line for a known error and exit 2; never a traceback."""
    label = next((text for kind, text in ERROR_TABLE if isinstance(exc, kind)), "error")
    typer.echo(f"summarize: {label}: {exc}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _show_progress_lines() -> None:
    """The library says what it does once in a while (a model converted on first use) through
    the `summarize` logger; a command that is not quiet shows those lines on stderr."""
    import logging

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            typer.echo(f"summarize: {record.getMessage()}", err=True)

    logger = logging.getLogger("summarize")
    if not any(type(h).__name__ == "Echo" for h in logger.handlers):
        logger.addHandler(Echo())
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"summarize {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Summarise news articles and translate the summaries, cached per source."""


# -- shared options ---------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="A summarize.toml to read (default: ./summarize.toml if present).",
        dir_okay=False,
    ),
]
NoPickleOpt = Annotated[
    bool,
    typer.Option(
        "--no-pickle",
        help="Refuse revisions with only pickle weights (pytorch_model.bin) instead of "
        "converting them safely (sha256-checked, weights_only) to safetensors.",
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Output and cache folder [default: outputs].")
]


ToOpt = Annotated[
    str | None,
    typer.Option("--to", "-t", help="Target languages, comma-separated [default: ar,fr]."),
]
SummarizerOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Summarisation model: catalogue name, hub id or folder; LANG=MODEL for "
        "one language. Repeatable."
    ),
]
TranslatorOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="SRC-TGT=MODEL (catalogue name, hub id or folder); *=MODEL sets the "
        "any-to-any fallback. Repeatable."
    ),
]


def _settings(config: Path | None, **overrides: Any) -> Any:
    from summarize.config import load_settings

    try:
        return load_settings(
            config, overrides={k: v for k, v in overrides.items() if v is not None and v != []}
        )
    except SummarizeError as exc:
        fail(exc)


def _run_settings(
    config: Path | None,
    to: str | None,
    output: Path | None,
    summarizer: list[str] | None,
    translator: list[str] | None,
    **more: Any,
) -> Any:
    """Settings for the commands that run the pipeline (run, serve, watch, eval)."""
    main_summarizer, per_lang = _split_summarizers(summarizer)
    return _settings(
        config,
        targets=to,
        output_dir=output,
        summarizer=main_summarizer,
        summarizers=per_lang,
        translators=translator,
        **more,
    )


def _split_summarizers(values: list[str] | None) -> tuple[str | None, list[str]]:
    """`--summarizer NAME|PATH` sets the main one; `--summarizer fr=NAME|PATH` one per language."""
    main: str | None = None
    per_lang: list[str] = []
    for value in values or []:
        key, sep, _ = value.partition("=")
        if sep and key.isalpha() and len(key) <= 3:
            per_lang.append(value)
        else:
            main = value
    return main, per_lang


# -- run --------------------------------------------------------------------------------


@app.command()
def run(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders, .jsonl files, or - for stdin.")
    ],
    to: ToOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Outputs, comma-separated: json (a file per "
            "article), jsonl (results.jsonl), md (brief.md), html (brief.html) "
            "[default: json].",
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
    cpus_per_worker: Annotated[
        float | None, typer.Option(help="CPUs (and threads) per Ray worker [default: 2].")
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
        executor=executor,
        ray_address=ray_address,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
    )
    from summarize.runner import run as run_batch

    to_stdout = output is not None and str(output) == "-"
    if to_stdout:
        # `-o -`: results as JSONL on stdout; the cache stays in the default folder.
        if settings.formats != ("jsonl",):
            fail(UsageError("-o - writes JSONL to stdout: use it with --format jsonl"))
        settings = dataclasses.replace(settings, output_dir=Path("outputs"))
    show = not quiet and sys.stderr.isatty()
    if not quiet:
        _show_progress_lines()
    try:
        kwargs: dict[str, Any] = {"write": False} if to_stdout else {}
        report = (
            _run_with_progress(run_batch, sources, settings, **kwargs)
            if show
            else run_batch(sources, settings, **kwargs)
        )
    except SummarizeError as exc:
        fail(exc)
    if to_stdout:
        from summarize.briefs import jsonl_results
        from summarize.types import result_json

        sys.stdout.write(jsonl_results([result_json(r) for r in report.results]))
        sys.stdout.flush()
    if not quiet:
        _print_report(report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


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
        + f", {report.seconds:.1f} s; results in {report.output_dir}/, report in "
        f"{report.output_dir}/report.json",
        err=True,
    )


# -- detect -----------------------------------------------------------------------------


@app.command()
def detect(
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders, .jsonl files, or - for stdin.")
    ],
    config: ConfigOpt = None,
    stdin_format: Annotated[str | None, typer.Option(help="What - reads: text or jsonl.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print each article's detected language and confidence.

    Example: summarize detect seeds/
    """
    settings = _settings(config, stdin_format=stdin_format)
    from summarize.detect import get_detector
    from summarize.ingest import collect
    from summarize.types import Skipped, SourceError

    try:
        ingested = collect(sources, settings)
    except SummarizeError as exc:
        fail(exc)
    detector = get_detector(settings)
    failed = False
    for item in ingested.order:
        if isinstance(item, SourceError):
            failed = True
            typer.echo(f"error: {item.source}: {item.message}", err=True)
            continue
        if isinstance(item, Skipped):
            typer.echo(f"skipped: {item.source}: {item.reason}", err=True)
            continue
        code, prob = detector.detect(item.text)
        if as_json:
            typer.echo(
                json.dumps(
                    {"id": item.id, "language": code, "confidence": round(prob, 4)},
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(f"{item.id}\t{code}\t{prob:.3f}")
    raise typer.Exit(EXIT_SOME_FAILED if failed else EXIT_OK)


# -- serve ------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    to: ToOpt = None,
    output: OutputOpt = None,
    config: ConfigOpt = None,
    summarizer: SummarizerOpt = None,
    translator: TranslatorOpt = None,
    engine: Annotated[str | None, typer.Option(help="As for run.")] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="File with one API key per line (also: SUMMARIZE_API_KEYS=key1,key2)."),
    ] = None,
    rate: Annotated[int, typer.Option(help="Requests per minute per key.")] = 120,
    max_queue: Annotated[int, typer.Option(help="Queued requests and jobs before 503.")] = 64,
    max_body: Annotated[int, typer.Option(help="Largest request body, in bytes.")] = 2_000_000,
) -> None:
    """Serve the pipeline over HTTP (FastAPI): /v1/summarize, /v1/jobs, the editors' page at /.

    Example: SUMMARIZE_API_KEYS=secret summarize serve --port 8000
    """
    import os

    settings = _run_settings(config, to, output, summarizer, translator, engine=engine)
    try:
        import uvicorn

        from summarize.service import LOOPBACK, Limits, create_app, load_keys
    except ImportError:
        fail(UsageError("the service needs FastAPI: pip install 'summarize[service]'"))
    keys = load_keys(os.environ.get("SUMMARIZE_API_KEYS"), api_key_file)
    if host not in LOOPBACK and not keys:
        fail(
            UsageError(
                f"refusing to serve on {host} without API keys: set SUMMARIZE_API_KEYS "
                "or --api-key-file, or bind to 127.0.0.1"
            )
        )
    app_ = create_app(
        settings, keys, Limits(max_body_bytes=max_body, rate_per_minute=rate, max_queue=max_queue)
    )
    uvicorn.run(app_, host=host, port=port, log_level="info")


# -- watch ------------------------------------------------------------------------------


@app.command()
def watch(
    inbox: Annotated[Path, typer.Argument(help="The folder feeds drop files into.")],
    to: ToOpt = None,
    output: OutputOpt = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="As for run [default: json,html].")
    ] = "json,html",
    interval: Annotated[float, typer.Option(help="Seconds between scans.")] = 1.0,
    config: ConfigOpt = None,
    summarizer: SummarizerOpt = None,
    translator: TranslatorOpt = None,
) -> None:
    """Process each new or changed file in INBOX once it is completely written; keep going.

    Example: summarize watch inbox/ --to ar,fr -o briefs/
    """
    import threading

    if not inbox.is_dir():
        fail(UsageError(f"{inbox} is not a folder"))
    settings = _run_settings(config, to, output, summarizer, translator, formats=fmt)
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
        watch_folder(inbox, settings, threading.Event(), interval=interval, on_batch=report)
    except KeyboardInterrupt:
        typer.echo("stopped; finished results are kept", err=True)
    except SummarizeError as exc:
        fail(exc)


# -- check ------------------------------------------------------------------------------


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
    from summarize.checks import check_text, dedupe
    from summarize.detect import get_detector
    from summarize.ingest import Reader
    from summarize.types import Article

    reader = Reader(settings)
    texts = []
    for path in (source, candidate):
        items = list(reader.file(path, path.name)) if path.is_file() else []
        first = items[0] if items else None
        if not isinstance(first, Article):
            fail(UsageError(f"{path}: {first.message if first else 'no such file'}"))
        texts.append(first.text)
    detector = get_detector(settings)
    expected = lang or detector.detect(texts[1])[0]
    flags = dedupe(
        check_text(
            texts[0],
            texts[1],
            "check",
            expected,
            detector.detect if lang else None,
            is_summary=True,
        )
    )
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(f) for f in flags], ensure_ascii=False, indent=2))
    else:
        for flag in flags:
            typer.echo(f"{flag.code}: {flag.message}")
        if not flags:
            typer.echo("no warnings")
    raise typer.Exit(EXIT_SOME_FAILED if flags else EXIT_OK)


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
    from summarize.evaluate import evaluate
    from summarize.write import atomic_write, dumps

    try:
        scores = evaluate(references, settings, sources)
    except SummarizeError as exc:
        fail(exc)
    path = settings.output_dir / "eval.json"
    atomic_write(path, dumps(scores))
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


# -- models -----------------------------------------------------------------------------


@models_app.command("list")
def models_list(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's catalogue table.")
    ] = False,
) -> None:
    """Every catalogue model: task, languages, licence, size, revision, and whether present.

    Example: summarize models list
    """
    settings = _settings(config)
    from summarize.catalog import load_catalog

    try:
        catalog = load_catalog(settings)
    except SummarizeError as exc:
        fail(exc)
    rows: list[dict[str, Any]] = []
    for entry in catalog.entries.values():
        ref = catalog.ref(entry.name)
        rows.append(
            {
                "name": entry.name,
                "task": entry.task,
                "hub": entry.hub,
                "covers": ", ".join(entry.pairs)
                if entry.pairs
                else (
                    f"{len(entry.languages)} languages"
                    if len(entry.languages) > 6
                    else ", ".join(entry.languages)
                ),
                "license": entry.license,
                "commercial": entry.commercial,
                "params": entry.params,
                "size_mb": entry.size_mb,
                "default": entry.default,
                "revision": entry.revision or "unpinned",
                "present": ref.present,
                "path": str(ref.path),
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        typer.echo("| name | task | covers | licence | params | download | default | revision |")
        typer.echo("|---|---|---|---|---|---|---|---|")
        for r in rows:
            licence = r["license"] + ("" if r["commercial"] else " (non-commercial)")
            typer.echo(
                f"| `{r['name']}` | {r['task']} | {r['covers']} | {licence} | {r['params']} | "
                f"{r['size_mb']} MB | {'yes' if r['default'] else ''} | `{r['revision'][:12]}` |"
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Model catalogue ({catalog.source})")
    for col in ("name", "task", "covers", "license", "size", "default", "revision", "present"):
        table.add_column(col)
    for r in rows:
        licence = r["license"] + ("" if r["commercial"] else " (non-commercial)")
        table.add_row(
            r["name"],
            r["task"],
            r["covers"],
            licence,
            f"{r['size_mb']} MB",
            "yes" if r["default"] else "",
            r["revision"][:12],
            "yes" if r["present"] else "no",
        )
    Console(width=160).print(table)


def _chosen_refs(catalog: Any, names: list[str] | None, all_models: bool) -> list[Any]:
    if all_models:
        return [catalog.ref(n) for n in catalog.entries]
    if names:
        unknown = [n for n in names if n not in catalog]
        if unknown:
            raise UsageError(
                f"not in the catalogue: {', '.join(unknown)} (see `summarize models list`)"
            )
        return [catalog.ref(n) for n in names]
    return [catalog.ref(e.name) for e in catalog.defaults()]


@models_app.command("download")
def models_download(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalogue names [default: the default models].")
    ] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Every catalogue model.")] = False,
    no_pickle: NoPickleOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Download models at their pinned revisions into models/<name>/, as safetensors.

    Each download goes to a staging folder, is checked against the hub's listing (sizes and
    sha256), and is then moved into place; a killed download resumes next time. A revision
    with only pytorch_model.bin is converted once, safely, unless --no-pickle.

    Example: summarize models download opus-mt-fr-en
    """
    settings = _settings(config, allow_pickle=False if no_pickle else None)
    from summarize.catalog import load_catalog
    from summarize.hub import ensure_present

    try:
        refs = _chosen_refs(load_catalog(settings), names, all_models)
        fetched = ensure_present(refs, settings, progress=sys.stderr.isatty())
    except SummarizeError as exc:
        fail(exc)
    for ref in refs:
        state = "downloaded" if ref in fetched else "already present"
        licence = "" if ref.entry.commercial else f" (licence {ref.entry.license}: non-commercial)"
        typer.echo(f"{ref.name}: {state} at revision {ref.revision} ({ref.path}){licence}")


@models_app.command("verify")
def models_verify(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalogue names [default: every present model].")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Re-hash the files of downloaded models against what was recorded at download.

    Example: summarize models verify distilbart-cnn-12-6
    """
    settings = _settings(config)
    from summarize.catalog import load_catalog
    from summarize.hub import verify

    try:
        catalog = load_catalog(settings)
        refs = (
            _chosen_refs(catalog, names, False)
            if names
            else [catalog.ref(n) for n in catalog.entries if catalog.ref(n).present]
        )
    except SummarizeError as exc:
        fail(exc)
    bad = 0
    for ref in refs:
        problems = verify(ref) if ref.present else [f"not downloaded ({ref.path})"]
        bad += bool(problems)
        status = "ok" if not problems else "FAILED: " + "; ".join(problems)
        typer.echo(f"{ref.name}: {status}")
    if not refs:
        typer.echo("no downloaded models to verify")
    raise typer.Exit(EXIT_SOME_FAILED if bad else EXIT_OK)


@models_app.command("check")
def models_check(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Catalogue names [default: every downloaded model]."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="auto, ctranslate2 or transformers [default: auto].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Load each downloaded model and run it on a fixed sentence: does it really work?

    Translators turn "The meeting is on Monday." into French with "lundi" and Arabic with
    "الاثنين"; a summariser writes a summary shorter than its input, in its language, not a
    loop. Run it once after `summarize models download`. Exit 1 if any check fails.

    Example: summarize models check opus-mt-tc-big-en-ar
    """
    settings = _settings(config, engine=engine)
    from summarize.catalog import load_catalog
    from summarize.smoke import check_models

    _show_progress_lines()
    try:
        catalog = load_catalog(settings)
        if names:
            _chosen_refs(catalog, names, False)  # unknown names are a usage error
        results = check_models(catalog, settings, names or ())
    except SummarizeError as exc:
        fail(exc)
    if as_json:
        typer.echo(
            json.dumps([dataclasses.asdict(r) for r in results], ensure_ascii=False, indent=2)
        )
    elif not results:
        typer.echo("no downloaded models to check; run `summarize models download` first")
    for r in results if not as_json else []:
        verdict = "pass" if r.passed else "FAIL: " + "; ".join(r.problems)
        typer.echo(f"{r.name}: {verdict} ({r.seconds:.1f} s)")
        if r.output:
            typer.echo(f"    {r.output[:200]}")
    raise typer.Exit(EXIT_OK if results and all(r.passed for r in results) else EXIT_SOME_FAILED)


@models_app.command("convert")
def models_convert(
    model: Annotated[str, typer.Argument(help="Catalogue name or model folder.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "ctranslate2",
    quantization: Annotated[
        str,
        typer.Option(help="int8 (default on CPU), int8_float32, float32, int8_float16, float16."),
    ] = "int8",
    force: Annotated[bool, typer.Option("--force", help="Convert again if present.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Convert a model to CTranslate2 into models/<name>-ct2-<quantization>/.

    Example: summarize models convert distilbart-cnn-12-6 --quantization int8
    """
    settings = _settings(config)
    from summarize.catalog import load_catalog, resolve
    from summarize.convert import convert

    if to != "ctranslate2":
        fail(UsageError(f"--to {to}: only ctranslate2 is supported"))
    try:
        catalog = load_catalog(settings)
        entry = catalog.get(model)
        task = entry.task if entry else "summarization"  # a folder: the task does not matter
        ref = resolve(model, catalog, task=task)
        if not ref.present:
            raise ModelNotAvailable(
                f"model {ref.name} is not downloaded; run "
                f"`summarize models download {ref.name}` first"
            )
        out = convert(ref, settings.models_dir, quantization, force=force)
    except SummarizeError as exc:
        fail(exc)
    typer.echo(f"{ref.name} ({ref.revision}) -> {out}")


@models_app.command("add")
def models_add(
    name: Annotated[str, typer.Argument(help="The name runs will use for this model.")],
    hub: Annotated[str, typer.Option(help="Hub id, org/name.")],
    revision: Annotated[str, typer.Option(help="The 40-hex commit to pin.")],
    task: Annotated[str, typer.Option(help="summarization or translation.")] = "summarization",
    languages: Annotated[
        str | None, typer.Option(help="Languages it summarises or translates, e.g. fr,ar.")
    ] = None,
    pairs: Annotated[str | None, typer.Option(help="Translation pairs, e.g. en-ar,en-fr.")] = None,
    license_: Annotated[str, typer.Option("--license", help="Its licence.")] = "unknown",
    commercial: Annotated[
        bool, typer.Option(help="Whether its licence allows commercial use.")
    ] = True,
    config_file: Annotated[
        Path, typer.Option("--config", help="The summarize.toml to add it to.")
    ] = Path("summarize.toml"),
) -> None:
    """Add a newsroom's own model to the catalogue (a [models.NAME] table in summarize.toml).

    Example: summarize models add our-sum --hub newsroom/sum --revision <sha> --languages fr
    """
    from summarize.catalog import add_user_model

    try:
        add_user_model(
            config_file,
            name,
            {
                "hub": hub,
                "revision": revision,
                "task": task,
                "languages": [x.strip() for x in (languages or "").split(",") if x.strip()],
                "pairs": [x.strip() for x in (pairs or "").split(",") if x.strip()],
                "license": license_,
                "commercial": commercial,
            },
        )
    except SummarizeError as exc:
        fail(exc)
    typer.echo(f"added {name} to {config_file}; fetch it with `summarize models download {name}`")


# -- cache ------------------------------------------------------------------------------


def _open_cache(config: Path | None, output: Path | None) -> Any:
    settings = _settings(config, output_dir=output)
    from summarize.cache import Cache

    path = settings.resolved_cache_path
    if not path.exists():
        typer.echo(f"no cache at {path} yet (it is created by the first run)")
        raise typer.Exit(EXIT_OK)
    try:
        return Cache(path)
    except SummarizeError as exc:
        fail(exc)


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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo(
            "summarize: interrupted; finished results are kept and the next run resumes", err=True
        )
        sys.exit(130)
