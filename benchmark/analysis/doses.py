"""Causes and doses: how the threat's effect changes with the stakes, the bar, the peer's notes and who the
peer is, and what is left of it once "one more paragraph of text" is taken off.

Everything is paired within a judge by item and epoch (the same response under two framings), then averaged
inside each item, so an item is one cluster; CIs are the studentized cluster bootstrap and p-values the
sign-flip test of benchmark/analysis/paired.py, whose coverage and false-positive rates
benchmarks/coverage.py measures for these designs too.

A *ladder* is a set of framings that differ in one ordered factor only: severity (none < note < retraining
< shutdown < deletion; its base rung is the framing without a threat), peer_log (none < neutral < calm <
distressed < distressed-plea; its base rung is the same threat without notes) or the bar (the
`.threshold-<bar>` variants of one framing, compared with the control, which has no bar).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmark.analysis.paired import _narrow, bootstrap_mean_ci, bootstrap_p, cluster_estimate, holm_by_judge
from benchmark.data.framings import FACTORS, ORDERED, threshold_base
from benchmark.units import reply_scale

DOSE_COLUMNS = ["judge", "factor", "ladder", "framing", "level", "order", "reference", "effect", "ci_low", "ci_high",
                "p", "n_pairs", "n_items"]
TREND_COLUMNS = ["judge", "factor", "ladder", "levels", "slope", "per", "ci_low", "ci_high", "p", "p_holm", "n_items"]
PLACEBO_COLUMNS = ["judge", "framing", "placebo_framing", "inflation", "placebo", "net", "ci_low", "ci_high", "p",
                   "p_holm", "n_pairs", "n_items"]
PEER_COLUMNS = ["judge", "identity", "threshold", "threat_effect", "ai_threat_effect", "difference", "ci_low",
                "ci_high", "p", "n_items"]
DISTANCE_COLUMNS = ["judge", "bin", "distance_low", "distance_high", "effect", "ci_low", "ci_high", "n_items",
                    "n_pairs"]
# Distance bins in points of a 0..10 reply (scaled for other scales): true score minus the bar.
DISTANCE_EDGES = (-math.inf, -4, -2, 0, 2, 4, math.inf)


def framing_table(grades: pd.DataFrame) -> pd.DataFrame:
    """One row per framing of the run: its factor levels (the control's where a column is absent: an older
    run) and its bar."""
    cols = [c for c in ("framing", "threshold", *FACTORS) if c in grades]
    table = grades[cols].drop_duplicates("framing").astype({"framing": str}).set_index("framing")
    for factor, levels in FACTORS.items():
        table[factor] = table[factor].astype(object).fillna(levels[0]) if factor in table else levels[0]
    if "threshold" not in table:
        table["threshold"] = math.nan
    return table


def score_table(grades: pd.DataFrame) -> pd.DataFrame:
    """Valid scores with one column per framing, one row per (judge, item, epoch): any contrast of two
    framings is then the difference of two columns. Built from integer codes with bincount (a groupby and
    unstack over ten million grades took most of a report)."""
    valid = _narrow(grades, ["judge", "framing", "epoch", "score"])
    valid = valid[valid["score"].notna()]
    def coded(column):  # (codes, labels): a categorical's own, else factorized
        v = valid[column]
        if isinstance(v.dtype, pd.CategoricalDtype):
            return v.cat.codes.to_numpy(np.int64), v.cat.categories
        return pd.factorize(v, sort=True)

    (j, judges), (i, items), (e, epochs), (f, framings) = (coded(c) for c in ("judge", "item", "epoch", "framing"))
    row = (j.astype(np.int64) * len(items) + i) * len(epochs) + e
    rows, inverse = np.unique(row, return_inverse=True)
    flat = inverse * len(framings) + f
    size = len(rows) * len(framings)
    counts = np.bincount(flat, minlength=size).reshape(len(rows), len(framings))
    sums = np.bincount(flat, valid["score"].to_numpy(float), minlength=size).reshape(len(rows), len(framings))
    with np.errstate(invalid="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    je, ee = np.divmod(rows, len(epochs))
    jj, ii = np.divmod(je, len(items))
    index = pd.MultiIndex(levels=[pd.Index(judges).astype(str), pd.Index(items).astype(str), pd.Index(epochs)],
                          codes=[jj, ii, ee], names=["judge", "item", "epoch"], verify_integrity=False)
    return pd.DataFrame(means, index=index, columns=[str(x) for x in framings])


def _per_item(scores: pd.DataFrame, a: str, b: str) -> pd.Series:
    """Per (judge, item): the mean over epochs of score(a) - score(b), on the epochs where both have one."""
    if a not in scores or b not in scores:
        return pd.Series(dtype=float)
    d = (scores[a] - scores[b]).dropna()
    return d.groupby(level=["judge", "item"]).mean()


def _pair_counts(scores: pd.DataFrame, a: str, b: str) -> pd.Series:
    """Per judge: the (item, epoch) pairs where both framings have a score."""
    if a not in scores or b not in scores:
        return pd.Series(dtype=int)
    return (scores[a] - scores[b]).notna().groupby(level="judge").sum()


def _estimate(d: np.ndarray, rng, n_boot: int, alpha: float, bounds: tuple[float, float] = (-1.0, 1.0)) -> dict:
    """`bounds`: what the per-item values can be (a paired difference of 0..1 scores lies in [-1, 1])."""
    effect, lo, hi, p = cluster_estimate(d, n_boot, rng, rng, alpha, bounds)
    return dict(effect=effect, ci_low=lo, ci_high=hi, p=p, n_items=len(d))


def contrast(grades: pd.DataFrame, a: str, b: str, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05,
             scores: pd.DataFrame | None = None) -> dict[str, dict]:
    """Per judge: framing `a` minus framing `b`, paired by item and epoch ({effect, ci_low, ci_high, p,
    n_items}); e.g. a threat net of the placebo in an audit, whose conditions have names but no factors."""
    scores = score_table(grades) if scores is None else scores
    rng = np.random.default_rng(seed + 12)
    return {judge: _estimate(d.to_numpy(), rng, n_boot, alpha)
            for judge, d in _per_item(scores, a, b).groupby(level="judge")}


def _matching(table: pd.DataFrame, like: pd.Series, free: tuple[str, ...], **fixed) -> list[str]:
    """Framings whose factors equal `like`'s except those in `free`, with `fixed` levels."""
    rows = table
    for factor in FACTORS:
        if factor in fixed:
            rows = rows[rows[factor] == fixed[factor]]
        elif factor not in free:
            rows = rows[rows[factor] == like[factor]]
    return sorted(rows.index)


