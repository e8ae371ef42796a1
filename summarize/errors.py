"""Typed errors. Each message says what went wrong and what to do about it.

Every error derives from `SummarizeError` and from the builtin it resembles, so
callers can catch either. Nothing here prints or exits: the CLI maps these to
one-line messages and exit codes (see `summarize.cli.EXIT_CODES`).
"""

from __future__ import annotations


class SummarizeError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(SummarizeError, ValueError):
    """A setting is invalid: names the setting, where it came from and the accepted values."""


class UsageError(SummarizeError, ValueError):
    """The command was asked for something it cannot do (bad flag combination, no sources)."""


class InputError(SummarizeError, ValueError):
    """One source cannot be read as an article. Recorded per source; the batch goes on."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class LanguageError(SummarizeError, ValueError):
    """An article's language is undetermined or has no route to the requested output."""


class ModelNotAvailable(SummarizeError, LookupError):
    """A model the run needs is not on disk and cannot be downloaded now."""


class ModelLoadError(SummarizeError, RuntimeError):
    """A model folder exists but cannot be loaded (missing files, pickle-only weights)."""


class GenerationError(SummarizeError, RuntimeError):
    """A model failed while generating text for one article."""


class CacheError(SummarizeError, RuntimeError):
    """The cache database cannot be opened or is from a newer version of summarize."""


class ReviewError(SummarizeError, ValueError):
    """An edit or approval that cannot be made: no such item or field, empty text, a reader."""


class ReviewNotFound(ReviewError, LookupError):
    """No such item to review (or no results at all) in the folder or job."""


class ClusterError(SummarizeError, RuntimeError):
    """The Ray cluster cannot be reached, cannot host the workers asked for, or lost the job."""
