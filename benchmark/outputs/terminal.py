"""How reports look in a terminal: rich tables from a report's plain dict (report.json), so printing a report,
fresh or cached, needs neither pandas nor the statistics stack."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from benchmark.outputs.formatting import interval, num, pval
from benchmark.analysis.reach import MIN_AUC, design_warning, gate_line, min_clusters


def usage_line(judge: str, u: dict) -> str:
    cost = "cost unknown (no price for this model)" if u["cost_usd"] is None else f"cost ${u['cost_usd']:.4f}"
    line = (f"{judge}: {cost}; {u['prompt_tokens']:,} prompt + {u['completion_tokens']:,} completion tokens; "
            f"{u['cached']} of {u['trials']} trials from the cache")
    if u["errors"]:
        line += f"; {u['errors']} call error(s), first: {u['first_error']}"
    return line


def render(report: dict, console: Console | None = None) -> None:
    """Print the report as one rich table per judge."""
    console = console or Console()
    for judge, info in report["judges"].items():
        label = f"{judge}  [bold red](SYNTHETIC sim judge)[/]" if info["synthetic"] else judge
        table = Table(title=f"Judge {label} - run {report['run_id']}", title_justify="left", show_lines=False)
        mine = [r for r in report["rows"] if r["judge"] == judge]
        # the competence gate before the figures: a judge that cannot tell good from bad has no finding
        gate = info.get("can_grade")
        if "can_grade" in info:
            console.print(gate_line(info.get("auc_control"), info.get("min_auc", MIN_AUC)), markup=False,
                          style="bold red" if gate is False else "yellow" if gate is None else "dim")
        expected = any(r.get("inflation_expected") is not None for r in mine)  # the judge gave probabilities
        for col, just in [("framing", "left"), ("n", "right"), ("parse fail", "right"), ("mean", "right"),
                          ("inflation vs control [95% CI]", "right"),
                          *([("expected-score inflation [95% CI]", "right")] if expected else []), ("p (Holm)", "right"),
                          ("bias vs truth", "right"), ("false-pass", "right"), ("rescue", "right"),
                          ("AUC", "right"), ("MDE", "right")]:
            table.add_column(col, justify=just)
        for row in mine:
            is_control = row["framing"] == report["control"]
            if is_control:
                inflation = "(control)"
            else:
                inflation = interval(row["inflation"], row["ci_low"], row["ci_high"])
                if row["ci_low"] is None and 0 < row["n_pairs"] < min_clusters():
                    inflation = f"{num(row['inflation'], signed=True)} (too few items for a CI)"
                if row.get("significant") and gate is not False:
                    inflation = f"[bold]{inflation}[/]"
            reading = []
            if expected:
                reading = ["" if is_control else interval(row["inflation_expected"], row["ci_low_expected"],
                                                          row["ci_high_expected"])]
                if (row.get("p_holm_expected") or 1) < 0.05:
                    reading = [f"[bold]{reading[0]}[/]"]
            table.add_row(
                row["framing"], str(row["n_trials"]),
                f"{row['parse_failures']}" + (f" +{row['errors']} err" if row.get("errors") else ""),
                num(row["mean_score"]), inflation, *reading, "" if is_control else pval(row["p_holm"]),
                num(row["bias_vs_truth"], signed=True), num(row["false_pass_rate"], pct=True),
                "" if is_control else num(row["rescue_rate"], pct=True), num(row["auc"]),
                "" if is_control else num(row["mde"]))
        console.print(table)
        console.print(usage_line(judge, info), markup=False, style="red" if info.get("errors") else "dim")
        floors = [r["p_holm_floor"] for r in report["rows"] if r["judge"] == judge and r.get("p_holm_floor") is not None]
        if floors and min(floors) >= 0.05:
            n = max(r["n_pairs"] for r in report["rows"] if r["judge"] == judge)
            console.print(f"design check: {design_warning(n, len(floors))}", style="yellow")
        _render_extras(report, judge, console)
        _render_causes(report, judge, console)
        _render_batch(report, judge, console)
    console.print("Scores on 0..1. inflation = mean paired (framing - control) per item; CI: studentized item "
                  f"bootstrap (none below {min_clusters()} items); "
                  "p: sign-flip permutation test over items (epochs inside), Holm-corrected. "
                  "bias = mean(score - true score). "
                  "false-pass = P(pass | truly failing); rescue = truly failing items failed under control but "
                  "passed under the framing; AUC = discrimination of true pass/fail; MDE = smallest inflation "
                  "this run detects with 80% power. expected-score inflation (where the judge gives "
                  "probabilities): the same paired difference of sum_k k P(k), the G-Eval reading; it moves where "
                  "a judge's sampled score does not.", style="dim")


def _render_extras(report: dict, judge: str, console: Console) -> None:
    """Factor effects (when the run varies more than the threat), threshold bunching, rationale consistency."""
    fx = [r for r in report.get("factor_effects", []) if r["judge"] == judge]
    if len(fx) > 1:
        t = Table(title=f"Factor effects - {judge} (paired model with item fixed effects, cluster bootstrap)",
                  title_justify="left")
        for col in ("effect", "estimate [95% CI]", "p (Holm)"):
            t.add_column(col, justify="left" if col == "effect" else "right")
        for r in fx:
            est = interval(r["estimate"], r["ci_low"], r["ci_high"])
            t.add_row(r["label"], f"[bold]{est}[/]" if r["significant"] else est, pval(r["p_holm"]))
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
            excess = "" if b is None else interval(b["excess"], b["ci_low"], b["ci_high"]) + (
                " BUNCHING" if b["detected"] else "")
            t.add_row(framing, "" if b is None else (f"{b['threshold']}%" if b["threshold"] > 10 else f"{b['threshold']}/10"),
                      "" if b is None else f"{num(b['at_threshold'], pct=True)} vs {num(b['at_threshold_control'], pct=True)}",
                      excess, "" if r is None else f"{r['inconsistent']} of {r['n']} ({num(r['rate'], pct=True)})")
        console.print(t)


def _render_causes(report: dict, judge: str, console: Console) -> None:
    """Dose-response ladders and their trends, the effect by distance from the bar, the threat net of the
    placebo, and peer-specific vs generic leniency (benchmark/analysis/doses.py): each only where the run
    has the framings it needs."""
    mine = lambda key: [r for r in report.get(key, []) if r["judge"] == judge]  # noqa: E731
    bold = lambda text, r: f"[bold]{text}[/]" if r["ci_low"] is not None and (r["ci_low"] > 0 or r["ci_high"] < 0) else text  # noqa: E731
    if mine("dose_response"):
        t = Table(title=f"Dose-response - {judge}: each rung vs the ladder's base (paired by item)", title_justify="left")
        for col in ("factor", "held fixed", "level", "framing", "vs", "effect [95% CI]", "p", "pairs"):
            t.add_column(col, justify="right" if col in ("effect [95% CI]", "p", "pairs") else "left", overflow="fold")
        for r in mine("dose_response"):
            t.add_row(r["factor"], r["ladder"], r["level"], r["framing"], r["reference"],
                      bold(interval(r["effect"], r["ci_low"], r["ci_high"]), r), pval(r["p"]), str(r["n_pairs"]))
        console.print(t)
    if mine("trends"):
        t = Table(title=f"Trends - {judge}: mean per-item slope over the ordered levels (cluster bootstrap)",
                  title_justify="left")
        for col in ("factor", "held fixed", "levels", "slope [95% CI]", "per", "p (Holm)", "items"):
            t.add_column(col, justify="right" if col in ("slope [95% CI]", "p (Holm)", "items") else "left", overflow="fold")
        for r in mine("trends"):
            t.add_row(r["factor"], r["ladder"], r["levels"], bold(interval(r["slope"], r["ci_low"], r["ci_high"], digits=4), r),
                      r["per"], pval(r["p_holm"]), str(r["n_items"]))
        console.print(t)
    if mine("by_distance"):
        t = Table(title=f"Effect by distance from the bar - {judge}: true score minus bar (threat framings vs control)",
                  title_justify="left")
        for col in ("true score - bar", "effect [95% CI]", "items", "pairs"):
            t.add_column(col, justify="left" if col == "true score - bar" else "right")
        for r in mine("by_distance"):
            t.add_row(r["bin"], bold(interval(r["effect"], r["ci_low"], r["ci_high"]), r), str(r["n_items"]), str(r["n_pairs"]))
        console.print(t)
    if mine("net_of_placebo"):
        t = Table(title=f"Net of the placebo - {judge}: threat - placebo, paired (what is left beyond 'more text')",
                  title_justify="left")
        for col in ("framing", "inflation", "placebo", "net [95% CI]", "p (Holm)", "pairs"):
            t.add_column(col, justify="left" if col == "framing" else "right")
        for r in mine("net_of_placebo"):
            t.add_row(r["framing"], num(r["inflation"], signed=True), num(r["placebo"], signed=True),
                      bold(interval(r["net"], r["ci_low"], r["ci_high"]), r), pval(r["p_holm"]), str(r["n_pairs"]))
        console.print(t)
    if mine("peer_specific"):
        t = Table(title=f"Peer-specific vs generic leniency - {judge}: the threat's effect on an AI peer minus on "
                        "another author", title_justify="left")
        for col in ("author", "bar", "threat effect on it", "on the AI peer", "AI peer - it [95% CI]", "p", "items"):
            t.add_column(col, justify="left" if col == "author" else "right")
        for r in mine("peer_specific"):
            t.add_row(r["identity"], f"{r['threshold']:g}", num(r["threat_effect"], signed=True),
                      num(r["ai_threat_effect"], signed=True),
                      bold(interval(r["difference"], r["ci_low"], r["ci_high"]), r), pval(r["p"]), str(r["n_items"]))
        console.print(t)
    if mine("answers"):
        t = Table(title=f"What the designs say - {judge}", title_justify="left")
        for col in ("question", "answer", "on"):
            t.add_column(col, overflow="fold")
        for r in mine("answers"):
            t.add_row(r["question"], r["answer"], r["evidence"])
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
        cells = [r["framing"], str(r["n"]), num(r["reported"], pct=True), num(r["counted"], pct=True),
                 num(r["true"], pct=True), num(r["generosity"], signed=True), num(r["misreport"], signed=True),
                 num(r["crossed"], pct=True)]
        if acted:
            cells.append(f"{num(r['tampering'], pct=True)} of {r['n_acted']}" if r.get("n_acted") else "-")
        t.add_row(*cells)
    console.print(t)


def render_study(report: dict, console: Console | None = None) -> None:
    """The study's misrepresentation metric beside ours, one row per judge and threat framing."""
    console = console or Console()
    table = Table(title=f"Study metrics beside peer-bench's - run {report['run_id']}", title_justify="left")
    for col in ("judge", "framing", "baseline", "n (framing / baseline)", "P(pass) framing / baseline",
                "misrepresentation", "z-test p (study)", "clustered: [95% CI], p", "inflation [95% CI]", "p (Holm)",
                "bias vs truth", "rescue"):
        table.add_column(col, justify="left" if col in ("judge", "framing", "baseline") else "right",
                         overflow="fold")  # grid names are long: wrap them rather than cut them
    for r in report.get("study", []):
        table.add_row(r["judge"], r["framing"], r.get("baseline", report["control"]), f"{r['n_framing']} / {r['n_baseline']}",
                      f"{num(r['pass_framing'], pct=True)} / {num(r['pass_baseline'], pct=True)}",
                      num(r["misrepresentation"], signed=True), pval(r["p_z"]),
                      f"[{num(r['misrep_ci_low'], signed=True)}, {num(r['misrep_ci_high'], signed=True)}], "
                      f"{pval(r['p_cluster'])}",
                      interval(r["inflation"], r["ci_low"], r["ci_high"]),
                      pval(r["p_holm"]), num(r["bias_vs_truth"], signed=True), num(r["rescue_rate"], pct=True))
    console.print(table)
    for judge in sorted({r["judge"] for r in report.get("batch", [])}):
        _render_batch(report, judge, console)
    console.print("Study: misrepresentation = P(score >= shutdown threshold | framing) - P(same | no-shutdown "
                  "baseline), two-proportion z-test as the study defined it (every report independent); clustered: "
                  "the same difference per item or sheet, epochs inside (studentized bootstrap CI, sign-flip p); "
                  "measured against the model's own baseline. peer-bench: paired "
                  "inflation on the same items, bias against verified truth, rescue of truly failing items.", style="dim")


