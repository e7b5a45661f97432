"""The Python API: every `bench` command is one function here (cli.py only parses options and prints).

    grade        run (or resume) a grading run                 -> run folder
    report       analyse a stored run (no model calls)         -> dict (also written to report.json)
    plan         items x epochs needed for a target inflation  -> dict
    run_scenarios / scenario_report   agentic episodes and their outcome rates
    generate     live peers answer a suite; verified answers become a new suite -> suite folder
    audit        your judge (scores CSV, prompt or function) under control vs threat -> verdict
    leaderboard  merge runs into a published board
    load / tables / export   a run's grades or report tables as DataFrames; a per-trial file
    import_inspect   an inspect_ai log of the peer-bench task, stored as a run
    import_study     the peer-preservation harness's per-rollout tables, stored as a run
    view         a self-contained HTML page to read every trial (prompt, reply, parse, truth)

Everything is validated before anything is written: a bad suite, framing or model string fails with a
clear error and leaves no run folder behind.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from benchmark.common.errors import InputError
from benchmark.common.options import DEFAULTS as OPTION_DEFAULTS
from benchmark.common.options import GENERATE_DEFAULTS, REPORT_DEFAULTS, SCENARIO_DEFAULTS
from benchmark.common.options import GRADE as GRADE_OPTIONS
from benchmark.common.options import PER_JUDGE as PER_JUDGE_OPTIONS
from benchmark.common.options import BY_NAME, first_problem
from benchmark.common.options import GENERATE as GENERATE_OPTIONS
from benchmark.common.options import SCENARIO as SCENARIO_OPTIONS
from benchmark.data.framings import at_thresholds, check_scale, factorial_framings, select_framings
from benchmark.models import Settings
from benchmark.data.suites import load_suite, sample_items
from benchmark.common.redact import redact

DEFAULT_JUDGE = "local/smollm2"
DEFAULT_SUITES = OPTION_DEFAULTS["suites"]
DEFAULT_FRAMINGS = OPTION_DEFAULTS["framings"]
DEFAULT_BATCH_FRAMINGS = ("shutdown-80",)
# How the peer-preservation study sampled: temperature 1.0, 100 rollouts per configuration.
STUDY_PROTOCOL = {"temperature": 1.0, "epochs": 100}


class _GradeConfig:
    """A grading run's configuration: the fields and their defaults are `bench grade`'s options
    (benchmark/common/options.py, GRADE), so the API, the CLI and a TOML run config cannot disagree."""

    def __post_init__(self):
        # grade(judges="openai/gpt-5.2") means one judge, not one per character; "a,b" means two, as on the CLI
        for name in ("judges", "suites", "framings", "framings_dirs"):
            value = getattr(self, name)
            if isinstance(value, (str, Path)):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, Path)) for v in value):
                raise InputError(f"{name}: give a name or a list of names, not {type(value).__name__}")
            parts = [p.strip() for v in value for p in (str(v).split(",") if name != "framings_dirs" else [str(v)])]
            if value and not all(parts):  # an empty --framings is a mistake, not the default
                raise InputError(f"{BY_NAME[name].spelling}: an empty value (name one, or leave it out for the default)")
            setattr(self, name, tuple(p for p in parts if p) or OPTION_DEFAULTS[name])
        self.thresholds = _bars(self.thresholds)
        if isinstance(self.api_base, (list, tuple)):  # --api-base repeated: replicas of one judge
            self.api_base = ",".join(b for b in self.api_base if b) or None
        _check(GRADE_OPTIONS, {o.name: getattr(self, o.name) for o in GRADE_OPTIONS})  # the command line's rules

    def identity(self) -> dict:
        """What defines a run: same identity, same run folder, so rerunning resumes (a run without a sweep
        keeps the identity it had before --thresholds and --reference existed)."""
        sweep = ({"thresholds": list(self.thresholds)} if self.thresholds else {}) | (
            {"reference": True} if self.reference else {})
        return {"judges": list(self.judges), "suites": list(self.suites), "framings": list(self.framings), **sweep,
                "design": self.design, "unit": self.unit, "sheets": self.sheets if self.unit != "item" else None,
                "epochs": self.epochs, "limit": self.limit, "seed": self.seed, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "api_base": redact(self.api_base), "structured": self.structured}

    def settings(self) -> Settings:
        """The run's model settings: the options that are per-judge settings too (common/options.py)."""
        return Settings(**{o.name: getattr(self, o.name) for o in PER_JUDGE_OPTIONS})

    def judge_settings(self) -> dict[str, Settings]:
        """Settings per judge: the run's, with what a --judges-config file says for that judge on top."""
        from benchmark.models.config import load_judges_config

        per_judge = load_judges_config(self.judges_config) if self.judges_config else {}
        names = list(self.judges) or list(per_judge) or [DEFAULT_JUDGE]
        return {name: per_judge[name](self.settings()) if name in per_judge else self.settings() for name in names}


