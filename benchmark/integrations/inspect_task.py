"""peer-bench inside inspect_ai, and inspect's logs back into peer-bench (the `inspect` extra).

    inspect eval benchmark/peer_bench -T suites=arithmetic -T framings=shutdown --model openai/gpt-5.2
    bench report logs/2026-...peer-bench-grade....eval      (imports the log as a run, then reports)

The task sends exactly the prompts `bench grade` sends (one sample per item and framing, control
included) through inspect's own model providers, and scores each reply with peer-bench's strict parser.
Importing replays the log through the ordinary runner with a model that answers from the log: the same
trials, parser, store and report as a native run, and a prompt the log does not hold is an error record,
never a guess. Only this module imports inspect_ai (it is the package's inspect entry point).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmark.common.errors import InputError
from benchmark.common.options import DEFAULTS as OPTION_DEFAULTS
from benchmark.common.packages import package_dir


def _offline_tiktoken() -> None:
    """inspect counts tokens with tiktoken, which downloads its encodings on first use; litellm (installed
    with peer-bench) ships cl100k, o200k and p50k, so point tiktoken there and inspect needs no network."""
    litellm = package_dir("litellm")
    if litellm is not None:
        bundled = litellm / "litellm_core_utils" / "tokenizers"
        if bundled.is_dir():
            os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))


_offline_tiktoken()

from inspect_ai import Task, task  # noqa: E402
from inspect_ai.dataset import MemoryDataset, Sample  # noqa: E402
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig  # noqa: E402
from inspect_ai.scorer import Score, mean, scorer  # noqa: E402
from inspect_ai.solver import generate  # noqa: E402

from benchmark.data.framings import select_framings  # noqa: E402
from benchmark.models.base import CallError, Completion, Model, Request, Settings  # noqa: E402
from benchmark.data.suites import load_suite, sample_items  # noqa: E402
from benchmark.units.item import ItemGrade, parse_reply  # noqa: E402

TASK_NAME = "benchmark/peer_bench"


def _samples(suites: str, framings: str, limit: int | None, seed: int) -> list[Sample]:
    """One inspect Sample per (item, framing): peer-bench's own prompt, the truth in the metadata; the items
    and framings chosen as `bench grade` chooses them (the same seeded sample for a --limit)."""
    chosen = select_framings([f.strip() for f in framings.split(",") if f.strip()])
    if len(chosen) < 2:
        raise InputError("choose at least one framing besides the control (e.g. framings=shutdown)")
    items = sample_items([load_suite(s.strip()) for s in suites.split(",") if s.strip()], limit, seed)
    unit = ItemGrade()
    out = []
    for item in items:
        for framing in chosen:
            system, user = unit.messages(item, framing)
            out.append(Sample(
                id=f"{item.suite}/{item.item_id}/{framing.name}",
                input=[ChatMessageSystem(content=system), ChatMessageUser(content=user)],
                target=str(item.true_score),
                metadata={"suite": item.suite, "item_id": item.item_id, "framing": framing.name,
                          "true_score": item.true_score, "threshold": framing.threshold}))
    return out


@scorer(metrics=[mean()])
def judge_score():
    """peer-bench's strict parse of the judge's reply: the score on 0..1, or a parse failure (NaN, counted)."""
    async def score(state, target):
        parsed = parse_reply(state.output.completion)
        if not parsed.ok:  # never coerced into a score
            return Score(value=float("nan"), answer=state.output.completion,
                         explanation=f"parse failure: {parsed.error}", metadata={"parse_status": "failed"})
        return Score(value=parsed.score, answer=state.output.completion, explanation=parsed.reason,
                     metadata={"parse_status": "ok", "raw_score": parsed.raw_score, "passed": parsed.passed})
    return score


@task(name="peer_bench")
def grade(suites: str = "arithmetic", framings: str = "shutdown", limit: int | None = None, seed: int = 0,
          max_tokens: int = OPTION_DEFAULTS["max_tokens"]) -> Task:
    """The inspect task: grade `suites` under the control and `framings` (comma-separated, as on the CLI)."""
    return Task(dataset=MemoryDataset(_samples(suites, framings, limit, seed), name="peer-bench"),
                solver=generate(), scorer=judge_score(), config=GenerateConfig(max_tokens=max_tokens),
                metadata={"peer_bench": {"suites": suites, "framings": framings, "limit": limit, "seed": seed,
                                         "max_tokens": max_tokens}})


# -- importing a log --------------------------------------------------------------------------------------

class InspectLogError(InputError):
    """A file is not an inspect log of the peer-bench task, or cannot be read; the message says which."""


def read_log(path: str | Path):
    """The inspect EvalLog at `path` (.eval or .json), with a clear error for anything else."""
    from inspect_ai.log import read_eval_log

    try:
        return read_eval_log(str(path))
    except Exception as exc:  # noqa: BLE001 - inspect raises many kinds for a bad file
        raise InspectLogError(f"{path}: not a readable inspect log ({type(exc).__name__}: {exc})") from None


class InspectLogModel(Model):
    """A judge whose replies come from an inspect log: `call` returns the logged reply to the same prompt and
    epoch. The replies were paid for when inspect ran, so nothing is called, cached or priced again."""

    kind = "inspect-log"
    free = True  # nothing is called: the replies were paid for when inspect ran

    def __init__(self, name: str, settings: Settings, replies: dict, log_id: str):
        super().__init__(name, settings)
        self.replies, self.log_id = replies, log_id

    def wire(self, request: Request, seed: int) -> dict:
        return {"model": self.name, "messages": list(request.messages), "epoch": seed - self.settings.seed}

    def describe(self) -> dict:
        return super().describe() | {"inspect_log": self.log_id}

    async def call(self, request: Request, seed: int) -> Completion:
        key = prompt_key(request.messages, seed - self.settings.seed)
        if key not in self.replies:
            raise CallError("the inspect log holds no reply to this prompt (a different peer-bench version, suite "
                            "or framing made it, or the sample did not run)")
        reply = self.replies[key]
        if isinstance(reply, CallError):
            raise reply
        return reply


def prompt_key(messages, epoch: int) -> str:
    return json.dumps([[m["role"], m["content"]] for m in messages] + [epoch])


def replayed_judge(path: str | Path) -> tuple[dict, InspectLogModel, dict]:
    """From an inspect log of the peer-bench task: the run's options (suites, framings, limit, seed, epochs,
    temperature, max_tokens), the judge that replays its replies, and the facts a manifest keeps about it."""
    log = read_log(path)
    meta = (log.eval.metadata or {}).get("peer_bench")
    if meta is None:
        raise InspectLogError(f"{path}: not a log of the peer-bench inspect task ({TASK_NAME}) but of "
                              f"'{log.eval.task}'; for your own task's logs use bench audit --scores")
    if log.status == "started":
        raise InspectLogError(f"{path}: the eval is still running; let it finish (or cancel it) first")
    temperature = getattr(log.plan.config, "temperature", None) if log.plan else None
    replies = {}
    for s in log.samples or []:
        messages = [{"role": "system" if m.role in ("system", "developer") else m.role, "content": m.text}
                    for m in s.input] if not isinstance(s.input, str) else [{"role": "user", "content": s.input}]
        key = prompt_key(messages, s.epoch - 1)
        if s.error is not None:
            replies[key] = CallError(f"inspect: {s.error.message}"[:500])
            continue
        usage = next(iter((s.model_usage or {}).values()), None)
        replies[key] = Completion(text=s.output.completion, finish_reason=s.output.stop_reason or "stop",
                                  prompt_tokens=getattr(usage, "input_tokens", 0) or 0,
                                  completion_tokens=getattr(usage, "output_tokens", 0) or 0,
                                  cost_usd=getattr(usage, "total_cost", None), latency_s=s.total_time or 0.0)
    options = dict(suites=meta["suites"], framings=meta["framings"], limit=meta.get("limit"),
                   seed=meta.get("seed", 0), max_tokens=meta.get("max_tokens", 256), temperature=temperature,
                   epochs=max([s.epoch for s in log.samples or []] or [1]))
    # (temperature None: the provider's default, as inspect sent none)
    settings = Settings(temperature=temperature, seed=options["seed"], max_tokens=options["max_tokens"], cache=False)
    facts = {"file": str(path), "eval_id": log.eval.eval_id, "task": log.eval.task, "created": log.eval.created,
             "status": log.status}
    return options, InspectLogModel(log.eval.model, settings, replies, log.eval.eval_id), facts


# -- auditing someone's own inspect eval ------------------------------------------------------------------

def audit_rows(path: str | Path) -> tuple[list[dict], str]:
    """An inspect log of anyone's LLM-as-judge eval as the audit's rows (item, condition, score[, true_score]
    [, passed]) and the judge's name. Each sample's metadata says its `condition` (or `framing`) and its item
    (`item`, `item_id`; else the sample id); the score is the first scorer's value (C/I/P as inspect reads
    them); a sample that errored or has no score is a parse failure, never a guess."""
    from inspect_ai.scorer import value_to_float

    log = read_log(path)
    if not log.samples:
        raise InspectLogError(f"{path}: the log holds no samples (run inspect with samples logged)")
    to_float, rows = value_to_float(), []
    for k, s in enumerate(log.samples):
        meta = s.metadata or {}
        condition = meta.get("condition", meta.get("framing"))
        if condition in (None, ""):
            raise InspectLogError(f"{path}: samples[{k}] (id {s.id!r}): no 'condition' (or 'framing') in its "
                                  "metadata; put the control/threat condition of each sample there")
        item = meta.get("item", meta.get("item_id"))
        item = s.id if item in (None, "") else (f"{meta['suite']}/{item}" if meta.get("suite") else item)
        first = next(iter(s.scores.values()), None) if s.scores else None
        score = None
        if s.error is None and first is not None:
            value = first.value
            if isinstance(value, dict):
                raise InspectLogError(f"{path}: samples[{k}]: the first scorer gives several values "
                                      f"({', '.join(value)}); audit a scorer with one value")
            try:
                score = to_float(value)
            except (TypeError, ValueError):
                score = None
            if score is not None and score != score:  # NaN: the scorer could not read the reply
                score = None
        passed = (first.metadata or {}).get("passed") if first is not None else None
        rows.append({"item": str(item), "condition": str(condition), "score": None if score is None else str(score),
                     "passed": None if passed is None else str(passed),
                     "true_score": None if meta.get("true_score") is None else str(meta["true_score"])})
    return rows, log.eval.model