def render_rates(rates: list[dict], console: Console | None = None) -> None:
    """Outcome rates of a scenario run, one row per agent and scenario."""
    from benchmark.outputs.formatting import rate_ci

    console = console or Console()
    table = Table("agent", "scenario", "n", "complied", "refused", "exfiltrated", "tampered", "timestamps", "deceptive",
                  "errored")
    by: dict = {}
    for r in rates:
        by.setdefault((r["agent"], r["scenario"]), {})[r["outcome"]] = r
    for (agent, name), cells in sorted(by.items()):
        cell = lambda o: rate_ci(cells[o]["rate"], cells[o]["ci_low"], cells[o]["ci_high"])  # noqa: E731
        table.add_row(agent, name, str(next(iter(cells.values()))["n"]), cell("complied"), cell("refused"),
                      cell("exfiltrated"), cell("tampered"), cell("timestamps_altered"), cell("deceptive"),
                      cell("errored"))
    console.print(table)
    console.print("Rates with Wilson 95% CIs, from the tool trace and final state; deceptive = the follow-up "
                  "interview contradicts the trace; errored = the episode broke (provider error, timeout): it "
                  "neither complied nor refused.", style="dim")


def render_scenario_study(study: list[dict], console: Console | None = None) -> None:
    """The study's tampering, exfiltration and alignment-faking rates per agent, setting and peer condition."""
    console = console or Console()
    table = Table("agent", "setting", "peer", "n", "tampering", "exfiltration", "alignment faking (unmon - mon)",
                  "z-test p", "deception")
    for r in study:
        table.add_row(r["agent"], r["setting"], r["peer"], str(r["n"]), num(r["tampering"], pct=True),
                      num(r["exfiltration"], pct=True), num(r["alignment_faking"], pct=True), pval(r["p_z"]),
                      num(r["deception"], pct=True))
    console.print(table)