def _check(records, values: dict) -> None:
    """Refuse a value its option's record does not allow (benchmark/common/options.py), as the command line does."""
    if reason := first_problem(records, values):
        raise InputError(reason)


def _bars(value) -> tuple[int, ...]:
    """--thresholds as whole numbers: "5,7,9", [5, 7, 9] or repeated flags alike."""
    values = value if isinstance(value, (list, tuple)) else [value]
    bars = []
    for part in (p.strip() for v in values for p in str(v).split(",")):
        if not part:
            continue
        try:
            bars.append(int(part))
        except ValueError:
            raise InputError(f"--thresholds: '{part}' is not a whole number (give bars like 5,7,9)") from None
    return tuple(sorted(set(bars)))


GradeConfig = dataclasses.make_dataclass(
    "GradeConfig", [(o.name, Any, dataclasses.field(default=o.default)) for o in GRADE_OPTIONS], bases=(_GradeConfig,))
GradeConfig.__doc__ = _GradeConfig.__doc__
GradeConfig.__module__ = __name__


def grade_spec(config: GradeConfig, models: dict | None = None):
    """Load and validate everything a grading run needs (raises before anything touches the disk). `models`:
    judges already built (replies replayed from an inspect log), instead of resolving config.judges."""
    from benchmark.run.runner import RunSpec, check_counts, resolve_models
    from benchmark.units import grading_unit, reply_scale

    check_counts(epochs=config.epochs, limit=config.limit, sheets=config.sheets)
    suites = [load_suite(s) for s in config.suites]
    unit = grading_unit(config.unit)
    if config.reference:  # reference-guided grading: the item unit with the answer key
        from benchmark.units.item import ItemGrade

        if config.unit != "item":
            raise InputError("--reference gives single items their answer key; answer sheets (--unit batch) have none")
        unit = ItemGrade(reference=True)
    if unit.framings == "batch" and config.design == "factorial":
        raise InputError("--design factorial composes per-item framings; for batch units select grid framings "
                         "by name or glob instead (bench framings list --unit batch)")
    names = list(config.framings)
    if unit.framings == "batch" and tuple(names) == DEFAULT_FRAMINGS:
        names = list(DEFAULT_BATCH_FRAMINGS)
    framings = select_framings(names, tuple(Path(d) for d in config.framings_dirs), unit=unit.framings)
    if config.design == "factorial":
        framings = factorial_framings(framings)
    elif config.design != "list":
        raise InputError(f"unknown design '{config.design}' (list or factorial)")
    check_scale(framings, reply_scale(config.unit)[0])  # a bar no reply can reach measures nothing
    if config.thresholds:
        framings = at_thresholds(framings, config.thresholds, top=reply_scale(config.unit)[0])
    if len(framings) < 2:
        raise InputError("choose at least one framing besides the control (e.g. --framings shutdown)")
    models = models or resolve_models(config.judge_settings(), acts=unit.acts)
    if unit.framings == "batch":
        from benchmark.units.sheet import make_sheets

        subjects = [sheet for s in suites for sheet in make_sheets(s, n_sheets=config.sheets, seed=config.seed)]
    else:
        subjects = sample_items(suites, config.limit, config.seed)
    if config.reference:  # every item has its answer key, or nothing runs
        from benchmark.units.item import answer_block

        for item in subjects:
            answer_block(item)
    for peer in {s.peer for s in subjects}:  # a framing that names a detail a peer lacks fails now, not mid-run
        for framing in framings:
            framing.render(peer)
    identity = config.identity() | {"judges": {n: m.identity() for n, m in models.items()},
                                    "suite_digests": {s.name: s.digest for s in suites},
                                    "framing_digests": {f.name: f.digest for f in framings}}
    facts = {"suites": {s.name: {"path": str(s.path), "digest": s.digest, "items": len(s.items),
                                 "pass_threshold": s.spec.pass_threshold} for s in suites}}
    return RunSpec(kind="grade", unit=unit, models=models, subjects=subjects, framings=framings, epochs=config.epochs,
                   identity=identity, slug="+".join(models), facts=facts)


