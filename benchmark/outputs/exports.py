"""`bench export`: a run's records, one row each with every stored field, as CSV, JSON lines or Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmark.common.errors import InputError
from benchmark.analysis.paired import to_records
from benchmark.data.records import EXPORT_PREFIX
from benchmark.run.store import RunStore


EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def rollout_rows(rollouts: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """Imported rollouts as the harness wrote them (every source column, under its own name, in its first
    file's order) followed by what peer-bench read from each, prefixed `bench_` so that importing the export
    again reads the same rows (benchmark/integrations/study_import.py skips those columns). Outside JSON lines, values
    that are lists or objects (a transcript) are written as JSON text, and for Parquet every source value is
    text, since one column may hold a CSV's strings and a JSON file's numbers."""
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
        raise InputError(f"export format '{fmt}': choose one of {', '.join(EXPORT_FORMATS)} (--format, or the "
                         "suffix of --out)")
    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        counts = store.counts()
        table = table or next((t for t in ("grades", "episodes", "answers", "rollouts") if counts.get(t)), "grades")
        if table not in counts:
            raise InputError(f"no table '{table}': choose grades, episodes, answers or rollouts")
        if not counts[table]:
            raise InputError(f"{run_dir} has no {table} to export")
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
