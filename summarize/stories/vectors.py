"""Sparse TF-IDF vectors and MinHash bands: hashed features, packed for the store."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from summarize.stories.model import _BANDS, _ROWS, N_FEATURES

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]


def _hash_features(weights: Sequence[dict[str, float]]) -> Any:
    from sklearn.feature_extraction import FeatureHasher

    hasher = FeatureHasher(n_features=N_FEATURES, input_type="dict", alternate_sign=False)
    return hasher.transform(weights).tocsr()


def _nothing() -> Vector:
    """The empty vector: a story's sums before its first member, and after its last."""
    import numpy as np

    return np.zeros(0, np.int32), np.zeros(0, np.float32)


def _pack(vec: Vector) -> bytes:
    idx, val = vec
    return len(idx).to_bytes(4, "little") + idx.tobytes() + val.tobytes()


def _unpack(blob: bytes) -> Vector:
    import numpy as np

    n = int.from_bytes(blob[:4], "little")
    idx = np.frombuffer(blob, dtype=np.int32, count=n, offset=4)
    val = np.frombuffer(blob, dtype=np.float32, count=n, offset=4 + 4 * n)
    return idx, val


def _dot(a: Vector, b: Vector) -> float:
    import numpy as np

    _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return float(np.dot(a[1][ia].astype(np.float64), b[1][ib]))


def _add(a: Vector, b: Vector, sign: float = 1.0) -> Vector:
    import numpy as np

    idx = np.union1d(a[0], b[0]).astype(np.int32)
    val = np.zeros(len(idx), dtype=np.float64)
    val[np.searchsorted(idx, a[0])] += a[1]
    val[np.searchsorted(idx, b[0])] += sign * b[1]
    keep = np.abs(val) > 1e-6
    return idx[keep], val[keep].astype(np.float32)


def _cosine(vec: Vector, centroid: Vector) -> float:
    """An article's unit vector against a story's centroid (a sum of unit vectors)."""
    import numpy as np

    norm = float(np.sqrt(np.dot(centroid[1].astype(np.float64), centroid[1])))
    return _dot(vec, centroid) / norm if norm else 0.0


def _row(matrix: Any, i: int) -> Vector:
    """Row i of a CSR matrix as (sorted indexes, values)."""
    import numpy as np

    lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
    idx = matrix.indices[lo:hi].astype(np.int32)
    order = np.argsort(idx)
    return idx[order], matrix.data[lo:hi][order]


def _top(vec: Vector, k: int) -> list[int]:
    import numpy as np

    order = np.argsort(-vec[1], kind="stable")[:k]
    return [int(i) for i in vec[0][order]]


@functools.cache
def _minhash() -> Any:
    """An empty MinHash to copy: making its permutations anew costs more than hashing."""
    from datasketch import MinHash

    return MinHash(num_perm=_BANDS * _ROWS, seed=1)


@functools.lru_cache(maxsize=4096)
def _bands(shingle_hashes: frozenset[int]) -> tuple[int, ...]:
    """MinHash LSH band keys (datasketch's MinHash; bands kept in SQLite so the index lasts).
    Kept for the last few thousand texts: a batch looks its copies up, then files them."""
    m = _minhash().copy()
    m.update_batch([h.to_bytes(8, "little", signed=True) for h in shingle_hashes])
    values = m.hashvalues
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                bytes([b]) + values[b * _ROWS : (b + 1) * _ROWS].tobytes(), digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for b in range(_BANDS)
    )


def _pack_shingles(items: frozenset[int]) -> bytes:
    import numpy as np

    return np.array(sorted(items), dtype=np.int64).tobytes()


def _unpack_shingles(blob: bytes) -> frozenset[int]:
    import numpy as np

    return frozenset(int(x) for x in np.frombuffer(blob, dtype=np.int64))


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
