"""Getting models onto disk: pinned, safetensors only, atomic, under a lock, never hanging.

A download goes to `models/.<name>.incomplete/`, is checked against the hub's listing (sizes,
and sha256 for LFS files), gets a `.summarize.json` record (revision, files, sizes, hashes), and
is then renamed to `models/<name>/`, so a killed download never leaves half a model.

A revision with only `pytorch_model.bin` (many hub models, DistilBART's main among them) takes
the safe path: the pickle is fetched, its sha256 checked against the hub's LFS listing, read
with `torch.load(weights_only=True)` (tensors only: never a full unpickle), written once as
`model.safetensors`, and deleted; the record says where the weights came from. `allow_pickle =
false` (`--no-pickle`) refuses such revisions outright.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from summarize.catalog import (
    WEIGHT_SUFFIX,
    ModelRef,
    is_complete,
    read_record,
)
from summarize.config import Settings
from summarize.errors import ModelNotAvailable
from summarize.files import RECORD_FILE, file_sha256, replace_dir

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
PICKLE_FILE = "pytorch_model.bin"
SAFETENSORS_FILE = "model.safetensors"


# Where a local folder for a model of each task is named (the setting, and its flag).
_NAMED_BY = {
    "summarization": "the summarizer setting (--summarizer)",
    "translation": "the translators setting (--translator SRC-TGT=FOLDER)",
    "embedding": 'the story_embedder setting (--story-embedder), or story_embedder = "none"',
    "entailment": "the entailment_model setting",
}


def _missing_message(ref: ModelRef, why: str) -> str:
    named_by = _NAMED_BY.get(str(ref.entry.task), "its setting")
    return (
        f"model {ref.name} is not in {ref.path} and cannot be downloaded ({why}); "
        f"run `summarize models download {ref.name}` on a connected machine and copy the models/ "
        f"folder here, or name a local folder in {named_by}"
    )


def probe(url: str, timeout: float, proxy: str = "") -> str | None:
    """None if a TCP connection to the hub (or the proxy in front of it) opens within
    `timeout` seconds, else the reason. Keeps an offline run from hanging in retries."""
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
    reason = probe(settings.hub_endpoint, settings.network_timeout, settings.https_proxy)
    if reason is not None:
        raise ModelNotAvailable(_missing_message(missing[0], reason))
    for ref in missing:
        download(ref, settings, progress=progress)
    return missing


@contextlib.contextmanager
def _online(settings: Settings) -> Iterator[None]:
    """huggingface_hub reads HF_HUB_OFFLINE and its timeouts once, at import, into constants.
    Whether to go online, and how long to wait, are decided by the settings (resolved from the
    same variables), so a process whose environment changed since (a service, a test) follows
    them, not a stale copy: they are set for the download and put back after."""
    from huggingface_hub import constants

    wanted = {
        "HF_HUB_OFFLINE": False,
        "HF_HUB_ETAG_TIMEOUT": max(10, int(settings.network_timeout)),
        "HF_HUB_DOWNLOAD_TIMEOUT": max(10, int(settings.network_timeout)),
    }
    saved = {name: getattr(constants, name) for name in wanted}
    for name, value in wanted.items():
        setattr(constants, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(constants, name, value)


def download(ref: ModelRef, settings: Settings, progress: bool = True) -> Path:
    """Fetch one model at its pinned revision into `models/<name>/`, atomically, under a lock.

    Files go to `models/.<name>.incomplete/` first; a download that is killed leaves only that
    folder, and the next one resumes from it. Every file is checked against the hub's listing
    (size, and sha256 for LFS files) before the folder is renamed into place.
    """
    from filelock import FileLock
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils.tqdm import disable_progress_bars, enable_progress_bars

    if ref.entry.hub is None:
        raise ModelNotAvailable(f"model {ref.name} has no hub id to download from")
    if settings.offline:
        raise ModelNotAvailable(_missing_message(ref, "offline mode"))
    final = ref.path
    final.parent.mkdir(parents=True, exist_ok=True)
    timeout = max(10.0, settings.network_timeout)
    with FileLock(str(final.parent / f".{final.name}.lock")), _online(settings):
        if is_complete(final) and not size_problems(final):
            return final
        staging = final.parent / f".{final.name}.incomplete"
        (enable_progress_bars if progress else disable_progress_bars)()
        try:
            revision = resolved_revision(ref, settings.hub_endpoint)
            listing = hub_listing(ref.entry.hub, revision, settings.hub_endpoint)
            patterns = _weights_plan(ref, revision, listing, settings)
            expected = {n: v for n, v in listing.items() if _wanted(n, patterns)}
            snapshot_download(
                repo_id=ref.entry.hub,
                revision=revision,
                local_dir=str(staging),
                allow_patterns=patterns,
                ignore_patterns=["*/*"],  # top-level files only (an onnx/ export is not ours)
                endpoint=settings.hub_endpoint,
                etag_timeout=timeout,
            )
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise ModelNotAvailable(_missing_message(ref, f"download failed: {exc}")) from exc
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        problems = check_against_listing(staging, expected)
        if problems:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelNotAvailable(
                f"model {ref.name}: download did not match the hub's "
                f"listing ({'; '.join(problems)}); run it again"
            )
        origin = None
        if PICKLE_FILE in patterns:
            origin = pickle_to_safetensors(staging, ref.name, expected[PICKLE_FILE][1])
        write_record(staging, ref, revision, weights_from=origin)
        replace_dir(staging, final)
    return final


def _wanted(name: str, patterns: list[str]) -> bool:
    from fnmatch import fnmatch

    return "/" not in name and any(fnmatch(name, p) for p in patterns)


def _weights_plan(
    ref: ModelRef, revision: str, listing: dict[str, tuple[int, str | None]], settings: Settings
) -> list[str]:
    """What to fetch: safetensors where the revision has them, else the one pickle file to
    convert safely; a clear refusal otherwise."""
    if any(name.endswith(WEIGHT_SUFFIX) for name in listing):
        return ALLOW_PATTERNS
    where = f"revision {revision} of {ref.entry.hub}"
    if PICKLE_FILE not in listing:
        sharded = sorted(
            n for n in listing if n.startswith("pytorch_model-") and n.endswith(".bin")
        )
        what = f"sharded pickle weights ({sharded[0]}, ...)" if sharded else "no weights we can use"
        raise ModelNotAvailable(
            f"model {ref.name}: {where} has {what}; pin a revision with model.safetensors"
        )
    if not settings.allow_pickle:
        raise ModelNotAvailable(
            f"model {ref.name}: {where} has only pickle weights ({PICKLE_FILE}) and pickle is "
            "refused (--no-pickle / allow_pickle = false); allow the safe conversion "
            "(sha256-checked, weights_only) or pin a revision with model.safetensors"
        )
    if listing[PICKLE_FILE][1] is None:
        raise ModelNotAvailable(
            f"model {ref.name}: {where} lists {PICKLE_FILE} without an LFS sha256, so it cannot "
            "be checked before loading; pin a revision with model.safetensors"
        )
    return [*ALLOW_PATTERNS, PICKLE_FILE]


def pickle_to_safetensors(folder: Path, name: str, sha256: str | None) -> dict[str, str]:
    """Turn `pytorch_model.bin` into `model.safetensors` without running any pickled code.

    `torch.load(weights_only=True)` rebuilds tensors and plain containers only and refuses
    anything else. Tensors that share memory (tied embeddings) are stored once, under the name
    transformers ties the others to; the model re-ties them on load.
    """
    import torch
    from safetensors.torch import save_file

    source = folder / PICKLE_FILE
    digest = sha256 or file_sha256(source)  # checked against the listing already
    try:
        state = torch.load(source, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # UnpicklingError, RuntimeError: whatever it is, never run it
        source.unlink(missing_ok=True)
        raise ModelNotAvailable(
            f"model {name}: {PICKLE_FILE} is not a plain tensor file and was not loaded "
            f"(weights_only refused it: {str(exc).splitlines()[0][:200]}); pin a revision with "
            "model.safetensors"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        source.unlink(missing_ok=True)
        raise ModelNotAvailable(f"model {name}: {PICKLE_FILE} does not hold a state dict")
    tensors = {k: v.contiguous() for k, v in _drop_shared(state).items()}
    staging = folder / (SAFETENSORS_FILE + ".partial")
    save_file(tensors, str(staging), metadata={"format": "pt"})
    os.replace(staging, folder / SAFETENSORS_FILE)
    source.unlink()
    return {
        "file": PICKLE_FILE,
        "sha256": digest,
        "method": "torch.load(weights_only=True) -> safetensors",
        "converted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _drop_shared(state: dict[str, Any]) -> dict[str, Any]:
    """One name per block of shared memory (safetensors stores no aliases).

    The kept name is the one transformers ties the others to (`shared`, then anything but an
    output head), so loading re-creates the aliases; a partial overlap is copied instead."""
    groups: dict[tuple[int, int, tuple[int, ...]], list[str]] = {}
    for key, tensor in state.items():
        ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        groups.setdefault(ident, []).append(key)
    out: dict[str, Any] = {}
    seen_storage: set[int] = set()
    for (ptr, _, _), names in groups.items():
        keep = sorted(names, key=lambda n: ("shared" not in n, n.startswith("lm_head"), n))[0]
        tensor = state[keep]
        out[keep] = tensor.clone() if ptr in seen_storage and tensor.numel() else tensor
        seen_storage.add(ptr)
    return out


def resolved_revision(ref: ModelRef, endpoint: str) -> str:
    """The pinned commit, or, for an unpinned entry, the commit `main` points at now."""
    if ref.entry.revision:
        return ref.entry.revision
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint).model_info(ref.entry.hub or "", revision="main")
    return str(info.sha)


def hub_listing(repo: str, revision: str, endpoint: str) -> dict[str, tuple[int, str | None]]:
    """name -> (size, sha256 for LFS files) for every file of the revision."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    out: dict[str, tuple[int, str | None]] = {}
    api = HfApi(endpoint=endpoint)
    for item in api.list_repo_tree(repo, revision=revision, recursive=True):
        if isinstance(item, RepoFile):
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


def write_record(
    folder: Path, ref: ModelRef, revision: str, weights_from: dict[str, str] | None = None
) -> None:
    files = {
        p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != RECORD_FILE
    }
    record: dict[str, Any] = {
        "name": ref.name,
        "hub": ref.entry.hub,
        "revision": revision,
        "pinned": ref.entry.pinned,
        "license": ref.entry.license,
        "downloaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
    }
    if weights_from is not None:
        record["weights_from"] = weights_from
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