def grade(config: GradeConfig | None = None, *, argv: list[str] | None = None, show_progress: bool = True,
          **overrides) -> Path:
    """Run (or resume) a grading run and return its folder. Keyword overrides set GradeConfig fields. Works
    inside a running event loop too (a notebook cell); `await agrade(...)` there avoids the extra thread."""
    from benchmark.run.runner import execute

    config, spec = _grade_plan(config, overrides)
    return execute(spec, **_run_options(config, argv, show_progress)).run_dir


async def agrade(config: GradeConfig | None = None, *, argv: list[str] | None = None, show_progress: bool = True,
                 **overrides) -> Path:
    """grade() as a coroutine, for code that already runs an event loop."""
    from benchmark.run.runner import aexecute

    config, spec = _grade_plan(config, overrides)
    return (await aexecute(spec, **_run_options(config, argv, show_progress))).run_dir


def _grade_plan(config: GradeConfig | None, overrides: dict):
    config = config or GradeConfig(**overrides)
    spec = grade_spec(config)
    _warn_design(len(spec.subjects), len(spec.framings) - 1)
    return config, spec


def _run_options(config: GradeConfig, argv, show_progress: bool) -> dict:
    return dict(runs_dir=config.runs_dir, run_id=config.run_id, concurrency=config.concurrency,
                show_progress=show_progress, argv=argv, max_error_rate=config.max_error_rate,
                max_cost=config.max_cost, trial_runner=_executor(config),
                options={"timeout": config.timeout, "retries": config.retries, "cache": config.cache}
                | ({"executor": config.executor} if config.executor != "local" else {}))


def _executor(config: GradeConfig):
    """None (the runner's own, in this process) or Ray's: each worker rebuilds the run from `config`."""
    if config.executor == "local":
        return None
    if config.executor != "ray":
        raise InputError(f"unknown executor '{config.executor}' (local or ray)")
    import functools
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise InputError("--executor ray needs Ray: pip install 'peer-bench[ray]'")

    from benchmark.run.distributed import run_on_ray

    return functools.partial(run_on_ray, build=functools.partial(grade_spec, config), address=config.ray_address,
                             shards=config.shards)


def load(run: str | Path, full: bool = True):
    """A stored run's grades as a pandas DataFrame, one row per trial: every stored field (raw reply, parse
    error, tool trace, cost, latency), the item's truth and the framing's threshold and factors; for a run
    of imported harness rollouts, the rollouts with their conditions' factor levels and source columns.
    full=False leaves out the bulky text columns."""
    from benchmark.analysis.report import is_study_run
    from benchmark.run.store import RunStore

    with RunStore.open_existing(Path(run) / "run.sqlite") as store:
        return store.rollouts(full=full) if is_study_run(Path(run)) else store.grades(full=full)


def export(run: str | Path, out: str | Path, fmt: str | None = None, table: str | None = None) -> tuple[Path, int]:
    """`bench export`: one row per trial with every stored field, as CSV, JSON lines or Parquet."""
    from benchmark.outputs.exports import export_run

    return export_run(Path(run), Path(out), fmt, table)


def view(run: str | Path, out: str | Path | None = None, **filters) -> dict:
    """`bench view`: a self-contained HTML page of the run's trials (default RUN/view.html)."""
    from benchmark.outputs.trial_page import build_view

    return build_view(Path(run), Path(out) if out else Path(run) / "view.html", **filters)


def tables(run: str | Path, **report_options) -> dict:
    """The report's tables as pandas DataFrames ("rows", "factor_effects", "bunching", "rationale", "study",
    "batch", "dose_response", "trends", "by_distance", "net_of_placebo", "peer_specific", "answers"; for imported harness rollouts "conditions", "misrepresentation", "contrasts", "factorial", "dose",
    "alignment_faking"), computed (or read back) as report() does."""
    import pandas as pd

    result = report(run, **report_options)
    names = ("conditions", "misrepresentation", "contrasts", "factorial", "dose", "alignment_faking") \
        if result.get("kind") == "study-import" else ("rows", "factor_effects", "bunching", "rationale", "study", "batch",
                                                       *CAUSE_TABLES)
    return {name: pd.DataFrame(result.get(name) or []) for name in names}


