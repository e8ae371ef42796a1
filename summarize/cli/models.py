"""summarize models: the catalogue, downloads, checks, conversion."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from summarize.cli._app import EXIT_OK, EXIT_SOME_FAILED, models_app
from summarize.cli._options import (
    ConfigOpt,
    NoPickleOpt,
    _settings,
    _show_progress_lines,
)
from summarize.errors import UsageError


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
    from summarize.catalog import load_catalog, model_rows

    catalog = load_catalog(settings)
    rows = model_rows(catalog)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    if markdown:
        typer.echo("| name | task | covers | licence | params | download | default | revision |")
        typer.echo("|---|---|---|---|---|---|---|---|")
        for r in rows:
            licence = r.license + ("" if r.commercial else " (non-commercial)")
            typer.echo(
                f"| `{r.name}` | {r.task} | {r.covers} | {licence} | {r.params} | "
                f"{r.size_mb} MB | {'yes' if r.default else ''} | `{r.revision[:12]}` |"
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Model catalogue ({catalog.source})")
    for col in ("name", "task", "covers", "license", "size", "default", "revision", "present"):
        table.add_column(col)
    for r in rows:
        licence = r.license + ("" if r.commercial else " (non-commercial)")
        table.add_row(
            r.name,
            r.task,
            r.covers,
            licence,
            f"{r.size_mb} MB",
            "yes" if r.default else "",
            r.revision[:12],
            "yes" if r.present else "no",
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

    refs = _chosen_refs(load_catalog(settings), names, all_models)
    fetched = ensure_present(refs, settings, progress=sys.stderr.isatty())
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

    catalog = load_catalog(settings)
    refs = (
        _chosen_refs(catalog, names, False)
        if names
        else [catalog.ref(n) for n in catalog.entries if catalog.ref(n).present]
    )
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
        typer.Argument(
            help="Catalogue names [default: every downloaded model and every model the "
            "settings name by folder]."
        ),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="auto, ctranslate2 or transformers [default: auto].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Load each downloaded model (and each one the settings name by folder) and run it on a
    fixed sentence: does it really work?

    Translators turn "The meeting is on Monday." into French with "lundi" and Arabic with
    "الاثنين"; a summariser writes a summary shorter than its input, in its language, not a
    loop. Run it once after `summarize models download`. Exit 1 if any check fails.

    Example: summarize models check opus-mt-tc-big-en-ar
    """
    settings = _settings(config, engine=engine)
    from summarize.catalog import load_catalog
    from summarize.smoke import check_models

    _show_progress_lines()
    catalog = load_catalog(settings)
    if names:
        _chosen_refs(catalog, names, False)  # unknown names are a usage error
    results = check_models(catalog, settings, names or ())
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
    from summarize.convert import convert_named

    if to != "ctranslate2":
        raise UsageError(f"--to {to}: only ctranslate2 is supported")
    ref, out = convert_named(model, settings, quantization, force=force)
    typer.echo(f"{ref.name} ({ref.revision}) -> {out}")


@models_app.command("add")
def models_add(
    name: Annotated[
        str,
        typer.Argument(
            help="The name runs will use for this model, or an Argos package (.argosmodel) "
            "to install into the models folder."
        ),
    ],
    hub: Annotated[str | None, typer.Option(help="Hub id, org/name.")] = None,
    revision: Annotated[str | None, typer.Option(help="The 40-hex commit to pin.")] = None,
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
    """Add a newsroom's own model to the catalogue (a [models.NAME] table in summarize.toml),
    or install an Argos Translate package (checked, unpacked once, nothing in it run).

    Examples: summarize models add our-sum --hub newsroom/sum --revision <sha> --languages fr;
    summarize models add translate-zh_en-1_9.argosmodel
    """
    from summarize.argos import is_archive
    from summarize.catalog import add_user_model

    if is_archive(name) or Path(name).is_dir():
        _add_argos(Path(name), config_file)
        return
    if not hub or not revision:
        raise UsageError(
            "a hub model needs --hub org/name and --revision <40-hex commit> "
            "(or give an .argosmodel file to install an Argos package)"
        )

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
    typer.echo(f"added {name} to {config_file}; fetch it with `summarize models download {name}`")


def _add_argos(path: Path, config_file: Path) -> None:
    from summarize import argos
    from summarize.catalog import ModelRef, load_catalog, resolve

    catalog = load_catalog(_settings(config_file if config_file.is_file() else None))
    folder = argos.install(path, catalog.models_dir) if argos.is_archive(str(path)) else path
    package = argos.read_package(folder)
    ref: ModelRef = resolve(
        str(folder), catalog, task="translation", pair=(package.src, package.tgt)
    )
    typer.echo(
        f"installed {ref.name} ({package.src}→{package.tgt}, {ref.revision}) in {folder}\n"
        f"licence: {package.licence}\n"
        f"use it: --translator {package.src}-{package.tgt}={folder}\n"
        f'or in summarize.toml: [translators] "{package.src}-{package.tgt}" = "{folder}"'
    )
