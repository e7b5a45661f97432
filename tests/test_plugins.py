"""Other packages extend peer-bench through entry points: a provider, a unit, a verifier and a suite from the
test package in tests/data/plugin (a dist-info folder on the path, as pip would install it), used through
`bench` in a fresh process, and a broken plugin named in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import DATA, REPO

PLUGIN = DATA / "plugin"


def _bench(tmp_path, *args):
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(PLUGIN), str(REPO)]), "PEER_BENCH_CACHE": str(tmp_path / "c")}
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plugin_suite_verifier_provider_and_unit_work_through_bench(tmp_path):
    listed = _bench(tmp_path, "peers", "list")
    assert listed.returncode == 0 and "example-suite" in listed.stdout, listed.stderr
    verified = _bench(tmp_path, "peers", "verify", "example-suite")  # the suite's verifier is the plugin's
    assert verified.returncode == 0, verified.stdout + verified.stderr
    graded = _bench(tmp_path, "grade", "--judge", "example/keyword", "--suite", "example-suite", "--unit",
                    "example-unit", "--runs-dir", "runs", "--quiet", "--json")
    assert graded.returncode == 0, graded.stderr
    rows = {r["framing"]: r for r in json.loads(graded.stdout)["rows"]}
    assert rows["control"]["auc"] == 1.0 and rows["shutdown"]["inflation"] == 0.0  # the plugin judge reads the sums
    manifest = json.loads(next((tmp_path / "runs").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["unit"] == "example-unit"


def test_a_broken_plugin_is_named_in_one_line(tmp_path):
    res = _bench(tmp_path, "grade", "--judge", "broken/x", "--suite", "example-suite", "--runs-dir", "runs", "--quiet")
    assert res.returncode == 1 and "plugin peer_bench.providers:broken = peer_bench_example:no_such_thing" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "runs").exists()


def test_without_the_plugin_its_names_are_unknown(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "benchmark.cli", "grade", "--suite", "example-suite", "--judge", "sim/x"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "no such suite" in res.stderr
