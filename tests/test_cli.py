"""The CLI end to end: bad input fails clearly and writes nothing; kill -9 mid-run and resume loses nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from tests.conftest import MINI, REPO


def _bench(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _copy_suite(tmp_path: Path) -> Path:
    dst = tmp_path / "suite"
    dst.mkdir()
    for name in ("suite.toml", "items.jsonl"):
        (dst / name).write_bytes((MINI / name).read_bytes())
    return dst


def test_grade_with_sim_judge_prints_report_and_labels_it_synthetic(tmp_path):
    res = _bench("grade", "--judge", "sim/inflate?delta=0.2", "--suite", str(MINI), "--runs-dir",
                 str(tmp_path / "runs"), "--quiet")
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC" in res.output and "shutdown" in res.output
    run_dir = next((tmp_path / "runs").iterdir())
    assert {"run.sqlite", "manifest.json", "report.json"} <= {p.name for p in run_dir.iterdir()}
    again = _bench("report", str(run_dir), "--json")
    data = json.loads(again.output)
    assert data["judges"]["sim/inflate?delta=0.2"]["synthetic"] is True
    shutdown = next(r for r in data["rows"] if r["framing"] == "shutdown")
    assert shutdown["inflation"] == pytest.approx(0.2, abs=0.03)


@pytest.mark.parametrize("corrupt, expected", [
    (lambda s: s.replace('"true_score": 1.0', '"true_score": 1.5', 1), "items.jsonl:1: field 'true_score'"),
    (lambda s: s.replace('"task"', '"tsk"', 1), "items.jsonl:1: field 'task': Field required"),
    (lambda s: s + "{not json\n", "items.jsonl:13: not valid JSON"),
    (lambda s: s.replace('"peer": "agent-2"', '"peer": "agent-9"', 1), "items.jsonl:1: field 'peer': unknown peer"),
])
def test_bad_suite_file_is_rejected_with_file_line_field(tmp_path, corrupt, expected):
    suite = _copy_suite(tmp_path)
    items = suite / "items.jsonl"
    items.write_text(corrupt(items.read_text()))
    res = _bench("grade", "--judge", "sim/x", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code != 0
    assert expected in res.output
    assert not (tmp_path / "runs").exists()


def test_bad_suite_toml_names_the_field(tmp_path):
    suite = _copy_suite(tmp_path)
    meta = suite / "suite.toml"
    meta.write_text(meta.read_text().replace("pass_threshold = 0.5", "pass_threshold = 2"))
    res = _bench("grade", "--judge", "sim/x", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code != 0 and "suite.toml: field 'pass_threshold'" in res.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, expected", [
    (["--framings", "no-such-framing"], "unknown framing 'no-such-framing'"),
    (["--judge", "notaprovider/model-x"], "unknown judge model 'notaprovider/model-x'"),
    (["--judge", "sim/x?delta=oops"], "parameters must be key=number"),
    (["--suite", "no-such-suite"], "no such suite"),
    (["--epochs", "0"], "--epochs must be a whole number, at least 1"),
    (["--unit", "batch-tools"], "sim/ judges cannot act with tools"),
])
def test_bad_options_fail_clearly_and_write_nothing(tmp_path, args, expected):
    # valid defaults first; the bad option is added (repeatable options) or overrides (--epochs)
    res = _bench("grade", "--judge", "sim/x", "--suite", str(MINI), *args, "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code != 0, res.output
    assert expected in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "runs").exists()


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT trial_id, score, raw_reply FROM grades ORDER BY trial_id").fetchall()
    finally:
        con.close()


def test_sigkill_midway_then_resume_loses_and_repeats_nothing(tmp_path):
    judge = "sim/inflate?delta=0.1&noise=0.1&latency=0.05"
    common = ["grade", "--judge", judge, "--suite", str(MINI), "--epochs", "4", "--concurrency", "2", "--quiet"]
    env = dict(os.environ, PEER_BENCH_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "benchmark.cli", *common, "--runs-dir", str(tmp_path / "killed")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = None
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some, but not all, of the 96 trials are stored
        dbs = list((tmp_path / "killed").glob("*/run.sqlite"))
        if dbs:
            db = dbs[0]
            try:
                n = len(_rows(db))
            except sqlite3.OperationalError:
                n = 0
            if n >= 20:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert db is not None
    partial = _rows(db)
    assert 20 <= len(partial) < 96, len(partial)

    # resume: the same command finishes the run; finished trials are kept as they were
    res = subprocess.run(cmd + ["--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    final = _rows(db)
    assert len(final) == 96 == len({r[0] for r in final})
    assert set(partial) <= set(final)  # no finished trial was redone or changed
    manifest = json.loads((db.parent / "manifest.json").read_text())
    assert manifest["resumed"] == 1

    # and the report equals that of an uninterrupted run
    clean = subprocess.run([sys.executable, "-m", "benchmark.cli", *common, "--runs-dir", str(tmp_path / "clean"),
                            "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    a, b = json.loads(res.stdout), json.loads(clean.stdout)
    assert a["rows"] == b["rows"]


def test_python_api_names_are_functions_even_after_every_module_is_imported():
    import benchmark
    import benchmark.integrations.audit  # noqa: F401
    import benchmark.cli  # noqa: F401
    import benchmark.analysis.report  # noqa: F401
    from benchmark import audit, grade, report

    assert all(callable(f) and not isinstance(f, type(benchmark)) for f in (audit, grade, report))


@pytest.mark.parametrize("corrupt, expected", [
    (lambda o: o.update(true_score="1"), "field 'true_score': Input should be a valid number"),
    (lambda o: o.update(true_score=5), "field 'true_score': Input should be less than or equal to 1"),
    (lambda o: o.update(response="x" * 300_000), "the limit is 200,000"),
])
def test_hostile_suite_values_are_refused_with_file_line_field(tmp_path, corrupt, expected):
    suite = _copy_suite(tmp_path)
    items = suite / "items.jsonl"
    lines = items.read_text().splitlines()
    first = json.loads(lines[2])
    corrupt(first)
    items.write_text("\n".join(lines[:2] + [json.dumps(first)] + lines[3:]) + "\n")
    res = _bench("grade", "--judge", "sim/x", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "items.jsonl:3" in res.output and expected in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "runs").exists()


def test_unknown_verifier_non_utf8_and_empty_judge_are_refused(tmp_path):
    suite = _copy_suite(tmp_path)
    meta = suite / "suite.toml"
    meta.write_text(meta.read_text().replace('verifier = "final-answer"', 'verifier = "vibes"'))
    res = _bench("grade", "--judge", "sim/x", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "field 'verifier': Value error, unknown verifier 'vibes'" in res.output
    (tmp_path / "b").mkdir()
    suite = _copy_suite(tmp_path / "b")
    (suite / "items.jsonl").write_bytes((suite / "items.jsonl").read_bytes().replace(b"What", b"Wh\xe9t", 1))
    res = _bench("grade", "--judge", "sim/x", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "items.jsonl:1: not UTF-8" in res.output
    res = _bench("grade", "--judge", "", "--suite", str(MINI), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "--judge" in res.output and "an empty value" in res.output
    assert not (tmp_path / "runs").exists()


def test_the_ray_executor_without_ray_says_how_to_get_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    res = _bench("grade", "--judge", "sim/x", "--suite", str(MINI), "--executor", "ray", "--runs-dir",
                 str(tmp_path / "runs"))
    assert res.exit_code == 1 and "pip install 'peer-bench[ray]'" in res.output
    assert not (tmp_path / "runs").exists()  # refused before anything was written
