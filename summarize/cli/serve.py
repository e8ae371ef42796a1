"""summarize serve: the HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from summarize.cli._app import app
from summarize.cli._options import (
    ConfigOpt,
    OutputOpt,
    SummarizerOpt,
    ToOpt,
    TranslatorOpt,
    _run_settings,
)
from summarize.errors import UsageError


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
        typer.Option(
            help="File with one API key per line, written 'SECRET name=NAME role=ROLE' "
            "(also: SUMMARIZE_API_KEYS, comma-separated)."
        ),
    ] = None,
    rate: Annotated[
        int | None, typer.Option(help="Requests per minute per key [default: 120].")
    ] = None,
    max_queue: Annotated[
        int | None, typer.Option(help="Queued requests and jobs before 503 [default: 64].")
    ] = None,
    max_body: Annotated[
        int | None, typer.Option(help="Largest request body, in bytes [default: 2000000].")
    ] = None,
    failed_auth: Annotated[
        int | None,
        typer.Option(
            help="Failed authentications per minute per client address before 429 [default: 10]."
        ),
    ] = None,
    max_job_articles: Annotated[
        int | None, typer.Option(help="Articles in one job [default: 1000].")
    ] = None,
    max_queued_articles: Annotated[
        int | None,
        typer.Option(help="Articles of all unfinished jobs together before 503 [default: 10000]."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            help="An RSS/Atom feed to poll (repeat for more); each poll's new entries are a job.",
        ),
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Time between polls of the feeds: 30s, 5m [default: 5m].")
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="A URL to post signed events to (job finished, item approved or withdrawn, story changed); "
            "repeat for more. Needs SUMMARIZE_NOTIFY_SECRET.",
        ),
    ] = None,
) -> None:
    """Serve the pipeline over HTTP (FastAPI): /v1/summarize, /v1/jobs, the editors' page at /.

    A key is written 'SECRET name=NAME role=ROLE'. Roles: reader (reads jobs, items and
    briefs), editor (also edits and approves on the desk), admin (also submits and cancels
    jobs; the default when no role is given). An unknown role or word is refused at start.
    Keys and limits may also be set in summarize.toml (api_key_file, rate_per_minute,
    max_queue, max_body_bytes, failed_auth_per_minute, max_job_articles, max_queued_articles)
    or the environment (SUMMARIZE_API_KEYS=key1,key2, SUMMARIZE_MAX_QUEUE=...).

    Feeds (--feed) and webhook receivers (--notify) come from the configuration only, never
    from a client.

    Example: SUMMARIZE_API_KEYS="s3cret name=amal role=editor,t0p name=sam" summarize serve
    """
    from summarize.cli.watch import duration

    settings = _run_settings(
        config,
        to,
        output,
        summarizer,
        translator,
        engine=engine,
        api_key_file=api_key_file,
        rate_per_minute=rate,
        max_queue=max_queue,
        max_body_bytes=max_body,
        failed_auth_per_minute=failed_auth,
        max_job_articles=max_job_articles,
        max_queued_articles=max_queued_articles,
        feeds=feed or None,
        notify=notify or None,
        feed_every=duration(every) if every is not None else None,
    )
    try:
        import uvicorn

        from summarize.service import LOOPBACK, Limits, create_app, load_keys
    except ImportError:
        raise UsageError("the service needs FastAPI: pip install 'summarize[service]'") from None
    try:
        keys = load_keys(settings.api_keys, settings.api_key_file)
    except (OSError, ValueError) as exc:
        raise UsageError(f"API keys: {exc}") from None
    if host not in LOOPBACK and not keys:
        raise UsageError(
            f"refusing to serve on {host} without API keys: set SUMMARIZE_API_KEYS "
            "or --api-key-file, or bind to 127.0.0.1"
        )
    limits = Limits(
        max_body_bytes=settings.max_body_bytes,
        rate_per_minute=settings.rate_per_minute,
        failed_auth_per_minute=settings.failed_auth_per_minute,
        max_queue=settings.max_queue,
        max_job_articles=settings.max_job_articles,
        max_queued_articles=settings.max_queued_articles,
    )
    app_ = create_app(settings, keys, limits)
    # SIGTERM ends within seconds: requests in flight get a few seconds, then the worker's.
    uvicorn.run(app_, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
