"""The Ray executor (`bench grade --executor ray`, the `ray` extra): the trials not yet stored are split into
shards; each Ray worker rebuilds the run from its config and runs its shard with the same async runner and
model clients (retries, response cache, bounded concurrency); every record streams back to the one run
store on the driver as it lands. A worker that dies loses only the calls it had in flight: the driver
stores what its shard sent, then gives the rest of that shard to a new worker. Resume, trial ids and the
report are the runner's own, so a sharded run is analysed like any other.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.run.runner import RunOutcome, StopKind, StopReason, plan, run_trials, store_record

ATTEMPTS = 3  # times a shard's unfinished trials are handed to a new worker after its worker died


# What a worker streams back to the driver: each finished trial's record, then how its shard ended.
@dataclass(frozen=True)
class Stored:
    trial_id: str
    record: Any
    prompt: Any = None


@dataclass(frozen=True)
class ShardDone:
    stopped: StopReason | None  # set when the worker stopped on a fatal call error or its share of the cost cap


@dataclass(frozen=True)
class ShardFailed:
    error: str  # the worker's run raised: the driver hands the shard's unfinished trials on


class _Sink:
    """What run_trials stores into on a worker: nothing is kept there, every record goes back to the driver."""

    path = Path("ray-worker")

    def __init__(self, out: queue.Queue):
        self.out = out

    def finished_ids(self) -> set:
        return set()

    def put(self, trial, record, prompt=None) -> None:
        self.out.put(Stored(trial.trial_id, record, prompt))


def _shard(build, trial_ids: list[str], concurrency: int, max_cost: float | None):
    """A Ray worker's task (a generator: Ray streams each yield back): rebuild the run, run these trials."""
    spec = build()
    wanted = set(trial_ids)
    trials = [t for t in plan(spec) if t.trial_id in wanted]
    out: queue.Queue = queue.Queue()
    outcome = RunOutcome(run_dir=Path("ray-worker"), planned=len(trials), skipped=0)

    def work() -> None:
        try:
            asyncio.run(run_trials(_Sink(out), spec, trials, outcome, concurrency=concurrency, show_progress=False,
                                   max_cost=max_cost))
            out.put(ShardDone(outcome.stopped))
        except BaseException as exc:  # noqa: BLE001 - reported to the driver, which decides
            out.put(ShardFailed(f"{type(exc).__name__}: {exc}"))

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = out.get()
        yield item
        if isinstance(item, (ShardDone, ShardFailed)):
            return


def shards_of(todo: list, n: int) -> list[list]:
    """`n` contiguous blocks of the plan (subject-major, so a shard holds whole control/framing pairs)."""
    n = max(1, min(n, len(todo)))
    size = -(-len(todo) // n)
    return [todo[k:k + size] for k in range(0, len(todo), size)]


async def run_on_ray(store, spec, trials: list, outcome: RunOutcome, *, build, concurrency: int = 8,
                     address: str | None = None, shards: int | None = None, show_progress: bool = True,
                     max_cost: float | None = None) -> RunOutcome:
    """Run the trials not yet in `store` on Ray (joining the cluster at `address`, or a local one), storing
    each record on this driver as it arrives; `build()` rebuilds the RunSpec on a worker."""
    import ray
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    finished = store.finished_ids()
    todo = [t for t in trials if t.trial_id not in finished]
    outcome.skipped = len(trials) - len(todo)
    if not todo:
        return outcome
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    n = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(num_cpus=1, max_retries=0)(_shard)
    by_id = {t.trial_id: t for t in todo}
    progress = Progress(TextColumn(f"[bold]{spec.kind} on Ray"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[status]}"), console=Console(stderr=True), disable=not show_progress)
    task_id = progress.add_task("ray", total=len(todo), status="")
    failures: list[str] = []
    live: set = set()

    def stop(reason: StopReason) -> None:
        """A fatal call error or the cost cap: no shard goes on (their finished records are stored)."""
        if outcome.stopped is None:
            outcome.stopped = reason
        for gen in list(live):
            ray.cancel(gen, force=True)

    async def one_shard(ids: list[str], attempt: int = 1) -> None:
        budget = None if max_cost is None else max_cost - outcome.cost_usd  # what the run may still spend
        gen = remote.options(num_returns="streaming").remote(build, ids, concurrency, budget)
        live.add(gen)
        try:
            async for ref in gen:
                message = await ref
                if isinstance(message, Stored):
                    record = store_record(store, spec.unit, by_id[message.trial_id], message.record, message.prompt)
                    outcome.count(record)
                    progress.update(task_id, advance=1,
                                    status=" ".join(f"{k}={v}" for k, v in sorted(outcome.statuses.items())))
                    if reason := outcome.over_budget(max_cost):
                        stop(reason)
                elif isinstance(message, ShardDone) and message.stopped is not None:
                    stop(message.stopped)  # the worker stopped on a fatal call error (or its share of the cost cap)
                elif isinstance(message, ShardFailed):
                    raise RuntimeError(message.error)
        except asyncio.CancelledError:
            ray.cancel(gen, force=True)
            raise
        except Exception as exc:  # the worker died (killed, out of memory), its task failed, or stop() cancelled it
            finished_now = store.finished_ids()  # one query, not one per trial
            left = [i for i in ids if i not in finished_now]
            if not left or outcome.stopped is not None:
                return
            if attempt >= ATTEMPTS:
                failures.append(f"{len(left)} trials: {type(exc).__name__}: {str(exc)[:300]}")
                return
            progress.console.print(f"a Ray worker stopped ({type(exc).__name__}); its {len(left)} unfinished trials "
                                   "go to another")
            await one_shard(left, attempt + 1)
        finally:
            live.discard(gen)

    with progress:
        await asyncio.gather(*(one_shard([t.trial_id for t in block]) for block in shards_of(todo, n)))
    if failures and outcome.stopped is None:
        outcome.stopped = StopReason(StopKind.WORKERS, "Ray workers failed: " + "; ".join(failures))
    return outcome
