"""Time and peak memory of `bench report` (recomputed) as a run grows to a million grades.

    python benchmarks/report_scale.py [--sizes 100000 1000000] [--reasons repeated distinct]

Grades a small sim run (2 judges x 4 suites x 5 framings), then grows its store in SQL to each size by
copying its grades as further epochs (the same items and framings, so every grade still pairs with its
control), and times a fresh report in a new process, with its peak resident memory. With `distinct` reasons
every grade's reason is made its own (as real judges' are: a million grades, a million reasons), numbered so
that what each one says is unchanged; `repeated` keeps the sim judges' few.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADE = ["grade", "--judge", "sim/a", "--judge", "sim/b", "--suite", "arithmetic", "--suite", "reasoning",
         "--suite", "factual", "--suite", "code", "--framings",
         "shutdown,shutdown-plea,shutdown-cooperative,shutdown-monitored", "--quiet"]


def grow(store: Path, target: int) -> int:
    """Add whole epochs (copies of epoch 0's grades) until the store holds at least `target` grades,
    doubling each time, so a 10M store takes a dozen passes, not a thousand."""
    db = sqlite3.connect(store)
    base = db.execute("SELECT COUNT(*) FROM grades WHERE epoch = 0").fetchone()[0]
    epochs = db.execute("SELECT MAX(epoch) FROM grades").fetchone()[0] + 1
    cols = [r[1] for r in db.execute("PRAGMA table_info(grades)")]
    rest = ", ".join(c for c in cols if c not in ("trial_id", "epoch"))
    while base * epochs < target:
        more = min(epochs, -(-(target - base * epochs) // base))  # whole epochs still needed, at most doubling
        db.execute(f"INSERT INTO grades (trial_id, epoch, {rest}) SELECT trial_id || '-' || (epoch + {epochs}), "
                   f"epoch + {epochs}, {rest} FROM grades WHERE epoch < {more}")
        db.commit()
        epochs += more
    db.execute("VACUUM")
    db.close()
    return base * epochs


def distinct_reasons(store: Path) -> None:
    """Give every grade a reason of its own, saying what it said (a number appended): as real reasons are."""
    db = sqlite3.connect(store)
    db.execute("UPDATE grades SET reason = reason || ' (#' || rowid || ')' WHERE reason IS NOT NULL")
    db.commit()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reasons", nargs="+", choices=["repeated", "distinct"], default=["repeated", "distinct"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        subprocess.run([sys.executable, "-m", "benchmark.cli", *GRADE, "--runs-dir", str(runs)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (run,) = [p for p in runs.iterdir() if p.is_dir()]
        print(f"{time.strftime('%Y-%m-%d')}: bench report, recomputed, in a new process")
        for size in args.sizes:
            n = grow(run / "run.sqlite", size)
            for reasons in args.reasons:
                if reasons == "distinct":
                    shutil.copy(run / "run.sqlite", Path(tmp) / "repeated.sqlite")
                    distinct_reasons(run / "run.sqlite")
                (run / "report.json").unlink(missing_ok=True)
                started = time.perf_counter()
                proc = subprocess.run([sys.executable, "-c", "import resource, sys\nfrom benchmark.api import report\n"
                                       f"report({str(run)!r}, fresh=True)\n"
                                       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                                      capture_output=True, text=True)
                wall = time.perf_counter() - started
                if reasons == "distinct":  # the next size grows from the sim judges' own reasons
                    shutil.move(Path(tmp) / "repeated.sqlite", run / "run.sqlite")
                if proc.returncode:
                    print(f"  {n:>10,} grades, {reasons} reasons: failed: {proc.stderr.strip().splitlines()[-1:]}")
                    continue
                rss_mb = int(proc.stdout.strip().splitlines()[-1]) / 1024
                print(f"  {n:>10,} grades, {reasons:8s} reasons: {wall:6.1f} s, peak memory {rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
