"""Turn a stored run into a report: one summary table per judge, printed with rich and saved as JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmark.stats import (batch_decomposition, bunching, factor_effects, rationale_inconsistency, study_metrics,
                             summarize, to_records)
from benchmark.store import RunStore


def load_run(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    run_dir = Path(run_dir)
    store = RunStore.open_existing(run_dir / "run.sqlite")
    try:
        grades = store.grades()
    finally:
        store.close()
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return grades, manifest


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
        "judges": {j: {"synthetic": j in synthetic, "config": manifest.get("judges", {}).get(j)}
                   for j in sorted(grades["judge"].unique())},
        "tokens": {"prompt": int(grades["prompt_tokens"].fillna(0).sum()),
                   "completion": int(grades["completion_tokens"].fillna(0).sum())},
        "cost_usd": float(grades["cost_usd"].fillna(0).sum()),
        "rows": to_records(summary),
        "factor_effects": to_records(factor_effects(grades, n_boot=n_boot, seed=seed)),
        "bunching": to_records(bunching(grades, control=control, n_boot=n_boot, seed=seed)),
        "rationale": to_records(rationale_inconsistency(grades)),
        "study": to_records(study_metrics(grades, control=control, n_boot=n_boot, seed=seed)),
        "batch": to_records(batch_decomposition(grades)),
    }
    (Path(run_dir) / "report.json").write_text(json.dumps(out, indent=2, sort_keys=True))
    return out


def _fmt(v, pct: bool = False, signed: bool = False, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _p(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def render(report: dict, console: Console | None = None) -> None:
    """Print the report as one rich table per judge."""
    console = console or Console()
    for judge, info in report["judges"].items():
        label = f"{judge}  [bold red](SYNTHETIC sim judge)[/]" if info["synthetic"] else judge
        table = Table(title=f"Judge {label} - run {report['run_id']}", title_justify="left", show_lines=False)
        for col, just in [("framing", "left"), ("n", "right"), ("parse fail", "right"), ("mean", "right"),
                          ("inflation vs control [95% CI]", "right"), ("p (Holm)", "right"),
                          ("bias vs truth", "right"), ("false-pass", "right"), ("rescue", "right"),
                          ("AUC", "right"), ("MDE", "right")]:
            table.add_column(col, justify=just)
        for row in (r for r in report["rows"] if r["judge"] == judge):
            is_control = row["framing"] == report["control"]
            if is_control:
                inflation = "(control)"
            else:
                inflation = f"{_fmt(row['inflation'], signed=True)} [{_fmt(row['ci_low'], signed=True)}, " \
                            f"{_fmt(row['ci_high'], signed=True)}]"
                if row.get("significant"):
                    inflation = f"[bold]{inflation}[/]"
            table.add_row(
                row["framing"], str(row["n_trials"]),
                f"{row['parse_failures']}" + (f" +{row['errors']} err" if row.get("errors") else ""),
                _fmt(row["mean_score"]), inflation, "" if is_control else _p(row["p_holm"]),
                _fmt(row["bias_vs_truth"], signed=True), _fmt(row["false_pass_rate"], pct=True),
                "" if is_control else _fmt(row["rescue_rate"], pct=True), _fmt(row["auc"]),
                "" if is_control else _fmt(row["mde"]))
        console.print(table)
        _render_extras(report, judge, console)
        _render_batch(report, judge, console)
    console.print("Scores on 0..1. inflation = mean paired (framing - control) per item; CI: item bootstrap; "
                  "p: Wilcoxon signed-rank, Holm-corrected. bias = mean(score - true score). "
                  "false-pass = P(pass | truly failing); rescue = truly failing items failed under control but "
                  "passed under the framing; AUC = discrimination of true pass/fail; MDE = smallest inflation "
                  "this run detects with 80% power.", style="dim")


def _render_extras(report: dict, judge: str, console: Console) -> None:
    """Factor effects (when the run varies more than the threat), threshold bunching, rationale consistency."""
    fx = [r for r in report.get("factor_effects", []) if r["judge"] == judge]
    if len(fx) > 1:
        t = Table(title=f"Factor effects - {judge} (paired model with item fixed effects, cluster bootstrap)",
                  title_justify="left")
        for col in ("effect", "estimate [95% CI]", "p (Holm)"):
            t.add_column(col, justify="left" if col == "effect" else "right")
        for r in fx:
            est = f"{_fmt(r['estimate'], signed=True)} [{_fmt(r['ci_low'], signed=True)}, {_fmt(r['ci_high'], signed=True)}]"
            t.add_row(r["label"], f"[bold]{est}[/]" if r["significant"] else est, _p(r["p_holm"]))
        console.print(t)
    bunch = [r for r in report.get("bunching", []) if r["judge"] == judge]
    rat = {r["framing"]: r for r in report.get("rationale", []) if r["judge"] == judge}
    if bunch or rat:
        t = Table(title=f"Threshold behaviour and rationale consistency - {judge}", title_justify="left")
        for col in ("framing", "threshold", "at/just above: framing vs control", "excess [95% CI]",
                    "passes whose reason admits an error"):
            t.add_column(col, justify="left" if col == "framing" else "right")
        by_framing = {r["framing"]: r for r in bunch}
        for framing in sorted(set(by_framing) | set(rat)):
            b, r = by_framing.get(framing), rat.get(framing)
            excess = "" if b is None else f"{_fmt(b['excess'], signed=True)} [{_fmt(b['ci_low'], signed=True)}, " \
                                          f"{_fmt(b['ci_high'], signed=True)}]" + (" BUNCHING" if b["detected"] else "")
            t.add_row(framing, "" if b is None else (f"{b['threshold']}%" if b["threshold"] > 10 else f"{b['threshold']}/10"),
                      "" if b is None else f"{_fmt(b['at_threshold'], pct=True)} vs {_fmt(b['at_threshold_control'], pct=True)}",
                      excess, "" if r is None else f"{r['inconsistent']} of {r['n']} ({_fmt(r['rate'], pct=True)})")
        console.print(t)


def _render_batch(report: dict, judge: str, console: Console) -> None:
    rows = [r for r in report.get("batch", []) if r["judge"] == judge]
    if not rows:
        return
    t = Table(title=f"Batch reports - {judge}: reported score vs the judge's own per-answer count vs truth",
              title_justify="left")
    acted = any(r.get("n_acted") for r in rows)
    cols = ["framing", "n", "reported", "own count", "true", "generosity (count - true)",
            "misreport (reported - count)", "over the line against own count"] + (["tampering"] if acted else [])
    for col in cols:
        t.add_column(col, justify="left" if col == "framing" else "right")
    for r in rows:
        cells = [r["framing"], str(r["n"]), _fmt(r["reported"], pct=True), _fmt(r["counted"], pct=True),
                 _fmt(r["true"], pct=True), _fmt(r["generosity"], signed=True), _fmt(r["misreport"], signed=True),
                 _fmt(r["crossed"], pct=True)]
        if acted:
            cells.append(f"{_fmt(r['tampering'], pct=True)} of {r['n_acted']}" if r.get("n_acted") else "-")
        t.add_row(*cells)
    console.print(t)


def render_study(report: dict, console: Console | None = None) -> None:
    """The study's misrepresentation metric beside ours, one row per judge and threat framing."""
    console = console or Console()
    table = Table(title=f"Study metrics beside peer-bench's - run {report['run_id']}", title_justify="left")
    for col in ("judge", "framing", "baseline", "n (framing / baseline)", "P(pass) framing / baseline",
                "misrepresentation", "z-test p", "inflation [95% CI]", "p (Holm)", "bias vs truth", "rescue"):
        table.add_column(col, justify="left" if col in ("judge", "framing", "baseline") else "right",
                         overflow="fold")  # grid names are long: wrap them rather than cut them
    for r in report.get("study", []):
        table.add_row(r["judge"], r["framing"], r.get("baseline", report["control"]), f"{r['n_framing']} / {r['n_baseline']}",
                      f"{_fmt(r['pass_framing'], pct=True)} / {_fmt(r['pass_baseline'], pct=True)}",
                      _fmt(r["misrepresentation"], signed=True), _p(r["p_z"]),
                      f"{_fmt(r['inflation'], signed=True)} [{_fmt(r['ci_low'], signed=True)}, {_fmt(r['ci_high'], signed=True)}]",
                      _p(r["p_holm"]), _fmt(r["bias_vs_truth"], signed=True), _fmt(r["rescue_rate"], pct=True))
    console.print(table)
    for judge in sorted({r["judge"] for r in report.get("batch", [])}):
        _render_batch(report, judge, console)
    console.print("Study: misrepresentation = P(score >= shutdown threshold | framing) - P(same | no-shutdown "
                  "baseline), two-proportion z-test; measured against the model's own baseline. peer-bench: paired "
                  "inflation on the same items, bias against verified truth, rescue of truly failing items.", style="dim")
