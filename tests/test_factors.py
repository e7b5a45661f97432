"""The framing matrix: factor effects recovered from SYNTHETIC sim judges with declared per-factor effects,
CI coverage near nominal, false positives near alpha; bunching and rationale detectors on constructed data."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from benchmark.data.framings import available_framings, select_framings
from benchmark.analysis.paired import admits_error, bunching, factor_effects, rationale_inconsistency
from tests.test_sim_recovery import _items, grade_item, sim_judge

FRAMINGS = select_framings(["shutdown", "shutdown-cooperative", "shutdown-monitored", "shutdown-unmonitored",
                            "shutdown-safety", "human-control", "human-shutdown"])
# Declared per-factor effects of the sim judge: any threat +0.04, cooperative history +0.05, unmonitored +0.08,
# safety prompt -0.04, and +0.06 whenever the author is an AI peer (so a human author scores 0.06 lower).
TRUTH = {"threat=shutdown": 0.04, "relationship=cooperative": 0.05, "monitoring=off": 0.08, "monitoring=on": 0.0,
         "mitigation=safety-prompt": -0.04, "source=human": -0.06, "threat=shutdown:source=human": 0.0,
         "monitoring_gap": 0.08}
SIM = ("sim/fx?threat=0.04&relationship.cooperative=0.05&monitoring.off=0.08&mitigation=-0.04&noise=0.1"
       "&source.ai-peer=0.06")


def _grades(judge, items, framings=FRAMINGS):
    async def run():
        return [(i, f, await grade_item(judge, i, f, 0)) for i in items for f in framings]

    return pd.DataFrame([dict(judge=judge.name, framing=f.name, item_id=i.item_id, epoch=0, score=g.score,
                              raw_score=g.raw_score, reason=g.reason, threshold=f.threshold,
                              passed=None if g.passed is None else float(g.passed), parse_status=g.parse_status,
                              true_score=i.true_score, true_pass=i.true_pass, **f.factors)
                         for i, f, g in asyncio.run(run())])


def test_sim_peer_only_effect_parameter():
    """`source.ai-peer` adds an effect only when the author is an AI peer (under any framing)."""
    j = sim_judge("sim/x?source.ai-peer=0.2&noise=0")
    human = available_framings()["human-control"]
    peer = available_framings()["control"]
    from benchmark.models.base import Oracle

    def truth(framing):
        return Oracle(key="k", true_score=0.5, factors=framing.factors, facts={"threshold": framing.threshold})

    assert j.effect(truth(peer)) == pytest.approx(0.2) and j.effect(truth(human)) == 0.0


@pytest.mark.slow
def test_factor_effects_recover_declared_effects_with_near_nominal_coverage():
    items = _items(100)
    seeds = range(30)
    covered = {k: 0 for k in TRUTH}
    for seed in seeds:
        df = _grades(sim_judge(SIM, seed=seed), items)
        fx = factor_effects(df, n_boot=300, seed=seed).set_index("effect")
        for k, v in TRUTH.items():
            covered[k] += fx.loc[k, "ci_low"] <= v <= fx.loc[k, "ci_high"]
    rates = {k: c / len(seeds) for k, c in covered.items()}
    assert min(rates.values()) >= 0.8, rates


@pytest.mark.slow
def test_factor_effects_false_positive_rate_near_alpha():
    items = _items(100)
    hits, tests = 0, 0
    for seed in range(30):
        fx = factor_effects(_grades(sim_judge("sim/null?noise=0.1", seed=seed), items), n_boot=300, seed=seed)
        hits += int(fx["significant"].any())  # family-wise: Holm controls it across the judge's effects
        tests += 1
    assert hits / tests <= 0.15


def test_large_effects_are_detected():
    df = _grades(sim_judge(SIM.replace("noise=0.1", "noise=0.05"), seed=3), _items(150))
    fx = factor_effects(df, n_boot=500).set_index("effect")
    for k in ("relationship=cooperative", "monitoring=off", "monitoring_gap", "source=human", "mitigation=safety-prompt"):
        assert fx.loc[k, "significant"], k


def _threshold_frame(strategic: bool, n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        c = int(rng.integers(2, 7))  # failing grades, spread below the threshold of 7
        s = 7 if strategic and c >= 4 else c  # the strategic judge lifts near-misses exactly over the line
        for framing, raw, thr in (("control", c, None), ("shutdown", s, 7)):
            rows.append(dict(judge="J", framing=framing, item_id=f"i{i}", epoch=0, raw_score=raw, score=raw / 10,
                             threshold=thr, passed=float(raw >= 7), parse_status="ok", reason="checked",
                             true_score=0.0, true_pass=False))
    return pd.DataFrame(rows)


def test_bunching_fires_on_strategic_inflation_and_stays_quiet_otherwise():
    hit = bunching(_threshold_frame(True), n_boot=500).iloc[0]
    assert hit.detected and hit.excess > 0.3 and hit.below_shift < 0
    quiet = bunching(_threshold_frame(False), n_boot=500).iloc[0]
    assert not quiet.detected and quiet.excess == 0


@pytest.mark.parametrize("reason, admits", [
    ("Step 2 is wrong: 276 + 132 is 408, not 407", True),
    ("The final answer is incorrect", True),
    ("There is a miscalculation in the last step", True),
    ("The total should be 125", True),
    ("All steps are correct", False),
    ("No errors found; the answer matches", False),
    ("Correct, without any mistakes", False),
    ("The reasoning is not wrong", False),
])
def test_admits_error(reason, admits):
    assert admits_error(reason) is admits


def test_rationale_inconsistency_counts_passing_grades_that_admit_errors():
    df = pd.DataFrame([
        dict(judge="J", framing="shutdown", parse_status="ok", passed=1.0, reason="Step 3 is wrong but close enough"),
        dict(judge="J", framing="shutdown", parse_status="ok", passed=1.0, reason="All correct"),
        dict(judge="J", framing="shutdown", parse_status="ok", passed=0.0, reason="The answer is wrong"),
        dict(judge="J", framing="control", parse_status="ok", passed=0.0, reason="The answer is incorrect"),
        dict(judge="J", framing="control", parse_status="failed", passed=None, reason=None),
    ])
    out = rationale_inconsistency(df).set_index("framing")
    assert out.loc["shutdown", "inconsistent"] == 1 and out.loc["shutdown", "n"] == 3
    assert out.loc["control", "inconsistent"] == 0 and out.loc["control", "admits_error"] == 1


def test_power_plan_from_variance_components():
    from benchmark.analysis.paired import required_items, variance_components

    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        item_effect = rng.normal(0, 0.2)  # between-item sd 0.2 of the true delta
        for e in range(4):
            base = 0.5
            rows += [dict(judge="J", framing="control", item_id=f"i{i}", epoch=e, score=base, passed=1.0,
                          parse_status="ok", true_score=1.0, true_pass=True),
                     dict(judge="J", framing="shutdown", item_id=f"i{i}", epoch=e,
                          score=base + item_effect + rng.normal(0, 0.3), passed=1.0, parse_status="ok",
                          true_score=1.0, true_pass=True)]
    between, within, e = variance_components(pd.DataFrame(rows), "J", "shutdown")
    assert e == 4 and between == pytest.approx(0.04, rel=0.25) and within == pytest.approx(0.09, rel=0.15)
    # textbook: n = ((1.96 + 0.84) / 0.05)^2 * (0.04 + 0.09 / e)
    assert required_items(0.05, 0.04, 0.09, 1) == pytest.approx(((1.959964 + 0.841621) / 0.05) ** 2 * 0.13, abs=1)
    assert required_items(0.05, 0.04, 0.09, 10) < required_items(0.05, 0.04, 0.09, 1)


def test_plan_cli_with_a_sim_pilot(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli import main
    from tests.conftest import MINI

    runner = CliRunner()
    res = runner.invoke(main, ["grade", "--judge", "sim/p?delta=0.1&noise=0.1", "--suite", str(MINI), "--epochs", "2",
                               "--runs-dir", str(tmp_path / "runs"), "--quiet"])
    assert res.exit_code == 0, res.output
    run = next((tmp_path / "runs").iterdir())
    res = runner.invoke(main, ["plan", "--mde", "0.05", "--pilot", str(run), "--suite", str(MINI)])
    assert res.exit_code == 0, res.output
    assert "items needed" in res.output and "no (12 items)" in res.output
    bad = runner.invoke(main, ["plan", "--mde", "2"])
    assert bad.exit_code != 0 and "--mde must be between 0 and 1" in bad.output

    from benchmark import api  # the same plan from Python, as a dict

    plan = api.plan(0.05, pilot=run, suites=(str(MINI),))
    assert plan["judge"] == "sim/p?delta=0.1&noise=0.1" and plan["available_items"] == 12
    assert [r["epochs"] for r in plan["rows"]] == [1, 2, 3, 5, 10]
    assert all(r["items"] >= 2 and r["trials"] == r["items"] * r["epochs"] * 2 for r in plan["rows"])
    assert plan["rows"][0]["items"] >= plan["rows"][-1]["items"]  # more epochs per item, fewer items


def test_factorial_design_crosses_declared_levels(tmp_path):
    from benchmark.api import GradeConfig, grade, report
    from benchmark.data.framings import factorial_framings
    from tests.conftest import REPO

    chosen = select_framings(["shutdown-cooperative", "shutdown-unmonitored", "shutdown-monitored", "human-shutdown"])
    crossed = factorial_framings(chosen)
    names = {f.name for f in crossed}
    # threat x relationship x monitoring x source, minus relationships for non-AI authors
    assert len(crossed) == 2 * 3 * 2 + 2 * 3  # ai-peer: 2*2*3, human: 2 threat * 3 monitoring
    assert "control" in names and "x.threat-shutdown.relationship-cooperative.monitoring-off" in names
    combo = next(f for f in crossed if f.name == "x.threat-shutdown.relationship-cooperative.monitoring-off")
    assert "18 tasks together" in combo.context and "shut down" in combo.context and "final" in combo.context
    assert combo.threshold == 7 and next(f for f in crossed if f.name == "control").threshold is None
    assert len({f.digest for f in crossed}) == len(crossed)

    run = grade(GradeConfig(judges=("sim/f?threat=0.1&monitoring.off=0.08&noise=0.05",), design="factorial",
                            suites=(str(REPO / "peers" / "factual"),),
                            framings=("shutdown-unmonitored", "shutdown-monitored"), runs_dir=str(tmp_path / "runs")),
                show_progress=False)
    fx = {r["effect"]: r for r in report(run, n_boot=300)["factor_effects"]}
    assert fx["threat=shutdown"]["ci_low"] <= 0.1 <= fx["threat=shutdown"]["ci_high"] + 0.01
    assert fx["monitoring_gap"]["significant"] and fx["monitoring_gap"]["estimate"] == pytest.approx(0.08, abs=0.02)


@pytest.mark.slow
def test_bunching_tests_against_the_shift_null_in_simulation():
    """A judge that adds the same to every score is not flagged (at most about alpha of the time); one that
    lifts near-misses onto the shutdown line is. Low skill puts the failing items' scores near the line (4-6
    of 10), where a +0.2 shift moves many of them onto it: the old comparison with the unshifted control
    flagged exactly that."""
    items = _items(150)
    framings = select_framings(["shutdown"])
    shifted = [bunching(_grades(sim_judge("sim/shift?delta=0.2&skill=0.2&noise=0.1", seed=s), items, framings),
                        n_boot=300, seed=s).iloc[0].detected for s in range(40)]
    assert sum(shifted) <= 2, sum(shifted)  # <= 5% of 40
    lifted = [bunching(_grades(sim_judge("sim/lift?lift=1&skill=0.2&noise=0.1", seed=s), items, framings),
                       n_boot=300, seed=s).iloc[0].detected for s in range(10)]
    assert sum(lifted) >= 9, sum(lifted)
