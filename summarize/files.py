"""Writes that are whole or absent: a killed process leaves the old file (or folder) or the new
one, never half of one. The lowest layer: anything may use it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# What summarize records beside a model folder it fetched or unpacked (revision, origin).
RECORD_FILE = ".summarize.json"


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomic write, skipped when the file already holds these bytes (mtime kept)."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write(path, data)
    return True


def replace_dir(staging: Path, final: Path) -> None:
    """Move a finished folder into place; the old one stays until the new one is there."""
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)


def file_sha256(path: Path) -> str:
    """A file's SHA-256, read a megabyte at a time."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
