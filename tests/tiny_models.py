"""Tiny random-weight models of the real architectures, with real tokenizers trained here.

BART (byte-level BPE, like DistilBART-CNN), Marian (SentencePiece source/target models and a
vocab with `>>ara<<`-style target tokens, like opus-mt), M2M100 (SentencePiece BPE and language
ids) and T5 (SentencePiece unigram). Weights are random, so the text they write is gibberish:
tests check structure, routing, caching and errors, never wording. The models are saved as
safetensors folders and loaded by the product's own loading code.

    python tests/tiny_models.py models/tiny     # build them for a manual run

The same builders make the benchmark's models (bench/pipeline.py) from a `Shape` with the
real models' dimensions: one builder per architecture, parameterised by shape.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Small enough to build in seconds, large enough to exercise chunking: 128 input positions
# are far fewer than a sample article's ~900 tokens.
MAX_INPUT = 128
SENTENCE_ENDS = (".", "!", "?", "؟", "…")


@dataclass(frozen=True)
class Shape:
    """A model's dimensions, vocabulary and generation settings.

    `damp` says how random weights are kept from ending at once: "quiet" (tests: special
    tokens' output rows zeroed and biased) or "bias" (benchmark: ends of sequence and of
    sentence, and the padding entries that bring the vocabulary to `vocab`, biased away, so
    every engine does the same fixed amount of work)."""

    d_model: int = 32
    encoder_layers: int = 1
    decoder_layers: int = 1
    heads: int = 2
    ffn: int = 64
    max_positions: int = MAX_INPUT
    activation: str | None = None
    scale_embedding: bool | None = None
    vocab: int | None = None  # pad the vocabulary to this size (None: as trained)
    tokenizer_vocab: int = 300
    min_frequency: int = 1
    damp: str = "quiet"
    generation: Mapping[str, Any] = field(default_factory=dict)

    def dims(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(
            d_model=self.d_model,
            encoder_layers=self.encoder_layers,
            decoder_layers=self.decoder_layers,
            encoder_attention_heads=self.heads,
            decoder_attention_heads=self.heads,
            encoder_ffn_dim=self.ffn,
            decoder_ffn_dim=self.ffn,
            max_position_embeddings=self.max_positions,
        )
        if self.activation is not None:
            out["activation_function"] = self.activation
        if self.scale_embedding is not None:
            out["scale_embedding"] = self.scale_embedding
        return out


TINY_BART = Shape(
    tokenizer_vocab=600,
    generation=dict(
        num_beams=2,
        max_length=24,
        min_length=6,
        no_repeat_ngram_size=3,
        length_penalty=2.0,
        early_stopping=True,
    ),
)
TINY_MARIAN = Shape(generation=dict(num_beams=2, max_length=20))
TINY_M2M100 = Shape(generation=dict(num_beams=2, max_length=20))


def _pad_vocab(vocab: dict[str, int], size: int | None) -> None:
    """Unused entries up to `size`, so a model has the real vocabulary's shape."""
    while size is not None and len(vocab) < size:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)


def _bias_away(model: Any, token_ids: list[int], real_vocab: int | None = None) -> None:
    """The benchmark's damping: ends (and the padding from `real_vocab` on) biased away."""
    import torch

    with torch.no_grad():
        bias = getattr(model, "final_logits_bias", None)
        if bias is None:  # no output bias (M2M100): those rows write nothing
            for token_id in token_ids:
                model.get_output_embeddings().weight[token_id] = 0.0
            return
        for token_id in token_ids:
            bias[0, token_id] = -1e4
        if real_vocab is not None:
            bias[0, real_vocab:] = -1e4


def corpus(workdir: Path) -> Path:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted(DATA.glob("corpus_*.txt"))]
    path = workdir / "corpus.txt"
    path.write_text("\n".join(texts * 2), encoding="utf-8")
    return path


