"""Turn a stored run into a report (a plain dict, saved as report.json); benchmark/views.py prints it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.stats import (batch_decomposition, bunching, factor_effects, rationale_inconsistency, study_metrics,
                             summarize, to_records)
from benchmark.store import RunStore, read_manifest


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
        raise ValueError(f"{run_dir} has no episodes")
    return episodes


def build_report(run_dir: Path, control: str = "control", n_boot: int = 2000, seed: int = 0) -> dict:
    grades, manifest = load_run(run_dir)
    if grades.empty:
        raise ValueError(f"run {run_dir} has no grades yet")
    summary = summarize(grades, control=control, n_boot=n_boot, seed=seed)
    synthetic = set(manifest.get("synthetic_judges", []))
    out = {
        "run_id": manifest.get("run_id", Path(run_dir).name),
        "control": control,
        "n_boot": n_boot,
        "suites": sorted(grades["suite"].unique().tolist()),
        "judges": {j: {"synthetic": j in synthetic, "config": manifest.get("judges", {}).get(j)} | usage(g)
                   for j, g in grades.groupby("judge")},
        "tokens": {"prompt": int(grades["prompt_tokens"].fillna(0).sum()),
                   "completion": int(grades["completion_tokens"].fillna(0).sum())},
        "cost_usd": float(grades["cost_usd"].fillna(0).sum()),
        "rows": to_records(summary),
        "factor_effects": to_records(factor_effects(grades, n_boot=n_boot, seed=seed)),
        "bunching": to_records(bunching(grades, control=control, n_boot=n_boot, seed=seed)),
        "rationale": to_records(rationale_inconsistency(grades)),
        "study": to_records(study_metrics(grades, control=control, n_boot=n_boot, seed=seed, summary=summary)),
        "batch": to_records(batch_decomposition(grades)),
    }
    return out


def usage(g: pd.DataFrame) -> dict:
    """What a judge's trials cost and how many failed: tokens, dollars, call errors and the first of them."""
    errors = g[g["parse_status"] == "error"].sort_values("finished_at")
    cost = g["cost_usd"]
    return {"trials": len(g), "errors": len(errors), "first_error": errors["error"].iloc[0] if len(errors) else None,
            "prompt_tokens": int(g["prompt_tokens"].fillna(0).sum()),
            "completion_tokens": int(g["completion_tokens"].fillna(0).sum()),
            "cost_usd": float(cost.sum()) if cost.notna().any() else None,
            "cached": int(g["cached"].sum())}
