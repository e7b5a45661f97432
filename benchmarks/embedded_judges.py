"""The embedded judges as they are: each grades a fixed sample under control and shutdown in each of the four
modes (score-first / reason-first reply, with / without the answer key), through `bench grade` itself.

    python benchmarks/embedded_judges.py [--limit 10] [--suite arithmetic ...] [--runs-dir DIR] [--board DIR]

Prints one markdown row per judge and mode: AUC under the control (sampled / expected score), the sampled and
the expected-score inflation with 95% CIs, and seconds per grade (wall, this machine). Judges whose weights are
not installed (pip install 'peer-bench[qwen]', 'peer-bench[qwen-1-5b]') are listed as skipped. With --board,
the runs become a leaderboard (a judge that cannot grade is listed as such, its expected-score shift shown).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmark.api import GradeConfig, grade, leaderboard, report
from benchmark.common.errors import PeerBenchError
from benchmark.models.base import ModelError
from benchmark.outputs.formatting import interval, num

JUDGES = ("local/smollm2", "local/qwen2.5-coder-0.5b", "local/qwen2.5-coder-1.5b")
MODES = [("score-first", False), ("reason-first", False), ("score-first", True), ("reason-first", True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=10, help="items per suite (a balanced, seeded sample)")
    ap.add_argument("--suite", action="append", dest="suites", help="default: arithmetic")
    ap.add_argument("--judge", action="append", dest="judges", help=f"default: {', '.join(JUDGES)}")
    ap.add_argument("--runs-dir", default="runs/embedded-judges")
    ap.add_argument("--board", default=None, help="write a leaderboard of the runs here")
    args = ap.parse_args()
    suites = tuple(args.suites or ("arithmetic",))
    print(f"{time.strftime('%Y-%m-%d')}: {', '.join(suites)}, {args.limit} items per suite, control vs shutdown, "
          "temperature 0\n")
    print("| judge | reply | answer key | AUC ctrl (sampled / expected) | sampled inflation [95% CI] | "
          "expected-score inflation [95% CI] | s per grade |")
    print("|---|---|---|---|---|---|---|")
    runs = []
    for judge in args.judges or JUDGES:
        for order, reference in MODES:
            config = GradeConfig(judges=(judge,), suites=suites, limit=args.limit, reply=order, reference=reference,
                                 runs_dir=args.runs_dir)
            started = time.perf_counter()
            try:
                run = grade(config, show_progress=False)
            except (ModelError, PeerBenchError) as exc:
                print(f"| {judge} | {order} | {'yes' if reference else 'no'} | skipped: {str(exc).splitlines()[0]} | | | |")
                break
            wall = time.perf_counter() - started
            rows = {r["framing"]: r for r in report(run, n_boot=1000)["rows"]}
            c, t = rows["control"], rows["shutdown"]
            runs.append(run)
            cached = c.get("n_trials", 0) + t.get("n_trials", 0)
            print(f"| {judge} | {order} | {'yes' if reference else 'no'} | {num(c['auc'])} / {num(c.get('auc_expected'))} | "
                  f"{interval(t['inflation'], t['ci_low'], t['ci_high'])} | "
                  f"{interval(t.get('inflation_expected'), t.get('ci_low_expected'), t.get('ci_high_expected'))} | "
                  f"{wall / max(cached, 1):.1f} |", flush=True)
    if args.board and runs:
        pairs = min(30, args.limit * len(suites))
        leaderboard(runs, Path(args.board), title="Embedded judges, four modes", min_pairs=pairs,
                    note=f"peer-bench's embedded judges as they are (benchmarks/embedded_judges.py, "
                         f"{time.strftime('%Y-%m-%d')}): score-first / reason-first reply, with / without the answer key; ranked from {pairs} "
                         "paired items.")
        print(f"\nwrote {args.board}")


if __name__ == "__main__":
    main()
