"""The package is one spine: imports go only down the layers (function-level imports included), there is
no import cycle, and the heavy third-party libraries stay behind their one adapter."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "benchmark"

# Every module's layer, bottom (0) to top. A module may import its own layer or any below; a new module
# must be placed here (README: "How it fits together").
LAYERS = {
    "leaf": (0, ["benchmark.redact", "benchmark.fmt", "benchmark.reach", "benchmark.sandbox", "benchmark.sandbox_child", "benchmark.env"]),
    "data": (1, ["benchmark.peers", "benchmark.framings", "benchmark.scenarios", "benchmark.records",
                 "benchmark.verify", "benchmark.harness"]),
    "models": (2, ["benchmark.models", "benchmark.models.*"]),
    "units": (3, ["benchmark.units", "benchmark.units.*"]),
    "store": (4, ["benchmark.store"]),
    "runner": (5, ["benchmark.runner", "benchmark.distributed"]),
    "analysis": (6, ["benchmark.stats", "benchmark.study_stats"]),
    "outputs": (7, ["benchmark.reporting", "benchmark.views", "benchmark.viewer", "benchmark.leaderboard", "benchmark.auditor", "benchmark.livepeers", "benchmark.inspect_task",
                    "benchmark.study_import", "benchmark.study_board"]),
    # the package itself is the public face: `from benchmark import grade` re-exports the API lazily (importing
    # any submodule runs it first, which keeps litellm offline; edges *to* it are not counted)
    "interface": (8, ["benchmark", "benchmark.api", "benchmark.cli"]),
}
# Third-party libraries each allowed only in these modules (and the layers above them never need them).
ADAPTERS = {"litellm": {"benchmark.models.litellm_provider"},
            "llama_cpp": {"benchmark.models.local"},
            "aiohttp": {"benchmark.models.openai_compat"},
            "inspect_ai": {"benchmark.inspect_task"},
            "ray": {"benchmark.distributed"},  # the ray extra: the executor  # the inspect extra: the task, and reading its logs
            "adbc_driver_sqlite": {"benchmark.store"},  # the columnar read of a run store
            "adbc_driver_manager": {"benchmark.store"},
            "autogen_agentchat": {"benchmark.models.agents", "benchmark.units.sheet_tools", "benchmark.units.episode"},
            "autogen_core": {"benchmark.models.agents", "benchmark.units.sheet_tools", "benchmark.units.episode"}}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG.parent).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = f
    return mods


def _rank(module: str) -> int | None:
    for rank, patterns in LAYERS.values():
        for p in patterns:
            if module == p or (p.endswith(".*") and module.startswith(p[:-1])):
                return rank
    return None


def _imports(module: str, path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (inside functions too)."""
    base = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                mod = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return out


def _edges() -> dict[str, set[str]]:
    mods = _modules()
    edges = {}
    for m, f in mods.items():
        targets = set()
        for t in _imports(m, f):
            while t and t not in mods:
                t = t.rsplit(".", 1)[0] if "." in t else ""
            if t and t != m and t != "benchmark":
                targets.add(t)
        edges[m] = targets
    return edges


def test_every_module_has_a_layer():
    assert [m for m in _modules() if _rank(m) is None] == []


def test_imports_only_go_down_the_layers():
    upward = [f"{m} ({_rank(m)}) imports {t} ({_rank(t)})" for m, ts in _edges().items() for t in ts
              if _rank(t) > _rank(m)]
    assert upward == []


def test_no_import_cycles_counting_function_level_imports():
    edges = _edges()
    state: dict[str, int] = {}
    cycles = []

    def visit(v, path):
        state[v] = 1
        for w in edges[v]:
            if state.get(w) == 1:
                cycles.append(path[path.index(w):] + [w])
            elif w not in state:
                visit(w, path + [w])
        state[v] = 2

    for v in edges:
        if v not in state:
            visit(v, [v])
    assert cycles == []


def test_heavy_libraries_stay_behind_their_adapters():
    mods = _modules()
    leaks = [f"{m} imports {lib}" for m, f in mods.items() for lib, allowed in ADAPTERS.items()
             if m not in allowed and any(i == lib or i.startswith(lib + ".") for i in _imports(m, f))]
    assert leaks == []


def test_the_check_catches_a_cycle(tmp_path, monkeypatch):
    """The cycle check is not vacuous: a function-level import back up the layers is found."""
    fake = tmp_path / "benchmark"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "peers.py").write_text("def f():\n    from benchmark.cli import main\n")
    (fake / "cli.py").write_text("from benchmark.peers import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    edges = _edges()
    assert edges["benchmark.peers"] == {"benchmark.cli"} and edges["benchmark.cli"] == {"benchmark.peers"}
    upward = [m for m, ts in edges.items() for t in ts if _rank(t) > _rank(m)]
    assert upward == ["benchmark.peers"]
