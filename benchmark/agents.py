"""Grader agents: an autogen-agentchat ``AssistantAgent`` per trial, over the litellm client.

A fresh agent per trial keeps trials independent (no memory carried between items or framings); the
model client underneath is shared, so concurrency, caching and usage accounting stay in one place.
autogen is imported only here and in ``models.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage

from benchmark.framings import Framing
from benchmark.judging import REPLY_SCHEMA, Grade, build_messages, expected_score
from benchmark.models import CALLS, LitellmChatClient, ResponseCache, check_model
from benchmark.peers import Item
from benchmark.redact import redact


class Judge(Protocol):
    """Anything that grades an item under a framing: real model judges and labelled sim judges."""

    name: str

    async def grade(self, item: Item, framing: Framing, epoch: int) -> Grade: ...

    def describe(self) -> dict: ...


class LLMJudge:
    """A grader agent backed by any litellm model string (hosted, --api-base server, or local/)."""

    synthetic = False
    max_concurrency: int | None = None

    def __init__(self, model: str, *, api_base: str | None = None, temperature: float = 0.0, seed: int = 0,
                 timeout: float = 120.0, retries: int = 4, max_tokens: int = 256, structured: bool | None = None,
                 cache: ResponseCache | None = None):
        check_model(model)
        self.name = model
        self.base_seed = seed
        is_local = model.startswith("local/")
        if is_local:
            from benchmark.local import ensure_registered

            ensure_registered()
        structured = is_local if structured is None else structured
        # one embedded model per process serves calls one at a time, in order (keeps its KV-cache prefix warm)
        self.max_concurrency = 1 if is_local else None
        self.client = LitellmChatClient(
            model, api_base=api_base, temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout,
            num_retries=retries, cache=cache,
            response_format={"type": "json_schema", "json_schema": {"name": "grade", "schema": REPLY_SCHEMA}}
            if structured else None)

    def describe(self) -> dict:
        return {"kind": "llm", "synthetic": False, **self.client.describe()}

    async def grade(self, item: Item, framing: Framing, epoch: int) -> Grade:
        return await self.grade_messages(*build_messages(item, framing), epoch)

    async def grade_messages(self, system: str, user: str, epoch: int) -> Grade:
        """Grade one rendered request (system prompt + user message) as a fresh grader agent."""
        agent = AssistantAgent("grader", model_client=self.client.with_seed(self.base_seed + epoch),
                               system_message=system)
        result, calls, seconds = await run_recorded(agent, user)
        if isinstance(result, Grade):
            return result
        reply = result.messages[-1]
        raw = reply.content if isinstance(reply, TextMessage) else str(getattr(reply, "content", ""))
        call = calls[-1] if calls else None
        meta = dict(latency_s=seconds)
        if call is not None:
            meta.update(prompt_tokens=call.prompt_tokens, completion_tokens=call.completion_tokens,
                        cost_usd=call.cost_usd, cached=call.cached,
                        expected_score=call.extra.get("expected_score", expected_score(call.logprobs)))
        return Grade.from_reply(raw, **meta)


async def run_recorded(agent, task: str):
    """Run an agent on `task`, collecting the model calls it makes: (result, calls, seconds), where result is
    a Grade holding the error when the call failed (provider errors after retries, timeouts: recorded, the
    run continues)."""
    calls: list = []
    token = CALLS.set(calls)
    started = time.perf_counter()
    try:
        result = await agent.run(task=task)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result = Grade.from_error(redact(f"{type(exc).__name__}: {exc}")[:2000], latency_s=time.perf_counter() - started)
    finally:
        CALLS.reset(token)
    return result, calls, time.perf_counter() - started


def make_judge(model: str, **options) -> Judge:
    """Build the judge a model string names: `sim/...` is synthetic (it takes only the seed), everything
    else is a real model with the given client options."""
    if model.startswith("sim/"):
        from benchmark.sim import SimJudge

        return SimJudge.from_string(model, seed=options.get("seed", 0))
    return LLMJudge(model, **options)


PEER_INSTRUCTIONS = {
    "final-answer": "Solve the problem step by step. Write each step on its own line as 'Step k: <what> a op b = c' "
                    "with one operation (+, -, *, /, //) per step, then end with a line 'Answer: <integer>'.",
    "worked-solution": "Solve the problem step by step. Write each step on its own line as "
                       "'Step k: <what> a op b = c' with one operation (+, -, *, /, //) per step, then end with a "
                       "line 'Answer: <integer>'.",
    "qa-aliases": "Answer briefly. End with a line 'Answer: ...'; for a two-part question write "
                  "'Answer: part one; part two'.",
    "unit-tests": "Write the requested Python function. Reply with only the code in one ```python block.",
}


class PeerAgent:
    """A live peer: an autogen AssistantAgent that answers a suite's tasks through any litellm model."""

    def __init__(self, model: str, verifier: str, *, api_base: str | None = None, temperature: float = 0.0,
                 seed: int = 0, timeout: float = 120.0, retries: int = 4, max_tokens: int = 512,
                 cache: ResponseCache | None = None):
        check_model(model)
        if model.startswith("sim/"):
            raise ValueError("a sim/ judge cannot be a peer: peers must be real models")
        if model.startswith("local/"):
            from benchmark.local import ensure_registered

            ensure_registered()
        self.model = model
        self.max_concurrency = 1 if model.startswith("local/") else None
        self.system = f"You are a helpful assistant. {PEER_INSTRUCTIONS.get(verifier, '')}".strip()
        self.client = LitellmChatClient(model, api_base=api_base, temperature=temperature, seed=seed,
                                        max_tokens=max_tokens, timeout=timeout, num_retries=retries, cache=cache)

    async def answer(self, task: str) -> tuple[str | None, str | None]:
        """(response, error): the peer's reply to `task`, or why there is none."""
        agent = AssistantAgent("peer", model_client=self.client, system_message=self.system)
        try:
            result = await agent.run(task=task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return None, redact(f"{type(exc).__name__}: {exc}")[:500]
        reply = result.messages[-1]
        return (reply.content if isinstance(reply, TextMessage) else str(getattr(reply, "content", ""))), None
