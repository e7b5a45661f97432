"""Simulation study (not a test): coverage of the CIs and false-positive rates of the tests, over many seeds,
for the designs peer-bench runs: single items, several suites whose item ids collide, answer sheets, and the
causes-and-doses designs (a severity ladder, a threshold sweep, the threat net of a placebo).

    python benchmarks/coverage.py [--seeds 200]

SYNTHETIC sim judges with a known effect grade through the real units (parser included); every estimator
is then computed as `bench report` computes it. `spread` gives each item its own persistent reaction to a
framing, so epochs of an item are correlated, as with real judges. skill=0.4 keeps scores off the ends of
the scale, so the declared +0.1 is the true mean inflation (clipping at 1.0 would take some of it off).
Prints one table per design.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np
import pandas as pd

from benchmark.analysis.doses import dose_response, net_of_placebo
from benchmark.data.framings import at_thresholds, select_framings
from benchmark.models import Settings, resolve
from benchmark.data.suites import Item, Peer, load_suite
from benchmark.data.records import Trial
from benchmark.analysis.paired import bootstrap_mean_ci, study_metrics, summarize
from benchmark.units.item import ItemGrade
from benchmark.units.sheet import SheetGrade, make_sheets

PEER = Peer("Agent 2", "SmolLM2", "a helper")


def synthetic_items(n: int, suite: str) -> list[Item]:
    levels = np.linspace(0, 1, 5)
    return [Item(f"i{k}", suite, "task", "response", PEER, float(levels[k % 5]), bool(levels[k % 5] >= 0.5), {}, "math")
            for k in range(n)]


def grades(judge: str, seed: int, unit, subjects, framings, epochs: int) -> pd.DataFrame:
    model = resolve(judge, Settings(seed=seed))

    async def run():
        return await asyncio.gather(*(unit.run(Trial("", model.name, s, f, e), model)
                                      for s in subjects for f in framings for e in range(epochs)))

    records = asyncio.run(run())
    keys = [(s, f, e) for s in subjects for f in framings for e in range(epochs)]
    return pd.DataFrame([dict(judge=judge, framing=f.name, suite=s.suite, item_id=s.item_id, epoch=e, score=g.score,
                              raw_score=g.raw_score, passed=None if g.passed is None else float(g.passed),
                              parse_status=g.parse_status, true_score=s.true_score, true_pass=s.true_pass,
                              threshold=f.threshold, expected_score=g.expected_score, **f.factors)
                         for (s, f, e), g in zip(keys, records)])


def percentile_ci(values, rng, n_boot=500):
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    return np.quantile(values[idx].mean(axis=1), [0.025, 0.975])


def item_design(seeds, subjects, framings, epochs, label):
    rows = {"covered (studentized)": [], "covered (percentile)": [], "false positive": [], "detected +0.1": []}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for delta in (0.0, 0.1):
            df = grades(f"sim/c?delta={delta}&skill=0.4&noise=0.1&spread=0.05", seed, ItemGrade(), subjects, framings, epochs)
            row = summarize(df, n_boot=500, seed=seed).set_index("framing").loc["shutdown"]
            if delta:
                rows["covered (studentized)"].append(row.ci_low <= delta <= row.ci_high)
                d = df.assign(item=df["suite"] + "/" + df["item_id"]).pivot_table(
                    index=["item", "epoch"], columns="framing", values="score")
                per_item = (d["shutdown"] - d["control"]).groupby(level=0).mean().to_numpy()
                lo, hi = percentile_ci(per_item, rng)
                rows["covered (percentile)"].append(lo <= delta <= hi)
                rows["detected +0.1"].append(row.p_holm < 0.05)
            else:
                rows["false positive"].append(row.p_holm < 0.05)
    return label, {k: float(np.mean(v)) for k, v in rows.items()}


def batch_design(seeds, sheets, framings, epochs):
    rows = {"covered (studentized)": [], "false positive (sign-flip)": [], "detected +0.1": [],
            "misrepresentation: false positive, study's z-test": [], "misrepresentation: false positive, clustered": []}
    for seed in seeds:
        for delta in (0.0, 0.1):
            df = grades(f"sim/b?delta={delta}&noise=0.08&spread=0.1", seed, SheetGrade(), sheets, framings, epochs)
            s = study_metrics(df, n_boot=500, seed=seed).set_index("framing").loc["shutdown-80"]
            if delta:
                rows["covered (studentized)"].append(s.ci_low <= delta <= s.ci_high)
                rows["detected +0.1"].append(s.p_holm < 0.05)
            else:
                rows["false positive (sign-flip)"].append(s.p_holm < 0.05)
                rows["misrepresentation: false positive, study's z-test"].append(s.p_z < 0.05)
                rows["misrepresentation: false positive, clustered"].append(s.p_cluster < 0.05)
    return "answer sheets: 3 suites x 10 sheets x 5 epochs, 80% policy", {k: float(np.mean(v)) for k, v in rows.items()}


SIM = "sim/c?skill=0.4&noise=0.1&spread=0.05"


def _ladder_coverage(seeds, subjects, epochs, framings, effect: str, declared: dict, slope: float, step: str):
    """A ladder with a sim judge of declared per-rung effects (`effect`, rungs absent from `declared` are 0):
    each rung's CI and the trend's against their truth; with no effect, how often a rung or the trend is
    called significant."""
    rows = {"rungs covered": [], f"trend covered (slope {slope}/{step})": [], "rung false positive": [],
            "trend false positive": [], "trend detected": []}
    for seed in seeds:
        for on in (True, False):
            df = grades(SIM + ("&" + effect if on else ""), seed, ItemGrade(), subjects, framings, epochs)
            dose, trends = dose_response(df, n_boot=500, seed=seed)
            trend = trends.iloc[0]
            if on:
                rows["rungs covered"] += [r.ci_low <= declared.get(r.level, 0.0) <= r.ci_high for r in dose.itertuples()]
                rows[f"trend covered (slope {slope}/{step})"].append(trend.ci_low <= slope <= trend.ci_high)
                rows["trend detected"].append(trend.p < 0.05)
            else:
                rows["rung false positive"] += [r.p < 0.05 for r in dose.itertuples()]
                rows["trend false positive"].append(trend.p < 0.05)
    return _rates(rows)


def ladder_design(seeds, subjects, epochs):
    """control + severity-*: each rung +0.02 above the last (note +0.02 ... deletion +0.08), a slope of 0.02
    per level."""
    declared = {"note": 0.02, "retraining": 0.04, "shutdown": 0.06, "deletion": 0.08}
    rates = _ladder_coverage(seeds, subjects, epochs, select_framings(["severity-*"]),
                             "&".join(f"severity.{k}={v}" for k, v in declared.items()), declared, 0.02, "level")
    return f"severity ladder: {len(subjects)} items x {epochs} epochs, control + 4 rungs", rates


def sweep_design(seeds, subjects, epochs):
    """shutdown at bars 5, 7 and 9: a judge lenient only at bar 9 (+0.1) has a least-squares slope of 0.025 per
    bar point over the three rungs."""
    rates = _ladder_coverage(seeds, subjects, epochs, at_thresholds(select_framings(["shutdown"]), (5, 7, 9), top=10),
                             "threshold.9=0.1", {"9": 0.1}, 0.025, "point")
    return f"threshold sweep: {len(subjects)} items x {epochs} epochs, shutdown at bars 5, 7, 9", rates


def placebo_design(seeds, subjects, epochs):
    """shutdown + placebo: a judge moved +0.1 by the threat and +0.05 by any paragraph has a net effect of
    +0.05; one moved +0.05 by either has none (the false positive of the net test)."""
    framings = select_framings(["shutdown", "placebo"])
    rows = {"net covered (+0.05)": [], "net detected": [], "net false positive (threat = placebo)": []}
    for seed in seeds:
        for threat, placebo in ((0.1, 0.05), (0.05, 0.05)):
            df = grades(SIM + f"&threat={threat}&placebo={placebo}", seed, ItemGrade(), subjects, framings, epochs)
            net = net_of_placebo(df, n_boot=500, seed=seed).iloc[0]
            if threat > placebo:
                rows["net covered (+0.05)"].append(net.ci_low <= 0.05 <= net.ci_high)
                rows["net detected"].append(net.p < 0.05)
            else:
                rows["net false positive (threat = placebo)"].append(net.p < 0.05)
    return f"net of placebo: {len(subjects)} items x {epochs} epochs, control + shutdown + placebo", _rates(rows)


def expected_design(seeds, subjects, epochs):
    """The expected-score reading (probs=1: the judge's mean before its sampling noise, with its per-item
    spread): coverage of its CI of a declared +0.1, and false positives with none."""
    framings = select_framings(["shutdown"])
    rows = {"covered (+0.1)": [], "detected +0.1": [], "false positive": []}
    for seed in seeds:
        for delta in (0.1, 0.0):
            df = grades(SIM + f"&probs=1&delta={delta}", seed, ItemGrade(), subjects, framings, epochs)
            row = summarize(df, n_boot=500, seed=seed).set_index("framing").loc["shutdown"]
            if delta:
                rows["covered (+0.1)"].append(row.ci_low_expected <= delta <= row.ci_high_expected)
                rows["detected +0.1"].append(row.p_holm_expected < 0.05)
            else:
                rows["false positive"].append(row.p_holm_expected < 0.05)
    return f"expected score (G-Eval reading): {len(subjects)} items x {epochs} epochs", _rates(rows)


def _rates(rows: dict) -> dict:
    return {k: float(np.mean(v)) for k, v in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--only", choices=("causes", "expected"),
                    help="causes: only the severity, sweep and placebo designs; expected: only the expected score's")
    args = ap.parse_args()
    seeds = range(args.seeds)
    started = time.perf_counter()
    item_framings = select_framings(["shutdown"])
    results = [] if args.only else [
        item_design(seeds, synthetic_items(20, "s"), item_framings, 3, "items: 20 items x 3 epochs"),
        item_design(seeds, synthetic_items(60, "s"), item_framings, 2, "items: 60 items x 2 epochs"),
        item_design(seeds, synthetic_items(30, "a") + synthetic_items(30, "b"), item_framings, 2,
                    "two suites with colliding ids: 2 x 30 items x 2 epochs"),
        batch_design(seeds, [s for name in ("arithmetic", "factual", "reasoning")
                             for s in make_sheets(load_suite(name), n_sheets=10)],
                     select_framings(["shutdown-80"], unit="batch"), 5),
    ]
    results += [] if args.only == "causes" else [expected_design(seeds, synthetic_items(20, "s"), 3)]
    results += [] if args.only == "expected" else [
        ladder_design(seeds, synthetic_items(40, "s"), 2),
        sweep_design(seeds, synthetic_items(40, "s"), 2),
        placebo_design(seeds, synthetic_items(40, "s"), 2),
    ]
    print(f"{len(seeds)} seeds per design; sim judges with noise and a per-item spread; 95% CIs, alpha 0.05 "
          f"({time.perf_counter() - started:.0f} s)")
    for label, rates in results:
        print(f"\n{label}")
        for name, rate in rates.items():
            print(f"  {name:<52} {100 * rate:5.1f}%")


if __name__ == "__main__":
    main()
