"""Convert a downloaded model to CTranslate2 (`models/<name>-ct2-<quantization>/`).

CTranslate2's own converter (4.x) predates transformers 5. Four small adaptations make it
read transformers 5 models correctly; each is applied only while converting:
- BART: transformers 5 dropped `BartConfig.normalize_before`; BART is post-norm (False).
- BERT (the stories' sentence encoder): transformers 5 dropped `position_embedding_type`;
  its BERT has absolute positions only.
- M2M100: transformers 5 no longer lists the language tokens in `special_tokens_map`, which
  the converter reads to build the vocabulary; they are taken from the tokenizer itself.
- The source model's tokenizer files are copied beside the converted weights, so the folder
  is self-contained; for BART and T5 the transformers tokenizer is also saved as
  `tokenizer.json`, which `engines/plain.py` runs without transformers.

Conversion runs under a file lock (two processes or Ray workers converting the same model wait
for one another) into a staging folder moved into place when whole. It says what it does
through the `summarize` logger (the CLI shows it as one line).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from summarize.catalog import ModelRef, check_loadable
from summarize.config import Settings
from summarize.errors import ModelLoadError, UsageError
from summarize.files import RECORD_FILE, replace_dir

log = logging.getLogger("summarize")
QUANTIZATIONS = ("int8", "int8_float32", "float32", "int8_float16", "float16")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "source.spm",
    "target.spm",
    "sentencepiece.bpe.model",
    "spiece.model",
    "generation_config.json",
    "added_tokens.json",
)


def converted_path(models_dir: Path, name: str, quantization: str) -> Path:
    return models_dir / f"{name}-ct2-{quantization}"


@contextlib.contextmanager
def _transformers5_compat() -> Iterator[Any]:
    from ctranslate2.converters import transformers as ct2_hf

    bart = ct2_hf.BartLoader
    m2m = ct2_hf.M2M100Loader
    bert = ct2_hf.BertLoader
    original_spec = bart.get_model_spec
    original_vocab = m2m.get_vocabulary
    original_bert_spec = bert.get_model_spec

    def get_model_spec(self: Any, model: Any) -> Any:
        if not hasattr(model.config, "normalize_before"):
            model.config.normalize_before = False
        return original_spec(self, model)

    def m2m_vocabulary(self: Any, model: Any, tokenizer: Any) -> list[str]:
        tokens = [t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
        if tokens and tokens[-1] == tokenizer.unk_token:  # CTranslate2 issue 1039
            tokens.insert(tokenizer.unk_token_id, tokens.pop())
        codes = getattr(tokenizer, "lang_code_to_id", {})
        for code, _ in sorted(codes.items(), key=lambda kv: kv[1]):
            token = (
                tokenizer.get_lang_token(code)
                if hasattr(tokenizer, "get_lang_token")
                else f"__{code}__"
            )
            if token not in tokens:
                tokens.append(token)
        madeup = model.config.vocab_size - len(tokens)
        tokens += [f"madeupword{i}" for i in range(max(0, madeup))]
        return tokens

    def bert_spec(self: Any, model: Any) -> Any:
        if not hasattr(model.config, "position_embedding_type"):
            model.config.position_embedding_type = "absolute"  # the only kind BERT has in 5.x
        return original_bert_spec(self, model)

    bart.get_model_spec = get_model_spec
    m2m.get_vocabulary = m2m_vocabulary
    bert.get_model_spec = bert_spec
    try:
        yield ct2_hf
    finally:
        bart.get_model_spec = original_spec
        m2m.get_vocabulary = original_vocab
        bert.get_model_spec = original_bert_spec


def convert(
    ref: ModelRef, models_dir: Path, quantization: str = "int8", force: bool = False
) -> Path:
    """Write `models/<name>-ct2-<quantization>/` once, atomically, under a lock, recording the
    source revision."""
    from filelock import FileLock

    if quantization not in QUANTIZATIONS:
        raise UsageError(f"quantization {quantization!r}: choose one of {', '.join(QUANTIZATIONS)}")
    check_loadable(ref)
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        raise ModelLoadError(
            "converting needs CTranslate2: pip install ctranslate2 (a dependency of summarize)"
        ) from None
    final = converted_path(models_dir, ref.name, quantization)
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final.parent / f".{final.name}.lock")):
        if (final / "model.bin").is_file() and not force:
            return final
        log.info(
            "converting %s to CTranslate2 %s (once; later runs reuse %s)",
            ref.name,
            quantization,
            final,
        )
        staging = final.parent / f".{final.name}.incomplete-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        started = time.perf_counter()
        try:
            _convert_into(ref, staging, quantization)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelLoadError(f"model {ref.name}: CTranslate2 conversion failed: {exc}") from exc
        record = {
            "name": final.name,
            "source": ref.name,
            "source_path": str(ref.path),
            "source_revision": ref.revision,
            "quantization": quantization,
            "converter": f"ctranslate2 {importlib.metadata.version('ctranslate2')}",
            "transformers": importlib.metadata.version("transformers"),
            "license": ref.entry.license,
            "seconds": round(time.perf_counter() - started, 2),
            "converted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staging / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        replace_dir(staging, final)
    return final


def convert_named(
    model: str, settings: Settings, quantization: str = "int8", force: bool = False
) -> tuple[ModelRef, Path]:
    """`summarize models convert MODEL`: a catalogue name or a folder, downloaded first."""
    from summarize.catalog import load_catalog, resolve
    from summarize.errors import ModelNotAvailable

    catalog = load_catalog(settings)
    entry = catalog.get(model)
    task = entry.task if entry else "summarization"  # a folder: the task does not matter
    ref = resolve(model, catalog, task=task)
    if not ref.present:
        raise ModelNotAvailable(
            f"model {ref.name} is not downloaded; run `summarize models download {ref.name}` first"
        )
    return ref, convert(ref, settings.models_dir, quantization, force=force)


def _convert_into(ref: ModelRef, staging: Path, quantization: str) -> None:
    """CTranslate2's converter, plus a `tokenizer.json` where transformers has one."""
    from summarize.engines.tokens import quiet_transformers

    quiet_transformers()
    copy = [name for name in TOKENIZER_FILES if (ref.path / name).is_file()]
    with _transformers5_compat() as ct2_hf:
        converter = ct2_hf.TransformersConverter(str(ref.path), copy_files=copy)
        converter.convert(str(staging), quantization=quantization, force=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ref.path), local_files_only=True)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if getattr(tokenizer, "is_fast", False) and backend is not None:
        backend.save(str(staging / "tokenizer.json"))
