"""Tokenizers for the CTranslate2 engine, without torch or transformers.

CTranslate2 takes and returns token strings, so a run on converted models needs only to turn
text into the model's tokens and back. This module does that with `tokenizers` (a
`tokenizer.json`, written at conversion for BART and T5) and `sentencepiece` (Marian's
source/target models, M2M100's BPE model), the way CTranslate2's own examples do, reproducing
what the transformers tokenizers produce token for token (tested against them). NLLB, and any
folder this module does not recognise, falls back to the transformers tokenizer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from summarize.catalog import read_json

_M2M_LANG = re.compile(r"^__[a-z]{2,3}__$")


class TokenStrings(Protocol):
    """Text to a model's token strings and back."""

    eos_token: str

    def encode(self, texts: Sequence[str], src_lang: str | None = None) -> list[list[str]]: ...

    def decode(self, tokens: Sequence[str]) -> str: ...

    def has_token(self, token: str) -> bool: ...

    def lang_token(self, lang: str) -> str | None: ...


class JsonTokenizer:
    """A `tokenizer.json` (BART's byte-level BPE, T5's unigram) run by `tokenizers`."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        self._vocab = self._tok.get_vocab(with_added_tokens=True)
        config = read_json(folder / "tokenizer_config.json")
        self.eos_token = str(config.get("eos_token") or "</s>")

    def encode(self, texts: Sequence[str], src_lang: str | None = None) -> list[list[str]]:
        # From the ids: a piece the vocabulary lacks is <unk> (its id), not its own string.
        to_token = self._tok.id_to_token
        return [[str(to_token(i)) for i in e.ids] for e in self._tok.encode_batch(list(texts))]

    def decode(self, tokens: Sequence[str]) -> str:
        ids = [self._vocab[t] for t in tokens if t in self._vocab]
        return str(self._tok.decode(ids, skip_special_tokens=True)).strip()

    def has_token(self, token: str) -> bool:
        return token in self._vocab

    def lang_token(self, lang: str) -> str | None:
        return None


class _SpmVocab:
    """SentencePiece pieces mapped through a `vocab.json`; a piece not in it is `<unk>`."""

    eos_token = "</s>"
    unk_token = "<unk>"
    specials: frozenset[str] = frozenset({"</s>", "<unk>", "<pad>", "<s>"})

    def __init__(self, folder: Path) -> None:
        self._vocab: dict[str, int] = read_json(folder / "vocab.json")
        if self.unk_token not in self._vocab:
            raise ValueError(f"{folder / 'vocab.json'} has no {self.unk_token}")

    def has_token(self, token: str) -> bool:
        return token in self._vocab

    def _known(self, pieces: Sequence[str]) -> list[str]:
        return [p if p in self._vocab else self.unk_token for p in pieces]


class MarianTokenizer(_SpmVocab):
    """opus-mt: source.spm to encode, a shared vocab.json, `>>xxx<<` target codes kept whole."""

    def __init__(self, folder: Path) -> None:
        import sentencepiece as spm

        super().__init__(folder)
        config = read_json(folder / "tokenizer_config.json")
        if config.get("separate_vocabs"):
            raise ValueError("Marian models with separate vocabularies are not supported here")
        self._source = spm.SentencePieceProcessor(model_file=str(folder / "source.spm"))
        # transformers decodes with the source model when the vocabulary is shared.
        self._decoder = self._source

    def encode(self, texts: Sequence[str], src_lang: str | None = None) -> list[list[str]]:
        out = []
        for text in texts:
            code: list[str] = []
            if text.startswith(">>") and (end := text.find("<<")) != -1:
                code, text = [text[: end + 2]], text[end + 2 :]
            pieces = self._source.encode(text, out_type=str)
            out.append([*self._known(code + pieces), self.eos_token])
        return out

    def decode(self, tokens: Sequence[str]) -> str:
        pieces = [t for t in tokens if t not in self.specials]
        return str(self._decoder.decode_pieces(pieces)).strip()

    def lang_token(self, lang: str) -> str | None:
        return None


class M2M100Tokenizer(_SpmVocab):
    """M2M100: `__src__` + BPE pieces + `</s>`; the output starts with `__tgt__`."""

    def __init__(self, folder: Path) -> None:
        import sentencepiece as spm

        super().__init__(folder)
        self._spm = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.bpe.model"))
        self._langs = {t for t in _ct2_vocabulary(folder) if _M2M_LANG.match(t)}
        if not self._langs:
            raise ValueError(f"{folder}: no M2M100 language tokens in the converted vocabulary")
        self.specials = _SpmVocab.specials | self._langs

    def has_token(self, token: str) -> bool:
        return token in self._vocab or token in self._langs

    def lang_token(self, lang: str) -> str | None:
        token = f"__{lang}__"
        return token if token in self._langs else None

    def encode(self, texts: Sequence[str], src_lang: str | None = None) -> list[list[str]]:
        prefix = [self.lang_token(src_lang or "en") or self.unk_token]
        return [
            prefix + self._known(self._spm.encode(t, out_type=str)) + [self.eos_token]
            for t in texts
        ]

    def decode(self, tokens: Sequence[str]) -> str:
        return str(self._spm.decode([t for t in tokens if t not in self.specials])).strip()


def _ct2_vocabulary(folder: Path) -> list[str]:
    """The token list of a converted model (`shared_vocabulary.json`, or `.txt`)."""
    as_json = folder / "shared_vocabulary.json"
    if as_json.is_file():
        data = json.loads(as_json.read_text(encoding="utf-8"))
        return [str(t) for t in data]
    as_txt = folder / "shared_vocabulary.txt"
    if as_txt.is_file():
        return as_txt.read_text(encoding="utf-8").splitlines()
    return []


def plain_tokenizer(folder: Path, model_type: str, lang_codes: str | None) -> TokenStrings | None:
    """The torch-free tokenizer for a converted model folder, or None where there is none."""
    try:
        if (folder / "tokenizer.json").is_file() and model_type in FAST_FAMILIES:
            return JsonTokenizer(folder)
        if model_type == "marian" and (folder / "source.spm").is_file():
            return MarianTokenizer(folder)
        if model_type == "m2m_100" and lang_codes == "m2m100":
            return M2M100Tokenizer(folder)
    except (OSError, ValueError, RuntimeError):
        return None
    return None


# Model types whose transformers tokenizer is a `tokenizers` one (saved as tokenizer.json).
FAST_FAMILIES = frozenset({"bart", "t5", "mt5", "pegasus", "mbart"})
