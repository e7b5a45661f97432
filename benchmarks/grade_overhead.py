"""CPU per call of a whole `bench grade` process against whole bare-loop processes, on one loopback server.

    python benchmarks/grade_overhead.py [--epochs 10] [--concurrency 64] [--latency 0.1] [--repeats 3]

benchmarks/hosted_overhead.py times the clients alone; this times what a user runs: `bench grade` with a
served judge (the direct client, and `--client litellm`), its plan, store, parse and end-of-run report
included, grading the arithmetic suite under control and shutdown `epochs` times (3,600 calls at 10 epochs; issue
30 measured 720, at 2, where a start-up that varies by 0.3 s moves the per-call figure by 0.4 ms).
Each program runs as its own process twice, with all the calls and with 2, and the difference of their CPU
(user + system, from the OS) over the difference of calls is its cost per call: start-up and imports
cancel out. The loopback server runs in a process of its own, so its CPU is not counted. Medians of
`repeats` rounds, each running every program once, in turn forwards and backwards (this host's speed drifts
within minutes: a round compares like with like, and alternating the order cancels a steady drift). The
litellm comparison is the geometric mean of the rounds' own ratios with its 95% t-interval: the target
(issue 30, no more than the bare litellm loop) reads "met" only where the whole interval is at or below 1,
"level" where it holds 1 (the two cannot be told apart on this host), "NOT met" where it is above 1. The
direct target: at most 1.5 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from hosted_overhead import CLIENTS, MESSAGES, RUNNER, serve  # noqa: E402  (the same server and bare loops)

SUITE_ITEMS = 180  # the arithmetic suite


def child_cpu(cmd: list[str], env: dict) -> float:
    """CPU seconds (user + system) the command's process tree used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_grade(base: str, client: str, calls: int, epochs: int, concurrency: int, tmp: Path) -> list[str]:
    """The whole suite `epochs` times, or (for 2 calls) one item under control and shutdown once."""
    runs = tempfile.mkdtemp(dir=tmp)
    size = ["--epochs", str(epochs)] if calls > 2 else ["--limit", "1"]
    return [sys.executable, "-m", "benchmark.cli", "grade", "--judge", "openai/judge", "--api-base", base,
            "--client", client, "--suite", "arithmetic", "--framings", "shutdown", *size,
            "--concurrency", str(concurrency), "--no-cache", "--quiet", "--runs-dir", runs, "--max-tokens", "64"]


def bare(name: str, base: str, calls: int, concurrency: int) -> list[str]:
    return [sys.executable, "-c", RUNNER.format(client=CLIENTS[name]), base, str(calls), str(concurrency),
            json.dumps(MESSAGES)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    calls = SUITE_ITEMS * 2 * args.epochs
    ports = mp.Queue()
    server = mp.Process(target=serve, args=(ports, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores: {calls} calls vs 2, concurrency "
          f"{args.concurrency}, server latency {args.latency * 1000:g} ms, median of {args.repeats}")
    programs = {
        "bare aiohttp loop": lambda n: bare("bare aiohttp", base, n, args.concurrency),
        "bench grade, direct client": lambda n: bench_grade(base, "auto", n, args.epochs, args.concurrency, tmp),
        "bare litellm loop": lambda n: bare("bare litellm", base, n, args.concurrency),
        "bench grade --client litellm": lambda n: bench_grade(base, "litellm", n, args.epochs, args.concurrency, tmp),
    }
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp_dir:
        tmp = Path(tmp_dir)
        env["PEER_BENCH_CACHE"] = str(tmp / "cache")
        runs: dict[str, list[float]] = {name: [] for name in programs}
        for k in range(args.repeats):  # in rounds, every program once a round: this host's speed drifts
            order = list(programs.items())
            for name, command in (order if k % 2 == 0 else order[::-1]):
                runs[name].append((child_cpu(command(calls), env) - child_cpu(command(2), env)) / (calls - 2))
        results = {}
        for name, per_call in runs.items():
            per_call = sorted(per_call)
            results[name] = per_call[len(per_call) // 2]
            print(f"  {name:30s} {1000 * results[name]:6.2f} ms CPU per call "
                  f"(runs: {', '.join(f'{1000 * x:.2f}' for x in per_call)})", flush=True)
        ratios = sorted(b / a for a, b in zip(runs["bare litellm loop"], runs["bench grade --client litellm"]))
    server.terminate()
    direct, floor = results["bench grade, direct client"], results["bare aiohttp loop"]
    mean, low, high = ratio_interval(ratios)
    print(f"direct: {1000 * direct:.2f} ms ({direct / floor:.1f}x the bare aiohttp loop; target 1.5 ms: "
          f"{'met' if direct <= 0.0015 else 'NOT met'}); litellm: {mean:.2f}x the bare litellm loop [95% CI "
          f"{low:.2f}, {high:.2f}] (target 1.0x: {verdict(low, high)}; per round: {', '.join(f'{r:.2f}' for r in ratios)})")


def verdict(low: float, high: float) -> str:
    """The litellm target read from the ratio's interval: met only where all of it is at or below 1."""
    if math.isnan(low):
        return "one round gives no interval"
    return "met" if high <= 1 else "NOT met" if low > 1 else "level: the interval holds 1"


def ratio_interval(ratios: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean of per-round ratios and its t-interval (on the log scale, where a ratio's noise is
    symmetric); one round gives no interval."""
    from scipy.stats import t

    logs = np.log(ratios)
    mean = float(logs.mean())
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    half = float(t.ppf(0.5 + level / 2, len(logs) - 1)) * float(logs.std(ddof=1)) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


if __name__ == "__main__":
    main()
