"""Engines run a seq2seq model: load it once per process, generate text, report a signature.

Engines are found by name in `REGISTRY` ("module:Class" strings), so torch is imported only
when a model actually runs. What a signature needs (revision, generation settings, input
limit) is read from the model folder's JSON files, without loading weights, so a warm cache
never loads a model.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from summarize.catalog import ModelRef, read_json
from summarize.config import GENERATION_KEYS, Settings
from summarize.errors import ConfigError

REGISTRY: dict[str, str] = {
    "transformers.v1": "summarize.engines.hf:TransformersModel",
    "ctranslate2.v1": "summarize.engines.ct2:CTranslate2Model",
    # Argos Translate packages run as Argos runs them (never chosen with --engine).
    "argos.v1": "summarize.engines.argos:ArgosModel",
}
ALIASES = {"transformers": "transformers.v1", "ctranslate2": "ctranslate2.v1"}
ARGOS = "argos.v1"


@dataclass(frozen=True)
class Generation:
    """One output, and whether the model stopped at its length limit instead of at the end
    of its sequence (then the text may be cut off: a `truncated_output` warning)."""

    text: str
    truncated: bool = False


# With no length limit from the model or the user, a translation may be at most
# FACTOR x its input tokens + MARGIN (never transformers' silent 20), and a summary
# SUMMARY_MAX_NEW_TOKENS.
LENGTH_FROM_INPUT = "max_new_tokens_from_input"
TRANSLATION_LENGTH = (2, 16)
SUMMARY_MAX_NEW_TOKENS = 256


def output_limits(
    params: Mapping[str, Any], input_lengths: Sequence[int], cap: int | None = None
) -> list[int]:
    """How many tokens each output may have, counted as transformers counts new tokens (the
    decoder's start token excluded; a forced first token and a forced end token included)."""
    if LENGTH_FROM_INPUT in params:
        factor, margin = params[LENGTH_FROM_INPUT]
        limits = [int(factor) * n + int(margin) for n in input_lengths]
    elif "max_new_tokens" in params:
        limits = [int(params["max_new_tokens"])] * len(input_lengths)
    else:
        limits = [int(params.get("max_length", 20)) - 1] * len(input_lengths)
    return [max(1, min(n, cap)) if cap else max(1, n) for n in limits]


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
    ) -> list[Generation]: ...

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


# Architectures CTranslate2 converts and this project has tested (parity with transformers).
CT2_MODEL_TYPES = frozenset({"bart", "marian", "m2m_100", "t5", "mt5"})


def resolve_engine(ref: ModelRef, settings: Settings) -> str:
    """The engine that runs this model. `auto` (the default) is CTranslate2 for every
    architecture it runs (converted once, on first use), else transformers. Decided from the
    catalogue and the folder's config.json alone, so it is the same before and after a download
    or conversion (it is part of the stage signature)."""
    if ref.entry.format == "argos":  # a package is a CTranslate2 model: nothing else runs it
        return ARGOS
    if settings.engine != "auto":
        return settings.engine
    import importlib.util

    if importlib.util.find_spec("ctranslate2") is None:
        return "transformers"
    if ref.entry.lang_codes == "nllb":  # not tested with CTranslate2 here
        return "transformers"
    config = read_json(ref.path / "config.json")
    # A catalogue model not downloaded yet: every catalogue entry is an architecture above.
    supported = config.get("model_type") in CT2_MODEL_TYPES if config else ref.origin == "catalog"
    return "ctranslate2" if supported else "transformers"


def compute_type(engine: str, settings: Settings) -> str:
    if engine in ("ctranslate2", ARGOS):
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


def loaded_models() -> list[Path]:
    """The folders of the models this process has loaded (by any engine)."""
    with _POOL_LOCK:
        return sorted({Path(key[1]) for key in _POOL})


def clear_pool() -> None:
    """Forget loaded models (tests, and a service reloading its configuration)."""
    with _POOL_LOCK:
        _POOL.clear()


@functools.cache
def engine_version(engine: str) -> str:
    """Versions that change outputs, for the stage signature; read without importing torch
    (once per process: reading package metadata costs milliseconds per call)."""
    names: tuple[str, ...] = {
        "transformers.v1": ("transformers", "torch"),
        # Tokenizing for CTranslate2: tokenizers or sentencepiece (see engines/plain.py).
        "ctranslate2.v1": ("ctranslate2", "tokenizers", "sentencepiece"),
        ARGOS: ("ctranslate2", "sentencepiece"),
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
    """The model's generation settings with the user's on top, and always a length limit."""
    params = generation_defaults(ref, task)
    params.update(overrides)
    if "max_new_tokens" in overrides:
        params.pop("max_length", None)
    if "max_length" not in params and "max_new_tokens" not in params:
        if task == "translation":
            params[LENGTH_FROM_INPUT] = list(TRANSLATION_LENGTH)
        else:
            params["max_new_tokens"] = SUMMARY_MAX_NEW_TOKENS
    return dict(sorted(params.items()))


def decoder_positions(ref: ModelRef) -> int | None:
    """The most output positions the model has (None: no fixed limit, as in T5)."""
    config = read_json(ref.path / "config.json")
    if config.get("model_type") in ("t5", "mt5"):
        return None
    pos = config.get("max_position_embeddings")
    return pos if isinstance(pos, int) and pos > 0 else None


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
