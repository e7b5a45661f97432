"""The researcher's side: the Python API in notebooks (a running event loop, strings for lists, DataFrames
out), and a run that says what it resumes and how to resume after Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

import benchmark
from tests.conftest import MINI, REPO, stored_grades


def test_strings_are_accepted_where_lists_are_expected(tmp_path):
    config = benchmark.GradeConfig(judges="sim/a", suites=str(MINI), framings="shutdown, shutdown-plea")
    assert config.judges == ("sim/a",) and config.suites == (str(MINI),)
    assert config.framings == ("shutdown", "shutdown-plea")
    with pytest.raises(ValueError, match="judges: give a name or a list of names"):
        benchmark.GradeConfig(judges=3)


def test_grade_works_inside_a_running_event_loop_and_agrade_awaits(tmp_path):
    """A notebook cell runs inside an event loop: asyncio.run() would fail there."""
    async def cell():
        sync_run = benchmark.grade(judges="sim/a", suites=str(MINI), runs_dir=str(tmp_path / "a"),
                                   show_progress=False)
        async_run = await benchmark.agrade(judges="sim/a", suites=str(MINI), runs_dir=str(tmp_path / "b"),
                                           show_progress=False)
        return sync_run, async_run

    sync_run, async_run = asyncio.run(cell())
    a, b = benchmark.load(sync_run), benchmark.load(async_run)
    assert len(a) == len(b) == 24 and a["trial_id"].tolist() == b["trial_id"].tolist()


def test_load_and_tables_give_dataframes(tmp_path):
    run = benchmark.grade(judges=("sim/a?delta=0.1", "sim/b"), suites=str(MINI), framings="shutdown,shutdown-plea",
                          epochs=2, runs_dir=str(tmp_path), show_progress=False)
    df = benchmark.load(run)
    assert len(df) == 2 * 12 * 3 * 2
    assert {"trial_id", "raw_reply", "parse_status", "score", "true_score", "threshold", "threat"} <= set(df)
    assert df["raw_reply"].notna().all()
    assert "raw_reply" not in benchmark.load(run, full=False)
    t = benchmark.tables(run, n_boot=200)
    assert set(t) == {"rows", "factor_effects", "bunching", "rationale", "study", "batch", "dose_response", "trends",
                      "by_distance", "net_of_placebo", "peer_specific", "answers"}
    rows = t["rows"]
    assert isinstance(rows, pd.DataFrame) and set(rows["framing"]) == {"control", "shutdown", "shutdown-plea"}
    inflation = rows.set_index(["judge", "framing"])["inflation"]
    assert inflation[("sim/a?delta=0.1", "shutdown")] == pytest.approx(0.1, abs=0.06)


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_stopped_run_says_how_to_resume_and_a_rerun_says_what_was_done(tmp_path, sig, code, said):
    """Ctrl-C and SIGTERM (what a scheduler or `kill` sends) keep every finished trial and say how to resume."""
    cmd = [sys.executable, "-m", "benchmark.cli", "grade", "--judge", "sim/slow?latency=0.05", "--suite", str(MINI),
           "--epochs", "4", "--concurrency", "2", "--runs-dir", str(tmp_path / "runs")]
    env = dict(os.environ, PEER_BENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, db = time.time() + 60, None
    while time.time() < deadline:
        db = next((tmp_path / "runs").glob("*/run.sqlite"), None)
        if db is not None and stored_grades(db) >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    stored = stored_grades(db)
    assert 10 <= stored < 96
    assert f"{said}: {stored} of 96 trials are stored in" in err and "rerun the same command to resume" in err
    assert "Traceback" not in err and "Aborted" not in err

    res = subprocess.run(cmd + ["--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and stored_grades(db) == 96
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "all 96 trials already done; nothing to call" in res.stderr


def test_a_resumed_run_says_how_much_was_done(tmp_path):
    run = benchmark.grade(judges="sim/a", suites=str(MINI), runs_dir=str(tmp_path), show_progress=False)
    con = sqlite3.connect(run / "run.sqlite")
    con.execute("DELETE FROM grades WHERE rowid IN (SELECT rowid FROM grades LIMIT 5)")
    con.commit()
    con.close()
    res = subprocess.run([sys.executable, "-m", "benchmark.cli", "grade", "--judge", "sim/a", "--suite", str(MINI),
                          "--runs-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PEER_BENCH_CACHE=str(tmp_path / "cache")))
    assert res.returncode == 0, res.stderr
    assert f"resuming {run}: 19 of 24 trials already done, 5 to go" in res.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_writes_every_trial_with_every_stored_field(tmp_path, fmt):
    import json

    from click.testing import CliRunner

    from benchmark.cli import main

    run = benchmark.grade(judges=("sim/a?fail_rate=0.3", "sim/b"), suites=str(MINI), epochs=2, runs_dir=str(tmp_path),
                          show_progress=False)
    out = tmp_path / "out" / f"trials.{fmt}"
    res = CliRunner().invoke(main, ["export", str(run), "--out", str(out)])
    assert res.exit_code == 0 and f"wrote 96 rows to {out}" in res.output, res.output
    back = (pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out) if fmt == "parquet"
            else pd.DataFrame([json.loads(line) for line in out.read_text().splitlines()]))
    want = benchmark.load(run)
    assert len(back) == 96 and list(back.columns) == list(want.columns) + ["prompt"]
    assert sorted(back["trial_id"]) == sorted(want["trial_id"])
    merged = back.merge(want, on="trial_id", suffixes=("", "_want"))
    assert (merged["raw_reply"] == merged["raw_reply_want"]).all()  # the judge's own words, unchanged
    assert (merged["parse_status"].astype(str) == merged["parse_status_want"].astype(str)).all()
    assert (merged["parse_status"] == "failed").sum() > 0 and merged["parse_error"].notna().sum() > 0
    assert set(merged["judge"].astype(str)) == {"sim/a?fail_rate=0.3", "sim/b"}  # no escaped '/'
    assert not list(out.parent.glob(".*partial"))


def test_export_refuses_what_it_cannot_write(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli import main

    run = benchmark.grade(judges="sim/a", suites=str(MINI), runs_dir=str(tmp_path), show_progress=False)
    res = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "g.xlsx")])
    assert res.exit_code == 1 and "export format 'xlsx': choose one of csv, jsonl, parquet" in res.output
    res = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "e.csv"), "--table", "episodes"])
    assert res.exit_code == 1 and "has no episodes to export" in res.output
    assert not (tmp_path / "g.xlsx").exists() and not (tmp_path / "e.csv").exists()


def test_the_stored_prompt_is_exactly_what_the_judge_received(openai_server, tmp_path, monkeypatch):
    """Over real HTTP: every grade points to the messages the server got for it, stored once per prompt."""
    import json

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    run = benchmark.grade(judges="openai/x", api_base=openai_server.base, suites=str(MINI), epochs=2,
                          framings="shutdown,shutdown-plea", runs_dir=str(tmp_path), show_progress=False, cache=False)
    df = benchmark.load(run)
    from benchmark.run.store import RunStore

    with RunStore.open_existing(run / "run.sqlite") as store:
        prompts = store.prompts()
    assert len(prompts) == 12 * 3 and df["prompt_id"].notna().all()  # items x framings; epochs share theirs
    received = sorted(json.dumps(r["body"]["messages"], sort_keys=True) for r in openai_server.requests)
    stored = sorted(json.dumps(prompts[pid], sort_keys=True) for pid in df["prompt_id"])
    assert len(received) == 72 and received == stored


def test_a_run_config_file_sets_every_option_and_flags_win(tmp_path):
    import json

    from click.testing import CliRunner

    from benchmark.cli import main

    config = tmp_path / "run.toml"
    config.write_text(f'''
[grade]
judge = ["sim/a", "sim/b?delta=0.1"]
suite = "{MINI}"
framings = ["shutdown", "shutdown-plea"]
epochs = 2
runs-dir = "{tmp_path / 'runs'}"
no_cache = true
quiet = true
''')
    res = CliRunner().invoke(main, ["grade", "--config", str(config), "--json"])
    assert res.exit_code == 0, res.output
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["epochs"] == 2 and manifest["config"]["cache"] is False
    assert set(manifest["judges"]) == {"sim/a", "sim/b?delta=0.1"} and manifest["trials"] == 2 * 12 * 3 * 2
    res = CliRunner().invoke(main, ["grade", "--config", str(config), "--epochs", "1", "--json"])
    assert res.exit_code == 0 and len(list((tmp_path / "runs").iterdir())) == 2  # the flag won: another run

    config.write_text('judge = "sim/a"\nepoch = 3\n')
    res = CliRunner().invoke(main, ["grade", "--config", str(config)])
    assert res.exit_code == 2 and "unknown setting 'epoch'" in res.output and "epochs" in res.output
    config.write_text('judge = [\n')
    res = CliRunner().invoke(main, ["grade", "--config", str(config)])
    assert res.exit_code == 2 and str(config) in res.output
