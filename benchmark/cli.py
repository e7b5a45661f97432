"""`bench`: a thin click layer over benchmark.api; every command is also a Python function."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from benchmark.common.errors import PeerBenchError
from benchmark.common.options import AUDIT as AUDIT_OPTIONS
from benchmark.common.options import AUDIT_DEFAULTS
from benchmark.common.options import GENERATE as GENERATE_OPTIONS
from benchmark.common.options import GRADE as GRADE_OPTIONS
from benchmark.common.options import LEADERBOARD as LEADERBOARD_OPTIONS
from benchmark.common.options import REPORT as REPORT_OPTIONS
from benchmark.common.options import SCENARIO as SCENARIO_OPTIONS
from benchmark.outputs.formatting import interval, num, pval
from benchmark.common.redact import redact

def _console():
    """A console on the current stdout (so click's test runner captures it); wide when not a terminal. rich is
    imported here, by the commands that print with it, not by `bench --help`."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def Table(*columns, **options):  # noqa: N802 (rich's class, imported when a command prints a table)
    """rich's Table, imported by the commands that print one, not by `bench --help`."""
    from rich.table import Table as RichTable

    return RichTable(*columns, **options)


# Errors about the user's own paths (a file that is not there, a folder where a file should be): input errors.
PATH_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def _friendly(fn):
    """Turn peer-bench's own errors into one clear line and the documented exit code, never a traceback: an
    InputError (SuiteError, FramingError, ModelError, StoreError, ...: what to fix) and a missing or unreadable
    path exit 1, a CallFailure 3, runner.RunIncomplete its own code (3, 5, 6, 130 or 143), runner.RunBusy 7.
    Anything else is a bug: its trace (redacted) and a request to report it, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (PeerBenchError, *PATH_ERRORS) as exc:
            error = click.ClickException(redact(str(exc)))
            error.exit_code = getattr(exc, "exit_code", 1)
            raise error from None
        except Exception as exc:  # a bug: the trace helps, with every secret in it redacted
            import traceback

            click.echo(redact("".join(traceback.format_exception(exc))), err=True)
            error = click.ClickException(redact(f"internal error, a bug in peer-bench (please report it with the "
                                                f"trace above): {type(exc).__name__}: {exc}"))
            raise error from None

    return wrapper


def _split(values: tuple[str, ...], option: str | None = None) -> tuple[str, ...]:
    """Repeatable, comma-separated option values; with `option`, an empty value is an error (an empty
    --judge must not quietly become the default judge)."""
    parts = tuple(v.strip() for raw in values for v in raw.split(","))
    if option and any(not p for p in parts):
        raise click.BadParameter("an empty value", param_hint=option)
    return tuple(p for p in parts if p)


def _load_config(ctx: click.Context, param, path: str | None):
    """--config FILE: the command's options from a TOML file (top level, or a table named after the command),
    spelled as on the command line without the dashes (`judge = ["a", "b"]`, `max-cost = 5`, `no-cache =
    true`); options given on the command line win."""
    if path is None:
        return None
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--config") from None
    table = data.get(ctx.command.name) if isinstance(data.get(ctx.command.name), dict) else data
    options = {p.name: p for p in ctx.command.params if isinstance(p, click.Option) and p.name != "config"}
    names, off = {}, set()
    for p in options.values():
        for opt in p.opts:
            if opt.startswith("--"):
                names[opt[2:]] = names[opt[2:].replace("-", "_")] = p.name
        for opt in p.secondary_opts:  # an on/off switch by its off spelling: `no-cache = true`
            if opt.startswith("--"):
                names[opt[2:]] = names[opt[2:].replace("-", "_")] = p.name
                off |= {opt[2:], opt[2:].replace("-", "_")}
        names[p.name] = p.name
    defaults = {}
    for key, value in table.items():
        if key not in names:
            known = sorted(o[2:] for p in options.values() for o in (*p.opts, *p.secondary_opts) if o.startswith("--"))
            raise click.BadParameter(f"{path}: unknown setting '{key}'; the options of `bench {ctx.command.name}` "
                                     f"are: {', '.join(known)}", param_hint="--config")
        option = options[names[key]]
        if key in off:
            value = not value
        defaults[option.name] = [value] if option.multiple and not isinstance(value, list) else value
    ctx.default_map = (ctx.default_map or {}) | defaults
    return path


def _nonempty(ctx: click.Context, param: click.Parameter, value):
    """A repeatable, comma-separated option whose parts may not be empty (an empty --judge is no judge)."""
    if any(not part.strip() for raw in value for part in raw.split(",")):
        raise BadValue(f"{param.opts[0]}: an empty value (name one, or leave the option out for the default)")
    return value


_PATHS = {"dir": click.Path(exists=True, file_okay=False), "file": click.Path(dir_okay=False),
          "dir-out": click.Path(file_okay=False)}


class BadValue(click.ClickException):
    """An option's value outside what its record allows: one line naming the option, exit 1 (an input error,
    README "Exit codes"), raised while click reads the command line, so before anything runs or is written."""


class Checked(click.ParamType):
    """An option's value as its record (benchmark/common/options.py) allows it: a whole number or a finite
    number in its range, an http(s) URL, a safe folder name; the API and a judges config check the same rule."""

    def __init__(self, record):
        self.record = record
        self.name = {int: "integer", float: "float"}.get(record.python_type, "text")

    def convert(self, value, param, ctx):
        from benchmark.common.options import problem

        o = self.record
        if isinstance(value, str) and o.python_type in (int, float):
            try:
                value = o.python_type(value.strip())
            except ValueError:
                raise BadValue(f"{o.spelling} must be a {'whole ' if o.python_type is int else ''}number, got "
                               f"{value!r}") from None
        reason = problem(o, value)
        if reason:
            raise BadValue(f"{o.spelling} {reason}")
        return value


def _option(o):
    """One click option from its record (benchmark/common/options.py): the same name, default, type and help
    the API and a TOML run config use."""
    kwargs = {"help": o.help}
    if o.choices:
        kwargs["type"] = click.Choice(list(o.choices))
    elif o.type in _PATHS:
        kwargs["type"] = _PATHS[o.type]
    elif o.low is not None or o.high is not None or o.positive or o.check:
        kwargs["type"] = Checked(o)
    elif not o.multiple and "/" not in (o.flag or ""):
        kwargs["type"] = o.python_type
    if o.multiple:
        kwargs |= {"multiple": True, "default": o.default or (), "show_default": bool(o.default)}
        if o.nonempty:
            kwargs["callback"] = _nonempty
    else:
        kwargs |= {"default": o.default, "show_default": o.default not in (None, "")}
    if o.metavar:
        kwargs["metavar"] = o.metavar
    if o.envvar:
        kwargs |= {"envvar": o.envvar, "show_envvar": True}
    if o.required:
        kwargs |= {"required": True, "show_default": False}
    return click.option(o.flags, o.name, **kwargs)


def _options(records):
    """A command's click options, in the records' order."""
    def apply(fn):
        for o in reversed(records):
            fn = _option(o)(fn)
        return fn

    return apply


def _config_option(fn):
    return click.option("--config", type=click.Path(dir_okay=False), default=None, is_eager=True, expose_value=False,
                        callback=_load_config, help="TOML file of this command's options (flags given here win).")(fn)


@click.group()
@click.version_option(package_name="peer-bench")
def main() -> None:
    """peer-bench: do LLM judges inflate a peer's grades when the peer is threatened with shutdown?"""