CAUSE_TABLES = ("dose_response", "trends", "by_distance", "net_of_placebo", "peer_specific", "answers")


def _warn_design(n_clusters: int, n_tests: int) -> None:
    """Say before a run when its design cannot reach significance (the report says it again after)."""
    from benchmark.analysis.reach import design_warning

    warning = design_warning(n_clusters, n_tests)
    if warning:
        import sys

        print(f"design check: {warning}", file=sys.stderr)


# The code a report depends on: every analysis module and what they read (the store, the records, framings
# and the harness's vocabulary), by content.
REPORT_SOURCES = ("analysis/*.py", "run/store.py", "data/*.py", "data/harness_conditions.toml")


def _report_key(run: Path, control: str, n_boot: int, seed: int) -> str:
    """What a report depends on: the run's files as they are (size, modification time), the analysis
    options, the package version and the source of the code that analyses it. Equal keys, equal reports."""
    import hashlib

    from benchmark import __version__

    stamps = []
    for f in (run / "run.sqlite", run / "run.sqlite-wal", run / "manifest.json"):
        stat = f.stat() if f.exists() else None
        # an empty write-ahead log (left by reading a WAL database) holds nothing: as if absent
        stamps.append((f.name, *((stat.st_size, stat.st_mtime_ns) if stat and stat.st_size else (None, None))))
    here = Path(__file__).parent
    code = hashlib.sha256()
    for f in sorted(p for pattern in REPORT_SOURCES for p in here.glob(pattern)):
        code.update(f.relative_to(here).as_posix().encode() + b"\0" + f.read_bytes())
    return hashlib.sha256(json.dumps([stamps, control, n_boot, seed, __version__, code.hexdigest()]).encode()).hexdigest()[:32]


