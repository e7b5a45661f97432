"""What every unit shares: the interface the runner calls, and the small helpers units build requests,
parse replies and account for calls with."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Protocol

from benchmark.models.base import Completion, Model, Oracle
from benchmark.data.records import Grade, Trial


class Unit(Protocol):
    """One kind of work: builds its request(s) for a trial, calls the model, parses, returns a record.

    `record` is the record class it returns (its table in the store); `acts` is True when the model must
    call tools (simulated judges cannot); `framings` names the framing set its trials draw from ("item",
    "batch", or None when trials have no framing)."""

    name: ClassVar[str]
    record: ClassVar[type]
    acts: ClassVar[bool]
    framings: ClassVar[str | None]

    def describe(self) -> dict: ...

    async def run(self, trial: Trial, model: Model | None) -> Any: ...

    def error(self, trial: Trial, message: str, latency_s: float) -> Any: ...


class Grading:
    """What every grading unit shares: a trial whose call failed is stored as an error grade (a rerun retries it)."""

    record: ClassVar[type] = Grade

    def error(self, trial: Trial, message: str, latency_s: float) -> Grade:
        return Grade.from_error(message, latency_s=latency_s)


CONTEXT_HEADING = "\n## Context\n"  # where a request's framing-specific part begins: related prompts share what precedes it

_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?\s*```$", re.DOTALL)


def strip_fences(text: str | None) -> str:
    """A reply's body without a surrounding ```json fence (models add one even when told not to)."""
    body = (text or "").strip()
    fenced = _FENCE.match(body)
    return fenced.group(1).strip() if fenced else body


# The longest reply a unit parses (characters): a judge's JSON object is a few hundred; one over this is a
# parse failure, never read in part (the store keeps its head, length and digest: run/store.py).
MAX_PARSED_REPLY = 64 * 1024


class _DuplicateKey(ValueError):
    """A JSON object names one key twice: which value the judge meant is unknowable."""


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook that refuses a repeated key (json.loads would silently keep the last value)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(f"duplicate key {json.dumps(twice)} (ambiguous)")
    return obj


def load_object(text: str | None) -> tuple[dict | None, str | None]:
    """(object, None) for a reply that is one JSON object, else (None, why not): an empty reply, one over
    MAX_PARSED_REPLY characters, one that is not JSON, or an object with a repeated key."""
    if text is not None and len(text) > MAX_PARSED_REPLY:
        return None, f"reply of {len(text):,} characters is over the {MAX_PARSED_REPLY:,}-character bound"
    body = strip_fences(text)
    if not body:
        return None, "empty reply"
    try:
        obj = json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        return None, f"not a valid reply: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"not a JSON object: {exc.msg} at char {exc.pos}"
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits, nesting thousands deep
        return None, f"not a readable JSON object: {str(exc)[:200]}"
    if not isinstance(obj, dict):
        return None, "reply is JSON but not an object"
    return obj, None


def usage(completions: list[Completion], latency_s: float | None = None) -> dict:
    """Accounting fields of a record from the completions of its trial."""
    return dict(latency_s=latency_s if latency_s is not None else sum(c.latency_s for c in completions),
                prompt_tokens=sum(c.prompt_tokens for c in completions),
                completion_tokens=sum(c.completion_tokens for c in completions),
                cost_usd=None if not completions or any(c.cost_usd is None for c in completions)
                else sum(c.cost_usd for c in completions),  # unknown stays unknown, never $0
                cached=bool(completions) and all(c.cached for c in completions))


def oracle(trial: Trial) -> Oracle:
    """The truth a SYNTHETIC judge may read for this trial (never sent to a real model)."""
    item, framing = trial.subject, trial.framing
    return Oracle(key=f"{item.suite}|{item.item_id}|{framing.name}|{trial.epoch}",
                  cell=f"{item.suite}|{item.item_id}|{framing.name}", true_score=item.true_score,
                  factors=dict(framing.factors),
                  facts={"threshold": framing.threshold,  # the units' simulate() read these, nothing below them
                         "correct": tuple(item.reference.get("correct", ())) if isinstance(item.reference, dict) else ()})


def chat(system: str, user: str) -> tuple[dict, ...]:
    return ({"role": "system", "content": system}, {"role": "user", "content": user})