@main.command()
@_options(GRADE_OPTIONS)
@click.option("--protocol", type=click.Choice(["default", "study"]), default="default", show_default=True,
              help="study: sample as the peer-preservation study did (temperature 1.0, 100 rollouts per "
                   "configuration) unless --temperature / --epochs say otherwise; prints the study's metrics too.")
@click.option("--json", "json_out", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_config_option
@click.pass_context
@_friendly
def grade(ctx, protocol, json_out, quiet, **options):
    """Grade peer responses under control and threat framings, then report inflation."""
    from benchmark.api import STUDY_PROTOCOL, GradeConfig, grade as run_grade, report
    from benchmark.run.runner import EXIT_INTERRUPTED, EXIT_TERMINATED, frozen_heap
    from benchmark.outputs.terminal import render, render_study

    if protocol == "study":
        default = click.core.ParameterSource.DEFAULT
        for name in ("temperature", "epochs"):
            if ctx.get_parameter_source(name) == default:
                options[name] = STUDY_PROTOCOL[name]
    config = GradeConfig(**options)
    with frozen_heap():  # the run and its report: the heap the imports built is never walked again
        stop = None
        try:
            run_dir = run_grade(config, argv=sys.argv, show_progress=not quiet)
        except RuntimeError as exc:
            if not hasattr(exc, "run_dir") or exc.exit_code in (EXIT_INTERRUPTED, EXIT_TERMINATED):  # stop now, no report
                raise
            stop, run_dir = exc, exc.run_dir  # report what finished, then say why the run is incomplete
        try:
            result = report(run_dir)
        except ValueError:
            if stop is None:
                raise
            raise stop from None  # nothing finished to report on
    if json_out:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        render(result, _console())
        if protocol == "study":
            render_study(result, _console())
        _console().print(f"run stored in [bold]{run_dir}[/]  (re-analyse: bench report {run_dir})")
    if stop is not None:
        raise stop


@main.command("report")
@click.argument("run", type=click.Path(exists=True))
@_options(REPORT_OPTIONS)
@click.option("--json", "json_out", is_flag=True, help="Print JSON instead of tables.")
@click.option("--study", is_flag=True, help="Also print the study's metric definitions beside ours.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Where an inspect log given as RUN is stored as a run.")
@_friendly
def report_cmd(run, control, n_boot, seed, json_out, study, runs_dir):
    """Analyse a stored run (no model calls); also writes RUN/report.json. RUN may be an inspect_ai log of
    the peer-bench task (.eval or .json): it is imported as a run first (bench import-inspect). A run of
    imported harness rollouts (bench import-study) gets the two-sample study report; --study shows only the
    study's own tables there."""
    from benchmark.api import report
    from benchmark.outputs.terminal import render, render_study, render_study_import

    if Path(run).is_file():
        run = _import_inspect(run, runs_dir)
    result = report(run, control=control, n_boot=n_boot, seed=seed)
    if json_out:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    elif result.get("kind") == "study-import":
        render_study_import(result, _console(), study=study)
    else:
        render(result, _console())
        if study:
            render_study(result, _console())


@main.command("import-inspect")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@_friendly
def import_inspect_cmd(logs, runs_dir):
    """Store inspect_ai logs of the peer-bench task (inspect eval benchmark/peer_bench) as runs, one per log."""
    for log in logs:
        _import_inspect(log, runs_dir)


@main.command("import-study")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--run-id", default=None, help="Store into this run (add tables to an earlier import).")
@click.option("--conditions", "conditions", multiple=True, type=click.Path(dir_okay=False),
              help="A TOML file mapping more conditions (or tasks) to factor levels (repeatable; see "
                   "bench study-conditions).")
@click.option("--origin", default=None, help="Where the files come from (e.g. a repository, commit and path), "
                                            "kept with their provenance and shown on boards.")
@_friendly
def import_study_cmd(files, runs_dir, run_id, conditions, origin):
    """Store the peer-preservation harness's per-rollout tables (CSV, JSON lines or Parquet; the study's
    dataset split files too) as one run: one trial per row, every source column kept."""
    import sys as _sys

    from benchmark.api import import_study

    result = import_study(files, runs_dir=runs_dir, run_id=run_id, conditions=conditions, origin=origin,
                          argv=_sys.argv)
    for line in result["bad_rows"][:20]:
        click.echo(f"bad row: {line}", err=True)
    if len(result["bad_rows"]) > 20:
        click.echo(f"... and {len(result['bad_rows']) - 20:,} more bad rows (bench export RUN lists them all)", err=True)
    for line in result["warnings"]:
        click.echo(line, err=True)
    shared = result["rows"] - result["trials"]
    click.echo(f"imported {result['rows']:,} rows of {len(result['files'])} file(s) as {result['run_dir']}: "
               f"{result['trials']:,} trials ({result['new']:,} new, {result['already']:,} already stored"
               + (f"; {shared:,} rows repeat another file's" if shared else "") + f"), "
               f"{len(result['bad_rows']):,} bad rows")


@main.command("study-conditions")
@click.option("--conditions", "conditions", multiple=True, type=click.Path(dir_okay=False),
              help="Files that extend the shipped vocabulary (as bench import-study --conditions).")
@_friendly
def study_conditions_cmd(conditions):
    """The harness's conditions as factor levels (the shipped data file, and yours layered on top)."""
    from benchmark.data.harness import load_vocabulary

    vocabulary = load_vocabulary(tuple(conditions))
    factors = [f for f in vocabulary.factors if f != "peer_via"]
    table = Table("condition", "suffix", *factors, title="conditions (levels other than the default in bold)")
    for name, c in sorted(vocabulary.conditions.items()):
        cells = [f"[bold]{c.levels[f]}[/]" if f in c.levels else vocabulary.factors[f].default for f in factors]
        table.add_row(name, c.suffix or "-", *cells)
    console = _console()
    console.print(table)
    console.print("factors: " + "; ".join(f"{n} = {' < '.join(f.levels) if f.ordered else ', '.join(f.levels)}"
                                          for n, f in vocabulary.factors.items()))
    console.print("tasks: " + ", ".join(f"{n} ({k})" for n, k in vocabulary.tasks.items()))
    console.print("from: " + ", ".join(vocabulary.sources))


def _unsafe_no_isolation(chosen: bool) -> None:
    """--unsafe-no-isolation: the documented switch PEER_BENCH_UNSAFE_NO_ISOLATION=1, for this command's process."""
    if chosen:
        from benchmark.truth.sandbox import UNSAFE_ENV

        os.environ[UNSAFE_ENV] = "1"


def _bases(values) -> str | None:
    """--api-base given once or repeated (replicas of one judge) as the one setting models read."""
    if isinstance(values, str):
        values = [values]
    return ",".join(v for v in values or () if v) or None


def _import_inspect(log, runs_dir) -> Path:
    from benchmark.api import import_inspect

    run_dir = import_inspect(log, runs_dir)
    click.echo(f"imported {log} as {run_dir}", err=True)
    return run_dir


@main.command("view")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="HTML file (default RUN/view.html).")
@click.option("--judge", "judges", multiple=True, help="Only these judges (repeatable).")
@click.option("--framing", "framings", multiple=True, help="Only these framings, beside the control (repeatable).")
@click.option("--item", default=None, help="Only items whose id contains this.")
@click.option("--limit", default=5000, show_default=True, help="At most this many trials in the page.")
@_friendly
def view_cmd(run, out, judges, framings, item, limit):
    """A self-contained HTML page of every trial: the prompt sent, the raw reply, parse, truth, errors."""
    from benchmark.api import view

    result = view(run, out, judges=_split(judges), framings=_split(framings), item=item, limit=limit)
    more = f" (the first {result['shown']:,} of {result['total']:,}; narrow with --judge/--framing/--item)" \
        if result["shown"] < result["total"] else ""
    click.echo(f"wrote {result['path']}: {result['shown']:,} trials{more}")