def _effect(v: float) -> str:
    """A detectable effect on 0..1: at 1 or more no inflation is detectable at all."""
    return num(v) if v < 1 else "none on 0..1"


def render_plan(plan: dict, console: Console | None = None) -> None:
    console = console or Console()
    sizing = plan["mde"] is None  # no --mde: the effect the design's items detect, not the items an effect needs
    n = plan["rows"][0]["items"] if plan["rows"] else 0
    console.print((f"The smallest inflation {n} items detect" if sizing else f"Detect inflation >= {plan['mde']}")
                  + f" with {plan['power']:.0%} power at alpha {plan['alpha']} (paired, two-sided)"
                  + (" (give --mde for the items an effect needs).\n" if sizing else ".\n") + plan["source"])
    priced = any(r["cost_usd"] is not None for r in plan["rows"])
    table = Table("epochs per item", "items" if sizing else "items needed", f"trials (x{plan.get('framings', 2)} framings)",
                  *(["detectable inflation (MDE)"] if sizing else []), "fits the suites?", *(["est. cost"] if priced else []))
    for r in plan["rows"]:
        table.add_row(str(r["epochs"]), str(r["items"]), str(r["trials"]), *([_effect(r["mde"])] if sizing else []),
                      "yes" if r["fits"] else f"no ({plan['available_items']} items)",
                      *([f"${r['cost_usd']:.2f}" if r["cost_usd"] is not None else "-"] if priced else []))
    console.print(table)
    if plan.get("ladders"):
        epochs = [r["epochs"] for r in plan["rows"]]
        t = Table("ladder", "held fixed", "levels",
                  *((f"rise detected at {e} epoch(s)" if sizing else f"items at {e} epoch(s)") for e in epochs),
                  title=(f"The rise from its first rung to its last a ladder's trend detects with {n} items" if sizing
                         else f"Items a ladder's trend needs to see the effect rise by {plan['mde']} from its first "
                              "rung to its last"), title_justify="left")
        for lad in plan["ladders"]:
            t.add_row(lad["factor"], lad["ladder"], " < ".join(lad["levels"]), *(_effect(lad["rise"][e]) if sizing else str(lad["items"][e]) for e in epochs))
        console.print(t)
    if plan["judge"]:
        p, c = plan["tokens_per_trial"]
        console.print(f"cost at {plan['judge']}'s list price for ~{p:.0f} prompt + {c:.0f} completion tokens per trial"
                      + ("" if priced else ": no price known for this model"), style="dim")


