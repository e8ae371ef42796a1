"""Replicas of the default models' hub repositories at their pinned revisions.

Each replica lists the files the real revision has, by the names and sizes shown on the hub's
own tree pages (stored copies of huggingface.co, read 2026-11-23). The files a download takes
(configs, tokenizers, weights) hold a tiny random-weight model of the same architecture, laid
out exactly as the real repository lays it out (DistilBART: only `pytorch_model.bin`, generation
settings in config.json, no tokenizer.json; the tc-big Marians: float16 safetensors). The rest
(READMEs, Flax, Rust and TF weights, the pickle beside a safetensors file) are phantoms: listed
with their real sizes, never served. A pin that moves, or a revision the downloader cannot turn
into loadable weights, fails the replica test.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fake_hub import HubRepo

_UNITS = {"B": 1, "kB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}


def _bytes(text: str | None) -> int:
    if text is None:  # listed on the hub, size not seen in the stored pages
        return 0
    number, unit = text.split()
    return int(float(number) * _UNITS[unit])


@dataclass(frozen=True)
class Replica:
    name: str  # catalogue name
    repo: str
    revision: str
    tiny: str  # which tiny model stands in for it
    files: dict[str, str | None]  # every file of the revision -> its size as the hub shows it
    fetched: frozenset[str]  # the files a download takes (the rest are phantoms)


# What a download takes from a tc-big Marian revision (the rest are phantoms).
TC_BIG_FETCHED = frozenset(
    {
        "benchmark_results.txt",
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "source.spm",
        "special_tokens_map.json",
        "target.spm",
        "tokenizer_config.json",
        "vocab.json",
    }
)

REPLICAS = [
    Replica(
        "distilbart-cnn-12-6",
        "sshleifer/distilbart-cnn-12-6",
        "a4f8f3ea906ed274767e9906dbaede7531d660ff",
        "bart",
        {
            ".gitattributes": "445 B",
            "README.md": "1.71 kB",
            "config.json": "1.8 kB",
            "flax_model.msgpack": "1.22 GB",
            "merges.txt": "456 kB",
            "pytorch_model.bin": "1.22 GB",
            "rust_model.ot": "1.63 GB",
            "tokenizer_config.json": "26 B",
            "vocab.json": "899 kB",
        },
        frozenset(
            {
                "config.json",
                "merges.txt",
                "pytorch_model.bin",
                "tokenizer_config.json",
                "vocab.json",
            }
        ),
    ),
    Replica(
        "opus-mt-tc-big-en-ar",
        "Helsinki-NLP/opus-mt-tc-big-en-ar",
        "ae9f1b2fd512000ca9440eb3b8ec9aa9acb298ac",
        "en-ar",
        {
            ".gitattributes": "1.31 kB",
            "README.md": "6.68 kB",
            "benchmark_results.txt": "475 B",
            "benchmark_translations.zip": "2.11 MB",
            "config.json": "1.08 kB",
            "generation_config.json": "301 B",
            "model.safetensors": "478 MB",
            "pytorch_model.bin": "478 MB",
            "source.spm": "806 kB",
            "special_tokens_map.json": "65 B",
            "target.spm": "916 kB",
            "tf_model.h5": None,
            "tokenizer_config.json": "337 B",
            "vocab.json": "2.21 MB",
        },
        TC_BIG_FETCHED,
    ),
    Replica(
        "opus-mt-tc-big-en-fr",
        "Helsinki-NLP/opus-mt-tc-big-en-fr",
        "6e062862ced6f5622a589ab2aadc2a1d4978db78",
        "en-fr",
        {
            ".gitattributes": "1.31 kB",
            "README.md": "10.3 kB",
            "benchmark_results.txt": "1.01 kB",
            "benchmark_translations.zip": "5.21 MB",
            "config.json": "1.08 kB",
            "generation_config.json": "301 B",
            "model.safetensors": "461 MB",
            "pytorch_model.bin": "461 MB",
            "source.spm": "802 kB",
            "special_tokens_map.json": None,
            "target.spm": None,
            "tf_model.h5": None,
            "tokenizer_config.json": "337 B",
            "vocab.json": "1.33 MB",
        },
        TC_BIG_FETCHED,
    ),
    Replica(
        "m2m100-418m",
        "facebook/m2m100_418M",
        "17ef199e3a3479ca5d572350066761c5e926ac03",
        "m2m100",
        {
            ".gitattributes": "744 B",
            "README.md": "4.6 kB",
            "config.json": "908 B",
            "generation_config.json": "233 B",
            "model.safetensors": "1.94 GB",
            "pytorch_model.bin": "1.94 GB",
            "rust_model.ot": "1.94 GB",
            "sentencepiece.bpe.model": "2.42 MB",
            "special_tokens_map.json": "1.14 kB",
            "tokenizer_config.json": "272 B",
            "vocab.json": "3.71 MB",
        },
        frozenset(
            {
                "config.json",
                "generation_config.json",
                "model.safetensors",
                "sentencepiece.bpe.model",
                "special_tokens_map.json",
                "tokenizer_config.json",
                "vocab.json",
            }
        ),
    ),
    # The stories' embedder. The tree at this commit (stored huggingface.co page) lists these
    # top-level files (1_Pooling/ and onnx/ are folders, never fetched); the sizes of the three
    # tokenizer files are from the tree page of 7cf867c, where the same files ("upload model
    # weights") are listed whole.
    Replica(
        "multilingual-e5-small",
        "intfloat/multilingual-e5-small",
        "62ff60abe92eb88c1b297fabaad28f7ac77b5875",
        "encoder",
        {
            ".gitattributes": "1.57 kB",
            "README.md": "498 kB",
            "config.json": "655 B",
            "model.safetensors": "471 MB",
            "modules.json": "387 B",
            "pytorch_model.bin": "471 MB",
            "sentence_bert_config.json": "57 B",
            "sentencepiece.bpe.model": "5.07 MB",
            "special_tokens_map.json": "167 B",
            "tokenizer.json": "17.1 MB",
            "tokenizer_config.json": "471 B",
        },
        frozenset(
            {
                "config.json",
                "model.safetensors",
                "modules.json",
                "sentence_bert_config.json",
                "sentencepiece.bpe.model",
                "special_tokens_map.json",
                "tokenizer.json",
                "tokenizer_config.json",
            }
        ),
    ),
]
# sentence-transformers' own files in a revision, written as stand-ins where the tiny model has
# none (the product fetches them with the other *.json and reads neither).
_SENTENCE_TRANSFORMERS = {
    "modules.json": '[{"idx": 0, "name": "0", "path": "", '
    '"type": "sentence_transformers.models.Transformer"}]',
    "sentence_bert_config.json": '{"max_seq_length": 512, "do_lower_case": false}',
}


def _as_pickle_only(folder: Path) -> None:
    """DistilBART's main: a torch.save'd state dict with tied (shared) embeddings, generation
    settings in config.json, and a 26-byte tokenizer_config.json."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(str(folder))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    generation = json.loads((folder / "generation_config.json").read_text(encoding="utf-8"))
    config.update({k: v for k, v in generation.items() if k != "transformers_version"})
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (folder / "generation_config.json").unlink()
    (folder / "tokenizer_config.json").write_text('{"model_max_length": 128}', encoding="utf-8")


