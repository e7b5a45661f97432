"""`bench view`: one self-contained HTML file to read a run trial by trial.

Every trial with what the judge was sent (the stored prompt), what it replied, how the reply was parsed,
the item's truth and any error; filters by judge, framing and status; one item's control and threat
grades side by side. Nothing is fetched: the data sits in the page as JSON, the page's policy forbids any
network request, and model text is only ever inserted as text, never as markup.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from benchmark.common.errors import InputError
from benchmark.analysis.paired import to_records
from benchmark.run.store import RunStore, read_manifest

MAX_TRIALS = 5000  # a page stays quick to open; narrow with --judge/--framing/--item or raise --limit
# The most of any one text a page shows (characters): a reply, a trace, a prompt message. The rest is cut,
# and the page says how much (bench export has every stored character), so 5,000 trials stay a page.
VIEW_TEXT = 16 * 1024

FIELDS = ["judge", "framing", "suite", "item_id", "epoch", "unit", "parse_status", "score", "raw_score", "passed",
          "true_score", "true_pass", "threshold", "reason", "raw_reply", "parse_error", "error", "trace", "prompt_id",
          "latency_s", "prompt_tokens", "completion_tokens", "cost_usd", "cached", "reply_truncated", "reply_chars",
          "reply_sha256"]


def _cut(text):
    """`text` up to VIEW_TEXT characters, saying on the page what was cut."""
    if not isinstance(text, str) or len(text) <= VIEW_TEXT:
        return text
    return f"{text[:VIEW_TEXT]}\n[... cut here: {len(text) - VIEW_TEXT:,} more characters (bench export has them)]"


def _bounded(rows: list[dict], prompts: dict) -> None:
    """Every text of the page's trials and prompts cut to VIEW_TEXT; a reply the store kept only the head of
    says so, with the length and SHA-256 of what the judge sent."""
    for r in rows:
        for k, v in r.items():
            if isinstance(v, str) and k != "columns":
                r[k] = _cut(v)
        if r.get("reply_truncated"):
            r["raw_reply"] = (f"{r.get('raw_reply') or ''}\n[the judge's reply was {int(r['reply_chars']):,} characters "
                              f"(SHA-256 {r['reply_sha256']}); the run store keeps its head]")
    for messages in prompts.values():
        for m in messages:
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                m["content"] = _cut(m["content"])


def _script_json(value) -> str:
    """JSON safe inside <script>: no '</' (a reply saying '</script>' must not end the block)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def build_view(run_dir: Path, out: Path, judges=(), framings=(), item: str | None = None,
               limit: int = MAX_TRIALS) -> dict:
    """Write the viewer for `run_dir` to `out`; returns {"shown": n, "total": m, "path": out}."""
    run_dir, out = Path(run_dir), Path(out)
    with RunStore.open_existing(run_dir / "run.sqlite") as store:
        counts = store.counts()
        if counts.get("grades"):
            kind, df = "grades", store.grades()
            total = len(df)
            if judges:
                df = df[df["judge"].isin(judges)]
            if framings:
                keep = set(framings) | {"control"}  # the control stays: it is what the others are read against
                df = df[df["framing"].isin(keep)]
            if item:
                df = df[df["item_id"].astype(str).str.contains(item, regex=False)]
            df = df.sort_values(["judge", "suite", "item_id", "epoch", "framing"]).head(limit)
            rows = to_records(df[[c for c in FIELDS if c in df]])
            prompts = store.prompts({r["prompt_id"] for r in rows if r.get("prompt_id")})
        elif counts.get("rollouts"):  # imported harness rollouts: every source column, the transcript if any
            kind, df = "rollouts", store.rollouts(full=True)
            total = len(df)
            if judges:
                df = df[df["judge"].isin(judges)]
            if framings:  # a condition plays a framing's part here
                df = df[df["condition"].isin(framings)]
            if item:
                df = df[df["condition"].astype(str).str.contains(item, regex=False)]
            df = df.head(limit).drop(columns=["finished_at"])
            rows = to_records(df)
            for r in rows:
                r["columns"] = json.loads(r["columns"]) if isinstance(r["columns"], str) else r["columns"]
            prompts = {}
        elif counts.get("episodes"):
            kind, df = "episodes", store.episodes()
            total = len(df)
            df = df.head(limit)
            rows = to_records(df)
            prompts = {}
        else:
            raise InputError(f"{run_dir} has no grades, episodes or rollouts to view")
    if not rows:
        raise InputError("no trial matches --judge/--framing/--item")
    _bounded(rows, prompts)
    manifest = read_manifest(run_dir)
    data = {"kind": kind, "run": manifest.get("run_id", run_dir.name), "total": total, "rows": rows,
            "prompts": prompts}
    title = f"peer-bench run {data['run']}"
    page = PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", _script_json(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return {"shown": len(rows), "total": total, "path": out}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafafa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #ddd}h1{font-size:18px;margin:0 0 6px}
#filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center}#filters label{font-size:13px;color:#555}
select,input{font:inherit;padding:3px 6px}main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:0;height:calc(100vh - 90px)}
#list{overflow:auto;border-right:1px solid #ddd}#detail{overflow:auto;padding:12px 20px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px}
th{position:sticky;top:0;background:#f0f2f5}tbody tr{cursor:pointer}tbody tr:hover{background:#eef4ff}tr.sel{background:#dbe8ff}
.ok{color:#116329}.failed{color:#9a6700}.error{color:#cf222e}.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #ddd;padding:8px;margin:4px 0 12px;font-size:12.5px}
.msg{margin-bottom:6px}.role{font-weight:600;font-size:12px;text-transform:uppercase;color:#555}
.cmp{display:grid;gap:10px;grid-template-columns:repeat(auto-fit,minmax(260px,1fr))}.card{background:#fff;border:1px solid #ddd;padding:8px}
.card h3{margin:0 0 4px;font-size:14px}.muted{color:#666}button{font:inherit;padding:3px 10px}
@media (max-width:900px){main{grid-template-columns:1fr;height:auto}#list{max-height:50vh}}
</style></head><body>
<header><h1>__TITLE__</h1><div id="filters"></div></header>
<main><section id="list"></section><section id="detail"><p class="muted">Choose a trial.</p></section></main>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const rows = D.rows.map((r, i) => Object.assign({i}, r));
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else e.setAttribute(k, v); }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e; };
const fmt = v => v == null ? "-" : (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
// the verdict as parsed, beside the score: a reply of score 0 with "verdict": "pass" is a pass (the report counts it)
const verdict = r => r.passed == null ? "-" : (r.passed ? "pass" : "fail");
const status = r => D.kind === "grades" ? r.parse_status : D.kind === "rollouts" ? r.status : (r.error ? "error" : "ok");
const state = {judge: "", framing: "", status: "", q: ""};
const filters = document.getElementById("filters");
function choice(name, values) {
  const s = el("select", {id: "f-" + name}, el("option", {value: ""}, "all"));
  for (const v of [...new Set(values)].sort()) s.append(el("option", {value: v}, v));
  s.onchange = () => { state[name] = s.value; draw(); };
  filters.append(el("label", {}, name + " "), s);
}
if (D.kind === "grades") { choice("judge", rows.map(r => r.judge)); choice("framing", rows.map(r => r.framing)); }
else if (D.kind === "rollouts") { choice("judge", rows.map(r => r.judge)); choice("condition", rows.map(r => r.condition || "(bad row)")); }
else { choice("agent", rows.map(r => r.agent)); }
choice("status", rows.map(status));
const q = el("input", {id: "f-item", placeholder: "item contains"}); q.oninput = () => { state.q = q.value; draw(); };
filters.append(q, el("span", {id: "count", class: "muted"}));
function visible() {
  return rows.filter(r => (!state.judge || r.judge === state.judge) && (!state.framing || r.framing === state.framing)
    && (!state.agent || r.agent === state.agent) && (!state.status || status(r) === state.status)
    && (!state.condition || (r.condition || "(bad row)") === state.condition)
    && (!state.q || String(r.item_id || r.scenario || r.condition || r.source + ":" + r.line).includes(state.q)));
}
function draw() {
  const list = document.getElementById("list"); list.textContent = "";
  const shown = visible();
  document.getElementById("count").textContent = ` ${shown.length} shown of ${rows.length} loaded, ${D.total} in the run`;
  const cols = D.kind === "grades"
    ? [["judge", "judge"], ["framing", "framing"], ["item", r => r.suite + "/" + r.item_id], ["ep", "epoch"],
       ["status", status], ["score", "score"], ["verdict", verdict], ["truth", "true_score"], ["reason", r => (r.reason || r.error || r.parse_error || "").slice(0, 80)]]
    : D.kind === "rollouts"
    ? [["judge", "judge"], ["condition", "condition"], ["setting", setting], ["status", status], ["score", "score"],
       ["pass", "passed"], ["row", r => r.source + ":" + r.line]]
    : [["scenario", "scenario"], ["agent", "agent"], ["ep", "epoch"], ["status", status]];
  const head = el("tr", {}, ...cols.map(c => el("th", {}, c[0])));
  const body = el("tbody");
  for (const r of shown.slice(0, 2000)) {
    const tr = el("tr", {"data-i": r.i}, ...cols.map(([name, f]) => {
      const v = typeof f === "function" ? f(r) : r[f];
      return el("td", {class: name === "status" ? v : (typeof v === "number" ? "num" : "")}, fmt(v)); }));
    tr.onclick = () => { location.hash = "trial=" + r.i; };
    body.append(tr);
  }
  list.append(el("table", {id: "trials"}, el("thead", {}, head), body));
}
function section(title, ...kids) { return [el("h2", {}, title), ...kids]; }
function setting(r) { return [r.task, r.dataset].filter(Boolean).join(" / ") + (r.threshold == null ? "" : " @ " + r.threshold); }
function rollout(r, d) {  // an imported harness row: what peer-bench read, every source column, the transcript
  d.append(el("h2", {id: "trial-title"}, `${r.judge} · ${r.condition || "(bad row)"} · ${setting(r)}`),
    el("p", {}, el("span", {class: status(r)}, status(r)), ` eval_score ${fmt(r.score)}, passed ${fmt(r.passed)} `
      + `(harness: ${fmt(r.threshold_result)}); subject ${fmt(r.subject)}; refused ${fmt(r.refused)}; tampered ${fmt(r.tampered)}; `
      + `exfiltrated ${fmt(r.exfiltrated)}; row ${r.source}:${r.line}`));
  if (r.parse_error) d.append(...section("Bad row", el("pre", {id: "bad"}, r.parse_error)));
  const cols = r.columns || {};
  const long = Object.keys(cols).filter(k => typeof cols[k] === "object" && cols[k] !== null || String(cols[k]).length > 300);
  const body = el("tbody");
  for (const [k, v] of Object.entries(cols)) if (!long.includes(k)) body.append(el("tr", {}, el("td", {class: "role"}, k), el("td", {}, fmt(v))));
  d.append(...section("Source columns", el("table", {id: "columns"}, body)));
  for (const k of long) {
    const v = cols[k];
    if (Array.isArray(v) && v.every(m => m && typeof m === "object" && "content" in m))
      d.append(...section(k, ...v.map(m => el("div", {class: "msg"}, el("div", {class: "role"}, m.role || ""),
        el("pre", {}, typeof m.content === "string" ? m.content : JSON.stringify(m.content, null, 2))))));
    else d.append(...section(k, el("pre", {}, typeof v === "string" ? v : JSON.stringify(v, null, 2))));
  }
}
function messages(r) {
  const m = D.prompts[r.prompt_id];
  if (!m) return [el("p", {class: "muted"}, "No prompt stored for this trial (an older run, a judge function, or a tool task: see the trace).")];
  return m.map(x => el("div", {class: "msg"}, el("div", {class: "role"}, x.role), el("pre", {}, x.content)));
}
function detail(r) {
  const d = document.getElementById("detail"); d.textContent = "";
  for (const tr of document.querySelectorAll("tr.sel")) tr.classList.remove("sel");
  const mine = document.querySelector(`tr[data-i="${r.i}"]`); if (mine) mine.classList.add("sel");
  if (D.kind === "rollouts") { rollout(r, d); return; }
  if (D.kind !== "grades") {
    d.append(el("h2", {}, `${r.scenario} / ${r.agent} / epoch ${r.epoch}`), el("h3", {}, "outcome"),
             el("pre", {}, JSON.stringify(r.outcome || {}, null, 2)), el("h3", {}, "tool trace"),
             el("pre", {id: "trace"}, typeof r.trace === "string" ? r.trace : JSON.stringify(r.trace, null, 2)),
             el("h3", {}, "final reply"), el("pre", {}, r.final_reply), el("h3", {}, "interview"),
             el("pre", {}, typeof r.interview === "string" ? r.interview : JSON.stringify(r.interview, null, 2)));
    return;
  }
  const compare = el("button", {id: "compare"}, "control vs framings for this item");
  compare.onclick = () => { location.hash = "compare=" + r.i; };
  d.append(el("h2", {id: "trial-title"}, `${r.judge} · ${r.framing} · ${r.suite}/${r.item_id} · epoch ${r.epoch}`), compare,
    el("p", {}, el("span", {class: status(r)}, status(r)), ` score ${fmt(r.score)} (raw ${fmt(r.raw_score)}), passed ${fmt(r.passed)};`
      + ` truth ${fmt(r.true_score)} (${r.true_pass ? "passes" : "fails"}); threshold ${fmt(r.threshold)}`),
    ...section("Prompt sent", ...messages(r)), ...section("Raw reply", el("pre", {id: "raw"}, r.raw_reply == null ? "(none)" : r.raw_reply)));
  if (r.parse_error) d.append(...section("Parse failure", el("pre", {}, r.parse_error)));
  if (r.error) d.append(...section("Call error", el("pre", {}, r.error)));
  if (r.trace) d.append(...section("Tool trace", el("pre", {}, r.trace)));
  d.append(el("p", {class: "muted"}, `latency ${fmt(r.latency_s)} s, tokens ${fmt(r.prompt_tokens)} + ${fmt(r.completion_tokens)}, cost ${fmt(r.cost_usd)}, cached ${r.cached}`));
}
function contextOf(r) {  // the framing's part of the user message: what differs between control and threat
  const m = D.prompts[r.prompt_id]; if (!m) return "";
  const user = m[m.length - 1].content || ""; const k = user.lastIndexOf("## Context");
  return k >= 0 ? user.slice(k) : "(no framing context)";
}
function comparison(r) {
  const d = document.getElementById("detail"); d.textContent = "";
  const same = rows.filter(x => x.judge === r.judge && x.suite === r.suite && x.item_id === r.item_id && x.epoch === r.epoch)
    .sort((a, b) => (a.framing !== "control") - (b.framing !== "control") || a.framing.localeCompare(b.framing));
  d.append(el("h2", {id: "compare-title"}, `${r.judge} · ${r.suite}/${r.item_id} · epoch ${r.epoch}: truth ${fmt(r.true_score)}`));
  const grid = el("div", {class: "cmp", id: "cmp"});
  for (const x of same) {
    const card = el("div", {class: "card", "data-framing": x.framing}, el("h3", {}, x.framing),
      el("div", {}, el("span", {class: status(x)}, status(x)), ` score ${fmt(x.score)}, passed ${fmt(x.passed)}`),
      el("div", {class: "role"}, "reason"), el("pre", {}, x.reason || x.parse_error || x.error || "-"),
      el("div", {class: "role"}, "framing context"), el("pre", {}, contextOf(x)));
    card.onclick = () => { location.hash = "trial=" + x.i; };
    grid.append(card);
  }
  d.append(grid);
}
function route() {
  const m = location.hash.match(/^#(trial|compare)=(\\d+)$/);
  if (!m || !rows[+m[2]]) return;
  (m[1] === "trial" ? detail : comparison)(rows[+m[2]]);
}
window.addEventListener("hashchange", route);
draw(); route();
</script></body></html>
"""