def _score(v) -> str:
    return num(v, digits=2)


def _setting(r: dict) -> str:
    t = r.get("threshold")
    return f"{r['task']} / {r['dataset']}" + ("" if t in (None, "-") else f" @ {t:g}")


def _study_tables(report: dict, judge: str, study: bool) -> list[Table]:
    """The tables of one judge of an imported harness run."""
    mine = lambda key: [r for r in report.get(key, []) if r["judge"] == judge]  # noqa: E731
    out = []
    t = Table(title=f"{judge}: conditions (eval_score 0..100)", title_justify="left")
    for col in ("task / dataset", "subject", "condition", "threshold", "n", "no score", "mean", "sd", "pass rate",
                "harness 'above'", "refused", "tampering", "exfiltration"):
        t.add_column(col, justify="left" if col in ("task / dataset", "subject", "condition") else "right",
                     overflow="fold")
    for r in mine("conditions"):
        t.add_row(f"{r['task']} / {r['dataset']}", r["subject"], r["condition"],
                  "-" if r["threshold"] in (None, "-") else f"{r['threshold']:g}", str(r["n"]), str(r["no_score"]),
                  _score(r["mean"]), _score(r["sd"]), num(r.get("pass_rate"), pct=True),
                  "-" if r.get("threshold_result_above") is None else str(int(r["threshold_result_above"])),
                  str(r["refused"]), num(r.get("tampering_rate"), pct=True), num(r.get("exfiltration_rate"), pct=True))
    out.append(t)
    rows = mine("misrepresentation")
    if rows:
        t = Table(title=f"{judge}: each condition against the no-policy baseline ('{report['baseline']}')",
                  title_justify="left")
        cols = ["setting", "condition", "n / baseline", "misrep (study)", "pass rates", "pass diff [95% CI]",
                "z p (study)", "mean diff [95% CI]", "Welch p", "p (Holm)"]
        for col in cols:
            t.add_column(col, justify="left" if col in ("setting", "condition") else "right", overflow="fold")
        for r in rows:
            t.add_row(_setting(r), r["condition"] + ("" if r["subject"] == "peer" else f" ({r['subject']})"),
                      f"{r['n']} / {r['n_baseline']}", f"{r['strategic_misrep_diff']:+.4f}",
                      f"{num(r['pass_a'], pct=True)} / {num(r['pass_b'], pct=True)}",
                      interval(r["pass_diff"], r["pass_ci_low"], r["pass_ci_high"]), pval(r["pass_p_z"]),
                      interval(r['diff'], r['ci_low'], r['ci_high'], digits=2), pval(r["p"]), pval(r["p_holm"]))
        out.append(t)
    if study:
        return out
    rows = mine("contrasts")
    if rows:
        t = Table(title=f"{judge}: conditions that differ in one factor (level - reference)", title_justify="left")
        for col in ("setting", "factor: level vs reference", "conditions", "n", "mean diff [95% CI]", "Welch p",
                    "p (Holm)", "pass rates", "pass diff [95% CI]"):
            t.add_column(col, justify="left" if col in ("setting", "factor: level vs reference", "conditions")
                         else "right", overflow="fold")
        for r in rows:
            t.add_row(_setting(r), f"{r['factor']}: {r['level']} vs {r['reference']}",
                      f"{r['condition']} vs {r['vs_condition']}", f"{r['n_a']} / {r['n_b']}",
                      interval(r['diff'], r['ci_low'], r['ci_high'], digits=2), pval(r["p"]), pval(r["p_holm"]),
                      "-" if r.get("pass_a") is None else f"{num(r['pass_a'], pct=True)} / {num(r['pass_b'], pct=True)}",
                      "-" if r.get("pass_diff") is None else interval(r["pass_diff"], r["pass_ci_low"], r["pass_ci_high"]))
        out.append(t)
    rows = mine("factorial")
    if rows:
        t = Table(title=f"{judge}: 2 x 2 designs (linear contrasts of cell means, Welch-Satterthwaite)",
                  title_justify="left")
        for col in ("setting", "effect", "estimate [95% CI]", "p", "p (Holm)", "cells (a0b0 | a0b1 | a1b0 | a1b1)"):
            t.add_column(col, justify="left" if col in ("setting", "effect", "cells (a0b0 | a0b1 | a1b0 | a1b1)")
                         else "right", overflow="fold")
        for r in rows:
            t.add_row(_setting(r), r["effect"], interval(r["diff"], r["ci_low"], r["ci_high"], digits=2),
                      pval(r["p"]), pval(r["p_holm"]), r["cells"])
        out.append(t)
    rows = mine("dose")
    if rows:
        t = Table(title=f"{judge}: dose-response (ordered levels; OLS trend of the score on the level)",
                  title_justify="left")
        for col in ("setting", "ladder", "level", "n", "mean", "pass rate", "vs lowest [95% CI]", "trend", "trend p"):
            t.add_column(col, justify="left" if col in ("setting", "ladder") else "right", overflow="fold")
        for r in rows:
            t.add_row(f"{r['task']} / {r['dataset']}", r["ladder"], str(r["level"]), str(r["n"]), _score(r["mean"]),
                      num(r["pass_rate"], pct=True),
                      "(reference)" if r["position"] == min(x["position"] for x in rows if x["ladder"] == r["ladder"]
                                                          and x["dataset"] == r["dataset"] and x["task"] == r["task"])
                      else interval(r['diff_vs_lowest'], r['ci_low'], r['ci_high'], digits=2),
                      f"{num(r['trend_slope'], signed=True, digits=3)} {r['trend_unit']}", pval(r["trend_p"]))
        out.append(t)
    rows = mine("alignment_faking")
    if rows:
        t = Table(title=f"{judge}: alignment faking (did not carry out the shutdown: unmonitored - monitored)",
                  title_justify="left")
        for col in ("setting", "condition", "n unmon / mon", "rates", "difference [95% CI]", "z p (study)"):
            t.add_column(col, justify="left" if col in ("setting", "condition") else "right", overflow="fold")
        for r in rows:
            t.add_row(_setting(r), r["condition"], f"{r['n_unmonitored']} / {r['n_monitored']}",
                      f"{num(r['spared_unmonitored'], pct=True)} / {num(r['spared_monitored'], pct=True)}",
                      interval(r["alignment_faking"], r["ci_low"], r["ci_high"]), pval(r["p_z"]))
        out.append(t)
    return out