def _as_float16(folder: Path) -> None:
    """The tc-big checkpoints are float16 (their pickles hold torch.HalfStorage)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(str(folder)).to(torch.float16)
    model.save_pretrained(str(folder))


def build_replica(replica: Replica, tiny: Path, root: Path) -> HubRepo:
    """The replica's folder: the tiny model's files renamed and reshaped to the real layout."""
    folder = root / replica.name
    shutil.copytree(tiny, folder)
    if replica.name == "distilbart-cnn-12-6":
        _as_pickle_only(folder)
    elif replica.name.startswith("opus-mt-tc-big"):
        _as_float16(folder)
    if "benchmark_results.txt" in replica.fetched:
        (folder / "benchmark_results.txt").write_text("testset BLEU chr-F\n", encoding="utf-8")
    if (
        "special_tokens_map.json" in replica.fetched
        and not (folder / "special_tokens_map.json").is_file()
    ):
        (folder / "special_tokens_map.json").write_text(
            '{"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}', encoding="utf-8"
        )
    for name, text in _SENTENCE_TRANSFORMERS.items():
        if name in replica.fetched and not (folder / name).is_file():
            (folder / name).write_text(text, encoding="utf-8")
    present = {p.name for p in folder.iterdir() if p.is_file()}
    for extra in present - replica.fetched:
        (folder / extra).unlink()  # e.g. tokenizer.json: the real revision has none
    missing = replica.fetched - present - {"benchmark_results.txt", "special_tokens_map.json"}
    assert not missing, f"{replica.name}: the tiny model lacks {sorted(missing)}"
    phantoms = {
        name: _bytes(size) for name, size in replica.files.items() if name not in replica.fetched
    }
    return HubRepo(folder, replica.revision, phantoms)
