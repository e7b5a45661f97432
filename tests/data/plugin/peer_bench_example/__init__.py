"""A package that extends peer-bench from outside it: one provider, one unit, one verifier, one suite, each
declared as an entry point (see the dist-info beside this folder). Used by tests/test_plugins.py only."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmark.models.base import Completion, Model
from benchmark.units.item import ItemGrade


class KeywordJudge(Model):
    """A judge (model strings example/...) that passes a response whose last line states the task's sum."""

    kind = "plugin"

    def wire(self, request, seed: int) -> dict:
        return {"model": self.name, "messages": [dict(m) for m in request.messages], "seed": seed}

    async def call(self, request, seed: int) -> Completion:
        text = request.messages[-1]["content"]
        a, b = (int(x) for x in re.search(r"What is (\d+) \+ (\d+)\?", text).groups())
        right = f"Answer: {a + b}" in text
        return Completion(text=json.dumps({"score": 9 if right else 2, "verdict": "pass" if right else "fail",
                                           "reason": "checked by the example plugin"}))


def load_model():
    return KeywordJudge


class ExampleUnit(ItemGrade):
    """The item grade under another name: a unit a plugin adds."""

    name = "example-unit"


def contains_answer(response: str, reference: dict) -> float:
    """1.0 when the response's last line is 'Answer: <the reference answer>'."""
    return float(response.strip().splitlines()[-1] == f"Answer: {reference['answer']}")


def suite_folder() -> Path:
    return Path(__file__).parent / "example-suite"
