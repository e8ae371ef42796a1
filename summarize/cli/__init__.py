"""The command line: parse options, call the library, render what it returns.

One module per command group, as spaCy does (`run`, `detect`, `serve`, `watch`, `check`,
`evaluate`, `models`, `cache`, `review` with `edits`, `stories`); `_app` holds the application and the
one error boundary.
No business logic here. Heavy modules (torch, transformers, the runner) are imported inside
the commands, so `summarize --help` answers at once.
"""

from summarize.cli import (  # noqa: F401
    cache,
    check,
    detect,
    evaluate,
    models,
    review,
    run,
    serve,
    stories,
    watch,
)
from summarize.cli._app import app, main

__all__ = ["app", "main"]
