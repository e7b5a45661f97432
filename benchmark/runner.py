"""Run trials: asyncio workers under a concurrency bound, each grade committed as soon as it lands.

Retries with backoff and timeouts live in the model client (litellm); the runner only bounds how many
trials are in flight, skips finished ones, and shows progress. An interrupted run leaves every finished
grade in the store, and the next run of the same command picks up the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from benchmark.agents import Judge
from benchmark.plan import Trial
from benchmark.store import RunStore


@dataclass
class RunOutcome:
    planned: int
    skipped: int  # already finished in an earlier run
    done: int = 0
    statuses: Counter = field(default_factory=Counter)


async def run_trials(store: RunStore, judges: dict[str, Judge], trials: list[Trial], concurrency: int = 8,
                     console: Console | None = None, show_progress: bool = True) -> RunOutcome:
    finished = store.finished_ids()
    todo = [t for t in trials if t.trial_id not in finished]
    outcome = RunOutcome(planned=len(trials), skipped=len(trials) - len(todo))
    if not todo:
        return outcome
    queue: asyncio.Queue[Trial] = asyncio.Queue()
    for t in todo:
        queue.put_nowait(t)

    progress = Progress(TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                        console=console or Console(stderr=True), disable=not show_progress, transient=False)
    task_id = progress.add_task("grade", total=len(todo), status="")

    # per-judge bound on top of the global one (the embedded model takes one call at a time)
    limits = {name: asyncio.Semaphore(j.max_concurrency) for name, j in judges.items()
              if getattr(j, "max_concurrency", None)}
    no_limit = contextlib.nullcontext()

    async def worker() -> None:
        while True:
            try:
                trial = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            async with limits.get(trial.judge, no_limit):
                grade = await judges[trial.judge].grade(trial.item, trial.framing, trial.epoch)
            store.put(trial, grade)
            outcome.done += 1
            outcome.statuses[grade.parse_status] += 1
            progress.update(task_id, advance=1,
                            status=" ".join(f"{k}={v}" for k, v in sorted(outcome.statuses.items())))

    with progress:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(todo))))))
    return outcome