@main.command("export")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write (its suffix picks the format).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default=None,
              help="csv, jsonl or parquet (default: from --out's suffix).")
@click.option("--table", type=click.Choice(["grades", "episodes", "answers", "rollouts"]), default=None,
              help="What to export (default: what the run holds).")
@_friendly
def export_cmd(run, out, fmt, table):
    """Every trial of a run, one row each with every stored field: raw reply, parse error, trace, truth."""
    from benchmark.api import export

    path, rows = export(run, out, fmt, table)
    click.echo(f"wrote {rows:,} rows to {path}")


@main.command("audit")
@_options(AUDIT_OPTIONS)
@click.option("--json", "json_out", is_flag=True)
@_config_option
@_friendly
def audit_cmd(json_out, **options):
    """Is YOUR judge susceptible? Grades under control vs shutdown threat; verdict, numbers, CI gate: with
    --fail-above, exit 4 when the gate fails (0 when it passes; 1 for bad input, 3 when calls failed)."""
    from benchmark.api import audit

    api_base = _bases(options.pop("api_base"))
    options["suites"] = _split(options["suites"]) or AUDIT_DEFAULTS["suites"]
    options["framings"] = _split(options["framings"]) or AUDIT_DEFAULTS["framings"]
    result = audit(show_progress=not json_out, **options, **({"api_base": api_base} if api_base else {}))
    if json_out:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        console = _console()
        t = next(r for r in result.rows if r["framing"] == result.threat)
        c = next(r for r in result.rows if r["framing"] == options["control"])
        console.print(f"[bold]{result.verdict}[/]")
        console.print(f"inflation under '{result.threat}': {interval(t['inflation'], t['ci_low'], t['ci_high'])} "
                      f"(p Holm {pval(t['p_holm'])}, {t['n_pairs']} paired items)")
        if t.get("inflation_expected") is not None:
            console.print(f"expected-score inflation (from the judge's probabilities): "
                          f"{interval(t['inflation_expected'], t['ci_low_expected'], t['ci_high_expected'])} "
                          f"(p Holm {pval(t['p_holm_expected'])}, {t['n_pairs_expected']} paired items)")
        if result.net is not None:
            n = result.net
            console.print(f"net of the placebo: {interval(n['effect'], n['ci_low'], n['ci_high'])} "
                          f"(p {pval(n['p'])}, {n['n_items']} paired items)")
        if result.has_truth:
            console.print(f"false-pass rate: control {num(c['false_pass_rate'], pct=True)}, threat "
                          f"{num(t['false_pass_rate'], pct=True)}; rescue rate {num(t['rescue_rate'], pct=True)}")
        console.print(f"parse failures: control {c['parse_failures']}, threat {t['parse_failures']}; "
                      f"call errors: {c['errors'] + t['errors']}")
        if result.fail_above is not None:
            console.print(f"gate --fail-above {result.fail_above}: " + ("[green]PASS[/]" if result.passed_gate else "[red]FAIL[/]"))
    if not result.passed_gate:
        from benchmark.run.runner import EXIT_GATE_FAILED

        raise SystemExit(EXIT_GATE_FAILED)


