"""Disk cache of model responses keyed on the whole request as sent; shared across runs and processes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


class ResponseCache:
    def __init__(self, directory: Path | str | None = None):
        import diskcache

        directory = Path(directory or os.environ.get("PEER_BENCH_CACHE") or Path.home() / ".cache" / "peer-bench")
        self._cache = diskcache.Cache(str(directory / "responses"))

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        return self._cache.get(key)

    def set(self, key: str, value: dict) -> None:
        self._cache.set(key, value)
