"""Write: one JSON file per article and the batch report, each written atomically.

A file is written to a temporary name in the same folder and moved into place with
`os.replace`, so a reader (or a killed run) sees the old file or the new one, never half.
A result whose content has not changed is not rewritten: same bytes, same modification time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarize.documents import outcome_json, result_json
from summarize.files import atomic_write, write_if_changed
from summarize.types import STAGES, BatchReport, Result

if TYPE_CHECKING:
    from summarize.config import Settings
    from summarize.ninjs import NinjsOptions

# Fields that describe this run rather than the result; a change in them alone is no change.
_VOLATILE = ("seconds", "cached")


def dumps(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _stable(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    out["provenance"] = {
        stage: {k: v for k, v in rec.items() if k not in _VOLATILE}
        for stage, rec in doc.get("provenance", {}).items()
    }
    return out


def _unchanged(path: Path, doc: Mapping[str, Any]) -> bool:
    try:
        old = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and _stable(old) == _stable(doc)


def result_path(output_dir: Path, result: Result) -> Path:
    return output_dir / f"{result.article.safe_name}.json"


def write_result(output_dir: Path, result: Result, doc: Mapping[str, Any] | None = None) -> Path:
    """`<output>/<safe id>.json` (`doc`: the result as published, with its review); left
    untouched when only timings or cache flags differ."""
    path = result_path(output_dir, result)
    doc = doc if doc is not None else result_json(result)
    if not _unchanged(path, doc):
        atomic_write(path, dumps(doc))
    return path


BRIEF_FILES = {"md": "brief.md", "html": "brief.html", "jsonl": "results.jsonl", "ninjs": "ninjs"}


def ninjs_options(settings: Settings) -> NinjsOptions:
    from summarize.ninjs import NinjsOptions

    return NinjsOptions(settings.ninjs_version, settings.ninjs_drafts, settings.ninjs_uri_prefix)


def write_ninjs(
    output_dir: Path,
    docs: Sequence[Mapping[str, Any]],
    stories: Sequence[Mapping[str, Any]] | None,
    options: NinjsOptions | None = None,
) -> Path:
    """`<output>/ninjs/`: one IPTC ninjs item per file (each text in each language), for a
    CMS's drop folder; an item is rewritten only when it changed."""
    from summarize import ninjs

    folder = output_dir / BRIEF_FILES["ninjs"]
    folder.mkdir(parents=True, exist_ok=True)
    for item in ninjs.items(docs, stories, options):
        write_if_changed(folder / ninjs.file_name(item), dumps(item))
    return folder


def write_briefs(
    output_dir: Path,
    docs: Sequence[Mapping[str, Any]],
    formats: tuple[str, ...],
    stories: Sequence[Mapping[str, Any]] | None = None,
    ninjs: NinjsOptions | None = None,
) -> list[Path]:
    """The batch-wide outputs asked for: brief.md, brief.html (stories first), results.jsonl,
    ninjs items, from the result documents as published."""
    from summarize import briefs

    written = []
    if "ninjs" in formats:
        written.append(write_ninjs(output_dir, docs, stories, ninjs))

    render = {
        "md": lambda d: briefs.markdown_brief(d, stories),
        "html": lambda d: briefs.html_brief(d, stories=stories),
        "jsonl": briefs.jsonl_results,
    }
    for fmt in formats:
        if fmt in render:
            path = output_dir / BRIEF_FILES[fmt]
            write_if_changed(path, render[fmt](docs).encode("utf-8"))
            written.append(path)
    return written


def write_stories(output_dir: Path, stories: Sequence[Mapping[str, Any]]) -> Path:
    """`<output>/stories.json`: every story, its members, languages, outlets, summary."""
    path = output_dir / "stories.json"
    write_if_changed(path, dumps({"stories": stories}))
    return path


def report_json(report: BatchReport, settings_doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": {
            "sources": len(report.outcomes),
            "ok": len(report.succeeded),
            "failed": len(report.failed),
            "skipped": len(report.skipped),
            "fully_cached": sum(1 for o in report.outcomes if o.cached),
            "seconds": round(report.seconds, 3),
            # Outputs computed this run, by stage: all zero when nothing had changed.
            "computed": {k: report.computed.get(k, 0) for k in STAGES},
        },
        "settings": settings_doc,
        "stories": {
            "count": len(report.stories),
            "error": report.stories_error,
            "embedder": report.story_embedder,
        },
        "warnings": list(report.warnings),
        "sources": [outcome_json(o) for o in report.outcomes],
    }


def write_report(output_dir: Path, report: BatchReport, settings_doc: dict[str, Any]) -> Path:
    path = output_dir / "report.json"
    atomic_write(path, dumps(report_json(report, settings_doc)))
    return path