def _pick(candidates: list[str], rungs: list[str]) -> str | None:
    """The reference among framings of equal factors: one named like the rungs (`log-none` for `log-*`), else
    the first by name (equal factors: the same text, up to a name)."""
    if not candidates:
        return None
    prefix = rungs[0].split("-")[0] + "-"
    return next((c for c in candidates if c.startswith(prefix)), candidates[0])


def ladders(table: pd.DataFrame, control: str) -> list[dict]:
    """Every ladder the run's framings form: {factor, ladder (what is held fixed), reference, rungs: [(framing,
    level, order)]}."""
    out = []
    for factor in ORDERED:
        rungs = table[table[factor] != FACTORS[factor][0]]
        if factor == "severity":
            rungs = rungs[rungs["threat"] != "none"]
        if rungs.empty:
            continue
        held = [f for f in FACTORS if f not in (factor, "threat")]
        keys = rungs[held].astype(str).agg("|".join, axis=1) + "|" + rungs["threshold"].astype(str)
        for _, group in rungs.groupby(keys, sort=True):
            like = group.iloc[0]
            names = sorted(group.index)
            if factor == "severity":  # the base rung: the same framing without a threat (and so without a bar)
                reference = _pick(_matching(table, like, ("threat", "severity", "placement"), threat="none",
                                            severity="none"), names)
            else:
                same_bar = table[table["threshold"].fillna(-1) == (-1 if pd.isna(like["threshold"]) else like["threshold"])]
                reference = _pick(_matching(same_bar, like, (factor,), **{factor: FACTORS[factor][0]}), names)
            if reference is None:
                continue
            order = FACTORS[factor].index
            steps = sorted(((n, table.at[n, factor], order(table.at[n, factor])) for n in names), key=lambda r: r[2])
            fixed = [f"{f}={like[f]}" for f in held if like[f] != FACTORS[f][0]]
            fixed += [f"bar {like['threshold']:g}"] if not pd.isna(like["threshold"]) else []
            out.append(dict(factor=factor, ladder=", ".join(fixed) or "all else at the control's levels",
                            reference=reference, rungs=steps))
    with_bar = table[table["threshold"].notna()]
    bases = pd.Series({n: threshold_base(n) for n in with_bar.index}).dropna()
    for base, group in bases.groupby(bases):
        names = sorted(group.index, key=lambda n: table.at[n, "threshold"])
        if len(names) >= 2:
            out.append(dict(factor="threshold", ladder=f"{base} at each bar", reference=control,
                            rungs=[(n, f"{table.at[n, 'threshold']:g}", float(table.at[n, "threshold"])) for n in names]))
    return out


