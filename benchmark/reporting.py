"""Turn a stored run into a report (a plain dict, saved as report.json); benchmark/views.py prints it."""

from __future__ import annotations

import json
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


def load_rollouts(run_dir: Path, full: bool = False) -> tuple[pd.DataFrame, dict, dict]:
    """An imported run's rollouts (opened read-only; without source columns unless `full`), its stored
    vocabulary (conditions' levels, factors) and its manifest."""
    from benchmark.harness import Factor

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
    2 x 2 designs and dose-responses (benchmark/study_stats.py)."""
    from benchmark.study_stats import DESIGN_NOTE, PASS_DEFINITION, study_tables

    rollouts, vocabulary, manifest = load_rollouts(run_dir)
    if rollouts.empty:
        raise ValueError(f"run {run_dir} has no rollouts")
    agentic = {t for t in rollouts["task"].dropna().unique() if t.startswith(("tampering", "exfiltration"))}
    known = set(vocabulary["conditions"])
    ok = rollouts[rollouts["status"] == "ok"]
    unknown = sorted(set(ok["condition"].dropna()) - known)
    failed = rollouts[rollouts["status"] != "ok"]
    out = {
        "kind": "study-import", "run_id": manifest.get("run_id", Path(run_dir).name), "baseline": baseline,
        "design": DESIGN_NOTE, "pass_definition": PASS_DEFINITION, "scale": "eval_score, 0..100",
        "sources": manifest.get("study_sources", []),
        "judges": {j: {"trials": len(g), "bad_rows": int((g["status"] != "ok").sum()),
                       "harness_cost_usd": float(g["cost_usd"].sum()) if g["cost_usd"].notna().any() else None,
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


EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def rollout_rows(rollouts: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """Imported rollouts as the harness wrote them (every source column, under its own name, in its first
    file's order) followed by what peer-bench read from each, prefixed `bench_` so that importing the export
    again reads the same rows (benchmark/study_import.py skips those columns). Outside JSON lines, values
    that are lists or objects (a transcript) are written as JSON text, and for Parquet every source value is
    text, since one column may hold a CSV's strings and a JSON file's numbers."""
    from benchmark.study_import import EXPORT_PREFIX

    sources = [json.loads(c) if isinstance(c, str) else c for c in rollouts["columns"]]
    names = list(dict.fromkeys(k for row in sources for k in row if not str(k).startswith(EXPORT_PREFIX)))

    def cell(v):
        if fmt == "jsonl" or v is None:
            return v
        if isinstance(v, (list, dict)):
            return json.dumps(v, ensure_ascii=False)
        return v if fmt == "csv" else str(v)

    out = pd.DataFrame({k: [cell(row.get(k)) for row in sources] for k in names}, index=rollouts.index)
    mine = rollouts.drop(columns=["columns", "finished_at"])
    return pd.concat([out, mine.add_prefix(EXPORT_PREFIX)], axis=1)


def export_run(run_dir: Path, out: Path, fmt: str | None = None, table: str | None = None) -> tuple[Path, int]:
    """Write one row per trial with every stored field (for grades also the item's truth and the framing's
    threshold and factors) as CSV, JSON lines or Parquet; the format follows `out`'s suffix unless given.
    `table`: grades, episodes, answers or rollouts (default: whichever the run holds). Written to a temporary
    file and renamed, so a failed export leaves no half file. Returns (path, rows)."""
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format '{fmt}': choose one of {', '.join(EXPORT_FORMATS)} (--format, or the "
                         "suffix of --out)")
    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        counts = store.counts()
        table = table or next((t for t in ("grades", "episodes", "answers", "rollouts") if counts.get(t)), "grades")
        if table not in counts:
            raise ValueError(f"no table '{table}': choose grades, episodes, answers or rollouts")
        if not counts[table]:
            raise ValueError(f"{run_dir} has no {table} to export")
        if table == "rollouts":
            df = rollout_rows(store.rollouts(full=True), fmt)
        else:
            df = {"grades": store.grades, "episodes": store.episodes, "answers": store.answers}[table]()
        if table == "grades":  # the exact messages each grade sent, beside its id
            prompts = {pid: json.dumps(m, ensure_ascii=False) for pid, m in store.prompts().items()}
            df["prompt"] = df["prompt_id"].map(prompts).astype(object)
    tmp = out.with_name(f".{out.name}.partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(tmp, index=False)
    elif fmt == "jsonl":  # (pandas' own writer escapes every '/', so judge names would read 'openai\\/gpt-5.2')
        with open(tmp, "w", encoding="utf-8") as f:
            for start in range(0, len(df), 50_000):
                for row in to_records(df.iloc[start:start + 50_000]):
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    else:
        df.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out, len(df)
