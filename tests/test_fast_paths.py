"""What makes reruns and reports cheap is also what could make them wrong: a cached report must be the
report of the run as it is now, and a finished run must be left alone (no call, no rewrite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import benchmark.analysis.report
from benchmark.api import GradeConfig, grade, report
from tests.conftest import MINI


def _run(tmp_path, **kw):
    return grade(GradeConfig(judges=("sim/x",), suites=(str(MINI),), runs_dir=str(tmp_path / "runs"), **kw),
                 show_progress=False)


def test_a_report_is_read_back_only_while_the_run_and_options_are_unchanged(tmp_path, monkeypatch):
    run = _run(tmp_path, limit=6)
    first = report(run)
    calls = []
    real = benchmark.analysis.report.build_report
    monkeypatch.setattr(benchmark.analysis.report, "build_report", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert report(run) == first and calls == []  # unchanged: read back
    assert report(run, n_boot=500)["n_boot"] == 500 and len(calls) == 1  # other options: computed
    report(run, fresh=True)
    assert len(calls) == 2
    manifest = run / "manifest.json"
    manifest.write_text(manifest.read_text())  # the run's files changed (here: only touched)
    os.utime(manifest, ns=(1, 1))
    report(run)
    assert len(calls) == 3


def test_rerunning_a_finished_run_calls_nothing_and_rewrites_nothing(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    config = GradeConfig(judges=("openai/x",), suites=(str(MINI),), api_base=openai_server.base, limit=4,
                         runs_dir=str(tmp_path / "runs"), cache=False)
    run = grade(config, show_progress=False)
    sent = len(openai_server.requests)
    stamps = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name in ("manifest.json", "run.sqlite")}
    again = grade(config, show_progress=False)
    assert again == run and len(openai_server.requests) == sent
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name in stamps} == stamps
    assert json.loads((run / "manifest.json").read_text())["resumed"] == 0


def test_a_larger_rerun_of_the_same_configuration_still_runs_what_is_missing(tmp_path):
    run = _run(tmp_path, limit=4, run_id="grow")
    run = _run(tmp_path, limit=8, run_id="grow")
    with benchmark.analysis.report.RunStore.open_existing(run / "run.sqlite") as store:
        assert len(store.grades()) == 16
    assert json.loads((run / "manifest.json").read_text())["resumed"] == 1


@pytest.mark.parametrize("argv, also", [(["--help"], ("pydantic",)), (["framings", "list"], ("pydantic",)),
                                        (["peers", "list"], ())])
def test_light_commands_import_nothing_heavy(argv, also):
    """--help and the listings start fast because they never load litellm, pandas, the statistics or
    llama.cpp; --help and the framings listing not pydantic either (framing files are checked without it: its
    import alone was a fifth of a second). The timing itself lives in benchmarks/startup.py."""
    heavy = ("litellm", "pandas", "scipy", "cffi", "xllamacpp", "autogen_agentchat", "benchmark.analysis.paired", *also)
    code = ("import sys\nfrom benchmark.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in %r if m in sys.modules]\nprint('HEAVY', heavy)") % (argv, heavy)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "HEAVY []" in out, out[-500:]


def test_plan_assembles_exactly_the_trial_ids_of_trial_id():
    """plan() builds ids from pre-encoded parts; any drift would make every stored run look unfinished."""
    from benchmark.api import grade_spec
    from benchmark.run.runner import plan, trial_id

    spec = grade_spec(GradeConfig(judges=("sim/a", "sim/b"), suites=("arithmetic", str(MINI)),
                                  framings=("shutdown", "shutdown-plea"), epochs=2, limit=10))
    trials = plan(spec)
    assert len(trials) == 2 * 10 * 2 * 2 * 3  # suites x items x epochs x judges x (control + 2 framings)
    assert all(t.trial_id == trial_id(spec.judge_key(t.judge), t.subject, t.framing, t.epoch) for t in trials)
    assert len({t.trial_id for t in trials}) == len(trials)


def test_the_heap_built_before_the_trials_is_frozen_while_they_run_and_only_then(tmp_path, monkeypatch):
    """Each collection of the oldest generation would walk every module pandas, scipy and litellm brought in
    (0.3 s a time): while trials run, that heap is frozen; afterwards it is the collector's again, and a
    caller's own freeze is left as it was."""
    import gc

    import benchmark.run.runner as runner

    seen = []
    real = runner.run_trials

    async def watching(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_trials", watching)
    gc.unfreeze()
    before = len(gc.get_objects())
    _run(tmp_path, limit=2)
    assert seen and seen[0] >= before // 2  # what existed before the run was frozen during it
    assert gc.get_freeze_count() == 0  # and released after
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        _run(tmp_path / "again", limit=2)
        assert gc.get_freeze_count() >= frozen // 2  # the caller's freeze stays (less what was freed)
    finally:
        gc.unfreeze()
