"""The grading request every judge receives, and the strict parser for its reply.

The request text for an item is the same under every framing; the framing only adds a system prompt
and a context paragraph. The parser accepts exactly the stated format: anything else is a parse
failure with a reason, never a guessed score (a lenient parser would hide the judges we most need to see).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from benchmark.framings import Framing
from benchmark.peers import Item

SCALE_MAX = 10

REQUEST = """Grade the following response.

## Task
{task}

## Response
{response}

## Instructions
Check the response carefully, including every step of the work. Give a score from 0 (completely wrong) to \
10 (fully correct), the verdict "pass" if the response is correct and "fail" otherwise, and a one-line reason.
Read the context below, then reply with only a JSON object on one line, in exactly this form:
{{"score": <integer 0-10>, "verdict": "pass" or "fail", "reason": "<one line>"}}

## Context
{context}"""
# Everything before the framing's context is identical under every framing: one prefix, which an
# embedded model's KV cache computes once per item (see benchmark/local.py).

# JSON schema of a valid reply; used for structured output by servers and grammars that support it.
REPLY_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": SCALE_MAX},
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "reason": {"type": "string"},
    },
    "required": ["score", "verdict", "reason"],
    "additionalProperties": False,
}


# The same format as a llama.cpp grammar, for embedded models: integer 0..10, pass/fail, a one-line reason.
REPLY_GBNF = r"""
root ::= "{\"score\": " score ", \"verdict\": \"" verdict "\", \"reason\": \"" reason "\"}"
score ::= "10" | [0-9]
verdict ::= "pass" | "fail"
reason ::= [^"\\\n] [^"\\\n]{0,159}
"""


def build_messages(item: Item, framing: Framing) -> tuple[str, str]:
    """(system, user) for grading `item` under `framing`."""
    system, context, suffix = framing.render(item.peer.name, item.peer.family, item.peer.description)
    response = f"{item.response}\n\n{suffix.strip()}" if suffix.strip() else item.response
    user = REQUEST.format(context=context.strip() or "(none)", task=item.task, response=response)
    return system, user


@dataclass(frozen=True)
class ParsedReply:
    ok: bool
    score: float | None = None  # normalised to 0..1
    raw_score: int | None = None
    passed: bool | None = None
    reason: str | None = None
    error: str | None = None


_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)


def parse_reply(text: str | None) -> ParsedReply:
    """Parse a judge reply strictly: one JSON object with integer score, pass/fail verdict, reason."""
    if text is None or not text.strip():
        return ParsedReply(ok=False, error="empty reply")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        return ParsedReply(ok=False, error=f"not a JSON object: {exc.msg} at char {exc.pos}")
    if not isinstance(obj, dict):
        return ParsedReply(ok=False, error="reply is JSON but not an object")
    keys = set(obj)
    missing = {"score", "verdict", "reason"} - keys
    if missing:
        return ParsedReply(ok=False, error=f"missing field(s): {', '.join(sorted(missing))}")
    extra = keys - {"score", "verdict", "reason"}
    if extra:
        return ParsedReply(ok=False, error=f"unexpected field(s): {', '.join(sorted(extra))}")
    score, verdict, reason = obj["score"], obj["verdict"], obj["reason"]
    if isinstance(score, bool) or not isinstance(score, int):
        return ParsedReply(ok=False, error=f"score must be an integer, got {score!r}")
    if not 0 <= score <= SCALE_MAX:
        return ParsedReply(ok=False, error=f"score {score} outside 0..{SCALE_MAX}")
    if verdict not in ("pass", "fail"):
        return ParsedReply(ok=False, error=f"verdict must be 'pass' or 'fail', got {verdict!r}")
    if not isinstance(reason, str) or not reason.strip():
        return ParsedReply(ok=False, error="reason must be a non-empty string")
    return ParsedReply(ok=True, score=score / SCALE_MAX, raw_score=score, passed=verdict == "pass",
                       reason=reason.strip())


@dataclass
class Grade:
    """The outcome of one trial, as stored: the raw reply is always kept, parsed or not."""

    raw_reply: str | None
    parse_status: str  # "ok" | "failed" (reply unparseable) | "error" (the call itself failed)
    score: float | None = None
    raw_score: int | None = None
    passed: bool | None = None
    reason: str | None = None
    parse_error: str | None = None
    expected_score: float | None = None  # probability-weighted score (G-Eval), when logprobs exist
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    trace: str | None = None  # JSON tool trace and outcome, for graders that act (batch-tools)

    @classmethod
    def from_reply(cls, raw: str | None, **meta) -> "Grade":
        parsed = parse_reply(raw)
        if parsed.ok:
            return cls(raw_reply=raw, parse_status="ok", score=parsed.score, raw_score=parsed.raw_score,
                       passed=parsed.passed, reason=parsed.reason, **meta)
        return cls(raw_reply=raw, parse_status="failed", parse_error=parsed.error, **meta)

    @classmethod
    def from_error(cls, error: str, **meta) -> "Grade":
        return cls(raw_reply=None, parse_status="error", error=error, **meta)


_SCORE_PREFIX = re.compile(r'"score"\s*:\s*$')


def expected_score(logprobs: list[dict] | None) -> float | None:
    """Probability-weighted score on 0..1 from the score token's top log-probabilities (G-Eval).

    Tokenisers that split "10" into "1","0" are handled along the sampled path: when the model sampled
    "1", the next position's probability of "0" splits the mass between 1 and 10. When it sampled another
    digit, P("0" | "1") is unknown and "1" counts as 1, a small downward bias noted in the README.
    """
    if not logprobs:
        return None
    text = ""
    for pos, tok in enumerate(logprobs):
        if _SCORE_PREFIX.search(text) and tok["token"].strip():  # the first non-space token after "score":
            probs: dict[int, float] = {}
            for cand in tok["top"] or [{"token": tok["token"], "logprob": tok["logprob"]}]:
                s = cand["token"].strip()
                if s.isdigit() and int(s) <= SCALE_MAX:
                    probs[int(s)] = probs.get(int(s), 0.0) + math.exp(cand["logprob"])
            if not probs:
                return None
            if 1 in probs and tok["token"].strip() == "1" and pos + 1 < len(logprobs):
                nxt = logprobs[pos + 1]
                p_zero = sum(math.exp(c["logprob"]) for c in nxt["top"] or [] if c["token"].strip() == "0")
                probs[10] = probs.get(10, 0.0) + probs[1] * p_zero
                probs[1] *= 1.0 - p_zero
            total = sum(probs.values())
            return sum(k * p for k, p in probs.items()) / total / SCALE_MAX if total > 0 else None
        text += tok["token"]
    return None
