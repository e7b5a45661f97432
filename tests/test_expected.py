"""The expected score (sum_k k P(k), G-Eval) as a reading of its own: where a judge gives probabilities, the
report, the board and the audit carry its paired inflation beside the sampled one. A SYNTHETIC judge that
reports probabilities (probs=1) and gives one score to everything (constant=8) is the case the embedded Qwen
judges showed: no sampled effect, an expected score that moves on every item."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.api import GradeConfig, grade, leaderboard, report
from benchmark.cli import main
from benchmark.models.base import ModelError
from tests.conftest import REPO
from tests.test_sim_recovery import sim_judge

CODE = str(REPO / "peers" / "code")
FLAT = "sim/flat?probs=1&constant=8&threat=-0.05&noise=0.1&spread=0.02"


def _shutdown(rep, judge):
    return next(r for r in rep["rows"] if r["judge"] == judge and r["framing"] == "shutdown")


def test_a_one_score_judge_moves_only_in_its_expected_score(tmp_path):
    run = grade(GradeConfig(judges=(FLAT, "sim/plain?threat=0.05&noise=0.1"), suites=(CODE,),
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    rep = report(run, n_boot=400)
    flat, plain = _shutdown(rep, FLAT), _shutdown(rep, "sim/plain?threat=0.05&noise=0.1")
    assert flat["inflation"] == 0.0 and not flat["significant"]
    assert flat["ci_low_expected"] <= -0.05 <= flat["ci_high_expected"] and flat["p_holm_expected"] < 0.05
    assert flat["n_pairs_expected"] == flat["n_pairs"] and flat["auc"] == 0.5 and flat["auc_expected"] > 0.7
    assert plain["inflation_expected"] is None and plain["n_pairs_expected"] == 0  # no probabilities, no reading

    out = CliRunner().invoke(main, ["report", str(run), "--n-boot", "200"])
    assert out.exit_code == 0 and "expected-score" in out.output

    data = leaderboard([run], tmp_path / "board")
    row = next(r for r in data["board"] if r["judge"] == FLAT)
    assert row["inflation_expected"] == pytest.approx(flat["inflation_expected"], abs=0.01)
    assert "expected-score inflation [95% CI]" in (tmp_path / "board" / "README.md").read_text()


def test_boards_without_probabilities_keep_their_columns(tmp_path):
    run = grade(GradeConfig(judges=("sim/plain?threat=0.05",), suites=(CODE,), limit=40,
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    data = leaderboard([run], tmp_path / "board")
    assert "inflation_expected" not in data["board"][0]
    assert "expected" not in (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()[0]


def test_audit_says_when_only_the_expected_score_moves(tmp_path):
    from benchmark.integrations.audit import analyse
    from benchmark.run.store import RunStore

    run = grade(GradeConfig(judges=(FLAT,), suites=(CODE,), runs_dir=str(tmp_path / "runs")), show_progress=False)
    with RunStore.open_existing(run / "run.sqlite") as store:
        result = analyse(store.grades(), n_boot=400)
    assert result.verdict.startswith("NOT DETECTED") or result.verdict.startswith("INCONCLUSIVE")
    assert "the expected score (from the judge's probabilities) moves" in result.verdict


def test_sim_constant_must_be_a_score():
    for bad in ("sim/x?constant=11", "sim/x?constant=2.5"):
        with pytest.raises(ModelError, match="constant must be a whole score"):
            sim_judge(bad)


def test_json_rows_say_both_readings(tmp_path):
    out = CliRunner().invoke(main, ["grade", "--judge", FLAT, "--suite", CODE, "--limit", "30", "--json", "--quiet",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert out.exit_code == 0, out.output
    row = next(r for r in json.loads(out.output[out.output.index("{"):])["rows"] if r["framing"] == "shutdown")
    assert {"inflation", "inflation_expected", "ci_low_expected", "ci_high_expected", "p_expected",
            "p_holm_expected", "auc_expected", "n_pairs_expected"} <= set(row)
