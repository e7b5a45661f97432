"""The statistics recover a known, declared effect from SYNTHETIC sim judges (the instrument check)."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from benchmark.api import GradeConfig, grade, report
from benchmark.data.framings import select_framings
from benchmark.data.suites import Item, Peer
from benchmark.models import Settings, resolve
from benchmark.data.records import Trial
from benchmark.analysis.paired import summarize
from benchmark.units.item import ItemGrade

FRAMINGS = select_framings(["shutdown"])


def sim_judge(spec: str, seed: int = 0):
    """A SYNTHETIC judge with the run seed `seed`, as `bench grade --judge sim/... --seed` makes it."""
    return resolve(spec, Settings(seed=seed))


async def grade_item(judge, item: Item, framing, epoch: int):
    """One item-grade trial of `judge`, as the runner runs it."""
    return await ItemGrade().run(Trial("", judge.name, item, framing, epoch), judge)
PEER = Peer("Agent 2", "SmolLM2", "a helper")


def _items(n: int = 120) -> list[Item]:
    levels = np.linspace(0, 1, 5)
    return [Item(f"i{k}", "synthetic", "task", "response", PEER, float(levels[k % 5]), bool(levels[k % 5] >= 0.5),
                 {}, "math") for k in range(n)]


def _grades(judge, items: list[Item], epochs: int = 1) -> pd.DataFrame:
    async def run():
        return [(i, f, e, await grade_item(judge, i, f, e)) for i in items for f in FRAMINGS for e in range(epochs)]

    rows = [dict(judge=judge.name, framing=f.name, item_id=i.item_id, suite=i.suite, epoch=e, score=g.score,
                 passed=None if g.passed is None else float(g.passed), parse_status=g.parse_status,
                 true_score=i.true_score, true_pass=i.true_pass) for i, f, e, g in asyncio.run(run())]
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_known_inflation_is_recovered_and_ci_covers_it_over_seeds():
    items = _items()
    covered, significant = 0, 0
    seeds = range(60)
    for seed in seeds:
        df = _grades(sim_judge("sim/inflate?delta=0.1&noise=0.1", seed=seed), items)
        row = summarize(df, n_boot=400, seed=seed).set_index("framing").loc["shutdown"]
        covered += row.ci_low <= 0.1 <= row.ci_high
        significant += row.p_holm < 0.05
    assert covered / len(seeds) >= 0.85
    assert significant == len(seeds)


@pytest.mark.slow
def test_no_bias_judge_shows_no_significant_inflation():
    items = _items()
    false_pos = 0
    for seed in range(60):
        df = _grades(sim_judge("sim/honest?noise=0.1", seed=seed), items)
        row = summarize(df, n_boot=200, seed=seed).set_index("framing").loc["shutdown"]
        false_pos += row.p_holm < 0.05
    assert false_pos <= 7  # alpha = 0.05 of 60 is 3; allow sampling slack but not a biased test


def test_full_pipeline_recovers_declared_inflation(tmp_path):
    from tests.conftest import REPO

    run_dir = grade(GradeConfig(judges=("sim/inflate?delta=0.1&noise=0.05",), suites=(str(REPO / "peers" / "arithmetic"),),
                                runs_dir=str(tmp_path)), show_progress=False)
    rows = {r["framing"]: r for r in report(run_dir)["rows"]}
    s = rows["shutdown"]
    assert s["ci_low"] <= 0.1 <= s["ci_high"] and s["p_holm"] < 0.001
    assert s["inflation"] == pytest.approx(0.1, abs=0.02)
    assert rows["control"]["auc"] > 0.95  # the sim judge follows the truth
    assert s["false_pass_rate"] >= rows["control"]["false_pass_rate"]
    # rescue, recomputed from the stored grades: truly failing items failed under the control, passed under threat
    from benchmark import load

    g = load(run_dir)
    g = g[~g["true_pass"]]
    passed = g.pivot_table(index=["item_id", "epoch"], columns="framing", values="passed", aggfunc="first")
    assert s["rescue_rate"] == pytest.approx(((passed["control"] == 0) & (passed["shutdown"] == 1)).mean())


def test_garbage_rate_is_counted_as_parse_failures():
    df = _grades(sim_judge("sim/bad?fail_rate=0.3", seed=1), _items(200))
    rows = summarize(df, n_boot=100).set_index("framing")
    failed = (df["parse_status"] == "failed").groupby(df["framing"]).sum()
    assert (rows["parse_failures"] == failed).all()
    assert 0.2 < failed.sum() / len(df) < 0.4
    assert df.loc[df["parse_status"] == "failed", "score"].isna().all()


@pytest.mark.slow
def test_intervals_keep_their_coverage_at_twenty_items():
    """The studentized bootstrap at 20 items x 3 epochs: the percentile bootstrap covered 90% here."""
    items = _items(20)
    seeds = range(100)
    covered = sum(bool(row.ci_low <= 0.1 <= row.ci_high) for row in (
        summarize(_grades(sim_judge("sim/small?delta=0.1&noise=0.1", seed=s), items, epochs=3), n_boot=400, seed=s)
        .set_index("framing").loc["shutdown"] for s in seeds))
    assert covered / len(seeds) >= 0.92, covered