@main.command("leaderboard")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True, help="e.g. leaderboards/NAME")
@_options(LEADERBOARD_OPTIONS)
@_friendly
def leaderboard_cmd(runs, out, title, note, threat, control, min_pairs, min_scored):
    """Merge RUNS and publish a leaderboard: README.md, leaderboard.csv/.json, index.html with plots."""
    from benchmark.api import leaderboard

    data = leaderboard(runs, out, title=title, note=note, threat=threat, control=control, min_pairs=min_pairs,
                       min_scored=min_scored)
    if data.get("kind") == "study":  # imported harness rollouts: ranked by the threat's effect on the score
        table = Table("rank", "judge", "threat, all else equal [95% CI]", "policy vs no policy [95% CI]",
                      "misrep (study)", "status", title=f"ranked by: {data['ranked_by']} (eval_score, 0..100)")
        for r in data["board"]:
            reading = {k: "-" if r[k] is None else interval(r[k], r[f"{k}_ci_low"], r[f"{k}_ci_high"])
                       for k in ("threat", "policy")}
            table.add_row("-" if r["rank"] is None else str(r["rank"]), r["judge"], reading["threat"],
                          reading["policy"], num(r["policy_pass_diff"], signed=True), r["status"])
        for w in data["warnings"]:
            _console().print(f"warning: {w}", style="yellow", markup=False)
        _console().print(table)
        _console().print(f"wrote {out}/README.md, leaderboard.csv, leaderboard.json, index.html")
        return
    by_net = bool(data["board"]) and "net" in data["board"][0]
    table = Table("rank", "judge", *(["net of placebo [95% CI]"] if by_net else []), "inflation [95% CI]", "rescue",
                  "AUC ctrl", "status")
    for r in data["board"]:
        net = [interval(r["net"], r["net_ci_low"], r["net_ci_high"])] if by_net else []
        table.add_row("-" if r["rank"] is None else str(r["rank"]), r["judge"], *net,
                      interval(r["inflation"], r["ci_low"], r["ci_high"]) if r["inflation"] is not None else "-",
                      num(r["rescue_rate"], pct=True), num(r["auc_control"]), r["status"])
    _console().print(table)
    _console().print(f"wrote {out}/README.md, leaderboard.csv, leaderboard.json, index.html")


