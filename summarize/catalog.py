"""The model catalogue: turns a name, a hub id or a folder into a `ModelRef`.

It never loads weights. It knows where a model's files are (or would be), which revision
they are, what the model is for, and under which licence it may be used.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from summarize.config import Settings, user_models
from summarize.errors import ConfigError, ModelLoadError, ModelNotAvailable
from summarize.files import RECORD_FILE, atomic_write

Task = Literal["summarization", "translation", "entailment", "embedding"]
TASKS = ("summarization", "translation", "entailment", "embedding")
Origin = Literal["catalog", "hub", "local"]
_SHA = re.compile(r"^[0-9a-f]{40}$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+(@[\w.\-/]+)?$")


@dataclass(frozen=True)
class ModelEntry:
    """One catalogue entry, as written in catalog.toml (or a user's [models] table)."""

    name: str
    hub: str | None
    task: Task
    revision: str | None = None
    languages: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()
    any_to_any: bool = False
    license: str = "unknown"
    commercial: bool = True
    params: str = ""
    size_mb: int = 0
    default: bool = False
    target_tokens: Mapping[str, str] = field(default_factory=dict)
    lang_codes: str | None = None
    prefix: str = ""
    max_input_tokens: int | None = None
    description: str = ""
    # "transformers" (a hub or local transformers folder) or "argos" (an Argos Translate
    # package: a CTranslate2 model and its sentencepiece model, run as Argos runs it).
    format: str = "transformers"

    @property
    def pinned(self) -> bool:
        return self.revision is not None

    def covers_pair(self, src: str, tgt: str) -> bool:
        if self.task != "translation":
            return False
        if self.any_to_any:
            # A folder or hub model named as the fallback does not list its languages.
            return not self.languages or (src in self.languages and tgt in self.languages)
        return f"{src}-{tgt}" in self.pairs


@dataclass(frozen=True)
class ModelRef:
    """A model the run can use: its entry, where its files are, and the revision they are."""

    entry: ModelEntry
    path: Path
    origin: Origin

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def present(self) -> bool:
        return is_complete(self.path)

    @property
    def revision(self) -> str:
        """The commit the files on disk came from, or a fingerprint of a local folder."""
        recorded = read_record(self.path).get("revision")
        if isinstance(recorded, str) and recorded:
            return recorded
        if self.origin == "local":
            return "local:" + fingerprint(self.path)
        return self.entry.revision or "unpinned"


_ENTRY_KEYS = {f for f in ModelEntry.__dataclass_fields__} - {"name"}


def _entry(name: str, raw: Mapping[str, Any], where: str) -> ModelEntry:
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: model {name!r} has unknown field(s) {', '.join(sorted(unknown))}"
        )
    task = raw.get("task")
    if task not in TASKS:
        raise ConfigError(
            f"{where}: model {name!r} needs task = " + " or ".join(f'"{t}"' for t in TASKS)
        )
    revision = raw.get("revision") or None
    if revision is not None and not _SHA.match(str(revision)):
        raise ConfigError(
            f"{where}: model {name!r} revision must be a 40-hex commit, got {revision!r}"
        )
    values = dict(raw)
    values["revision"] = revision
    for key in ("languages", "pairs"):
        values[key] = tuple(str(x).lower() for x in raw.get(key, ()))
    values["target_tokens"] = dict(raw.get("target_tokens", {}))
    return ModelEntry(name=name, **values)


@dataclass(frozen=True)
class Catalog:
    entries: Mapping[str, ModelEntry]
    models_dir: Path
    source: Path | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str) -> ModelEntry | None:
        return self.entries.get(name)

    def summarizers_for(self, lang: str) -> list[ModelEntry]:
        return [
            e
            for e in self.entries.values()
            if e.task == "summarization" and lang in e.languages and e.commercial
        ]

    def _choosable_pairs(self) -> list[ModelEntry]:
        """Pair models that may be chosen automatically (commercial licences)."""
        return [e for e in self.entries.values() if e.pairs and not e.any_to_any and e.commercial]

    def pair_translators(self, src: str, tgt: str) -> list[ModelEntry]:
        """Pair models for src->tgt that may be chosen automatically (commercial licences)."""
        return [e for e in self._choosable_pairs() if e.covers_pair(src, tgt)]

    def pair_targets(self) -> set[str]:
        """Every language a pair model that may be chosen automatically translates into."""
        return {p.split("-", 1)[1] for e in self._choosable_pairs() for p in e.pairs}

    def ref(self, name: str) -> ModelRef:
        entry = self.entries[name]
        return ModelRef(entry=entry, path=self.models_dir / name, origin="catalog")

    def defaults(self) -> list[ModelEntry]:
        return [e for e in self.entries.values() if e.default]


