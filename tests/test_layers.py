"""The package is one spine: imports go only down the layers (function-level imports included), there is
no import cycle, and the heavy third-party libraries stay behind their one adapter."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "benchmark"

# The layers, bottom (0) to top: each is a folder of benchmark/ (its __init__ says what it may import), and a
# module may import its own layer or any below. The package itself, api and cli are the interface: `from
# benchmark import grade` re-exports the API lazily (importing any submodule runs benchmark/__init__ first,
# which keeps litellm offline; edges *to* the package are not counted).
LAYERS = ["benchmark.common", "benchmark.truth", "benchmark.data", "benchmark.models", "benchmark.units",
          "benchmark.run", "benchmark.analysis", "benchmark.outputs", "benchmark.integrations"]
INTERFACE = ("benchmark", "benchmark.api", "benchmark.cli")
# Third-party libraries each allowed only in these modules (and the layers above them never need them).
ADAPTERS = {"litellm": {"benchmark.models.litellm_provider"},
            "cffi": {"benchmark.models.llama_engine"},  # llama.cpp's C API, in the xllamacpp wheel's library
            "xllamacpp": set(),  # its library is loaded by path, its Python never imported
            "llama_cpp": set(),  # llama-cpp-python: not used (benchmarks/local_speed.py compares with it)
            "aiohttp": {"benchmark.models.openai_compat"},
            "inspect_ai": {"benchmark.integrations.inspect_task"},
            "ray": {"benchmark.run.distributed"},  # the ray extra: the executor  # the inspect extra: the task, and reading its logs
            "adbc_driver_sqlite": {"benchmark.run.store"},  # the columnar read of a run store
            "adbc_driver_manager": {"benchmark.run.store"},
            "autogen_agentchat": {"benchmark.models.agents", "benchmark.units.sheet_tools", "benchmark.units.episode"},
            "autogen_core": {"benchmark.models.agents", "benchmark.units.sheet_tools", "benchmark.units.episode"}}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG.parent).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = f
    return mods


def _rank(module: str) -> int | None:
    """A module's layer: the folder it sits in (the package's own modules are the interface on top)."""
    if module in INTERFACE:
        return len(LAYERS)
    for rank, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
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
    (fake / "data").mkdir(parents=True)
    for init in (fake / "__init__.py", fake / "data" / "__init__.py"):
        init.write_text("")
    (fake / "data" / "suites.py").write_text("def f():\n    from benchmark.cli import main\n")
    (fake / "cli.py").write_text("from benchmark.data.suites import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    edges = _edges()
    assert edges["benchmark.data.suites"] == {"benchmark.cli"} and edges["benchmark.cli"] == {"benchmark.data.suites"}
    upward = [m for m, ts in edges.items() for t in ts if _rank(t) > _rank(m)]
    assert upward == ["benchmark.data.suites"]


def test_every_layer_folder_says_what_it_may_import():
    for prefix in LAYERS:
        init = PKG.parent / prefix.replace(".", "/") / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "may import" in doc.lower() or "imports nothing" in doc.lower(), f"{init}: the docstring should say what the layer may import"