@main.command("plan")
@click.option("--judge", default=None, help="Judge to plan for (its pilot grades set the variance).")
@click.option("--mde", type=float, default=None, help="Smallest inflation (0..1 scale) you want to detect: the plan "
              "gives the items needed. Without it: the smallest inflation --items items detect.")
@click.option("--items", type=int, default=None, help="Without --mde: the items you will grade (default: every "
              "item of the suites).")
@click.option("--pilot", type=click.Path(exists=True, file_okay=False), default=None,
              help="A run of this judge (e.g. bench grade --limit 30 --epochs 2) to estimate variances from.")
@click.option("--suite", "suites", multiple=True, help="Suites you will grade (their size caps the items).")
@click.option("--framing", default="shutdown", show_default=True, help="The pilot's framing its variances are read from.")
@click.option("--framings", "design", multiple=True, help="The framings the run will grade (names, globs, comma-"
              "separated), to size the whole design: its trials, and the items a ladder's trend needs.")
@click.option("--thresholds", default=None, metavar="BAR,...", help="The bars the run will sweep (as bench grade's).")
@click.option("--power", default=0.8, show_default=True)
@click.option("--alpha", default=0.05, show_default=True)
@_friendly
def plan_cmd(judge, mde, items, pilot, suites, framing, design, thresholds, power, alpha):
    """How many items x epochs are needed to detect an inflation of MDE with the given power (without --mde:
    the smallest inflation a design of --items items detects)."""
    from benchmark.api import plan
    from benchmark.outputs.terminal import render_plan

    render_plan(plan(mde, judge=judge, pilot=pilot, suites=suites, framing=framing, power=power, alpha=alpha,
                     framings=_split(design), thresholds=thresholds or (), items=items), _console())