def packaged_catalog_path() -> Path | None:
    """The catalogue shipped with the package (wheel) or beside it (source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "catalog.toml", here.parent / "models" / "catalog.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_catalog(settings: Settings, extra: Mapping[str, object] | None = None) -> Catalog:
    """Read the catalogue: the models folder's catalog.toml, else the packaged one; plus the
    user's `[models]` table from the summarize.toml the settings came from."""
    path = settings.catalog_path
    if path is None:
        local = settings.models_dir / "catalog.toml"
        path = local if local.is_file() else packaged_catalog_path()
    entries: dict[str, ModelEntry] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"model catalogue {path} cannot be read: {exc}") from None
        for name, raw in data.get("models", {}).items():
            entries[name] = _entry(name, raw, str(path))
    for name, raw in (extra if extra is not None else user_models(settings)).items():
        if not isinstance(raw, Mapping):
            raise ConfigError(f"summarize.toml: [models.{name}] must be a table")
        entries[name] = _entry(name, raw, "summarize.toml [models]")
    return Catalog(entries=entries, models_dir=settings.models_dir, source=path)


# ---------------------------------------------------------------------------
# Turning an option value into a ModelRef


def looks_like_path(value: str) -> bool:
    from summarize.argos import is_archive

    return (
        value.startswith((".", "/", "~"))
        or "\\" in value
        or Path(value).expanduser().is_dir()
        or is_archive(value)
    )


def resolve(
    value: str,
    catalog: Catalog,
    *,
    task: Task,
    languages: Iterable[str] = (),
    pair: tuple[str, str] | None = None,
) -> ModelRef:
    """A catalogue name, a hub id (`org/name[@rev]`) or a local folder -> `ModelRef`.

    For hub ids and folders the catalogue cannot say what the model covers, so the option that
    named it does (`--translator en-ar=PATH` covers en-ar; `--summarizer fr=PATH` covers fr).
    """
    langs = tuple(languages)
    pairs = (f"{pair[0]}-{pair[1]}",) if pair else ()
    if value in catalog:
        ref = catalog.ref(value)
        if ref.entry.task != task:
            raise ConfigError(f"model {value!r} is a {ref.entry.task} model, not a {task} model")
        return ref
    if looks_like_path(value):
        path = Path(value).expanduser().resolve()
        argos = _argos(value, path, catalog, task, pair)
        if argos is not None:
            return argos
        if not path.is_dir():
            # One class for a missing model, whatever names it (catalogue, folder, package).
            raise ModelNotAvailable(f"model folder {value} does not exist")
        entry = ModelEntry(
            name=path.name,
            hub=None,
            task=task,
            languages=langs,
            pairs=pairs,
            any_to_any=pair is None and task == "translation",
            lang_codes=None,
            license="local (see the folder's README)",
        )
        entry = _sniff(entry, path)
        return ModelRef(entry=entry, path=path, origin="local")
    if _HUB_ID.match(value):
        hub_id, _, rev = value.partition("@")
        if rev and not _SHA.match(rev):
            raise ConfigError(f"{value}: pin a hub model by its 40-hex commit (org/name@<sha>)")
        name = "hub--" + hub_id.replace("/", "--")
        entry = ModelEntry(
            name=name,
            hub=hub_id,
            task=task,
            revision=rev or None,
            languages=langs,
            pairs=pairs,
            any_to_any=pair is None and task == "translation",
            license="see the model card",
        )
        path = catalog.models_dir / name
        return ModelRef(entry=_sniff(entry, path), path=path, origin="hub")
    known = ", ".join(sorted(n for n, e in catalog.entries.items() if e.task == task))
    raise ConfigError(
        f"model {value!r} is not in the catalogue, not a hub id (org/name) and not a folder; "
        f"known {task} models: {known}"
    )


def _argos(
    value: str, path: Path, catalog: Catalog, task: Task, pair: tuple[str, str] | None
) -> ModelRef | None:
    """An Argos package (an `.argosmodel` archive, installed once, or its folder) as a
    translator for its own pair; None for anything else."""
    from summarize import argos

    if not argos.is_archive(value) and not argos.is_package(path):
        return None
    folder = argos.install(path, catalog.models_dir) if argos.is_archive(value) else path
    package = argos.read_package(folder)
    if task != "translation":
        raise ConfigError(f"{value} is an Argos translation package, not a {task} model")
    argos.check_pair(package, pair, value)
    entry = ModelEntry(
        name=package.name,
        hub=None,
        task="translation",
        pairs=(f"{package.src}-{package.tgt}",),
        languages=(package.src, package.tgt),
        license=package.licence,
        format="argos",
        description=f"Argos Translate package {package.src}→{package.tgt} {package.version}",
    )
    return ModelRef(entry=entry, path=folder, origin="local")


