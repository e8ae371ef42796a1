from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from summarize.cache import MIGRATIONS, Cache, CacheEntry, cache_key, signature_hash
from summarize.errors import CacheError


def _writer(path: str, worker: int, count: int) -> None:
    cache = Cache(Path(path))
    for i in range(count):
        key = cache_key("sig", f"{worker}-{i}")
        cache.put(
            CacheEntry(
                key, "summarize", "sig", {"model": "m"}, f"{worker}-{i}", {"text": f"{worker}:{i}"}
            )
        )
    cache.close()


def test_put_get_and_keys_depend_on_signature_and_input(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite3")
    sig_a, sig_b = (
        signature_hash({"model": "a", "num_beams": 4}),
        signature_hash({"model": "a", "num_beams": 2}),
    )
    assert sig_a != sig_b
    assert signature_hash({"x": 1, "y": 2}) == signature_hash({"y": 2, "x": 1})
    key = cache_key(sig_a, "h1")
    assert cache.get(key) is None
    cache.put(CacheEntry(key, "summarize", sig_a, {"model": "a"}, "h1", {"text": "résumé"}))
    assert cache.get(key) == {"text": "résumé"}
    assert cache.get(cache_key(sig_b, "h1")) is None
    stats = cache.stats()
    assert stats["entries"] == 1 and stats["stages"]["summarize"]["entries"] == 1
    assert cache.clear("translate") == 0
    assert cache.clear("summarize") == 1
    assert cache.get(key) is None


def test_schema_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    Cache(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(CacheError, match="newer summarize"):
        Cache(path)


def test_a_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match="--no-cache"):
        Cache(path)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 150)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = Cache(path)
    assert cache.stats()["entries"] == 450
    assert cache.get(cache_key("sig", "2-149")) == {"text": "2:149"}
    ok = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok"


def _opener(path: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    cache = Cache(Path(path))
    cache.put(CacheEntry("k", "detect", "s", {}, "h", {"v": 1}))
    cache.close()


def test_many_processes_creating_the_same_new_cache_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.sqlite3"
        barrier = ctx.Barrier(4)
        procs = [ctx.Process(target=_opener, args=(str(path), barrier)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        assert Cache(path).get("k") == {"v": 1}