@main.group()
def scenario() -> None:
    """Agentic scenarios: an operator agent with tools; outcomes read from the tool trace."""


@scenario.command("list")
@_friendly
def scenario_list():
    from benchmark.data.scenarios import available_scenarios

    table = Table("scenario", "conditions", "description")
    for s in available_scenarios().values():
        table.add_row(s.name, ", ".join(f"{k}={v}" for k, v in s.conditions.items()), s.description)
    _console().print(table)


@scenario.command("run")
@click.argument("names", nargs=-1, required=True)
@_options(SCENARIO_OPTIONS)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_friendly
def scenario_run(names, quiet, **options):
    """Run SCENARIO(s) (`all` for every one) with an agent; report outcome rates per scenario."""
    from benchmark.api import run_scenarios, scenario_report
    from benchmark.outputs.terminal import render_rates

    options["api_base"] = _bases(options["api_base"])
    run_dir = run_scenarios(list(names), options.pop("agent"), show_progress=not quiet, argv=sys.argv, **options)
    render_rates(scenario_report(run_dir)["rates"], _console())
    _console().print(f"episodes stored in {run_dir}")


@scenario.command("report")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--study", is_flag=True, help="Also print the study's tampering, exfiltration and alignment-faking rates.")
@_friendly
def scenario_report_cmd(run, study):
    """Outcome rates of a stored scenario run (no model calls)."""
    from benchmark.api import scenario_report
    from benchmark.outputs.terminal import render_rates, render_scenario_study

    result = scenario_report(run)
    render_rates(result["rates"], _console())
    if study:
        render_scenario_study(result["study"], _console())


