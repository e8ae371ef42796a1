"""Engines run a seq2seq model: load it once per process, generate text, report a signature.

Engines are found by name in `REGISTRY` ("module:Class" strings), so torch is imported only
when a model actually runs. What a signature needs (revision, generation settings, input
limit) is read from the model folder's JSON files, without loading weights, so a warm cache
never loads a model.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from summarize.catalog import ModelRef, read_json
from summarize.config import GENERATION_KEYS, Settings
from summarize.errors import ConfigError

REGISTRY: dict[str, str] = {
    "transformers.v1": "summarize.engines.hf:TransformersModel",
    "ctranslate2.v1": "summarize.engines.ct2:CTranslate2Model",
}
ALIASES = {"transformers": "transformers.v1", "ctranslate2": "ctranslate2.v1"}


class Seq2SeqModel(Protocol):
    """What the stages need from an engine."""

    ref: ModelRef
    engine: str

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def generate(
        self,
        texts: Sequence[str],
        params: Mapping[str, Any],
        *,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
    ) -> list[str]: ...

    def has_token(self, token: str) -> bool: ...


_POOL: dict[tuple[str, str, str, str], Seq2SeqModel] = {}
_POOL_LOCK = threading.Lock()


def engine_class(name: str) -> type:
    key = ALIASES.get(name, name)
    target = REGISTRY.get(key)
    if target is None:
        raise ConfigError(f"engine {name!r} is not known; choose one of {', '.join(ALIASES)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def resolve_engine(ref: ModelRef, settings: Settings) -> str:
    """The engine that runs this model: `auto` is CTranslate2 where a converted copy is on disk
    (and ctranslate2 is installed), else transformers."""
    if settings.engine != "auto":
        return settings.engine
    from summarize.engines import ct2

    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return "transformers"
    return "ctranslate2" if ct2.is_converted(ref, settings) else "transformers"


def compute_type(engine: str, settings: Settings) -> str:
    if engine == "ctranslate2":
        from summarize.engines import ct2

        return ct2.compute_type_for(settings)
    return "float32"


def get_model(ref: ModelRef, settings: Settings) -> Seq2SeqModel:
    """The process-wide instance for this model and engine (weights load on first use)."""
    engine = resolve_engine(ref, settings)
    key = (engine, str(ref.path), settings.device, compute_type(engine, settings))
    with _POOL_LOCK:
        model = _POOL.get(key)
        if model is None:
            model = engine_class(engine)(ref, settings)
            _POOL[key] = model
        return model


def clear_pool() -> None:
    """Forget loaded models (tests, and a service reloading its configuration)."""
    with _POOL_LOCK:
        _POOL.clear()


def engine_version(engine: str) -> str:
    """Versions that change outputs, for the stage signature; read without importing torch."""
    names: tuple[str, ...] = {
        "transformers.v1": ("transformers", "torch"),
        # transformers still tokenizes for the CTranslate2 engine.
        "ctranslate2.v1": ("ctranslate2", "transformers"),
    }.get(ALIASES.get(engine, engine), ())
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} missing")
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# Facts from a model folder's JSON files


def generation_defaults(ref: ModelRef, task: str) -> dict[str, Any]:
    """The model's own generation settings: generation_config.json, else the legacy keys of
    config.json and its task_specific_params (older hub checkpoints keep them there)."""
    config = read_json(ref.path / "config.json")
    out: dict[str, Any] = {k: config[k] for k in GENERATION_KEYS if k in config}
    task_params = config.get("task_specific_params") or {}
    if isinstance(task_params, dict) and isinstance(task_params.get(task), dict):
        out.update({k: v for k, v in task_params[task].items() if k in GENERATION_KEYS})
    gen = read_json(ref.path / "generation_config.json")
    out.update({k: v for k, v in gen.items() if k in GENERATION_KEYS and v is not None})
    return out


def effective_generation(ref: ModelRef, task: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    params = generation_defaults(ref, task)
    params.update(overrides)
    if "max_new_tokens" in overrides:
        params.pop("max_length", None)
    return dict(sorted(params.items()))


_HUGE = 1_000_000


def max_input_tokens(ref: ModelRef) -> int:
    """How many tokens the encoder takes, from the catalogue, tokenizer and model configs."""
    limits: list[int] = []
    if ref.entry.max_input_tokens:
        limits.append(ref.entry.max_input_tokens)
    tok = read_json(ref.path / "tokenizer_config.json").get("model_max_length")
    if isinstance(tok, (int, float)) and 0 < tok < _HUGE:
        limits.append(int(tok))
    config = read_json(ref.path / "config.json")
    pos = config.get("max_position_embeddings")
    if isinstance(pos, int) and pos > 0:
        limits.append(pos)
    return min(limits) if limits else 512


def token_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Indices grouped longest first so each padded batch stays within `budget` tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i in order:
        new_width = max(width, lengths[i])
        if current and new_width * (len(current) + 1) > budget:
            batches.append(current)
            current, new_width = [], lengths[i]
        current.append(i)
        width = new_width
    if current:
        batches.append(current)
    return batches


def describe(
    ref: ModelRef,
    settings: Settings,
    params: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a stage record and its cache signature say about a model-backed backend."""
    from summarize._version import __version__

    engine = resolve_engine(ref, settings)
    info: dict[str, Any] = {
        "model": ref.name,
        "hub": ref.entry.hub,
        "revision": ref.revision,
        "engine": engine,
        "engine_version": engine_version(engine),
        "compute_type": compute_type(engine, settings),
        "device": settings.device,
        "settings": {**dict(params), **dict(extra or {})},
        "package": __version__,
    }
    return info