def _spm(
    corpus_path: Path, prefix: Path, vocab: int, model_type: str = "unigram", **ids: int
) -> Path:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        input=str(corpus_path),
        model_prefix=str(prefix),
        vocab_size=vocab,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        pad_id=ids.get("pad", -1),
        eos_id=ids.get("eos", 1),
        unk_id=ids.get("unk", 2),
        bos_id=ids.get("bos", -1),
    )
    return Path(f"{prefix}.model")


def _quiet_special_tokens(model: Any, token_ids: list[int]) -> None:
    """Random weights tend to end at once or emit special tokens; damp those so outputs have text."""
    import torch

    with torch.no_grad():
        head = model.get_output_embeddings()
        for token_id in token_ids:
            head.weight[token_id] = 0.0
        bias = getattr(model, "final_logits_bias", None)
        if bias is not None:
            for token_id in token_ids:
                bias[0, token_id] = -20.0


def build_bart(out: Path, corpus_path: Path, seed: int = 0, shape: Shape = TINY_BART) -> Path:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BartTokenizer,
        GenerationConfig,
    )

    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train(
        [str(corpus_path)],
        vocab_size=shape.tokenizer_vocab,
        min_frequency=shape.min_frequency,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.save_model(str(out))
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    real = len(vocab)
    if shape.vocab is not None:
        _pad_vocab(vocab, shape.vocab)
        (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = BartTokenizer(
        vocab=str(out / "vocab.json"),
        merges=str(out / "merges.txt"),
        model_max_length=shape.max_positions,
    )
    tok.save_pretrained(str(out))
    ids = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    forced = dict(forced_bos_token_id=0, forced_eos_token_id=2)
    config = BartConfig(vocab_size=len(tok), **ids, **forced, **shape.dims())
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(config)
    if shape.damp == "quiet":
        _quiet_special_tokens(model, [0, 1, 2, 3, 4])
    else:
        ends = [i for t, i in vocab.items() if any(e in t for e in SENTENCE_ENDS)]
        _bias_away(model, [0, 1, 2, 3, 4, *ends], real_vocab=real)
    # The shape of DistilBART-CNN's generation settings (scaled down for the tests).
    model.generation_config = GenerationConfig(**shape.generation, **forced, **ids)
    model.save_pretrained(str(out))
    return out


def build_marian(
    out: Path,
    corpus_path: Path,
    targets: tuple[str, ...] = (),
    seed: int = 0,
    shape: Shape = TINY_MARIAN,
) -> Path:
    """A Marian model; with `targets` (e.g. `(">>ara<<",)`) a multi-target one like opus-mt-en-ar."""
    import sentencepiece as spm
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("source", "target"):
            model_file = _spm(
                corpus_path, Path(tmp) / side, shape.tokenizer_vocab, pad=0, eos=1, unk=2
            )
            shutil.copy(model_file, out / f"{side}.spm")
    # The real opus-mt layout: </s> = 0, <unk> = 1, ..., <pad> last, and the decoder starts
    # from <pad>.
    vocab: dict[str, int] = {"</s>": 0, "<unk>": 1}
    for side in ("source", "target"):
        proc = spm.SentencePieceProcessor(model_file=str(out / f"{side}.spm"))
        for i in range(proc.get_piece_size()):
            piece = proc.id_to_piece(i)
            if piece not in ("<pad>", "</s>", "<unk>"):
                vocab.setdefault(piece, len(vocab))
    for token in targets:
        vocab.setdefault(token, len(vocab))
    real = len(vocab)
    if shape.vocab is not None:
        _pad_vocab(vocab, shape.vocab - 1)
    pad = vocab.setdefault("<pad>", len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        model_max_length=shape.max_positions,
    )
    tok.save_pretrained(str(out))
    ids = dict(pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad)
    config = MarianConfig(vocab_size=len(vocab), forced_eos_token_id=0, **ids, **shape.dims())
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    target_ids = [vocab[t] for t in targets]
    if shape.damp == "quiet":
        _quiet_special_tokens(model, [0, 1, pad, *target_ids])
    else:
        _bias_away(model, [0, 1, *target_ids], real_vocab=real)
    model.generation_config = GenerationConfig(
        **shape.generation, bad_words_ids=[[pad]], forced_eos_token_id=0, **ids
    )
    model.save_pretrained(str(out))
    return out


def build_m2m100(out: Path, corpus_path: Path, seed: int = 0, shape: Shape = TINY_M2M100) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import (
        GenerationConfig,
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
    )

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = _spm(
            corpus_path,
            Path(tmp) / "sentencepiece.bpe",
            shape.tokenizer_vocab,
            model_type="bpe",
            bos=0,
            pad=1,
            eos=2,
            unk=3,
        )
        shutil.copy(model_file, out / "sentencepiece.bpe.model")
    proc = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(proc.get_piece_size()):
        vocab.setdefault(proc.id_to_piece(i), len(vocab))
    if shape.vocab is not None:  # the language tokens and made-up words follow the vocabulary
        _pad_vocab(vocab, shape.vocab - 100 - 8)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = M2M100Tokenizer(
        vocab_file=str(out / "vocab.json"),
        spm_file=str(out / "sentencepiece.bpe.model"),
        model_max_length=shape.max_positions,
    )
    tok.save_pretrained(str(out))
    lang_ids = [tok.get_lang_id(code) for code in tok.lang_code_to_id]
    vocab_size = max(lang_ids) + 1 + tok.num_madeup_words
    ids = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    config = M2M100Config(vocab_size=vocab_size, **ids, **shape.dims())
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    if shape.damp == "quiet":
        specials = [0, 1, 2, 3, *lang_ids, *range(max(lang_ids) + 1, vocab_size)]
        _quiet_special_tokens(model, specials)
    else:
        _bias_away(model, [2])
    model.generation_config = GenerationConfig(**shape.generation, **ids)
    model.save_pretrained(str(out))
    return out


def build_t5(out: Path, corpus_path: Path, seed: int = 0) -> Path:
    import sentencepiece as spm
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration, T5Tokenizer

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = _spm(corpus_path, Path(tmp) / "spiece", 300, pad=0, eos=1, unk=2)
        proc = spm.SentencePieceProcessor(model_file=str(model_file))
        vocab = [(proc.id_to_piece(i), proc.get_score(i)) for i in range(proc.get_piece_size())]
    tok = T5Tokenizer(vocab=vocab, extra_ids=10, model_max_length=MAX_INPUT)
    tok.save_pretrained(str(out))
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        feed_forward_proj="gated-gelu",
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    _quiet_special_tokens(model, [0, 1, 2])
    model.generation_config = GenerationConfig(
        num_beams=2,
        max_length=20,
        no_repeat_ngram_size=3,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    model.save_pretrained(str(out))
    return out


def build_nli(out: Path, corpus_path: Path, seed: int = 0) -> Path:
    """A tiny XLM-RoBERTa sequence classifier with NLI labels: the architecture of the
    entailment check's catalogue model, laid out as its repository is (sentencepiece model,
    tokenizer.json, safetensors)."""
    import sentencepiece as spm
    import torch
    from transformers import (
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
        XLMRobertaTokenizer,
    )

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # fairseq's order, as XLM-R has it: <s> 0, <pad> 1, </s> 2, <unk> 3.
        model_file = _spm(corpus_path, Path(tmp) / "spm", 300, bos=0, pad=1, eos=2, unk=3)
        shutil.copy(model_file, out / "sentencepiece.bpe.model")
        proc = spm.SentencePieceProcessor(model_file=str(model_file))
        vocab = [(proc.id_to_piece(i), proc.get_score(i)) for i in range(proc.get_piece_size())]
    tok = XLMRobertaTokenizer(vocab=vocab, model_max_length=MAX_INPUT)
    tok.save_pretrained(str(out))
    labels = {0: "entailment", 1: "neutral", 2: "contradiction"}
    config = XLMRobertaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_INPUT + 2,
        num_labels=3,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    XLMRobertaForSequenceClassification(config).save_pretrained(str(out))
    return out


@dataclass(frozen=True)
class EncoderShape:
    """A BERT sentence encoder's dimensions (the tests' tiny one by default)."""

    hidden: int = 32
    layers: int = 1
    heads: int = 2
    ffn: int = 64
    vocab: int | None = None  # the model's vocabulary (None: the tokenizer's)
    tokenizer_vocab: int = 300


# multilingual-e5-small as its config.json gives it (BertModel, XLM-R vocabulary).
E5_SMALL = EncoderShape(hidden=384, layers=12, heads=12, ffn=1536, vocab=250_037)


def build_encoder(
    out: Path, corpus_path: Path, seed: int = 0, shape: EncoderShape = EncoderShape()
) -> Path:
    """A BERT sentence encoder with an XLM-R tokenizer: the architecture and layout of
    multilingual-e5-small, the stories' embedder (BertModel, sentencepiece + tokenizer.json),
    tiny for the tests or of e5's real shape (random weights) for the benchmark."""
    import sentencepiece as spm
    import torch
    from transformers import BertConfig, BertModel, XLMRobertaTokenizer

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = _spm(
            corpus_path, Path(tmp) / "spm", shape.tokenizer_vocab, bos=0, pad=1, eos=2, unk=3
        )
        shutil.copy(model_file, out / "sentencepiece.bpe.model")
        proc = spm.SentencePieceProcessor(model_file=str(model_file))
        vocab = [(proc.id_to_piece(i), proc.get_score(i)) for i in range(proc.get_piece_size())]
    tok = XLMRobertaTokenizer(vocab=vocab, model_max_length=512)
    tok.save_pretrained(str(out))
    config = BertConfig(
        vocab_size=max(len(tok), shape.vocab or 0),
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.ffn,
        max_position_embeddings=512,
        tokenizer_class="XLMRobertaTokenizer",
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out))
    return out


# Each tiny model's folder under the root, by role: `build_all` builds them there, and a
# benchmark given an already built root (`make tiny`) finds them by the same names.
FOLDERS = {
    "bart": "tiny-bart",
    "t5": "tiny-t5",
    "en-ar": "tiny-marian-en-ar",
    "en-fr": "tiny-marian-en-fr",
    "fr-en": "tiny-marian-fr-en",
    "ar-en": "tiny-marian-ar-en",
    "m2m100": "tiny-m2m100",
    "nli": "tiny-nli",
    "encoder": "tiny-encoder",
}


def folders(root: Path) -> dict[str, Path]:
    """Where each tiny model is (or will be) under `root`, by role."""
    return {role: root / name for role, name in FOLDERS.items()}


def build_all(root: Path) -> dict[str, Path]:
    """Every tiny model the tests use, by role; built once per session."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    root.mkdir(parents=True, exist_ok=True)
    corpus_path = corpus(root)
    at = folders(root)
    return {
        "bart": build_bart(at["bart"], corpus_path),
        "t5": build_t5(at["t5"], corpus_path),
        "en-ar": build_marian(at["en-ar"], corpus_path, targets=(">>ara<<", ">>arz<<"), seed=1),
        "en-fr": build_marian(at["en-fr"], corpus_path, seed=2),
        "fr-en": build_marian(at["fr-en"], corpus_path, seed=3),
        "ar-en": build_marian(at["ar-en"], corpus_path, seed=4),
        "m2m100": build_m2m100(at["m2m100"], corpus_path, seed=5),
        "nli": build_nli(at["nli"], corpus_path, seed=6),
        "encoder": build_encoder(at["encoder"], corpus_path, seed=7),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "models/tiny")
    for role, path in build_all(target).items():
        print(f"{role:8} {path}")
