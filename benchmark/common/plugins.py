"""Plugins: what other packages add to peer-bench through entry points, found lazily (only when a name is not
a built-in one, or when a listing asks), so a plain run reads no package metadata.

    peer_bench.providers   prefix   = "module:function"  -> a models.Provider, or a loader of a Model class
    peer_bench.units       name     = "module:Class"     -> a grading unit for `bench grade --unit name`
    peer_bench.verifiers   name     = "module:function"  -> a verifier suites may name (verifier = "name")
    peer_bench.suites      name     = "module:function"  -> the folder of a suite (suite.toml, items.jsonl)

Imports only benchmark.common.errors.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from benchmark.common.errors import InputError


class PluginError(InputError):
    """A plugin's entry point could not be loaded (names the group, the entry and the package)."""


def entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """The entry points of `group`, by name (the first package's wins where two declare one name)."""
    out: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=group):
        out.setdefault(ep.name, ep)
    return out


def load(ep: metadata.EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin is named, not a mystery
        owner = f" (package {ep.dist.name})" if getattr(ep, "dist", None) else ""
        raise PluginError(f"plugin {ep.group}:{ep.name} = {ep.value}{owner} cannot be loaded: "
                          f"{type(exc).__name__}: {exc}") from None


def entry_point(group: str, name: str) -> Any:
    """What the entry point `name` of `group` loads (called once more when it is a function of no
    arguments that returns the object), or None when no package declares it."""
    ep = entry_points(group).get(name)
    return None if ep is None else load(ep)
