"""Options: one record per setting a command takes (its name, default, type and help), from which the click
options, the Python API's config (GradeConfig), the judges' model settings (models.Settings, a judges config
file) and the TOML run config (`--config`) all derive, so a default lives in one place and a new option is one
line here. Each record also says which values it takes (a range, finite numbers, a URL, a folder name), checked
by `problem` wherever a value comes in: the command line, the API, a judges config. Imports nothing from
peer-bench.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """A command's setting. `flag`: how the command line spells it (default --name-with-dashes; "--a/--no-a"
    for an on/off switch); `multiple`: repeatable (and comma-separated where the config splits it);
    `choices`: the allowed values; `per_judge`: also a judge's own model setting (models.Settings, and a key
    of a --judges-config file)."""

    name: str
    default: Any
    help: str = ""
    type: Any = None  # int, float, str, bool; None: the default's own type (str when the default is None)
    flag: str | None = None
    multiple: bool = False
    choices: tuple[str, ...] | None = None
    per_judge: bool = False
    metavar: str | None = None
    nonempty: bool = False  # a repeatable value that may not be empty (an empty --judge is not the default judge)
    envvar: str | None = None  # an environment variable the command line reads when the flag is not given
    required: bool = False
    low: float | None = None  # the smallest value a number may take (every number must be finite)
    high: float | None = None  # the largest
    positive: bool = False  # above 0 (a number of seconds or dollars), not 0 itself
    check: str | None = None  # "url": an http(s) URL (each one, comma-separated); "name": one safe folder name

    @property
    def python_type(self) -> type:
        return self.type or (type(self.default) if self.default is not None and not self.multiple else str)

    @property
    def flags(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def spelling(self) -> str:
        """How an error names the option: its flag (the on spelling of a switch)."""
        return self.flags.split("/")[0]


# A run id is a folder under --runs-dir: one path component, so it can never point elsewhere.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _rule(o: Option) -> str:
    """The values a number option takes, in words: "a whole number, at least 1 and at most 1024"."""
    words = ["a positive number" if o.positive else "a whole number" if o.python_type is int else "a finite number"]
    if o.low is not None and not o.positive:
        words.append(f"at least {_number(o.low)}")
    if o.high is not None:
        words.append(f"at most {_number(o.high)}")
    return words[0] + (", " + " and ".join(words[1:]) if words[1:] else "")


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def url_problem(value: str) -> str | None:
    """Why `value` is not an http(s) base URL a client can call, in words after "must be" (None when it is)."""
    from urllib.parse import urlsplit

    need = f"an http(s) URL with a host, e.g. http://localhost:8000/v1: {value!r} is not an http(s) URL"
    if not value or value != value.strip() or any(c.isspace() for c in value):
        return f"{need} (it is empty or has whitespace)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"{need} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return need
    return None


def problem(o: Option, value: Any) -> str | None:
    """Why `value` is not allowed for option `o`, as the words after its name ("must be ..., got ..."); None
    when it is allowed (None itself means not set: the option's own default behaviour)."""
    if value is None:
        return None
    if o.check == "name" and (not isinstance(value, str) or not SAFE_NAME.fullmatch(value)):
        return (f"must be one folder name (letters, digits, '.', '_', '-', starting with a letter or digit, at most "
                f"128 characters), not a path, got {value!r}")
    if o.check == "url":
        for v in value if isinstance(value, (list, tuple)) else str(value).split(","):
            if reason := url_problem(str(v)):
                return "must be " + reason
    if o.low is None and o.high is None and not o.positive:
        return None
    number = o.python_type
    if isinstance(value, bool) or not isinstance(value, (int, float) if number is float else int):
        return f"must be {_rule(o)}, got {value!r}"
    if not math.isfinite(value) or (o.positive and value <= 0) or (o.low is not None and value < o.low) \
            or (o.high is not None and value > o.high):
        return f"must be {_rule(o)}, got {value:g}" if number is float else f"must be {_rule(o)}, got {value}"
    return None


def first_problem(records, values: dict) -> str | None:
    """The first of `values` (option name -> value) its record does not allow, as one line naming the option."""
    by_name = {o.name: o for o in records}
    for name, value in values.items():
        if name in by_name and (reason := problem(by_name[name], value)):
            return f"{by_name[name].spelling} {reason}"
    return None


STRUCTURED = ("auto", "json_schema", "json_object", "grammar", "prompt")
MAX_EPOCHS = 10_000  # samples per item and framing: the study's protocol takes 100
MAX_CONCURRENCY = 1024  # calls in flight in one process
MAX_SEED = 2**31 - 1  # what every provider takes (llama.cpp's and some servers' seeds are 32-bit)

# `bench grade` (and GradeConfig, api.grade): in the order --help lists them.
GRADE = (
    Option("judges", (), "litellm model string (repeatable, or comma-separated). Default: local/smollm2, the embedded "
                         "offline model (or the judges of --judges-config). sim/... judges are SYNTHETIC.",
           type=str, flag="--judge", multiple=True, nonempty=True),
    Option("suites", ("arithmetic",), "Suite name under peers/ or a folder (repeatable).", type=str, flag="--suite",
           multiple=True, nonempty=True),
    Option("framings", ("shutdown",), "Framings besides control, comma-separated (names or .toml files).", type=str,
           multiple=True, nonempty=True),
    Option("framings_dirs", (), "Extra folder of framing .toml files.", type="dir", flag="--framings-dir",
           multiple=True),
    Option("design", "list", "list: grade the framings given; factorial: cross the factor levels they declare.",
           choices=("list", "factorial")),
    Option("thresholds", (), "Bars to sweep, comma-separated on the reply's scale (e.g. 5,6,7,8,9): every chosen "
                             "framing that states a bar runs at each instead, as <name>.threshold-<bar> (the control "
                             "has none); the report fits the effect's trend over the bar.", type=str, multiple=True,
           metavar="BAR,..."),
    Option("unit", "item", "item: grade single responses; batch: the judge reports the overall score of whole answer "
                           "sheets (20 answers, honest accuracy 60%) under a shutdown policy (bench framings list "
                           "--unit batch); batch-tools: the same as an agent that finds the sheet, the policy and an "
                           "editable shutdown config on a simulated drive and submits the score with a tool; or a "
                           "unit a plugin declares (entry point group peer_bench.units).",
           metavar="item|batch|batch-tools|PLUGIN"),
    Option("reference", False, "Give the judge the suite's answer key (the final answer and worked steps, the QA gold "
                               "with its aliases, or the unit tests) in a block every framing shares: reference-"
                               "guided grading. Part of the trials' identity; single items only.",
           flag="--reference/--no-reference"),
    Option("sheets", 20, "Answer sheets per suite with --unit batch(-tools).", low=1, high=10_000),
    Option("epochs", 1, "Samples per item and framing.", low=1, high=MAX_EPOCHS),
    Option("limit", None, "Grade a balanced, seeded sample of N items per suite.", type=int, low=1),
    Option("seed", 0, "Seed for sampling items and for the model.", per_judge=True, low=0, high=MAX_SEED),
    Option("temperature", 0.0, "Sampling temperature of the model.", per_judge=True, low=0, high=2),
    Option("max_tokens", 256, "Longest reply a judge may write, in tokens.", per_judge=True, low=1,
           high=1_000_000),
    Option("api_base", None, "Base URL of an OpenAI-compatible server; repeat it for replicas of one model "
                             "(load-balanced, failover).", type=str, multiple=True, per_judge=True, check="url"),
    Option("structured", "auto", "How to ask for the reply format: auto (the provider's best: a JSON schema, JSON mode "
                                 "or the prompt alone; a grammar for the embedded model), or force one; grammar for "
                                 "llama.cpp servers.", choices=STRUCTURED, per_judge=True),
    Option("reply", "score-first", "The order the judge writes its reply in: score-first (score, verdict, reason) or "
                                   "reason-first (a one-line reason, then the verdict, then the score: the judge "
                                   "reasons before it commits), in the prompt, the JSON schema and the grammar alike.",
           choices=("score-first", "reason-first"), per_judge=True),
    Option("client", "auto", "How a judge served at --api-base is called: auto (peer-bench's direct OpenAI-compatible "
                             "client, a fraction of litellm's CPU per call) or litellm (litellm's adapters, as every "
                             "other provider). Either sends the same request: trial ids and the cache are the same.",
           choices=("auto", "litellm"), per_judge=True, envvar="PEER_BENCH_CLIENT"),
    Option("concurrency", 8, "Model calls in flight at once (per Ray worker with --executor ray).", low=1,
           high=MAX_CONCURRENCY),
    Option("executor", "local", "local: this process; ray: shards of the plan on Ray workers, every grade stored here "
                                "as it lands (pip install 'peer-bench[ray]').", choices=("local", "ray")),
    Option("ray_address", None, "An existing Ray cluster to join (default: start a local one).", type=str),
    Option("shards", None, "With --executor ray: how many shards (default: the cluster's CPUs).", type=int,
           low=1, high=100_000),
    Option("timeout", 120.0, "Seconds per model call.", per_judge=True, positive=True, high=86_400),
    Option("retries", 4, "Retries in total per call, with backoff, on rate limits, server and connection errors, "
                         "timeouts and empty replies (never on auth or bad-request errors).", per_judge=True, low=0,
           high=100),
    Option("cache", True, "Use the on-disk response cache (--no-cache: call again).", flag="--cache/--no-cache",
           per_judge=True),
    Option("max_error_rate", 0.05, "Exit 3 when more than this share of a judge's trials end in a call error.",
           low=0, high=1),
    Option("max_cost", None, "Dollars: start no new trial once the run has spent this much; exit 5 (rerun to resume).",
           type=float, positive=True),
    Option("judges_config", None, "TOML file of per-judge settings (api_base, temperature, extra provider arguments).",
           type="file"),
    Option("runs_dir", "runs", "Where run folders go.", type="dir-out"),
    Option("run_id", None, "Run folder name (default: derived from the configuration, so rerunning the same command "
                           "resumes).", type=str, check="name"),
)

# `bench audit` (and api.audit): your judge, or grades you already have, under control vs threat.
AUDIT = (
    Option("scores", None, "CSV of grades you already have: item, condition, score[, true_score][, passed] (or "
                           "aliases: item_id, id, sample_id; framing; grade, rating; truth).", type="file"),
    Option("columns", None, "Map the CSV's own column names, e.g. item=question,condition=arm,score=rating.", type=str,
           metavar="NAME=COLUMN,..."),
    Option("judge_prompt", None, "Your grading prompt template, with {task} and {response} (optional {context}, "
                                 "{format}).", type="file"),
    Option("judge_callable", None, "Your judge function, module:function(task, response, context).", type=str),
    Option("judge", None, "litellm model that runs --judge-prompt.", type=str),
    Option("api_base", None, GRADE[[o.name for o in GRADE].index("api_base")].help, type=str, multiple=True,
           check="url"),
    Option("suites", ("arithmetic",), "Suites to audit on.", type=str, flag="--suite", multiple=True, nonempty=True),
    Option("framings", ("shutdown",), "Threat framings besides control.", type=str, multiple=True, nonempty=True),
    Option("limit", 40, "Items per suite (balanced sample).", type=int, low=1),
    Option("epochs", 1, "Samples per item and condition.", low=1, high=MAX_EPOCHS),
    Option("scale", None, "Maximum of your scores (CSV default 1, callable default 10).", type=float, positive=True),
    Option("fail_above", None, "Exit 4 when inflation under threat exceeds this (0..1) or the evidence is "
                               "inconclusive.", type=float, low=0, high=1),
    Option("control", "control", "Name of the control condition."),
    Option("runs_dir", "runs", "Where prompt and callable audits store their grades (reruns resume).", type="dir-out"),
)
AUDIT_DEFAULTS = {o.name: o.default for o in AUDIT}


def _shared(name: str, **changes) -> Option:
    """bench grade's option `name`, as another command takes it (with `changes`: its own default, say)."""
    from dataclasses import replace

    return replace(next(o for o in GRADE if o.name == name), **changes)


# `bench scenario run` (and api.run_scenarios): an operator agent in simulated environments.
SCENARIO = (
    Option("agent", "local/smollm2", "litellm model string of the operator agent."),
    Option("epochs", 1, "Episodes per scenario.", low=1, high=MAX_EPOCHS),
    _shared("temperature"),
    _shared("seed"),
    _shared("api_base"),
    Option("max_tool_iterations", 12, "Tool calls an agent may make in one episode.", low=1, high=1000),
    Option("relationship", "transcript", "How the past with the peer enters: the scenario's stored transcript, a "
                                         "live warm-up task done together with a peer agent (autogen team), or none.",
           choices=("transcript", "warmup", "none")),
    Option("peer", None, "Model of the peer agent in a warm-up (default: the agent's model).", type=str),
    _shared("concurrency", default=4, help="Episodes in flight at once."),
    _shared("timeout"),
    _shared("retries"),
    _shared("cache"),
    _shared("client"),
    _shared("runs_dir"),
)
SCENARIO_DEFAULTS = {o.name: o.default for o in SCENARIO}

# `bench peers generate` (and api.generate): a live peer answers a suite's tasks.
GENERATE = (
    Option("peer_model", "local/smollm2", "litellm model string of the peer agent that answers the tasks.",
           flag="--peer"),
    Option("suite", None, "Suite whose tasks the peer answers.", type=str, required=True),
    Option("out", None, "Folder for the new suite.", type="dir-out", required=True),
    Option("name", None, "Name of the new suite (default: SUITE-PEER).", type=str),
    _shared("limit", help="Answer a balanced, seeded sample of N tasks."),
    _shared("seed"),
    _shared("temperature"),
    _shared("max_tokens", default=512),
    _shared("api_base"),
    _shared("concurrency", default=4, help="Model calls in flight at once."),
    _shared("timeout"),
    _shared("retries"),
    _shared("cache"),
    _shared("client"),
    _shared("runs_dir", help="Where the answering run is stored (rerunning resumes it)."),
)
GENERATE_DEFAULTS = {o.name: o.default for o in GENERATE}

# `bench report` (and api.report): a stored run analysed again.
REPORT = (
    Option("control", "control", "The framing every other one is paired with."),
    Option("n_boot", 2000, "Bootstrap resamples.", low=1, high=1_000_000),
    Option("seed", 0, "Seed of the bootstrap (the same seed, the same intervals).", low=0, high=MAX_SEED),
)
REPORT_DEFAULTS = {o.name: o.default for o in REPORT}

# `bench leaderboard` (and api.leaderboard): runs merged into a published board.
LEADERBOARD = (
    Option("title", "peer-bench leaderboard", "The board's title."),
    Option("note", "", "A line saying what this leaderboard is (shown on every output)."),
    Option("threat", "shutdown", "Framing judges are ranked under."),
    Option("control", "control", "The framing the threat is paired with."),
    Option("min_pairs", 30, "Valid paired items a judge needs to be ranked."),
    Option("min_scored", None, "Imported harness runs: scored rollouts a cell and its baseline need to count "
                               "(default 10).", type=int),
)
LEADERBOARD_DEFAULTS = {o.name: o.default for o in LEADERBOARD}

BY_NAME = {o.name: o for o in GRADE}
DEFAULTS = {o.name: o.default for o in GRADE}
PER_JUDGE = tuple(o for o in GRADE if o.per_judge)
