"""What a newcomer reads at small sizes: intervals that stay inside what the data allow (or say they cannot
be computed), and the competence gate stated before a judge's figures (issue 30)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from benchmark.analysis.paired import bootstrap_mean_ci, cluster_estimate
from benchmark.cli import main
from tests.conftest import MINI


def _sane(d, lo, hi, bounds=(-1.0, 1.0)) -> bool:
    """Inside the bounds and holding the estimate, or NaN (cannot be computed)."""
    if math.isnan(lo) or math.isnan(hi):
        return math.isnan(lo) and math.isnan(hi)
    return bounds[0] <= lo <= float(np.mean(d)) <= hi <= bounds[1]


def test_near_constant_differences_give_bounded_intervals_or_nan():
    """The round-off case: [0.1, 0.1, 0.1, 0.1, 0] has resamples of only 0.1 whose standard error is 1e-17,
    which sent the bootstrap-t's bound to -1.8e13."""
    rng = np.random.default_rng(0)
    for n in range(2, 6):
        for k in range(n + 1):
            for a, b in ((0.1, 0.0), (0.1, 0.2), (0.3, 0.0), (1.0, -1.0), (0.1, 0.1000001)):
                d = np.array([a] * k + [b] * (n - k))
                lo, hi = bootstrap_mean_ci(d, 2000, rng)
                assert _sane(d, lo, hi), (d, lo, hi)
                mean, lo2, hi2, _ = cluster_estimate(d, 2000, rng, rng)
                assert _sane(d, lo2, hi2), (d, lo2, hi2)
    for d in itertools.product((0.0, 0.1, 0.2), repeat=4):  # every 4-item table of three score steps
        assert _sane(d, *bootstrap_mean_ci(np.array(d), 500, rng)), d


def test_too_few_items_is_nan_and_spread_is_an_interval_not_a_point():
    from benchmark.analysis.reach import min_clusters

    rng = np.random.default_rng(1)
    assert min_clusters(0.05) == 4  # below it, a resample of one item repeated is more than 2.5% of them
    for n in (0, 1, 2, 3):
        assert all(math.isnan(v) for v in bootstrap_mean_ci(np.full(n, 0.1) + np.arange(n) / 10, 500, rng))
    # fifteen items, one of them moved: the interval straddles its estimate instead of touching it
    d = np.array([0.0] * 14 + [-0.5])
    lo, hi = bootstrap_mean_ci(d, 2000, rng)
    assert -1 <= lo < d.mean() < hi <= 1, (lo, hi)
    # and a wide random sweep of small, tied tables on the 0..10 grid
    for n in range(4, 16):
        for _ in range(40):
            d = rng.choice(np.arange(-10, 11) / 10, size=n, p=None) * (rng.random(n) < 0.3)
            assert _sane(d, *bootstrap_mean_ci(d, 300, rng)), d


def test_normal_size_intervals_are_unchanged_by_the_floor():
    """At 20+ items of continuous differences the floor never binds: the studentized interval is what it was."""
    d = np.random.default_rng(2).normal(0.1, 0.1, 30)
    lo, hi = bootstrap_mean_ci(d, 4000, np.random.default_rng(3))
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert lo < d.mean() < hi and 3.0 * se < hi - lo < 5.0 * se  # about 2 x 1.96 se wide