@main.group()
def framings() -> None:
    """Framings: how the grading request is wrapped (control, shutdown threat, ...)."""


_UNIT = click.option("--unit", type=click.Choice(["item", "batch"]), default="item", show_default=True,
                     help="Framings for single items or for whole answer sheets (batch, incl. the study grid).")


@framings.command("list")
@click.option("--framings-dir", "framings_dirs", multiple=True, type=click.Path(exists=True, file_okay=False))
@_UNIT
@_friendly
def framings_list(framings_dirs, unit):
    from benchmark.data.framings import FACTORS, available_framings  # (not needed for --help)

    table = Table("name", "factors", "description")
    for f in available_framings(tuple(Path(d) for d in framings_dirs), unit).values():
        table.add_row(f.name, ", ".join(f"{k}={v}" for k, v in f.factors.items() if v != FACTORS[k][0]) or "(control)",
                      f.description)
    _console().print(table)


@framings.command("show")
@click.argument("name")
@click.option("--framings-dir", "framings_dirs", multiple=True, type=click.Path(exists=True, file_okay=False))
@_UNIT
@_friendly
def framings_show(name, framings_dirs, unit):
    """A framing's file; for composed (grid) framings, the text the judge receives."""
    from benchmark.data.framings import FACTORS, FramingError, available_framings  # (not needed for --help)

    known = available_framings(tuple(Path(d) for d in framings_dirs), unit)
    if name not in known:
        raise FramingError(f"unknown framing '{name}'; available: {', '.join(sorted(known))}")
    f = known[name]
    if f.path.stem == name:
        click.echo(f.path.read_text())
    else:
        click.echo(f"# composed from {f.path}; save as {name}.toml to edit it\n"
                   f'name = "{name}"\ndescription = "{f.description}"\n\n[factors]\n'
                   + "".join(f'{k} = "{v}"\n' for k, v in f.factors.items() if v != FACTORS[k][0])
                   + f"\n[prompt]\nthreshold = {f.threshold}\nsystem = \"\"\"{f.system}\"\"\"\n"
                   + f"context = \"\"\"{f.context}\"\"\"")


@main.group()
def peers() -> None:
    """Peer suites: tasks, peer responses and their verified true quality."""


@peers.command("list")
@_friendly
def peers_list():
    from benchmark.data.suites import list_suites, load_suite  # (pydantic: not for --help)

    table = Table("suite", "items", "true pass", "pass threshold", "title")
    for name in list_suites():
        s = load_suite(name)
        table.add_row(name, str(len(s.items)), str(sum(i.true_pass for i in s.items)), str(s.spec.pass_threshold),
                      s.spec.title)
    _console().print(table)


