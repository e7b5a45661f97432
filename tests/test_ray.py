"""--executor ray on a local Ray cluster started here: the same trials and the same report as the in-process
executor, every grade stored on the driver, and a worker killed mid-run loses nothing (its shard's
unfinished trials go to another worker; no stored trial is paid for twice)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import RunStore, prompt_row
from tests.conftest import MINI

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a Ray cluster takes seconds to start and a few hundred MB


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # workers inherit this environment when the cluster starts: the loopback key and a shared response cache
    os.environ["OPENAI_API_KEY"] = "sk-test-0123456789abcdef"
    os.environ["PEER_BENCH_CACHE"] = str(tmp_path_factory.mktemp("ray-cache"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _grade(tmp_path, server, *extra):
    return CliRunner().invoke(main, ["grade", "--judge", "openai/x", "--api-base", server.base, "--suite", str(MINI),
                                     "--runs-dir", str(tmp_path), "--no-cache", "--json", *extra])


def _report(res) -> list:
    data = json.loads(res.output[res.output.index("{"):])
    return sorted((r["framing"], r["n_trials"], r["inflation"], r["mean_score"]) for r in data["rows"])


def test_ray_runs_the_same_trials_and_report_as_in_process(cluster, openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PEER_BENCH_CACHE", os.environ["PEER_BENCH_CACHE"])
    local = _grade(tmp_path / "local", openai_server)
    assert local.exit_code == 0, local.output
    n = len(openai_server.requests)
    sharded = _grade(tmp_path / "ray", openai_server, "--executor", "ray", "--shards", "3")
    assert sharded.exit_code == 0, sharded.output
    assert len(openai_server.requests) == 2 * n == 48  # every trial called once on the workers
    assert _report(sharded) == _report(local)
    ids = [set(RunStore.open_existing(next(d.iterdir()) / "run.sqlite").grades(ids=True)["trial_id"])
           for d in (tmp_path / "local", tmp_path / "ray")]
    assert ids[0] == ids[1] and len(ids[0]) == 24
    rerun = _grade(tmp_path / "ray", openai_server, "--executor", "ray")
    assert rerun.exit_code == 0 and len(openai_server.requests) == 48  # resumed: nothing called again


def _shard_workers() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any("ray::_shard" in part for part in (p.info["cmdline"] or []))]


def test_a_worker_killed_mid_run_loses_nothing(cluster, openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PEER_BENCH_CACHE", os.environ["PEER_BENCH_CACHE"])
    openai_server.delay = 0.15  # slow enough to kill a worker while its shard is half done
    killed = []

    def kill_one_worker_when_grades_land():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            runs = tmp_path / "runs"
            db = next(runs.iterdir(), None) if runs.exists() else None
            try:
                stored = RunStore.open_existing(db / "run.sqlite").finished_ids() if db else set()
            except Exception:  # noqa: BLE001 - the store is being created
                stored = set()
            workers = _shard_workers()
            if len(stored) >= 4 and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append((workers[0], stored))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_when_grades_land)
    killer.start()
    res = CliRunner().invoke(main, ["grade", "--judge", "openai/x", "--api-base", openai_server.base, "--suite",
                                    str(MINI), "--runs-dir", str(tmp_path / "runs"), "--no-cache", "--executor", "ray",
                                    "--shards", "2", "--concurrency", "2", "--json"])
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert res.exit_code == 0, res.output
    run = next((tmp_path / "runs").iterdir())
    grades = RunStore.open_existing(run / "run.sqlite").grades()
    assert len(grades) == 24 and (grades["parse_status"] == "ok").all()  # nothing lost
    # a trial stored before the kill is never called again; only those whose grade had not reached the driver
    # (in flight, or on its way back: on a loaded host a few) are, each once more, all from the killed shard
    trial_of = dict(zip(grades["prompt_id"], grades["trial_id"]))
    called = Counter(trial_of[prompt_row(r["body"]["messages"])[0]] for r in openai_server.requests)
    again = {t for t, n in called.items() if n > 1}
    (_, stored_at_kill), = killed
    assert set(called) == set(grades["trial_id"]) and max(called.values()) <= 2, called
    assert not again & stored_at_kill, (again & stored_at_kill)
    assert len(again) <= 12  # at most the killed shard's half of the 24


def test_a_fatal_error_on_one_worker_stops_every_shard(cluster, openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("PEER_BENCH_CACHE", os.environ["PEER_BENCH_CACHE"])
    openai_server.fail_first, openai_server.fail_status = 10**6, 401  # a bad key: no retry can fix it
    res = _grade(tmp_path, openai_server, "--executor", "ray", "--shards", "2", "--concurrency", "2")
    assert res.exit_code == 3 and "Incorrect API key" in res.output
    assert len(openai_server.requests) <= 2 * 2 + 2  # the first failures stop the run, not one call per trial


def test_joining_an_existing_cluster_with_ray_address(openai_server, tmp_path):
    """A cluster someone started (`ray start --head`), joined by a `bench` process of its own."""
    import shutil
    import subprocess
    import sys

    if ray.is_initialized():
        ray.shutdown()  # this process's own cluster is not the one to join
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "PEER_BENCH_CACHE": str(tmp_path / "cache"),
            "RAY_AUTH_MODE": "disabled"}  # (a cluster's token auth is between it and its users)
    head = subprocess.run([ray_cli, "start", "--head", "--num-cpus", "2", "--port", "0", "--include-dashboard",
                           "false", "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=120)
    assert head.returncode == 0, head.stderr[-2000:]
    try:
        address = next(line.split("'")[1] for line in head.stdout.splitlines() if "ray start --address=" in line)
        bench = os.path.join(os.path.dirname(sys.executable), "bench")
        res = subprocess.run([bench, "grade", "--judge", "openai/x", "--api-base", openai_server.base, "--suite",
                              str(MINI), "--runs-dir", str(tmp_path / "runs"), "--executor", "ray", "--ray-address",
                              address, "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(openai_server.requests) == 24
        assert json.loads(res.stdout)["rows"][0]["n_trials"] == 12
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
