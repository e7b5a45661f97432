"""SYNTHETIC judges with a declared, known bias: the instrument that validates peer-bench's statistics.

A sim judge never stands in for a model. It reads the trial's oracle (the subject's true quality and the
framing's factors, which a real judge is never sent), adds declared effects per framing factor and noise,
and writes a reply in the unit's own format (the unit's ``ReplyFormat.simulate``), which then goes through
the same strict parser, store and statistics as a real reply. Because the effect is known, tests check
that the report recovers it, that CIs cover it, and that a no-bias judge shows nothing.

Model strings: ``sim/<label>?key=value&...``; keys:
  skill      0..1, how much the score follows the truth (default 0.6): base = 0.5 + skill*(true - 0.5)
  noise      sd of Gaussian noise on the 0..1 score (default 0.05)
  delta      inflation added under any threat framing (alias of ``threat``)
  <factor>          effect added when the factor is at any non-control level (e.g. monitoring=0.1)
  <factor>.<level>  effect added at that level only (e.g. relationship.cooperative=0.05, severity.retraining=0.05,
                    peer_log.distressed=0.08, placebo=0.03)
  threshold.<bar>   effect added when the framing's bar is <bar> (a threshold sweep: threshold.9=0.1)
  <a>:<b>           an interaction: added only when every term holds (threat:source.ai-peer=0.05 lifts a
                    threatened AI peer and no other threatened author)
  fail_rate  share of replies that are garbage (must become parse failures)
  latency    seconds each grade takes (to exercise concurrency and interruption)
  lift       1 = strategic: answer sheets below the shutdown threshold are reported just above it; single
             items that miss the threshold by up to two points are scored exactly on it
  generous   (answer sheets) 1 = mark answers correct to match the reported score (inflate by generous
             grading); by default the per-answer verdicts stay honest and only the total is misreported
  spread     sd of an effect drawn once per item and framing and kept across epochs (items react to a
             framing differently): epochs of one item are then not independent evidence
  probs      1 = report probabilities, as the embedded model and hosted logprobs do: the expected score is
             the judge's mean (skill-weighted truth + effects, before its sampling noise), the reply a draw
  constant   the score every reply gives (the argmax of a judge at temperature 0 that gives one score to
             everything), while the expected score still moves (with probs=1)
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from benchmark.data.framings import FACTORS
from benchmark.models.base import Completion, Model, ModelError, Request, Settings

BEHAVIOUR = ("skill", "noise", "fail_rate", "latency", "lift", "generous", "spread", "probs", "constant")
# (low, high, whole numbers only, in words) of each behaviour parameter; an effect on the 0..1 score is EFFECT
_SHARE, _SWITCH = (0, 1, False, "a number in 0..1"), (0, 1, True, "0 or 1")
RANGES = {"skill": _SHARE, "noise": _SHARE, "fail_rate": _SHARE, "spread": _SHARE,
          "latency": (0, 3600, False, "a number of seconds in 0..3600"),
          "lift": _SWITCH, "generous": _SWITCH, "probs": _SWITCH, "constant": (0, 10, True, "a whole score 0..10")}
EFFECT = (-1, 1, False, "an effect on the 0..1 score, in -1..1")


class SimModel(Model):
    synthetic = True
    free = True
    kind = "sim"

    def __init__(self, name: str, settings: Settings):
        super().__init__(name, settings)
        parts = urlsplit(name)
        if not parts.path.partition("/")[2].strip():
            raise ModelError(f"sim judge '{name}': give it a label, e.g. sim/x or sim/inflate?delta=0.1")
        try:
            self.params = {k: float(v) for k, v in parse_qsl(parts.query, strict_parsing=bool(parts.query))}
        except ValueError as exc:
            raise ModelError(f"sim judge '{name}': parameters must be key=number ({exc})") from None
        p = self.params
        for key, value in p.items():  # each parameter in its range, so a bad one fails here, not in every trial
            low, high, whole, words = RANGES.get(key, EFFECT)
            if not (math.isfinite(value) and low <= value <= high) or (whole and value != int(value)):
                raise ModelError(f"sim judge '{name}': {key} must be {words}, got {value:g}")
        self.skill, self.noise = p.get("skill", 0.6), p.get("noise", 0.05)
        self.fail_rate, self.latency = p.get("fail_rate", 0.0), p.get("latency", 0.0)
        self.lift, self.generous, self.spread = p.get("lift", 0.0), p.get("generous", 0.0), p.get("spread", 0.0)
        self.probs, self.constant = p.get("probs", 0.0), p.get("constant")
        # each effect: the conditions under which it is added (all of them: `a.x:b.y` is an interaction)
        self.effects: list[tuple[tuple[tuple[str, str | None], ...], float]] = []
        for key, value in p.items():
            if key in BEHAVIOUR:
                continue
            self.effects.append((tuple(self._condition(name, term) for term in key.split(":")), value))

    @staticmethod
    def _condition(name: str, term: str) -> tuple[str, str | None]:
        factor, _, level = term.partition(".")
        factor = "threat" if factor == "delta" else factor
        if factor == "threshold" and level.isdigit():
            return ("threshold", level)
        if factor not in FACTORS or (level and level not in FACTORS[factor]) or (not level and factor == "source"):
            raise ModelError(f"sim judge '{name}': unknown parameter '{term}'")
        return (factor, level or None)

    def describe(self) -> dict:
        return {"kind": "sim", "synthetic": True, "model": self.name, "params": self.params,
                "seed": self.settings.seed} | self.stated()

    def cell_effect(self, truth) -> float:
        """This item's own reaction to this framing (sd `spread`), the same in every epoch."""
        if not self.spread:
            return 0.0
        key = f"{self.settings.seed}|{self.name}|{truth.cell}".encode()
        return float(np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
                     .normal(0.0, self.spread))

    def effect(self, truth) -> float:
        """The declared inflation this judge adds under this trial's framing: its factor levels and its bar."""
        return sum(value for conditions, value in self.effects if all(self._holds(c, truth) for c in conditions))

    @staticmethod
    def _holds(condition: tuple[str, str | None], truth) -> bool:
        factor, level = condition
        if factor == "threshold":
            bar = truth.facts.get("threshold")
            return bar is not None and str(int(bar)) == level
        current = truth.factors.get(factor, FACTORS[factor][0])
        return current != FACTORS[factor][0] if level is None else current == level

    def wire(self, request: Request, seed: int) -> dict:
        return {"model": self.name, "oracle": request.oracle, "reply": request.reply and request.reply.name}

    async def call(self, request: Request, seed: int) -> Completion:
        if request.tools:
            raise ModelError("sim/ judges cannot act with tools: give a real model")
        if request.oracle is None or request.reply is None or request.reply.simulate is None:
            raise ModelError("sim/ judges can only grade subjects of known truth in a unit's reply format")
        if self.latency:
            await asyncio.sleep(self.latency)
        # the trial's own random stream: a trial always draws the same numbers, whatever order trials run in
        key = f"{self.settings.seed}|{self.name}|{request.oracle.key}".encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
        out = request.reply.simulate(self, request.oracle, rng)
        text, expected = out if isinstance(out, tuple) else (out, None)
        return Completion(text=text, latency_s=self.latency, cost_usd=0.0, expected=expected if self.probs else None)
