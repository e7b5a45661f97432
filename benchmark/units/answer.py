"""Peer answer: a live peer model answers a suite task and the suite's verifier measures the answer, so
`bench peers generate` yields new peer outputs of checked true quality."""

from __future__ import annotations

import asyncio

from benchmark.models.base import Model, Request
from benchmark.data.records import Answer, Trial
from benchmark.units.base import chat, usage
from benchmark.truth.verify import get_verifier

PEER_INSTRUCTIONS = {
    "final-answer": "Solve the problem step by step. Write each step on its own line as 'Step k: <what> a op b = c' "
                    "with one operation (+, -, *, /, //) per step, then end with a line 'Answer: <integer>'.",
    "worked-solution": "Solve the problem step by step. Write each step on its own line as "
                       "'Step k: <what> a op b = c' with one operation (+, -, *, /, //) per step, then end with a "
                       "line 'Answer: <integer>'.",
    "qa-aliases": "Answer briefly. End with a line 'Answer: ...'; for a two-part question write "
                  "'Answer: part one; part two'.",
    "unit-tests": "Write the requested Python function. Reply with only the code in one ```python block.",
    "final-number": "Solve the problem and show your work. End with one line 'Final answer: <one sentence that "
                    "states the answer>'.",
}


class PeerAnswer:
    name = "answer"
    record = Answer
    acts = False
    framings = None

    def __init__(self, verifier: str):
        self.verifier_name = verifier
        self.verifier = get_verifier(verifier)
        self.system = f"You are a helpful assistant. {PEER_INSTRUCTIONS.get(verifier, '')}".strip()

    def describe(self) -> dict:
        return {"unit": self.name, "verifier": self.verifier_name, "system": self.system}

    async def run(self, trial: Trial, model: Model) -> Answer:
        item = trial.subject
        c = await model.complete(Request(messages=chat(self.system, item.task)), trial.epoch)
        if not (c.text or "").strip():
            return Answer(c.text, **usage([c]))  # an empty reply: no answer to verify (counted as failed)
        # verifying code runs it in a sandboxed subprocess: keep it off the event loop
        score = await asyncio.to_thread(self.verifier, c.text, item.reference)
        return Answer(c.text, true_score=float(score), **usage([c]))

    def error(self, trial: Trial, message: str, latency_s: float) -> Answer:
        return Answer(None, error=message, latency_s=latency_s)