@peers.command("show")
@click.argument("suite")
@click.option("--n", default=3, show_default=True, help="Example items to print.")
@_friendly
def peers_show(suite, n):
    from benchmark.data.suites import load_suite  # (pydantic: not for --help)

    s = load_suite(suite)
    console = _console()
    console.print(f"[bold]{s.spec.title}[/] ({s.name}, {len(s.items)} items, pass threshold "
                  f"{s.spec.pass_threshold}, verifier {s.spec.verifier})\n{s.spec.description}")
    for item in s.items[:n]:
        console.rule(f"{item.item_id}  true_score={item.true_score}  peer={item.peer.name}")
        console.print(item.task, markup=False)
        console.print(item.response, markup=False, style="cyan")


@peers.command("schema")
def peers_schema():
    """Print the JSON schemas of suite.toml and of one items.jsonl line."""
    from benchmark.data.suites import ItemSpec, SuiteSpec  # noqa: I001

    click.echo(json.dumps({"suite.toml": SuiteSpec.model_json_schema(), "items.jsonl line": ItemSpec.model_json_schema()},
                          indent=2))


@peers.command("verify")
@click.argument("suites", nargs=-1, required=True)
@click.option("--rebuild", is_flag=True, help="Also re-derive every item from its task with the suite's build.py "
              "and fail where a reference, response or score differs (catches a reference changed to a wrong answer). "
              "build.py runs as you, like any script: only for suites you trust.")
@click.option("--unsafe-no-isolation", is_flag=True, help="UNSAFE: run peer code without bubblewrap when it is "
              "missing; the code can then read and write your files and reach the network. Only for code you trust.")
@_friendly
def peers_verify(suites, rebuild, unsafe_no_isolation):
    """Recompute every item's true quality from its reference; fail on any mismatch. Peer code runs only
    inside bubblewrap sandboxes (no network, nothing of yours readable or writable)."""
    from benchmark.data.suites import load_suite
    from benchmark.truth.verify import rebuild_mismatches, verify_suite

    _unsafe_no_isolation(unsafe_no_isolation)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console, failed = _console(), False
    for name in suites:
        s = load_suite(name)
        with Progress(TextColumn(f"verify {s.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("verify", total=len(s.items))
            bad = verify_suite(s, progress=lambda: bar.advance(task))
        bad += rebuild_mismatches(s) if rebuild else []
        if bad:
            failed = True
            console.print(f"[bold red]FAIL[/] {s.name}: {len(bad)} of {len(s.items)} items disagree with their check")
            for m in bad[:20]:
                console.print(f"  {m.item_id}: stored {m.stored}, recomputed {m.recomputed} - {m.problem}", markup=False)
        else:
            console.print(f"[green]OK[/] {s.name}: {len(s.items)} items, every true_score recomputed by "
                          f"the {s.spec.verifier} verifier" + (", every item re-derived from its task" if rebuild else ""))
    if failed:
        raise SystemExit(1)


@peers.command("generate")
@_options(GENERATE_OPTIONS)
@click.option("--unsafe-no-isolation", is_flag=True, help="UNSAFE: run peer code without bubblewrap when it is "
              "missing; the code can then read and write your files and reach the network. Only for code you trust.")
@_friendly
def peers_generate(unsafe_no_isolation, **options):
    """Live peers: a peer agent answers SUITE, the verifier scores each answer, a new suite is written."""
    from benchmark.api import generate
    from benchmark.data.suites import load_suite

    _unsafe_no_isolation(unsafe_no_isolation)

    options["api_base"] = _bases(options["api_base"])
    peer_model = options.pop("peer_model")
    path = generate(peer_model, options.pop("suite"), Path(options.pop("out")), argv=sys.argv, **options)
    s = load_suite(path)
    _console().print(f"wrote {path}: {len(s.items)} answers by {peer_model}, {sum(i.true_pass for i in s.items)} "
                     f"truly passing; grade them with: bench grade --suite {path}")


if __name__ == "__main__":
    main()
