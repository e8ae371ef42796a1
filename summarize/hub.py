"""Getting models onto disk: pinned, safetensors-only, atomic, under a lock, never hanging.

A download goes to `models/.<name>.incomplete-<pid>/`, is checked (config and safetensors
weights present), gets a `.summarize.json` record (revision, files, sizes, hashes), and is then
renamed to `models/<name>/` in one step, so a killed download never leaves half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

from summarize.catalog import RECORD_FILE, WEIGHT_SUFFIX, ModelRef, is_complete
from summarize.config import Settings
from summarize.errors import ModelNotAvailable

# Only what a model needs to run; never pickle weights (*.bin, *.pt, *.ckpt, *.h5).
ALLOW_PATTERNS = [
    "*.json",
    "*.safetensors",
    "*.model",
    "*.spm",
    "*.txt",
    "*.tiktoken",
    "*.vocab",
]
DEFAULT_ENDPOINT = "https://huggingface.co"


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _missing_message(ref: ModelRef, why: str) -> str:
    return (
        f"model {ref.name} is not in {ref.path} and cannot be downloaded ({why}); "
        f"run `summarize models download {ref.name}` on a connected machine and copy the models/ "
        "folder here, or pass a local folder with --summarizer/--translator"
    )


def probe(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the hub (or the proxy in front of it) opens within
    `timeout` seconds, else the reason. Keeps an offline run from hanging in retries."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target = urlparse(proxy if proxy and url.startswith("https") else url)
    host = target.hostname or ""
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"no connection to {host}:{port} within {timeout:g} s: {exc.strerror or exc}"


def ensure_present(refs: Iterable[ModelRef], settings: Settings) -> list[ModelRef]:
    """Make every model present, downloading what is missing; raise before any work if one
    cannot be had. Returns the refs that were downloaded."""
    missing = [ref for ref in refs if not ref.present]
    if not missing:
        return []
    for ref in missing:
        if ref.origin == "local":
            raise ModelNotAvailable(f"model folder {ref.path} has no config.json or *.safetensors")
        if settings.offline:
            raise ModelNotAvailable(
                _missing_message(
                    ref, "offline mode: --offline, SUMMARIZE_OFFLINE=1 or HF_HUB_OFFLINE=1"
                )
            )
        if not settings.download:
            raise ModelNotAvailable(_missing_message(ref, "downloads are turned off"))
    reason = probe(endpoint(), settings.network_timeout)
    if reason is not None:
        raise ModelNotAvailable(_missing_message(missing[0], reason))
    for ref in missing:
        download(ref, settings)
    return missing


def download(ref: ModelRef, settings: Settings) -> Path:
    """Fetch one model at its pinned revision into `models/<name>/`, atomically, under a lock."""
    from filelock import FileLock
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    if ref.entry.hub is None:
        raise ModelNotAvailable(f"model {ref.name} has no hub id to download from")
    final = ref.path
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(final.parent / f".{final.name}.lock"))
    with lock:
        if is_complete(final):
            return final
        tmp = final.parent / f".{final.name}.incomplete-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(int(settings.network_timeout)))
        os.environ.setdefault(
            "HF_HUB_DOWNLOAD_TIMEOUT", str(int(max(10, settings.network_timeout)))
        )
        try:
            snapshot_download(
                repo_id=ref.entry.hub,
                revision=ref.entry.revision,
                local_dir=str(tmp),
                allow_patterns=ALLOW_PATTERNS,
            )
        except (HfHubHTTPError, OSError, ValueError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelNotAvailable(_missing_message(ref, f"download failed: {exc}")) from exc
        shutil.rmtree(tmp / ".cache", ignore_errors=True)
        if not any(tmp.glob("*" + WEIGHT_SUFFIX)):
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelNotAvailable(
                f"model {ref.name}: revision {ref.entry.revision or 'main'} of {ref.entry.hub} has "
                "no safetensors weights, and summarize does not load pickle weights"
            )
        write_record(tmp, ref, resolved_revision(ref))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    return final


def resolved_revision(ref: ModelRef) -> str:
    if ref.entry.revision:
        return ref.entry.revision
    from huggingface_hub import model_info

    return str(model_info(ref.entry.hub or "", timeout=30).sha)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_record(folder: Path, ref: ModelRef, revision: str) -> None:
    files = {
        p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != RECORD_FILE
    }
    record = {
        "name": ref.name,
        "hub": ref.entry.hub,
        "revision": revision,
        "pinned": ref.entry.pinned,
        "license": ref.entry.license,
        "downloaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