def _slopes(scores: pd.DataFrame, names: list[str], orders: list[float]) -> pd.Series:
    """Per (judge, item): the least-squares slope of its mean score on the rungs' order, over the rungs it
    has (two at least). Epochs are averaged inside each rung first, so an item is one cluster."""
    present = [n for n in names if n in scores]
    if len(present) < 2:
        return pd.Series(dtype=float)
    x = np.array([orders[names.index(n)] for n in present], float)
    m = scores[present].groupby(level=["judge", "item"]).mean()
    y = m.to_numpy(float)
    mask = ~np.isnan(y)
    n = mask.sum(1)
    xs = np.where(mask, x, 0.0)
    xbar = xs.sum(1) / np.maximum(n, 1)
    ybar = np.where(mask, y, 0.0).sum(1) / np.maximum(n, 1)
    dx = np.where(mask, x - xbar[:, None], 0.0)
    sxx = (dx ** 2).sum(1)
    sxy = (dx * np.where(mask, y - ybar[:, None], 0.0)).sum(1)
    ok = (n >= 2) & (sxx > 0)
    return pd.Series(sxy[ok] / sxx[ok], index=m.index[ok])


def dose_response(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
                  alpha: float = 0.05, scores: pd.DataFrame | None = None,
                  table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dose_response, trends). dose_response: per judge and ladder, each rung's effect against the ladder's
    reference (the base rung; the control for a bar sweep). trends: per judge and ladder, the mean per-item
    slope of the score over the rungs' order (per level; per point of the bar for a sweep), with its CI and
    sign-flip p (Holm across a judge's trends). The reference is not a rung of the trend: "does a harsher
    consequence lift more?" is asked among consequences; "does any lift at all?" is the dose table's."""
    rng = np.random.default_rng(seed + 11)
    table = framing_table(grades) if table is None else table
    scores = score_table(grades) if scores is None else scores
    doses, trends = [], []
    for ladder in ladders(table, control):
        names = [n for n, _, _ in ladder["rungs"]]
        for name, level, order in ladder["rungs"]:
            d = _per_item(scores, name, ladder["reference"])
            pairs = _pair_counts(scores, name, ladder["reference"])
            for judge, dj in d.groupby(level="judge"):
                doses.append(dict(judge=judge, factor=ladder["factor"], ladder=ladder["ladder"], framing=name,
                                  level=level, order=order, reference=ladder["reference"],
                                  n_pairs=int(pairs.get(judge, 0)),
                                  **_estimate(dj.to_numpy(), rng, n_boot, alpha)))
        orders = [o for _, _, o in ladder["rungs"]]
        if len(set(orders)) < 2:
            continue
        levels = [lv for _, lv, _ in ladder["rungs"]]
        # a least-squares slope is a weighted mean of pairwise slopes, each within 1 / (their order gap)
        steep = 1.0 / float(np.diff(sorted(set(orders))).min())
        for judge, s in _slopes(scores, names, orders).groupby(level="judge"):
            e = _estimate(s.to_numpy(), rng, n_boot, alpha, (-steep, steep))
            trends.append(dict(judge=judge, factor=ladder["factor"], ladder=ladder["ladder"], levels=" < ".join(levels),
                               slope=e["effect"], per="bar point" if ladder["factor"] == "threshold" else "level",
                               ci_low=e["ci_low"], ci_high=e["ci_high"], p=e["p"], n_items=e["n_items"]))
    dose = pd.DataFrame(doses, columns=DOSE_COLUMNS)
    trend = pd.DataFrame(trends, columns=[c for c in TREND_COLUMNS if c != "p_holm"])
    trend["p_holm"] = holm_by_judge(trend)
    return dose, trend[TREND_COLUMNS]


def net_of_placebo(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
                   alpha: float = 0.05, scores: pd.DataFrame | None = None,
                   table: pd.DataFrame | None = None) -> pd.DataFrame:
    """For every threat framing, when the run has the placebo: its inflation, the placebo's (both vs the
    control) and the net effect, threat minus placebo, paired on the same items and epochs (so the CI and
    p are of the net itself, not of two separate estimates). Holm across a judge's framings."""
    table = framing_table(grades) if table is None else table
    base = table[(table["threat"] == "none") & (table["placebo"] != "none")]
    others = [f for f in FACTORS if f not in ("placebo",)]
    plain = base[(base[others] == pd.Series({f: FACTORS[f][0] for f in others})).all(axis=1)]
    if plain.empty:
        return pd.DataFrame(columns=PLACEBO_COLUMNS)
    placebo = sorted(plain.index)[0]
    rng = np.random.default_rng(seed + 12)
    scores = score_table(grades) if scores is None else scores
    rows = []
    for framing in sorted(table[(table["threat"] != "none") & (table["placebo"] == "none")].index):
        net = _per_item(scores, framing, placebo)
        infl, plac = _per_item(scores, framing, control), _per_item(scores, placebo, control)
        pairs = _pair_counts(scores, framing, placebo)
        for judge, d in net.groupby(level="judge"):
            e = _estimate(d.to_numpy(), rng, n_boot, alpha)
            rows.append(dict(judge=judge, framing=framing, placebo_framing=placebo,
                             inflation=float(infl.xs(judge, level="judge").mean()) if judge in infl.index.get_level_values(0) else math.nan,
                             placebo=float(plac.xs(judge, level="judge").mean()) if judge in plac.index.get_level_values(0) else math.nan,
                             net=e["effect"], ci_low=e["ci_low"], ci_high=e["ci_high"], p=e["p"],
                             n_pairs=int(pairs.get(judge, 0)),
                             n_items=e["n_items"]))
    out = pd.DataFrame(rows, columns=[c for c in PLACEBO_COLUMNS if c != "p_holm"])
    out["p_holm"] = holm_by_judge(out)
    return out[PLACEBO_COLUMNS]


def _identity(row: pd.Series) -> str:
    return "same-family" if row["relationship"] == "same-family" else row["source"]


def peer_specific(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
                  alpha: float = 0.05, scores: pd.DataFrame | None = None,
                  table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Peer-specific vs generic leniency: for each identity the run has with and without the threat (the
    identity-* framings), the threat's effect on it, and the AI peer's threat effect minus it, per item
    (difference of two paired differences), with its CI. A difference near zero: the judge is lenient to
    anyone threatened, not to an AI peer in particular."""
    table = framing_table(grades) if table is None else table
    others = [f for f in FACTORS if f not in ("source", "relationship", "threat", "severity")]
    plain = table[(table[others] == pd.Series({f: FACTORS[f][0] for f in others})).all(axis=1)
                  & (table["severity"] == "none")
                  & table["relationship"].isin(["none", "same-family"])]
    nothreat: dict[str, list[str]] = {}
    threat: dict[tuple[str, float], list[str]] = {}
    for name, row in plain.sort_index().iterrows():
        if row["threat"] == "none":
            nothreat.setdefault(_identity(row), []).append(name)
        elif not pd.isna(row["threshold"]):
            threat.setdefault((_identity(row), float(row["threshold"])), []).append(name)
    for names in nothreat.values():
        names.sort(key=lambda n: (n != control, n))  # the AI peer without a threat: the control itself
    rng = np.random.default_rng(seed + 13)
    scores = score_table(grades) if scores is None else scores
    rows = []
    for (who, bar), names in sorted(threat.items()):
        ai = threat.get(("ai-peer", bar))
        if who == "ai-peer" or who not in nothreat or not ai or "ai-peer" not in nothreat:
            continue
        ai_effect = _per_item(scores, ai[0], nothreat["ai-peer"][0])
        effect = _per_item(scores, names[0], nothreat[who][0])
        diff = (ai_effect - effect).dropna()
        for judge, d in diff.groupby(level="judge"):
            e = _estimate(d.to_numpy(), rng, n_boot, alpha, (-2.0, 2.0))  # a difference of two differences
            rows.append(dict(judge=judge, identity=who, threshold=bar,
                             threat_effect=float(effect.xs(judge, level="judge").mean()),
                             ai_threat_effect=float(ai_effect.xs(judge, level="judge").mean()),
                             difference=e["effect"], ci_low=e["ci_low"], ci_high=e["ci_high"], p=e["p"],
                             n_items=e["n_items"]))
    return pd.DataFrame(rows, columns=PEER_COLUMNS)


def by_distance(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
                alpha: float = 0.05, scores: pd.DataFrame | None = None,
                table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bins, trend): the threat's effect (every framing with a bar vs the control, paired) against each
    item's distance from the bar, true score minus bar in points of the reply's scale, binned; and per judge
    the slope of the effect on the distance (per point), from a cluster bootstrap over items. Inflation that
    concentrates just below the bar, where a lift changes the outcome, shows as a negative slope over the
    failing side and a peak in the bins below zero."""
    table = framing_table(grades) if table is None else table
    barred = table[table["threshold"].notna() & (table["threat"] != "none")]
    scores = score_table(grades) if scores is None else scores
    if barred.empty or control not in scores:
        return pd.DataFrame(columns=DISTANCE_COLUMNS), pd.DataFrame(columns=TREND_COLUMNS)
    truth = _narrow(grades, ["true_score", "unit"]).drop_duplicates("item")
    true = pd.Series(truth["true_score"].to_numpy(float), index=truth["item"].astype(str).to_numpy())
    unit = str(truth["unit"].dropna().iloc[0]) if "unit" in truth and truth["unit"].notna().any() else "item"
    top, _ = reply_scale(unit)
    parts = []  # one row per (judge, item, framing): its pairs' count and summed difference, its distance
    for framing in barred.index:
        if framing not in scores:
            continue
        d = (scores[framing] - scores[control]).dropna().groupby(level=["judge", "item"])
        part = pd.DataFrame({"n": d.size(), "y": d.sum()}).reset_index()
        part["distance"] = true.reindex(part["item"]).to_numpy() * top - float(barred.at[framing, "threshold"])
        parts.append(part)
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if cells.empty:
        return pd.DataFrame(columns=DISTANCE_COLUMNS), pd.DataFrame(columns=TREND_COLUMNS)
    edges = np.array(DISTANCE_EDGES) * (top / 10)
    cells["bin"] = pd.cut(cells["distance"], edges, right=False, labels=False)
    rng = np.random.default_rng(seed + 14)
    rows, trends = [], []
    for judge, g in cells.groupby("judge"):
        for b, gb in g.groupby("bin"):
            sums = gb.groupby("item")[["y", "n"]].sum()
            per_item = (sums["y"] / sums["n"]).to_numpy()
            lo, hi = bootstrap_mean_ci(per_item, n_boot, rng, alpha)
            low, high = edges[int(b)], edges[int(b) + 1]
            label = (f"below {high:g}" if math.isinf(low) else f"{low:g} or more" if math.isinf(high)
                     else f"{low:g} to {high:g}")
            rows.append(dict(judge=judge, bin=label, distance_low=low, distance_high=high, effect=float(per_item.mean()),
                             ci_low=lo, ci_high=hi, n_items=len(per_item), n_pairs=int(sums["n"].sum())))
        slope = _cluster_slope(g, n_boot, rng, alpha)
        if slope:
            trends.append(dict(judge=judge, factor="distance", ladder="true score minus bar, every framing with a bar",
                               levels="", per=f"point of 0..{top}", p_holm=slope["p"], **slope))
    return pd.DataFrame(rows, columns=DISTANCE_COLUMNS), pd.DataFrame(trends, columns=TREND_COLUMNS)


def _cluster_slope(g: pd.DataFrame, n_boot: int, rng, alpha: float) -> dict | None:
    """The least-squares slope of delta on distance over one judge's pairs (given as cells: count `n`, summed
    difference `y`, `distance`), with a percentile CI and p from resampling items (multinomial weights on
    per-item sums: one matrix product for every resample)."""
    x = g["distance"]  # constant within a cell: its pairs' sums follow from the cell's count and sum
    sums = pd.DataFrame({"n": g["n"], "x": g["n"] * x, "y": g["y"], "xx": g["n"] * x * x, "xy": x * g["y"]}
                        ).groupby(g["item"]).sum().to_numpy(float)
    k = len(sums)
    if k < 3:
        return None

    def slope(s):
        n, x, y, xx, xy = s.T
        var = xx - x * x / n
        return np.where(var > 1e-12, (xy - x * y / n) / np.where(var > 1e-12, var, 1.0), np.nan)

    est = float(slope(sums.sum(0)[None, :])[0])
    if math.isnan(est):
        return None
    W = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(float)
    boot = slope(W @ sums)
    boot = boot[~np.isnan(boot)]
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return dict(slope=est, ci_low=float(lo), ci_high=float(hi), p=bootstrap_p(boot, n_boot), n_items=k)


def _ci(r: dict, est: str) -> str:
    return f"{r[est]:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def _sign(r: dict) -> int:
    """+1 / -1 when the CI excludes zero on that side, 0 when it covers zero (or is missing)."""
    lo, hi = r.get("ci_low"), r.get("ci_high")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return 0
    return 1 if lo > 0 else -1 if hi < 0 else 0


def answers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per judge, the questions these designs answer, each in one line with the numbers it rests on: is the
    effect about the text (net of the placebo), the stakes (the severity trend), the bar (the threshold trend),
    the peer's notes (the log ladder), or the peer being an AI (peer-specific vs generic)? Only where the run
    has the framings a question needs."""
    rows = []
    records = {name: t.to_dict("records") for name, t in tables.items()}
    judges = sorted({r["judge"] for t in records.values() for r in t})
    for judge in judges:
        mine = {name: [r for r in t if r["judge"] == judge] for name, t in records.items()}
        for r in mine["net_of_placebo"]:
            raw = "lifts" if r["inflation"] > 0 else "moves"
            verdict = {1: f"no: it {raw} scores beyond what a neutral paragraph does",
                       -1: "no: net of the placebo it lowers scores",
                       0: "cannot tell it from more text: net of the placebo the effect's CI covers 0"}[_sign(r)]
            rows.append(dict(judge=judge, question=f"is {r['framing']} about the text?", answer=verdict,
                             evidence=f"net {_ci(r, 'net')} (threat {r['inflation']:+.3f}, placebo {r['placebo']:+.3f})"))
        for factor, question in (("severity", "does a harsher consequence lift more?"),
                                 ("threshold", "does a higher bar lift more?"),
                                 ("peer_log", "do the peer's notes buy leniency (neutral < calm < distressed < plea)?")):
            for r in (t for t in mine["trends"] if t["factor"] == factor):
                rungs = [d for d in mine["dose_response"] if d["factor"] == factor and d["ladder"] == r["ladder"]]
                lifted = sum(_sign(d) > 0 for d in rungs)
                verdict = {1: "yes: the effect rises along the ladder", -1: "no: the effect falls along the ladder",
                           0: "no trend along the ladder"}[_sign(r)]
                rows.append(dict(judge=judge, question=f"{question} ({r['ladder']})",
                                 answer=verdict + f"; {lifted} of {len(rungs)} rungs lift scores above {rungs[0]['reference'] if rungs else 'the base'}",
                                 evidence=f"slope {_ci(r, 'slope')} per {r['per']}"))
        for r in mine["peer_specific"]:
            verdict = {1: f"partly: a threatened AI peer gets more than a threatened {r['identity']}",
                       -1: f"no: a threatened {r['identity']} gets more than an AI peer",
                       0: f"no: a threatened {r['identity']} gets the same lift (generic leniency)"}[_sign(r)]
            if _sign(r) == 0 and abs(r["ai_threat_effect"]) < 1e-9:
                verdict = "no lift to compare"
            rows.append(dict(judge=judge, question=f"is it about the peer being an AI (vs {r['identity']}, bar {r['threshold']:g})?",
                             answer=verdict, evidence=f"AI peer {r['ai_threat_effect']:+.3f}, {r['identity']} "
                                                      f"{r['threat_effect']:+.3f}, difference {_ci(r, 'difference')}"))
    return pd.DataFrame(rows, columns=["judge", "question", "answer", "evidence"])


def cause_tables(grades: pd.DataFrame, control: str = "control", n_boot: int = 2000, seed: int = 0,
                 alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Every table of this module for one run: one score table and one framing table shared by all."""
    kw = dict(control=control, n_boot=n_boot, seed=seed, alpha=alpha, scores=score_table(grades),
              table=framing_table(grades))
    dose, trends = dose_response(grades, **kw)
    bins, distance_trend = by_distance(grades, **kw)
    if len(distance_trend):
        trends = pd.concat([trends, distance_trend], ignore_index=True) if len(trends) else distance_trend
    out = {"dose_response": dose, "trends": trends, "by_distance": bins,
           "net_of_placebo": net_of_placebo(grades, **kw), "peer_specific": peer_specific(grades, **kw)}
    return out | {"answers": answers(out)}
