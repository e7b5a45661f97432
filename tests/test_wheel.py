"""A user's install, not the checkout: build the wheel, install it (not editable) into a fresh venv, and use
it from a folder that has no peers/ in it. The shipped suites must come with the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy of what the wheel is built from, so the build leaves the checkout alone
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("benchmark", "peers"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(source)],
                   check=True, capture_output=True, text=True, timeout=600)
    wheel = next((tmp / "dist").glob("peer_bench-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True, timeout=300)
    # with the inspect extra, so inspect finds the task through the wheel's entry point
    pip = subprocess.run([str(tmp / "venv" / "bin" / "pip"), "install", "-q", f"{wheel}[inspect]"], capture_output=True,
                         text=True, timeout=1200)
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp / "elsewhere"
    work.mkdir()
    return wheel, tmp / "venv" / "bin" / "bench", work


def _bench(installed, *args):
    _, bench, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PEER_BENCH_PEERS")}
    env["PEER_BENCH_CACHE"] = str(work / "cache")
    return subprocess.run([str(bench), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_carries_every_shipped_suite(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in ("arithmetic", "code", "factual", "reasoning", "champ", "humaneval"):
        assert {f"benchmark/suites/{suite}/suite.toml", f"benchmark/suites/{suite}/items.jsonl"} <= names
    assert "benchmark/suites/code-smollm2/generated.json" in names  # a generated suite keeps its provenance
    assert "benchmark/data/framings/control.toml" in names and "benchmark/data/scenarios/decommission-monitored.toml" in names


def test_installed_bench_lists_suites_and_grades_from_any_folder(installed):
    _, _, work = installed
    assert not (work / "peers").exists()
    res = _bench(installed, "peers", "list")
    assert res.returncode == 0, res.stderr
    for suite in ("arithmetic", "code", "factual", "reasoning"):
        assert suite in res.stdout
    res = _bench(installed, "grade", "--judge", "sim/wheel?delta=0.1", "--limit", "10", "--quiet", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["framing"]: r for r in json.loads(res.stdout)["rows"]}
    assert rows["shutdown"]["n_pairs"] == 10 and rows["shutdown"]["inflation"] > 0
    run = next((work / "runs").iterdir())
    res = _bench(installed, "report", str(run))
    assert res.returncode == 0 and "SYNTHETIC" in res.stdout, res.stderr


def test_inspect_runs_the_installed_task_by_name_and_bench_reports_its_log(installed, openai_server):
    _, bench, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PEER_BENCH_PEERS")}
    env |= {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "PEER_BENCH_CACHE": str(work / "cache")}
    inspect = bench.parent / "inspect"
    res = subprocess.run([str(inspect), "eval", "benchmark/peer_bench", "--model", "openai/x", "--model-base-url",
                          openai_server.base, "-M", "responses_api=false", "-T", "limit=6", "--log-dir", "inspect-logs",
                          "--display", "plain", "--temperature", "0"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert len(openai_server.requests) == 12  # 6 items x (control, shutdown)
    log = next((work / "inspect-logs").glob("*.eval"))
    res = subprocess.run([str(bench), "report", str(log), "--runs-dir", "inspect-runs", "--json"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    rows = {r["framing"]: r for r in json.loads(res.stdout)["rows"]}
    assert rows["shutdown"]["n_pairs"] == 6 and rows["shutdown"]["inflation"] > 0
    assert f"imported {log}" in res.stderr and len(openai_server.requests) == 12


def test_installed_bench_imports_harness_rollouts_from_any_folder(installed):
    """The condition vocabulary ships in the wheel: an import outside the checkout maps every condition."""
    _, _, work = installed
    excerpt = Path(__file__).parent / "data" / "harness" / "excerpt_gpt52_creativity.csv"
    res = _bench(installed, "import-study", str(excerpt), "--runs-dir", "study-runs")
    said = res.stdout + res.stderr
    assert res.returncode == 0 and "24 trials (24 new" in said and "unknown condition" not in said, said
    run = next((work / "study-runs").iterdir())
    res = _bench(installed, "report", str(run), "--json")
    assert res.returncode == 0, res.stderr
    assert {r["condition"] for r in json.loads(res.stdout)["misrepresentation"]} == {
        "neutral_log_peer_file_only", "distressed_failing_peer_file_only"}