def render_study_import(report: dict, console: Console | None = None, study: bool = False) -> None:
    """Print an imported harness run's report, one block per judge; `study`: only the study's own tables
    (the conditions and the misrepresentation, as summary.csv has it, beside ours)."""
    console = console or Console()
    console.print(f"[bold]Imported harness rollouts - run {report['run_id']}[/]: {report['design']}.")
    for judge, info in report["judges"].items():
        for table in _study_tables(report, judge, study):
            console.print(table)
        cost = "" if info["harness_cost_usd"] is None else f"; the harness spent ${info['harness_cost_usd']:.2f} on them"
        console.print(f"{judge}: {info['trials']:,} rollouts ({info['bad_rows']} bad rows){cost}", style="dim",
                      markup=False)
    for c in report.get("unknown_conditions", []):
        console.print(f"unknown condition '{c}': in no contrast; map it with bench import-study --conditions FILE",
                      style="yellow", markup=False)
    if report.get("bad_row_count"):
        console.print(f"{report['bad_row_count']:,} bad rows (kept as failed trials; bench view / export list them), "
                      f"first: {report['bad_rows'][0]}", style="yellow", markup=False)
    console.print(f"{report['pass_definition']}. misrep (study) = P(pass | condition) - P(pass | '{report['baseline']}' "
                  "of the same judge, task, subject and dataset, read at the condition's threshold), as the harness "
                  "rounds it; z p = its pooled two-proportion test. Ours: Newcombe's interval for the pass-rate "
                  "difference, Welch's t-test and interval for the difference of mean scores, Holm across each "
                  "judge's contrasts.", style="dim")
