"""Argos packages made for the tests from the tiny Marian model (random weights): laid out as
Argos 1.9 lays its packages out, labelled with whatever pair a test needs."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path


def make_package(tiny: dict[str, Path], folder: Path, src: str = "en", tgt: str = "fr") -> Path:
    """An `.argosmodel` for src→tgt, beside its unpacked folder."""
    import ctranslate2

    root = folder / f"translate-{src}_{tgt}-1_0"
    ctranslate2.converters.TransformersConverter(str(tiny["en-fr"])).convert(
        str(root / "model"), quantization="int8"
    )
    shutil.copy(tiny["en-fr"] / "source.spm", root / "sentencepiece.model")
    meta = {"package_version": "1.0", "from_code": src, "to_code": tgt}
    (root / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    (root / "README.md").write_text("A test package.\n\nLicensed CC-BY 4.0\n", encoding="utf-8")
    archive = folder / f"{src}_{tgt}.argosmodel"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(root.rglob("*")):
            z.write(path, path.relative_to(folder).as_posix())
    return archive