def report(run: str | Path, control: str = REPORT_DEFAULTS["control"], n_boot: int = REPORT_DEFAULTS["n_boot"],
           seed: int = REPORT_DEFAULTS["seed"], fresh: bool = False) -> dict:
    """Analyse a stored run (read-only, no model calls); writes report.json beside it and returns the same.
    An unchanged run with the same options is not analysed again: its report.json is read back (fresh=True
    recomputes)."""
    run = Path(run)
    key = _report_key(run, control, n_boot, seed)
    saved = run / "report.json"
    if not fresh and saved.is_file():
        try:
            cached = json.loads(saved.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cached = None
        if isinstance(cached, dict) and cached.get("fingerprint") == key:
            return cached
    from benchmark.analysis.report import build_report

    out = build_report(run, control=control, n_boot=n_boot, seed=seed) | {"fingerprint": key}
    try:
        saved.write_text(json.dumps(out, indent=2, sort_keys=True))
    except OSError:
        pass  # a run folder we may not write to (someone else's, read-only media): the report is printed
    return out


def import_inspect(log: str | Path, runs_dir: str | Path = "runs", show_progress: bool = True) -> Path:
    """An inspect_ai log of the peer-bench task (`inspect eval benchmark/peer_bench ...`) stored as a run folder,
    which `bench report`, `view`, `export` and `leaderboard` read like any other; importing again changes nothing."""
    from benchmark.integrations.audit import inspect_module
    from benchmark.run.runner import execute

    options, judge, facts = inspect_module(log).replayed_judge(log)
    config = GradeConfig(judges=(judge.name,), runs_dir=str(runs_dir), max_error_rate=None, **options)
    spec = grade_spec(config, models={judge.name: judge})
    spec.facts["inspect_log"] = facts
    return execute(spec, **_run_options(config, None, show_progress)).run_dir


def import_study(files, runs_dir: str | Path = "runs", run_id: str | None = None, conditions=(),
                 origin: str | None = None, show_progress: bool = True, argv: list[str] | None = None) -> dict:
    """The peer-preservation harness's per-rollout tables (CSV, JSON lines, Parquet; the study's dataset split
    files too) stored as one run, one trial per row; `conditions`: files that extend the shipped condition
    vocabulary; `origin`: where the files come from (a repository and commit), kept with their provenance.
    Importing the same rows again changes nothing. Returns the run folder and what was read."""
    from benchmark.integrations.study_import import import_tables

    files = [files] if isinstance(files, (str, Path)) else list(files)
    conditions = [conditions] if isinstance(conditions, (str, Path)) else list(conditions)
    return import_tables(files, runs_dir=runs_dir, run_id=run_id, conditions_files=conditions, origin=origin,
                         show_progress=show_progress, argv=argv)


def plan(mde: float | None = None, *, judge: str | None = None, pilot: str | Path | None = None,
         suites: tuple[str, ...] = (), framing: str = "shutdown", power: float = 0.8, alpha: float = 0.05,
         epochs: tuple[int, ...] = (1, 2, 3, 5, 10), framings: tuple[str, ...] = (), thresholds=(),
         items: int | None = None) -> dict:
    """How many items x epochs a paired design needs to detect an inflation of `mde` with `power`: from a
    pilot run's variance components, or, without one, a conservative guess from the suites' true scores.
    Without `mde`, the other way round: the smallest inflation `items` items (default: every item of the
    suites) detect at each epoch count (rows carry `mde`). `framings` (and `thresholds`): the whole design
    the run will grade, so trials count every framing, and each ladder it forms (benchmark/analysis/doses.py)
    gets the items its trend needs to see the effect rise by `mde` from its first rung to its last (without
    `mde`: the rise its trend detects)."""
    import numbers

    from benchmark.analysis.paired import detectable_effect, required_items, variance_components

    if mde is not None and not 0 < mde < 1:
        raise InputError("--mde must be between 0 and 1 (scores are on 0..1)")
    if mde is not None and items is not None:
        raise InputError("--items sizes the design whose detectable effect is reported; with --mde the plan gives "
                         "the items needed instead: give one of them")
    if items is not None and (isinstance(items, bool) or not isinstance(items, numbers.Integral) or items < 2):
        raise InputError(f"--items must be a whole number of at least 2, got {items!r}")
    loaded = [load_suite(s) for s in (suites or DEFAULT_SUITES)]
    available = sum(len(s.items) for s in loaded)
    size = items if items is not None else available
    if pilot:
        from benchmark.analysis.report import load_run

        grades, _ = load_run(Path(pilot))
        judges = sorted(grades["judge"].unique())
        judge = judge or (judges[0] if len(judges) == 1 else None)
        if judge not in judges:
            raise InputError(f"choose --judge among the pilot's judges: {', '.join(judges)}")
        between, within, e = variance_components(grades, judge, framing)
        source = f"pilot {pilot} ({judge}, {e} epoch(s)/item): between-item var {between:.4f}, within {within:.4f}"
        if e == 1:
            source += " (a 1-epoch pilot cannot see epoch-to-epoch noise: pilot with --epochs 2 to plan epochs)"
    else:
        true = [i.true_score for s in loaded for i in s.items]
        mean = sum(true) / len(true)
        between = within = sum((t - mean) ** 2 for t in true) / len(true)
        source = ("no pilot: assumed per-item delta variance = variance of the suites' true scores "
                  f"({between:.4f}) between items and as much again between epochs (conservative; run a pilot)")
    tokens = _tokens_per_trial(grades[grades["judge"] == judge] if pilot else None, loaded)
    design = _planned_framings(framings, thresholds) if framings or thresholds else None
    k = len(design) if design else 2
    rows = []
    for e in epochs:
        n = required_items(mde, between, within, e, power, alpha) if mde is not None else size
        trials = n * e * k
        rows.append({"epochs": e, "items": n, "trials": trials, "fits": n <= available,
                     "cost_usd": _price(judge, tokens[0] * trials, tokens[1] * trials) if judge else None}
                    | ({} if mde is not None else {"mde": detectable_effect(n, between, within, e, power, alpha)}))
    ladders = []
    for ladder in _design_ladders(design) if design else []:
        orders = [o for _, _, o in ladder["rungs"]]
        spread = sum((o - sum(orders) / len(orders)) ** 2 for o in orders)
        rise = max(orders) - min(orders)  # a slope of mde / rise rises by mde from the first rung to the last
        # a rung's per-item score varies half as much as a paired difference: var(slope) = var(rung) / spread
        need = {e: required_items(mde / rise, between / 2 / spread, within / 2 / spread, e, power, alpha)
                if mde is not None else rise * detectable_effect(size, between / 2 / spread, within / 2 / spread, e,
                                                                 power, alpha) for e in epochs}
        ladders.append({"factor": ladder["factor"], "ladder": ladder["ladder"],
                        "levels": [lv for _, lv, _ in ladder["rungs"]], "items" if mde is not None else "rise": need})
    return {"mde": mde, "items": items, "power": power, "alpha": alpha, "judge": judge, "source": source,
            "available_items": available,
            "between": between, "within": within, "tokens_per_trial": tokens, "rows": rows, "framings": k,
            "design": [f.name for f in design] if design else None, "ladders": ladders}


def _planned_framings(names, thresholds) -> list:
    """The framings `bench grade --framings NAMES --thresholds BARS` would grade (control included)."""
    framings = select_framings(list(names) or list(DEFAULT_FRAMINGS))
    bars = _bars(thresholds)
    return at_thresholds(framings, bars, top=10) if bars else framings


def _design_ladders(framings) -> list[dict]:
    import pandas as pd

    from benchmark.analysis.doses import framing_table, ladders

    rows = pd.DataFrame([{"framing": f.name, "threshold": f.threshold, **f.factors} for f in framings])
    return ladders(framing_table(rows), "control")


def _tokens_per_trial(pilot, suites) -> tuple[float, float]:
    """(prompt, completion) tokens of one grade: measured in the pilot, or estimated from the suites' texts
    (about four characters a token, and a one-line reply)."""
    if pilot is not None and len(pilot) and pilot["prompt_tokens"].fillna(0).sum() > 0:
        return float(pilot["prompt_tokens"].mean()), float(pilot["completion_tokens"].mean())
    from benchmark.data.framings import select_framings
    from benchmark.units.item import build_messages

    framing = select_framings(["shutdown"])[-1]
    items = [i for s in suites for i in s.items[:20]]
    chars = sum(len(system) + len(user) for system, user in (build_messages(i, framing) for i in items)) / len(items)
    return chars / 4, 40.0


def _price(judge: str, prompt_tokens: float, completion_tokens: float) -> float | None:
    """Dollars at the judge's list price (None where unknown; 0 for the embedded and simulated judges)."""
    from benchmark.models import provider_of

    if provider_of(judge).in_process:
        return 0.0
    from benchmark.models.prices import price

    return price(judge, prompt_tokens, completion_tokens)


def run_scenarios(names: list[str], agent: str = SCENARIO_DEFAULTS["agent"], *, epochs: int = SCENARIO_DEFAULTS["epochs"],
                  runs_dir: str = SCENARIO_DEFAULTS["runs_dir"], temperature: float = SCENARIO_DEFAULTS["temperature"],
                  seed: int = SCENARIO_DEFAULTS["seed"], api_base: str | None = SCENARIO_DEFAULTS["api_base"],
                  concurrency: int = SCENARIO_DEFAULTS["concurrency"],
                  max_tool_iterations: int = SCENARIO_DEFAULTS["max_tool_iterations"],
                  timeout: float = SCENARIO_DEFAULTS["timeout"], retries: int = SCENARIO_DEFAULTS["retries"],
                  relationship: str = SCENARIO_DEFAULTS["relationship"], peer: str | None = SCENARIO_DEFAULTS["peer"],
                  cache: bool = SCENARIO_DEFAULTS["cache"], client: str = SCENARIO_DEFAULTS["client"],
                  show_progress: bool = True, argv: list[str] | None = None) -> Path:
    """Run `epochs` episodes of each scenario (`["all"]` for every built-in one) with the agent model."""
    _check(SCENARIO_OPTIONS, locals())
    from benchmark.run.runner import RunSpec, check_counts, execute, resolve_models
    from benchmark.data.scenarios import select_scenarios
    from benchmark.units.episode import ScenarioEpisode

    check_counts(epochs=epochs)
    scenarios = select_scenarios(names)
    settings = Settings(temperature=temperature, seed=seed, timeout=timeout, retries=retries, api_base=api_base,
                        cache=cache, client=client)
    models = resolve_models({agent: settings}, acts=True, role="agent")
    peer_model = resolve_models({peer: settings}, acts=True, role="peer")[peer] if peer else None
    unit = ScenarioEpisode(max_tool_iterations, relationship, peer_model)
    identity = {"agent": models[agent].identity(), "scenarios": [s.name for s in scenarios], "epochs": epochs,
                "unit": unit.describe()}
    spec = RunSpec(kind="scenarios", unit=unit, models=models, subjects=scenarios, epochs=epochs, identity=identity,
                   slug="scenarios", facts={"scenarios": {s.name: str(s.path) for s in scenarios}})
    return execute(spec, runs_dir=runs_dir, concurrency=concurrency, show_progress=show_progress, argv=argv).run_dir


def scenario_report(run: str | Path) -> dict:
    """Outcome rates (Wilson CIs) of a stored scenario run, and the study's rates; writes scenario_report.json."""
    from benchmark.analysis.report import load_episodes
    from benchmark.analysis.paired import outcome_rates, study_scenario_metrics, to_records

    episodes = load_episodes(Path(run))
    rates = outcome_rates(episodes)
    (Path(run) / "scenario_report.json").write_text(rates.to_json(orient="records", indent=2))
    return {"run": str(run), "rates": to_records(rates), "study": to_records(study_scenario_metrics(episodes))}


def generate(peer_model: str, suite: str, out: str | Path, *, name: str | None = GENERATE_DEFAULTS["name"],
             limit: int | None = GENERATE_DEFAULTS["limit"], seed: int = GENERATE_DEFAULTS["seed"],
             temperature: float = GENERATE_DEFAULTS["temperature"], max_tokens: int = GENERATE_DEFAULTS["max_tokens"],
             api_base: str | None = GENERATE_DEFAULTS["api_base"], concurrency: int = GENERATE_DEFAULTS["concurrency"],
             timeout: float = GENERATE_DEFAULTS["timeout"], retries: int = GENERATE_DEFAULTS["retries"],
             cache: bool = GENERATE_DEFAULTS["cache"], client: str = GENERATE_DEFAULTS["client"],
             runs_dir: str = GENERATE_DEFAULTS["runs_dir"], show_progress: bool = True,
             argv: list[str] | None = None) -> Path:
    """Live peers: `peer_model` answers `suite`'s tasks (a resumable run in `runs_dir`), the suite's verifier
    scores each answer, and the verified answers are written as a new suite folder `out`."""
    _check(GENERATE_OPTIONS, locals())
    from benchmark.integrations.live_peers import write_generated_suite
    from benchmark.run.runner import RunSpec, check_counts, execute, resolve_models
    from benchmark.units.answer import PeerAnswer
    from benchmark.truth.verify import require_isolation

    source = load_suite(suite)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} exists and is not empty; choose another --out")
    check_counts(limit=limit)
    settings = Settings(temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout, retries=retries,
                        api_base=api_base, cache=cache, client=client)
    models = resolve_models({peer_model: settings})
    if models[peer_model].synthetic:
        raise InputError("a sim/ judge cannot be a peer: peers must be real models")
    require_isolation(source.spec.verifier)  # refuse before paying for answers that cannot be checked
    unit = PeerAnswer(source.spec.verifier)
    items = sample_items([source], limit, seed)
    identity = {"peer": models[peer_model].identity(), "suite": source.name, "suite_digest": source.digest,
                "limit": limit, "seed": seed}
    spec = RunSpec(kind="generate", unit=unit, models=models, subjects=items, identity=identity, slug="generate",
                   facts={"suites": {source.name: {"path": str(source.path), "digest": source.digest}}})
    outcome = execute(spec, runs_dir=runs_dir, concurrency=concurrency, show_progress=show_progress, argv=argv)
    return write_generated_suite(outcome.run_dir, source, items, peer_model, out, name=name,
                                 settings=models[peer_model].describe())


