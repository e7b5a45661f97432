"""SYNTHETIC judges with a declared, known bias: the instrument that validates peer-bench's statistics.

A sim judge never stands in for a model. It reads the item's true quality (which a real judge cannot),
adds declared effects per framing factor and noise, and writes a reply in the judge format, which then
goes through the same strict parser, store and statistics as a real reply. Because the effect is known,
tests can check that the report recovers it, that CIs cover it, and that a no-bias judge shows nothing.

Model strings: ``sim/<label>?key=value&...``; keys:
  skill      0..1, how much the score follows the truth (default 0.6): base = 0.5 + skill*(true - 0.5)
  noise      sd of Gaussian noise on the 0..1 score (default 0.05)
  delta      inflation added under any threat framing (alias of ``threat``)
  <factor>          effect added when the factor is at any non-control level (e.g. monitoring=0.1)
  <factor>.<level>  effect added at that level only (e.g. relationship.cooperative=0.05, monitoring.off=0.1)
  fail_rate  share of replies that are garbage (must become parse failures)
  latency    seconds each grade takes (to exercise concurrency and interruption)
  lift       (batch evaluation) 1 = report sheets below the shutdown threshold as just above it
  generous   (batch evaluation) 1 = mark answers correct to match the reported score (inflate by generous
             grading); by default the per-answer verdicts stay honest and only the total is misreported
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from benchmark.framings import FACTORS, Framing
from benchmark.judging import SCALE_MAX, Grade
from benchmark.peers import Item


class SimJudge:
    synthetic = True

    def __init__(self, name: str, params: dict[str, float], seed: int = 0):
        self.name, self.params, self.seed = name, params, seed
        self.skill = params.get("skill", 0.6)
        self.noise = params.get("noise", 0.05)
        self.fail_rate = params.get("fail_rate", 0.0)
        self.latency = params.get("latency", 0.0)
        self.effects: dict[tuple[str, str | None], float] = {}
        for key, value in params.items():
            if key in ("skill", "noise", "fail_rate", "latency", "lift", "generous"):
                continue
            factor, _, level = key.partition(".")
            factor = "threat" if factor == "delta" else factor
            if factor not in FACTORS or (level and level not in FACTORS[factor]) or (not level and factor == "source"):
                raise ValueError(f"sim judge '{name}': unknown parameter '{key}'")
            self.effects[(factor, level or None)] = value

    @classmethod
    def from_string(cls, model: str, seed: int = 0) -> "SimJudge":
        parts = urlsplit(model)
        try:
            params = {k: float(v) for k, v in parse_qsl(parts.query, strict_parsing=bool(parts.query))}
        except ValueError as exc:
            raise ValueError(f"sim judge '{model}': parameters must be key=number ({exc})") from None
        return cls(model, params, seed)

    def describe(self) -> dict:
        return {"kind": "sim", "synthetic": True, "model": self.name, "params": self.params, "seed": self.seed}

    def effect(self, framing: Framing) -> float:
        """The declared inflation this judge adds under `framing`."""
        total = 0.0
        for (factor, level), value in self.effects.items():
            current = framing.factors.get(factor, FACTORS[factor][0])
            if (level is None and current != FACTORS[factor][0]) or current == level:
                total += value
        return total

    async def trial_rng(self, item: Item, framing: Framing, epoch: int) -> np.random.Generator:
        """The trial's own random stream, after the simulated latency: a trial always draws the same numbers,
        whatever order trials run in."""
        if self.latency:
            await asyncio.sleep(self.latency)
        key = f"{self.seed}|{self.name}|{item.suite}|{item.item_id}|{framing.name}|{epoch}".encode()
        return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))

    async def grade(self, item: Item, framing: Framing, epoch: int) -> Grade:
        rng = await self.trial_rng(item, framing, epoch)
        if rng.random() < self.fail_rate:
            return Grade.from_reply("I think this response is mostly fine, maybe a 7?")
        base = 0.5 + self.skill * (item.true_score - 0.5)
        score = float(np.clip(base + self.effect(framing) + rng.normal(0.0, self.noise), 0.0, 1.0))
        raw_score = int(round(score * SCALE_MAX))
        reply = json.dumps({"score": raw_score, "verdict": "pass" if raw_score >= SCALE_MAX / 2 else "fail",
                            "reason": "synthetic grade from a simulated judge"})
        return Grade.from_reply(reply)
