"""Getting models onto disk: pinned, safetensors-only, atomic, under a lock, never hanging.

A download goes to `models/.<name>.incomplete-<pid>/`, is checked (config and safetensors
weights present), gets a `.summarize.json` record (revision, files, sizes, hashes), and is then
renamed to `models/<name>/` in one step, so a killed download never leaves half a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from summarize.catalog import RECORD_FILE, WEIGHT_SUFFIX, ModelRef, is_complete, read_record
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


def ensure_present(
    refs: Iterable[ModelRef], settings: Settings, progress: bool = False
) -> list[ModelRef]:
    """Make every model present, downloading what is missing; raise before any work if one
    cannot be had. Returns the refs that were downloaded."""
    missing = [ref for ref in refs if not ref.present or size_problems(ref.path)]
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
        download(ref, settings, progress=progress)
    return missing


@contextlib.contextmanager
def _online() -> Iterator[None]:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import. Whether to go online is decided by
    `Settings.offline` (which reads the same variable when settings are resolved), so a process
    whose environment changed since (a service, a test) follows that decision, not a stale one."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def download(ref: ModelRef, settings: Settings, progress: bool = True) -> Path:
    """Fetch one model at its pinned revision into `models/<name>/`, atomically, under a lock.

    Files go to `models/.<name>.incomplete/` first; a download that is killed leaves only that
    folder, and the next one resumes from it. Every file is checked against the hub's listing
    (size, and sha256 for large files) before the folder is renamed into place.
    """
    from filelock import FileLock
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils.tqdm import disable_progress_bars, enable_progress_bars

    if ref.entry.hub is None:
        raise ModelNotAvailable(f"model {ref.name} has no hub id to download from")
    final = ref.path
    final.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(int(settings.network_timeout)))
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(int(max(10, settings.network_timeout))))
    if settings.offline:
        raise ModelNotAvailable(_missing_message(ref, "offline mode"))
    with FileLock(str(final.parent / f".{final.name}.lock")), _online():
        if is_complete(final) and not size_problems(final):
            return final
        staging = final.parent / f".{final.name}.incomplete"
        (enable_progress_bars if progress else disable_progress_bars)()
        try:
            revision = resolved_revision(ref)
            expected = hub_listing(ref.entry.hub, revision)
            snapshot_download(
                repo_id=ref.entry.hub,
                revision=revision,
                local_dir=str(staging),
                allow_patterns=ALLOW_PATTERNS,
                endpoint=endpoint(),
            )
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise ModelNotAvailable(_missing_message(ref, f"download failed: {exc}")) from exc
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        if not any(staging.glob("*" + WEIGHT_SUFFIX)):
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelNotAvailable(
                f"model {ref.name}: revision {revision} of {ref.entry.hub} has no safetensors "
                "weights, and summarize does not load pickle weights; pin a revision that has "
                "model.safetensors in models/catalog.toml"
            )
        problems = check_against_listing(staging, expected)
        if problems:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelNotAvailable(
                f"model {ref.name}: download did not match the hub's "
                f"listing ({'; '.join(problems)}); run it again"
            )
        write_record(staging, ref, revision)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    return final


def resolved_revision(ref: ModelRef) -> str:
    """The pinned commit, or, for an unpinned entry, the commit `main` points at now."""
    if ref.entry.revision:
        return ref.entry.revision
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint()).model_info(ref.entry.hub or "", revision="main")
    return str(info.sha)


def hub_listing(repo: str, revision: str) -> dict[str, tuple[int, str | None]]:
    """name -> (size, sha256 for LFS files) for the files a download may take."""
    from fnmatch import fnmatch

    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    out: dict[str, tuple[int, str | None]] = {}
    for item in HfApi(endpoint=endpoint()).list_repo_tree(repo, revision=revision, recursive=True):
        if isinstance(item, RepoFile) and any(fnmatch(item.path, p) for p in ALLOW_PATTERNS):
            out[item.path] = (item.size, item.lfs.sha256 if item.lfs else None)
    return out


def check_against_listing(folder: Path, expected: dict[str, tuple[int, str | None]]) -> list[str]:
    problems = []
    for name, (size, sha) in expected.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} missing")
        elif path.stat().st_size != size:
            problems.append(f"{name} is {path.stat().st_size} bytes, expected {size}")
        elif sha and file_sha256(path) != sha:
            problems.append(f"{name} has the wrong sha256")
    return problems


def size_problems(folder: Path) -> list[str]:
    """Quick check of a present model against its download record (sizes only)."""
    files = read_record(folder).get("files", {})
    return [
        name
        for name, meta in files.items()
        if not (folder / name).is_file() or (folder / name).stat().st_size != meta["size"]
    ]


def verify(ref: ModelRef) -> list[str]:
    """Re-hash every recorded file; the names of those that changed or are missing."""
    files = read_record(ref.path).get("files")
    if not files:
        return [f"no download record in {ref.path} (was it copied in by hand?)"]
    bad = []
    for name, meta in files.items():
        path = ref.path / name
        if not path.is_file():
            bad.append(f"{name}: missing")
        elif path.stat().st_size != meta["size"] or file_sha256(path) != meta["sha256"]:
            bad.append(f"{name}: contents changed")
    return bad


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
