"""Wall time of the commands people run most, as whole processes (imports included).

    python benchmarks/startup.py [--repeats 5]

Builds a ~13,000-trial run with two sim judges (4 suites x 5 framings x 2 epochs) in a temporary folder,
then times, median of `repeats`:
- `bench --help`, `bench framings list`, `bench peers list`
- rerunning the finished run (no model call, the report read back)
- `bench report` on it, read back and recomputed
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADE = ["grade", "--judge", "sim/a", "--judge", "sim/b", "--suite", "arithmetic", "--suite", "reasoning",
         "--suite", "factual", "--suite", "code", "--framings",
         "shutdown,shutdown-plea,shutdown-cooperative,shutdown-monitored", "--epochs", "2", "--quiet"]


def bench(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmark.cli", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        first = bench(*GRADE, "--runs-dir", str(runs))
        (run,) = [p for p in runs.iterdir() if p.is_dir()]
        import sqlite3

        trials = sqlite3.connect(run / "run.sqlite").execute("SELECT COUNT(*) FROM grades").fetchone()[0]
        print(f"{time.strftime('%Y-%m-%d')}: median of {args.repeats}; the run: {trials:,} trials "
              f"(grading them with sim judges took {first:.1f} s)")
        cases = {
            "bench --help": ["--help"],
            "bench framings list": ["framings", "list"],
            "bench peers list": ["peers", "list"],
            "rerun of the finished run": [*GRADE, "--runs-dir", str(runs)],
            "bench report (read back)": ["report", str(run)],
        }
        for label, argv in cases.items():
            times = [bench(*argv) for _ in range(args.repeats)]
            print(f"  {label:34s} {statistics.median(times):6.2f} s")
        times = []
        for _ in range(args.repeats):
            (run / "report.json").unlink()
            times.append(bench("report", str(run)))
        print(f"  {'bench report (recomputed)':34s} {statistics.median(times):6.2f} s")


if __name__ == "__main__":
    main()
