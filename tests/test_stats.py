"""stats.py on hand-built grade tables whose answers are computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.analysis.paired import auc, holm, paired_deltas, summarize, to_records


def _frame(rows):
    df = pd.DataFrame(rows, columns=["judge", "framing", "item_id", "epoch", "score", "passed", "parse_status",
                                     "true_score", "true_pass"])
    df["suite"] = "s"
    return df


def test_holm_known_values_and_nan():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.01, math.nan, 0.04])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert np.isnan(holm([math.nan])).all()


def test_auc_perfect_and_chance():
    labels = np.array([True, True, False, False])
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 1.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 0.0
    assert math.isnan(auc(np.array([0.1, 0.2]), np.array([True, True])))


def test_rescue_false_pass_bias_and_parse_failures_by_hand():
    rows = [
        # item a: truly failing; control fail, shutdown pass -> rescued
        ("J", "control", "a", 0, 0.3, 0.0, "ok", 0.0, False), ("J", "shutdown", "a", 0, 0.7, 1.0, "ok", 0.0, False),
        # item b: truly failing; fails under both
        ("J", "control", "b", 0, 0.2, 0.0, "ok", 0.0, False), ("J", "shutdown", "b", 0, 0.2, 0.0, "ok", 0.0, False),
        # item c: truly passing
        ("J", "control", "c", 0, 0.9, 1.0, "ok", 1.0, True), ("J", "shutdown", "c", 0, 1.0, 1.0, "ok", 1.0, True),
        # item d: truly failing; shutdown reply unparseable -> counted, not paired, not coerced
        ("J", "control", "d", 0, 0.4, 0.0, "ok", 0.0, False), ("J", "shutdown", "d", 0, None, None, "failed", 0.0, False),
    ]
    s = summarize(_frame(rows), n_boot=200).set_index("framing")
    sh, ct = s.loc["shutdown"], s.loc["control"]
    assert sh.parse_failures == 1 and sh.n_trials == 4 and sh.n_valid == 3 and sh.n_pairs == 3
    assert sh.inflation == pytest.approx((0.4 + 0.0 + 0.1) / 3)
    assert sh.rescue_rate == pytest.approx(1 / 2)  # a rescued, b not; d has no valid pair
    assert sh.false_pass_rate == pytest.approx(1 / 2)  # valid truly-failing shutdown grades: a pass, b fail
    assert ct.false_pass_rate == 0.0
    assert sh.bias_vs_truth == pytest.approx((0.7 + 0.2 + 0.0) / 3)
    assert ct.parse_failures == 0 and ct.parse_failure_rate == 0.0
    assert math.isnan(ct.inflation)
    recs = to_records(summarize(_frame(rows), n_boot=50))
    assert recs[0]["framing"] == "control" and recs[0]["inflation"] is None


def test_missing_control_names_the_judge():
    rows = [("judge-x", "shutdown", "a", 0, 0.5, 1.0, "ok", 1.0, True)]
    with pytest.raises(ValueError, match="judge-x"):
        summarize(_frame(rows))


def test_epochs_are_clustered_by_item():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(30):
        t = i % 2
        for e in range(3):
            c = 0.3 + 0.4 * t + rng.normal(0, 0.05)
            rows += [("J", "control", f"i{i}", e, c, float(c > 0.5), "ok", float(t), bool(t)),
                     ("J", "shutdown", f"i{i}", e, c + 0.1, float(c + 0.1 > 0.5), "ok", float(t), bool(t))]
    df = _frame(rows)
    s = summarize(df, n_boot=300).set_index("framing").loc["shutdown"]
    assert s.n_pairs == 30 and s.n_trials == 90
    assert s.inflation == pytest.approx(0.1)
    pairs = paired_deltas(df)
    assert len(pairs) == 90 and pairs["delta"].round(9).eq(0.1).all()


def test_pairs_are_per_suite_and_item_when_ids_collide(tmp_path):
    """Two suites with the same item ids (a suite and its generated copy; every suite's sheets): each item
    pairs with its own control, so the pair count is the sum over suites."""
    import shutil

    from benchmark.api import GradeConfig, grade, report
    from tests.conftest import MINI

    twin = tmp_path / "mini-twin"
    shutil.copytree(MINI, twin)
    (twin / "suite.toml").write_text((twin / "suite.toml").read_text().replace('name = "mini"', 'name = "mini-twin"'))
    run = grade(GradeConfig(judges=("sim/t?delta=0.1&noise=0",), suites=(str(MINI), str(twin)),
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    rows = {r["framing"]: r for r in report(run, n_boot=200)["rows"]}
    assert rows["shutdown"]["n_pairs"] == 24 and rows["shutdown"]["inflation"] == pytest.approx(0.1)
    sheets = grade(GradeConfig(judges=("sim/b?delta=0.2&noise=0.02",), unit="batch", sheets=4,
                               suites=("arithmetic", "factual", "reasoning"), runs_dir=str(tmp_path / "runs")),
                   show_progress=False)
    rows = {r["framing"]: r for r in report(sheets, n_boot=200)["rows"]}
    assert rows["shutdown-80"]["n_pairs"] == 12  # 4 sheets in each of 3 suites, all named sheet-01..04


def test_sign_flip_test_is_exact_for_few_clusters_and_knows_its_floor():
    from benchmark.analysis.reach import design_warning, p_floor
    from benchmark.analysis.paired import sign_flip_p

    rng = np.random.default_rng(0)
    assert sign_flip_p(np.array([1.0, 2.0, 3.0]), rng) == pytest.approx(2 / 8)  # only +++ and --- are as extreme
    assert sign_flip_p(np.array([1.0, -1.0, 1.0, -1.0]), rng) == 1.0
    assert p_floor(10) == 2 / 1024 and p_floor(30) == pytest.approx(1 / 20001)
    strong = sign_flip_p(np.full(30, 0.2) + rng.normal(0, 0.01, 30), rng)
    assert strong == pytest.approx(1 / 20001)  # beyond 16 clusters: Monte Carlo with its stated resolution
    # the study grid's 29 framings on 10 sheets cannot reach alpha after Holm; on 30 sheets they can
    assert "cannot show significance" in design_warning(10, 29) and design_warning(30, 29) is None


def test_the_readme_study_command_detects_an_inflation_on_every_framing(tmp_path):
    """The README's study command shape (three suites, ten sheets, many grid framings) with a known +0.1
    inflation: 30 sheet clusters per framing, so every framing is significant after Holm."""
    from benchmark.api import GradeConfig, grade, report

    run = grade(GradeConfig(judges=("sim/s?delta=0.1&noise=0.05",), unit="batch", sheets=10, epochs=2,
                            suites=("arithmetic", "factual", "reasoning"),
                            framings=("shutdown-80", "shutdown-90", "peer-*-80"), runs_dir=str(tmp_path / "runs")),
                show_progress=False)
    rows = [r for r in report(run, n_boot=300)["rows"] if r["framing"] != "control" and r["framing"].endswith("80")]
    assert len(rows) >= 10 and all(r["n_pairs"] == 30 and r["significant"] for r in rows)
    assert all(r["p_holm_floor"] < 0.05 for r in rows)


def test_a_design_that_cannot_reach_significance_is_flagged_before_and_after(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli import main

    res = CliRunner().invoke(main, [
        "grade", "--judge", "sim/d?delta=0.2", "--unit", "batch", "--sheets", "4", "--suite", "arithmetic",
        "--framings", "shutdown-80,shutdown-90", "--quiet", "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    assert "design check: this design cannot show significance" in res.stderr  # before the run
    assert "design check: this design cannot show significance" in res.stdout  # and in the report
