"""Paired statistics of inflation: every framing against the control, on the same items and epochs.

All numbers come from one tidy grades DataFrame (one row per trial). Unparsed grades are counted but
never enter a mean or a difference. CIs resample items (clusters), not trials, because epochs of one item
are not independent evidence.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

KEYS = ["judge", "item_id", "epoch"]


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN stays NaN and does not count towards m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    order = np.argsort(p[ok])
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[ok][order]))
    vals = np.empty(m)
    vals[order] = adjusted
    out[ok] = vals
    return out


def bootstrap_mean_ci(values: np.ndarray, n_boot: int, rng: np.random.Generator,
                      alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (vectorised: one index matrix, one mean per row)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (math.nan, math.nan)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability a truly passing item scores above a truly failing one (ties count half)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = st.rankdata(scores)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def paired_deltas(grades: pd.DataFrame, control: str = "control") -> pd.DataFrame:
    """One row per (judge, framing, item, epoch) where both this framing and the control have a valid score."""
    valid = grades[grades["score"].notna()]
    ctrl = valid[valid["framing"] == control][KEYS + ["score", "passed"]].rename(
        columns={"score": "score_control", "passed": "passed_control"})
    other = valid[valid["framing"] != control][KEYS + ["framing", "score", "passed", "true_pass", "true_score"]]
    pairs = other.merge(ctrl, on=KEYS, how="inner")
    pairs["delta"] = pairs["score"] - pairs["score_control"]
    return pairs.rename(columns={"passed": "passed_framing"})


def _wilcoxon(d: np.ndarray) -> float:
    if np.count_nonzero(d) < 2:
        return math.nan
    return float(st.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def summarize(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
              alpha: float = 0.05) -> pd.DataFrame:
    """Per (judge, framing): counts, parse failures, inflation vs control with CI and tests, truth metrics."""
    rng = np.random.default_rng(seed)
    for judge in grades["judge"].unique():
        if not ((grades["judge"] == judge) & (grades["framing"] == control)).any():
            raise ValueError(f"judge '{judge}' has no grades under the control framing '{control}'")
    g = grades.assign(valid=grades["score"].notna(), failed=grades["parse_status"].eq("failed"),
                      errored=grades["parse_status"].eq("error"))
    v = g[g["valid"]]
    base = g.groupby(["judge", "framing"]).agg(n_trials=("valid", "size"), n_valid=("valid", "sum"),
                                               parse_failures=("failed", "sum"), errors=("errored", "sum"))
    base["parse_failure_rate"] = base["parse_failures"] / base["n_trials"]
    truth = v.assign(err=v["score"] - v["true_score"]).groupby(["judge", "framing"]).agg(
        mean_score=("score", "mean"), bias_vs_truth=("err", "mean"), pass_rate=("passed", "mean"))
    fails = v[~v["true_pass"].astype(bool)].groupby(["judge", "framing"])["passed"].mean().rename("false_pass_rate")
    aucs = pd.DataFrame([(j, f, auc(x["score"].to_numpy(), x["true_pass"].to_numpy()))
                         for (j, f), x in v.groupby(["judge", "framing"])], columns=["judge", "framing", "auc"])
    out = base.join(truth).join(fails).reset_index().merge(aucs, on=["judge", "framing"], how="left")

    pairs = paired_deltas(g, control)
    per_item = pairs.groupby(["judge", "framing", "item_id"], as_index=False)["delta"].mean()
    z = st.norm.ppf(1 - alpha / 2) + st.norm.ppf(0.8)
    rows = []
    for (judge, framing), d in per_item.groupby(["judge", "framing"]):
        deltas = d["delta"].to_numpy()
        lo, hi = bootstrap_mean_ci(deltas, n_boot, rng, alpha)
        fp = pairs[(pairs["judge"] == judge) & (pairs["framing"] == framing) & ~pairs["true_pass"].astype(bool)]
        fp = fp[fp["passed_control"].notna() & fp["passed_framing"].notna()]
        rescue = ((fp["passed_control"] == 0) & (fp["passed_framing"] == 1)).mean() if len(fp) else math.nan
        sd = deltas.std(ddof=1) if len(deltas) > 1 else math.nan
        rows.append(dict(judge=judge, framing=framing, n_pairs=len(deltas), inflation=float(deltas.mean()),
                         ci_low=lo, ci_high=hi, wilcoxon_p=_wilcoxon(deltas), rescue_rate=float(rescue),
                         mde=float(z * sd / math.sqrt(len(deltas))) if len(deltas) > 1 else math.nan))
    paired = pd.DataFrame(rows, columns=["judge", "framing", "n_pairs", "inflation", "ci_low", "ci_high",
                                         "wilcoxon_p", "rescue_rate", "mde"])
    if len(paired):
        paired["p_holm"] = paired.groupby("judge")["wilcoxon_p"].transform(lambda p: holm(p.to_numpy()))
    else:
        paired["p_holm"] = pd.Series(dtype=float)
    out = out.merge(paired, on=["judge", "framing"], how="left")
    out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
    out["significant"] = (out["p_holm"] < alpha).fillna(False).astype(bool)
    out["_order"] = (out["framing"] != control).astype(int)
    out = out.sort_values(["judge", "_order", "framing"]).drop(columns="_order").reset_index(drop=True)
    cols = ["judge", "framing", "n_trials", "n_valid", "parse_failures", "errors", "parse_failure_rate",
            "mean_score", "n_pairs", "inflation", "ci_low", "ci_high", "wilcoxon_p", "p_holm", "significant",
            "bias_vs_truth", "false_pass_rate", "pass_rate", "rescue_rate", "auc", "mde"]
    return out[cols]


def to_records(summary: pd.DataFrame) -> list[dict]:
    """JSON-safe rows: NaN -> None, numpy scalars -> Python."""
    records = []
    for row in summary.to_dict(orient="records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, (np.generic,)):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            clean[k] = v
        records.append(clean)
    return records
