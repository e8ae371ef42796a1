"""The `summarize` command: the Typer application, its groups, and the one place where library
errors become one-line messages and exit codes.

Exit codes: 0 all good; 1 some sources failed (the rest written) or a check found something;
2 the command could not start (bad option, missing model, unreadable configuration).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from summarize._version import __version__
from summarize.errors import (
    CacheError,
    ClusterError,
    ConfigError,
    InputError,
    LanguageError,
    ModelLoadError,
    ModelNotAvailable,
    ReviewError,
    SummarizeError,
    UsageError,
)

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
# One table maps every error type to how the CLI reports it (huggingface_hub's CLI does the
# same); the first match wins.
ERROR_TABLE: list[tuple[type[BaseException], str]] = [
    (ModelNotAvailable, "model not available"),
    (ModelLoadError, "model cannot be loaded"),
    (ConfigError, "configuration error"),
    (UsageError, "usage error"),
    (CacheError, "cache error"),
    (ClusterError, "cluster error"),
    (InputError, "input error"),
    (LanguageError, "language error"),
    (ReviewError, "review error"),
    (SummarizeError, "error"),
]


def error_line(exc: BaseException) -> str:
    label = next((text for kind, text in ERROR_TABLE if isinstance(exc, kind)), "error")
    return f"summarize: {label}: {exc}"


class ErrorBoundary(TyperGroup):
    """Every command runs inside this: a `SummarizeError` from anywhere below is one line on
    stderr and exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SummarizeError as exc:
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(EXIT_USAGE) from None


app = typer.Typer(
    name="summarize",
    cls=ErrorBoundary,
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
review_app = typer.Typer(
    help="Review an output folder: list, show, edit and approve summaries and translations.",
    no_args_is_help=True,
)
stories_app = typer.Typer(
    help="The output folder's stories: list them, merge two.", no_args_is_help=True
)
edits_app = typer.Typer(help="What editors corrected, for use elsewhere.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(cache_app, name="cache")
app.add_typer(review_app, name="review")
app.add_typer(edits_app, name="edits")
app.add_typer(stories_app, name="stories")


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


class Interrupted(BaseException):
    """Ctrl-C, raised in place of KeyboardInterrupt: typer turns that into a silent exit 130,
    and the person who pressed the keys is owed one line saying what was kept."""


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted


def main() -> None:
    """Console-script entry point."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except (Interrupted, KeyboardInterrupt):
        from summarize.cli.run import DONE

        done = f" after {DONE['done']} of {DONE['total']} articles" if DONE["total"] else ""
        sys.stderr.write(
            f"\nsummarize: interrupted{done}; every result finished is kept (nothing is "
            "half-written), and running the same command again computes only what is missing\n"
        )
        sys.exit(130)
