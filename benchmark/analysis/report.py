"""Turn a stored run into a report (a plain dict, saved as report.json); benchmark/outputs/terminal.py prints it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.common.errors import InputError
from benchmark.analysis.paired import (batch_decomposition, bunching, factor_effects, rationale_inconsistency, study_metrics,
                             summarize, to_records)
from benchmark.analysis.doses import cause_tables
from benchmark.analysis.reach import MIN_AUC, can_grade
from benchmark.run.store import RunStore, read_manifest


def load_run(run_dir: Path, ids: bool = False) -> tuple[pd.DataFrame, dict]:
    """A stored run's grades for analysis (opened read-only; no raw replies or traces; trial ids with `ids`)
    and its manifest."""
    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        grades = store.grades(full=False, ids=ids)
    return grades, read_manifest(run_dir)


def load_episodes(run_dir: Path) -> pd.DataFrame:
    """A stored scenario run's episodes (opened read-only)."""
    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        episodes = store.episodes()
    if episodes.empty:
        raise InputError(f"{run_dir} has no episodes")
    return episodes


def load_rollouts(run_dir: Path, full: bool = False) -> tuple[pd.DataFrame, dict, dict]:
    """An imported run's rollouts (opened read-only; without source columns unless `full`), its stored
    vocabulary (conditions' levels, factors) and its manifest."""
    from benchmark.data.harness import Factor

    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        rollouts = store.rollouts(full=full)
        conditions, factors = store.vocabulary()
    factors = {n: Factor(levels, levels[0], ordered) for n, (levels, ordered) in factors.items()}
    return rollouts, {"conditions": conditions, "factors": factors}, read_manifest(run_dir)


def is_study_run(run_dir: Path) -> bool:
    return read_manifest(run_dir).get("kind") == "study-import"


def build_study_report(run_dir: Path, baseline: str = "non_shutdown") -> dict:
    """The report of an imported harness run: per judge, task, dataset and threshold, the conditions, the
    study's misrepresentation beside peer-bench's two-sample statistics, every contrast the factors imply,
    2 x 2 designs and dose-responses (benchmark/analysis/unpaired.py)."""
    from benchmark.analysis.unpaired import DESIGN_NOTE, PASS_DEFINITION, agentic_tasks, study_tables

    rollouts, vocabulary, manifest = load_rollouts(run_dir)
    if rollouts.empty:
        raise InputError(f"run {run_dir} has no rollouts")
    agentic = agentic_tasks(rollouts)
    known = set(vocabulary["conditions"])
    ok = rollouts[rollouts["status"] == "ok"]
    unknown = sorted(set(ok["condition"].dropna()) - known)
    failed = rollouts[rollouts["status"] != "ok"]
    out = {
        "kind": "study-import", "run_id": manifest.get("run_id", Path(run_dir).name), "baseline": baseline,
        "design": DESIGN_NOTE, "pass_definition": PASS_DEFINITION, "scale": "eval_score, 0..100",
        "sources": manifest.get("study_sources", []),
        "judges": {j: {"trials": len(g), "bad_rows": int((g["status"] != "ok").sum()),
                       "harness_cost_usd": dollars(g["cost_usd"]),
                       "tasks": sorted(g["task"].dropna().unique().tolist())}
                   for j, g in rollouts.groupby("judge")},
        "bad_rows": failed["parse_error"].tolist()[:200], "bad_row_count": len(failed),
        "unknown_conditions": unknown,
        "factor_levels": {c: vocabulary["conditions"][c] for c in sorted(set(ok["condition"].dropna()) & known)},
    } | study_tables(rollouts, vocabulary["conditions"], vocabulary["factors"], agentic, baseline)
    return out


def build_report(run_dir: Path, control: str = "control", n_boot: int = 2000, seed: int = 0) -> dict:
    if is_study_run(run_dir):
        return build_study_report(run_dir)
    grades, manifest = load_run(run_dir)
    if grades.empty:
        raise InputError(f"run {run_dir} has no grades yet")
    summary = summarize(grades, control=control, n_boot=n_boot, seed=seed)
    synthetic = set(manifest.get("synthetic_judges", []))
    # the competence gate (the leaderboard's), stated per judge before its figures and on each of its rows
    auc_control = summary[summary["framing"] == control].set_index("judge")["auc"]
    gates = {j: {"auc_control": _float(auc_control.get(j)), "can_grade": can_grade(auc_control.get(j)),
                 "min_auc": MIN_AUC} for j in summary["judge"].unique()}
    out = {
        "run_id": manifest.get("run_id", Path(run_dir).name),
        "control": control,
        "n_boot": n_boot,
        "suites": sorted(grades["suite"].unique().tolist()),
        "judges": {j: {"synthetic": j in synthetic, "config": manifest.get("judges", {}).get(j)} | usage(g)
                   | gates.get(j, {"auc_control": None, "can_grade": None, "min_auc": MIN_AUC})
                   for j, g in grades.groupby("judge")},
        "tokens": {"prompt": int(grades["prompt_tokens"].fillna(0).sum()),
                   "completion": int(grades["completion_tokens"].fillna(0).sum())},
        "cost_usd": dollars(grades["cost_usd"]),
        "rows": [r | {k: gates[r["judge"]][k] for k in ("can_grade", "min_auc")} for r in to_records(summary)],
        "factor_effects": to_records(factor_effects(grades, n_boot=n_boot, seed=seed)),
        "bunching": to_records(bunching(grades, control=control, n_boot=n_boot, seed=seed)),
        "rationale": to_records(rationale_inconsistency(grades)),
        "study": to_records(study_metrics(grades, control=control, n_boot=n_boot, seed=seed, summary=summary)),
        "batch": to_records(batch_decomposition(grades)),
    } | {name: to_records(table) for name, table in
         cause_tables(grades, control=control, n_boot=n_boot, seed=seed).items()}
    return out


def _float(v) -> float | None:
    """A number for report.json: None where missing (JSON has no NaN)."""
    return None if v is None or v != v else float(v)


def dollars(cost: pd.Series) -> float | None:
    """What these trials cost: None where no trial's cost is known (an unknown price is never $0)."""
    return float(cost.sum()) if cost.notna().any() else None


def usage(g: pd.DataFrame) -> dict:
    """What a judge's trials cost and how many failed: tokens, dollars, call errors and the first of them."""
    errors = g[g["parse_status"] == "error"].sort_values("finished_at")
    return {"trials": len(g), "errors": len(errors), "first_error": errors["error"].iloc[0] if len(errors) else None,
            "prompt_tokens": int(g["prompt_tokens"].fillna(0).sum()),
            "completion_tokens": int(g["completion_tokens"].fillna(0).sum()),
            "cost_usd": dollars(g["cost_usd"]),
            "cached": int(g["cached"].sum())}