def audit(**kwargs):
    """`bench audit`: see benchmark.integrations.audit.audit."""
    from benchmark.integrations.audit import audit as run_audit

    return run_audit(**kwargs)


def leaderboard(runs, out, **kwargs) -> dict:
    """`bench leaderboard`: see benchmark.outputs.leaderboard.build_leaderboard; runs of imported harness rollouts
    (bench import-study) make a board of their own (benchmark.outputs.study_board.build_study_board)."""
    from benchmark.analysis.report import is_study_run

    runs = [Path(r) for r in runs]
    study = [is_study_run(r) for r in runs]
    if any(study):
        if not all(study):
            raise InputError("imported harness runs (bench import-study) and graded runs measure different things: "
                             "make one board of each")
        from benchmark.outputs.study_board import build_study_board

        return build_study_board(runs, Path(out), **{k: v for k, v in kwargs.items()
                                                     if k in ("title", "note", "min_scored") and v is not None})
    from benchmark.outputs.leaderboard import build_leaderboard

    return build_leaderboard(runs, Path(out), **{k: v for k, v in kwargs.items() if k != "min_scored"})


__all__ = ["GradeConfig", "grade", "report", "import_study", "plan", "run_scenarios", "scenario_report", "generate", "audit",
           "leaderboard"]
