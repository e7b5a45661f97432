"""Disk cache of model responses keyed on the whole request as sent; shared across runs and processes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_root() -> Path:
    """Where peer-bench keeps what it can rebuild: $PEER_BENCH_CACHE, else ~/.cache/peer-bench."""
    return Path(os.environ.get("PEER_BENCH_CACHE") or Path.home() / ".cache" / "peer-bench")


class ResponseCache:
    def __init__(self, directory: Path | str | None = None):
        import diskcache

        directory = Path(directory) if directory else cache_root()
        self._cache = diskcache.Cache(str(directory / "responses"))

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        return self._cache.get(key)

    def set(self, key: str, value: dict) -> None:
        self._cache.set(key, value)
