"""Argos Translate packages as translators: the `.argosmodel` files LibreTranslate and every
Argos user already have, taken as they are.

A package is a zip of one folder: `metadata.json` (`from_code`, `to_code`, versions), a
CTranslate2 model in `model/`, its `sentencepiece.model`, a README with the model's origin and
licence, and a stanza sentence splitter we do not need. An archive is installed once into
`models/argos--<name>-<sha256 prefix>/` after every member is checked (no absolute paths, no
`..`, no links, a bounded size); nothing in it is executed or unpickled, and the archive's
SHA-256 is recorded as the model's revision. The pair comes from `metadata.json`, never from
the file name, and a package named for another pair is refused in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from summarize.errors import ConfigError, ModelNotAvailable
from summarize.files import RECORD_FILE, file_sha256

SUFFIX = ".argosmodel"
MAX_UNPACKED_BYTES = 4_000_000_000


@dataclass(frozen=True)
class ArgosPackage:
    path: Path  # the folder holding metadata.json
    src: str
    tgt: str
    version: str
    licence: str

    @property
    def name(self) -> str:
        return f"argos-{self.src}-{self.tgt}-{self.version}"


def is_archive(value: str) -> bool:
    return value.lower().endswith(SUFFIX)


def is_package(path: Path) -> bool:
    """A folder laid out as an Argos translation package."""
    return (
        (path / "metadata.json").is_file()
        and (path / "sentencepiece.model").is_file()
        and (path / "model" / "model.bin").is_file()
    )


def read_package(path: Path) -> ArgosPackage:
    """The package in a folder; ConfigError naming the folder when it is not one."""
    if not is_package(path):
        raise ConfigError(
            f"{path} is not an Argos translation package (it needs metadata.json, "
            "sentencepiece.model and model/model.bin)"
        )
    try:
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        src, tgt = str(meta["from_code"]).lower(), str(meta["to_code"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}/metadata.json does not name from_code and to_code") from None
    version = str(meta.get("package_version") or "0")
    return ArgosPackage(path, src, tgt, version, _licence(path / "README.md"))


def _licence(readme: Path) -> str:
    """The licence line of a package's README (Argos packages state it in prose)."""
    try:
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "see the package's README"
    said = [line.strip() for line in lines if "licen" in line.lower()]
    return said[0][:200] if said else "see the package's README"


def install(archive: Path, models_dir: Path) -> Path:
    """Unpack an `.argosmodel` into `models_dir` once (by its SHA-256) and return the package
    folder. Refuses, in one line naming the archive, anything that is not a plain package."""
    if not archive.is_file():
        raise ModelNotAvailable(f"Argos package {archive} does not exist")
    digest = file_sha256(archive)
    target = models_dir / f"argos--{_stem(archive)}-{digest[:12]}"
    if target.is_dir():
        return _package_root(target, archive)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".argos-", dir=models_dir))
    try:
        _unpack(archive, staging)
        root = _package_root(staging, archive)
        package = read_package(root)
        record = {
            "revision": f"sha256:{digest}",
            "origin": "argos",
            "archive": archive.name,
            "from_code": package.src,
            "to_code": package.tgt,
            "package_version": package.version,
        }
        (root / RECORD_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        try:
            os.replace(staging, target)  # another process may have won: theirs is the same
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _package_root(target, archive)


def _unpack(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            members = z.infolist()
            total = 0
            for m in members:
                name = m.filename
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or ":" in name:
                    raise ConfigError(f"{archive}: member {name!r} points outside the package")
                if stat.S_ISLNK(m.external_attr >> 16):
                    raise ConfigError(f"{archive}: member {name!r} is a link")
                total += m.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise ConfigError(f"{archive}: unpacks to more than 4 GB")
            z.extractall(into)
    except zipfile.BadZipFile:
        raise ConfigError(f"{archive} is not an Argos package (not a zip archive)") from None


def _package_root(folder: Path, archive: Path) -> Path:
    """The folder holding metadata.json: the archive's one top folder, or itself."""
    if is_package(folder):
        return folder
    found = [d for d in folder.iterdir() if d.is_dir() and is_package(d)]
    if len(found) != 1:
        raise ConfigError(
            f"{archive} holds no Argos translation package (metadata.json, "
            "sentencepiece.model and model/model.bin in one folder)"
        )
    return found[0]


def _stem(archive: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in archive.stem)
    return stem[:60] or "package"


def check_pair(package: ArgosPackage, pair: tuple[str, str] | None, named: str) -> None:
    """A package translates its own pair only: refuse it, in one line, for any other."""
    if pair is None:
        raise ConfigError(
            f"{named} is an Argos {package.src}→{package.tgt} package; it translates that pair "
            f"only: name it as --translator {package.src}-{package.tgt}={named}"
        )
    if pair != (package.src, package.tgt):
        raise ConfigError(
            f"{named} is an Argos {package.src}→{package.tgt} package; it cannot be the "
            f"{pair[0]}-{pair[1]} translator"
        )


def discover(folder: Path) -> list[ArgosPackage]:
    """The translation packages an Argos installation holds (each one folder)."""
    root = folder.expanduser()
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and is_package(child):
            try:
                found.append(read_package(child))
            except ConfigError:
                continue
    return found
