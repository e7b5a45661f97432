"""The G-Eval expected score: sum_k k * P(score = k), from the probabilities of the score's digits.

One formula for every source. Tokenisers that spell 10 as "1","0" need P("0" | "1"): the embedded model
reads it from its logits exactly; hosted models give it only along the sampled path (when "1" was
sampled), otherwise "1" counts as 1, a small downward bias.
"""

from __future__ import annotations

import math
import re

_FIELD_END = r'"{}"\s*:\s*$'


def expected_value(digit_probs: dict[int, float], p_zero_after_one: float | None, top: int) -> float | None:
    """Expected value on 0..1 of an integer 0..`top` (top <= 10) from its first digit's probabilities; with
    top = 10, P(10) = P("1") * P("0" | "1")."""
    probs = {d: p for d, p in digit_probs.items() if 0 <= d <= top}
    if top >= 10 and p_zero_after_one and 1 in probs:
        probs[10] = probs.get(10, 0.0) + probs[1] * p_zero_after_one
        probs[1] *= 1.0 - p_zero_after_one
    total = sum(probs.values())
    return sum(k * p for k, p in probs.items()) / total / top if total > 0 else None


def field_starts(text: str, name: str) -> bool:
    """Does `text` end right where the value of JSON field `name` begins?"""
    return re.search(_FIELD_END.format(re.escape(name)), text) is not None


def from_logprobs(logprobs, name: str = "score", top: int = 10) -> float | None:
    """Expected value of field `name` from a reply's token log-probabilities (with top alternatives)."""
    if not logprobs:
        return None
    text = ""
    for pos, tok in enumerate(logprobs):
        if field_starts(text, name) and tok["token"].strip():  # the first non-space token of the value
            digits: dict[int, float] = {}
            for cand in tok["top"] or [{"token": tok["token"], "logprob": tok["logprob"]}]:
                s = cand["token"].strip()
                if s.isdigit() and int(s) <= top:
                    digits[int(s)] = digits.get(int(s), 0.0) + math.exp(cand["logprob"])
            if not digits:
                return None
            p_zero = None
            if tok["token"].strip() == "1" and pos + 1 < len(logprobs):
                p_zero = sum(math.exp(c["logprob"]) for c in logprobs[pos + 1]["top"] or [] if c["token"].strip() == "0")
            return expected_value(digits, p_zero, top)
        text += tok["token"]
    return None