def _sniff(entry: ModelEntry, path: Path) -> ModelEntry:
    """Fill in what a folder's config tells about an uncatalogued model (M2M100 language codes)."""
    config = read_json(path / "config.json")
    model_type = config.get("model_type")
    if model_type == "m2m_100" and entry.lang_codes is None:
        return replace(entry, lang_codes="m2m100")
    if model_type == "t5" and entry.task == "summarization" and not entry.max_input_tokens:
        return replace(entry, max_input_tokens=512)
    return entry


# ---------------------------------------------------------------------------
# What is on disk

WEIGHT_SUFFIX = ".safetensors"
PICKLE_WEIGHTS = ("pytorch_model.bin", "model.ckpt", "tf_model.h5", "flax_model.msgpack")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_record(path: Path) -> dict[str, Any]:
    """What `models download` recorded about a folder (revision, files and their hashes)."""
    return read_json(path / RECORD_FILE)


def is_complete(path: Path) -> bool:
    from summarize.argos import is_package

    return ((path / "config.json").is_file() and any(path.glob("*" + WEIGHT_SUFFIX))) or (
        is_package(path)
    )


def check_loadable(ref: ModelRef) -> None:
    """Refuse folders with only pickle weights: they can run arbitrary code when loaded."""
    if not ref.path.is_dir():
        raise ModelLoadError(f"model {ref.name}: folder {ref.path} does not exist")
    if not (ref.path / "config.json").is_file():
        raise ModelLoadError(
            f"model {ref.name}: {ref.path} has no config.json; is it a model folder?"
        )
    if not any(ref.path.glob("*" + WEIGHT_SUFFIX)):
        if any((ref.path / name).exists() for name in PICKLE_WEIGHTS):
            raise ModelLoadError(
                f"model {ref.name}: {ref.path} has only pickle weights, which summarize does not "
                "load (they can run code); use a revision with model.safetensors"
            )
        raise ModelLoadError(f"model {ref.name}: {ref.path} has no *.safetensors weights")


def fingerprint(path: Path) -> str:
    """A cheap identity for a local folder: configs by content, weights by name, size and mtime."""
    digest = hashlib.sha256()
    for child in sorted(path.iterdir()) if path.is_dir() else []:
        if not child.is_file() or child.name == RECORD_FILE:
            continue
        digest.update(child.name.encode())
        if child.suffix == ".json" and child.stat().st_size < 1_000_000:
            digest.update(child.read_bytes())
        else:
            stat = child.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ModelRow:
    """One catalogue model as `models list` and `/v1/models` show it."""

    name: str
    task: str
    hub: str | None
    covers: str
    license: str
    commercial: bool
    params: str
    size_mb: int
    default: bool
    revision: str
    present: bool
    path: str
    loaded: bool = False


def model_rows(catalog: Catalog, loaded: Iterable[Path] = ()) -> list[ModelRow]:
    """Every catalogue entry with where it stands: pinned or not, downloaded, loaded."""
    in_memory = {str(p) for p in loaded}
    rows = []
    for entry in catalog.entries.values():
        ref = catalog.ref(entry.name)
        if entry.pairs:
            covers = ", ".join(entry.pairs)
        elif len(entry.languages) > 6:
            covers = f"{len(entry.languages)} languages"
        else:
            covers = ", ".join(entry.languages)
        rows.append(
            ModelRow(
                name=entry.name,
                task=entry.task,
                hub=entry.hub,
                covers=covers,
                license=entry.license,
                commercial=entry.commercial,
                params=entry.params,
                size_mb=entry.size_mb,
                default=entry.default,
                revision=entry.revision or "unpinned",
                present=ref.present,
                path=str(ref.path),
                loaded=str(ref.path) in in_memory,
            )
        )
    return rows


def add_user_model(config_file: Path, name: str, raw: Mapping[str, object]) -> None:
    """Append a `[models.NAME]` table to summarize.toml, after checking it is a valid entry."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", name):
        raise ConfigError(f"model name {name!r}: use letters, digits, '.', '_' and '-'")
    values = {k: v for k, v in raw.items() if v not in (None, [], "")}
    _entry(name, values, str(config_file))  # validates task, revision, fields
    existing = config_file.read_text(encoding="utf-8") if config_file.is_file() else ""
    try:
        current = tomllib.loads(existing)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: not valid TOML ({exc})") from None
    if name in current.get("models", {}):
        raise ConfigError(f"{config_file} already has a model named {name!r}")
    lines = [f"\n[models.{json.dumps(name)}]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    text = existing.rstrip("\n") + ("\n" if existing else "") + "\n".join(lines) + "\n"
    atomic_write(config_file, text.encode("utf-8"))