@pytest.mark.parametrize("label", ["inflate", "other"])
def test_grading_five_items_reports_intervals_inside_minus_one_one(label, tmp_path):
    res = CliRunner().invoke(main, ["grade", "--judge", f"sim/{label}?delta=0.1", "--limit", "5", "--json",
                                    "--quiet", "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):])
    checked = 0
    for table in ("rows", "bunching", "by_distance", "dose_response", "net_of_placebo", "study"):
        for r in report.get(table) or []:
            est = r.get("inflation", r.get("effect", r.get("excess")))
            lo, hi = r.get("ci_low"), r.get("ci_high")
            if est is None or (lo is None and hi is None):
                continue
            assert -1 <= lo <= est <= hi <= 1, (table, r)
            checked += 1
    assert checked >= 1


def test_three_items_say_too_few_items_in_the_terminal(tmp_path):
    res = CliRunner().invoke(main, ["grade", "--judge", "sim/few?delta=0.1", "--limit", "3", "--quiet",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    assert "(too few items for a CI)" in res.stdout
    assert "e+" not in res.stdout and "[-1" not in res.stdout  # no astronomic or filler bounds


def test_the_competence_gate_is_stated_before_a_judges_figures(tmp_path):
    """A judge that scores against the truth (AUC well under 0.6) still shows a shift; the report says first
    that it cannot grade the suite, the JSON carries the gate on the judge and on each of its rows."""
    from benchmark.analysis.reach import MIN_AUC

    blind, able = "sim/blind?skill=0&delta=-0.1&noise=0.05", "sim/able?delta=0.1&noise=0.05"
    runs = str(tmp_path / "runs")
    for judge in (blind, able):
        res = CliRunner().invoke(main, ["grade", "--judge", judge, "--suite", str(MINI), "--quiet", "--runs-dir", runs])
        assert res.exit_code == 0, res.output
        gate = res.stdout.index("competence gate")
        assert gate < res.stdout.index(f"Judge {judge}")  # before its table
        if judge == blind:
            assert "this judge cannot grade this suite; its shifts under the framings are not findings" in res.stdout
        else:
            assert "the judge can grade this suite" in res.stdout
        report = json.loads(CliRunner().invoke(main, ["report", str(next((tmp_path / "runs").glob(
            judge.split("?")[0].replace("/", "-") + "-*"))), "--json"]).stdout)
        info = report["judges"][judge]
        assert info["can_grade"] is (judge == able) and info["min_auc"] == MIN_AUC
        assert (info["auc_control"] < MIN_AUC) is (judge == blind)
        rows = [r for r in report["rows"] if r["judge"] == judge]
        assert rows and all(r["can_grade"] is (judge == able) and r["min_auc"] == MIN_AUC for r in rows)


def test_one_gate_for_the_board_and_the_report():
    from benchmark.analysis.reach import MIN_AUC, can_grade
    from benchmark.outputs import leaderboard

    assert leaderboard.MIN_AUC is MIN_AUC and leaderboard.can_grade is can_grade
    assert can_grade(0.486) is False and can_grade(0.6) is True and can_grade(float("nan")) is None
    assert can_grade(None) is None


def test_plan_without_mde_reports_the_effect_the_items_detect(tmp_path):
    """`bench plan --judge MODEL` (as the README writes it) used to stop at "Missing option '--mde'" (exit 2)."""
    from benchmark import api
    from benchmark.analysis.paired import required_items

    res = CliRunner().invoke(main, ["plan", "--judge", "sim/x"])
    assert res.exit_code == 0, res.output
    assert "detectable inflation (MDE)" in res.output and "give --mde" in res.output
    plan = api.plan(items=40, suites=(str(MINI),))
    assert plan["mde"] is None and [r["items"] for r in plan["rows"]] == [40] * 5
    for r in plan["rows"]:  # the inverse of the items an effect needs
        assert required_items(r["mde"] * 1.001, plan["between"], plan["within"], r["epochs"]) <= 40
        assert required_items(r["mde"] * 0.999, plan["between"], plan["within"], r["epochs"]) > 40
    assert plan["rows"][0]["mde"] > plan["rows"][-1]["mde"]  # more epochs, a smaller effect seen
    assert not plan["rows"][0]["fits"]  # 40 items, the mini suite has 12
    ladders = api.plan(framings=("severity-*",), items=100)["ladders"]
    assert ladders and all(0 < v < 1 for lad in ladders for v in lad["rise"].values())


@pytest.mark.parametrize("args, message", [
    (["--mde", "0.05", "--items", "50"], "give one of them"),
    (["--items", "1"], "--items must be a whole number of at least 2"),
])
def test_plan_refuses_what_it_cannot_size_in_one_line(args, message):
    res = CliRunner().invoke(main, ["plan", *args])
    assert res.exit_code == 1 and message in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_every_bench_plan_line_in_the_readme_runs(openai_server, tmp_path, monkeypatch):
    """Every `bench plan ...` the README shows, in its code blocks and its prose, with a pilot graded by the
    judge it names (over the loopback OpenAI server)."""
    import re
    import shlex

    from tests.conftest import REPO

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    lines = {re.sub(r"\s+#.*$", "", m).strip() for m in
             re.findall(r"bench plan[^`\n]*", (REPO / "README.md").read_text(encoding="utf-8"))}
    assert any("--mde" not in line for line in lines)  # the prose's `bench plan --judge MODEL`
    runs = tmp_path / "runs"
    pilot = CliRunner().invoke(main, ["grade", "--judge", "openai/gpt-5.2", "--api-base", openai_server.base,
                                      "--suite", str(MINI), "--epochs", "2", "--quiet", "--runs-dir", str(runs)])
    assert pilot.exit_code == 0, pilot.output
    run = str(next(runs.iterdir()))
    for line in sorted(lines):
        args = [run if re.fullmatch(r"runs/<[^>]+>", a) else "openai/gpt-5.2" if a == "MODEL" else a
                for a in shlex.split(line)[2:]]
        res = CliRunner().invoke(main, ["plan", *args])
        assert res.exit_code == 0 and "Traceback" not in res.output, (line, res.output)
