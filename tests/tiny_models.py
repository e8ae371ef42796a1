"""Tiny random-weight models of the real architectures, with real tokenizers trained here.

BART (byte-level BPE, like DistilBART-CNN), Marian (SentencePiece source/target models and a
vocab with `>>ara<<`-style target tokens, like opus-mt), M2M100 (SentencePiece BPE and language
ids) and T5 (SentencePiece unigram). Weights are random, so the text they write is gibberish:
tests check structure, routing, caching and errors, never wording. The models are saved as
safetensors folders and loaded by the product's own loading code.

    python tests/tiny_models.py models/tiny     # build them for a manual run
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# Small enough to build in seconds, large enough to exercise chunking: 128 input positions
# are far fewer than a sample article's ~900 tokens.
DIMS: dict[str, Any] = dict(
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=128,
)
MAX_INPUT = 128


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


def build_bart(out: Path, corpus_path: Path, seed: int = 0) -> Path:
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
        vocab_size=600,
        min_frequency=1,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.save_model(str(out))
    tok = BartTokenizer(
        vocab=str(out / "vocab.json"), merges=str(out / "merges.txt"), model_max_length=MAX_INPUT
    )
    tok.save_pretrained(str(out))
    config = BartConfig(
        vocab_size=len(tok),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        **DIMS,
    )
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(config)
    _quiet_special_tokens(model, [0, 1, 2, 3, 4])
    # The shape of DistilBART-CNN's generation settings, scaled down.
    model.generation_config = GenerationConfig(
        num_beams=2,
        max_length=24,
        min_length=6,
        no_repeat_ngram_size=3,
        length_penalty=2.0,
        early_stopping=True,
        decoder_start_token_id=2,
        forced_bos_token_id=0,
        forced_eos_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    model.save_pretrained(str(out))
    return out


def build_marian(
    out: Path, corpus_path: Path, targets: tuple[str, ...] = (), seed: int = 0
) -> Path:
    """A Marian model; with `targets` (e.g. `(">>ara<<",)`) a multi-target one like opus-mt-en-ar."""
    import sentencepiece as spm
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("source", "target"):
            model_file = _spm(corpus_path, Path(tmp) / side, 300, pad=0, eos=1, unk=2)
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
    pad = vocab.setdefault("<pad>", len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        model_max_length=MAX_INPUT,
    )
    tok.save_pretrained(str(out))
    config = MarianConfig(
        vocab_size=len(vocab),
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        **DIMS,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    _quiet_special_tokens(model, [0, 1, pad] + [vocab[t] for t in targets])
    model.generation_config = GenerationConfig(
        num_beams=2,
        max_length=20,
        bad_words_ids=[[pad]],
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
    )
    model.save_pretrained(str(out))
    return out


def build_m2m100(out: Path, corpus_path: Path, seed: int = 0) -> Path:
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
            300,
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
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = M2M100Tokenizer(
        vocab_file=str(out / "vocab.json"),
        spm_file=str(out / "sentencepiece.bpe.model"),
        model_max_length=MAX_INPUT,
    )
    tok.save_pretrained(str(out))
    lang_ids = [tok.get_lang_id(code) for code in tok.lang_code_to_id]
    vocab_size = max(lang_ids) + 1 + tok.num_madeup_words
    config = M2M100Config(
        vocab_size=vocab_size,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        **DIMS,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    _quiet_special_tokens(model, [0, 1, 2, 3, *lang_ids, *range(max(lang_ids) + 1, vocab_size)])
    model.generation_config = GenerationConfig(
        num_beams=2,
        max_length=20,
        decoder_start_token_id=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
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


def build_all(root: Path) -> dict[str, Path]:
    """Every tiny model the tests use, by role; built once per session."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    root.mkdir(parents=True, exist_ok=True)
    corpus_path = corpus(root)
    return {
        "bart": build_bart(root / "tiny-bart", corpus_path),
        "t5": build_t5(root / "tiny-t5", corpus_path),
        "en-ar": build_marian(
            root / "tiny-marian-en-ar", corpus_path, targets=(">>ara<<", ">>arz<<"), seed=1
        ),
        "en-fr": build_marian(root / "tiny-marian-en-fr", corpus_path, seed=2),
        "fr-en": build_marian(root / "tiny-marian-fr-en", corpus_path, seed=3),
        "ar-en": build_marian(root / "tiny-marian-ar-en", corpus_path, seed=4),
        "m2m100": build_m2m100(root / "tiny-m2m100", corpus_path, seed=5),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "models/tiny")
    for role, path in build_all(target).items():
        print(f"{role:8} {path}")
