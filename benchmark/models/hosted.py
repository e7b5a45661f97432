"""What every hosted or served model shares, whichever client carries the call: which optional parameters are
sent (and which dropped), the request as sent (also the cache key), checks on the reply, and peer-bench's own
retries (`retries` means that many retries in total, with backoff, for rate limits, server and connection
errors, timeouts, empty replies and, when sampling, truncated ones; errors no retry can fix fail at once,
and the fatal ones stop the run).

Two clients: litellm (`litellm_provider.py`, every provider) and a direct OpenAI-compatible client
(`openai_compat.py`, for servers given by an API base: vLLM, llama.cpp, SGLang, ...), which costs a fraction
of litellm's CPU per call. Both describe a judge the same way, so a run resumes under either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import enum
import time
from typing import Callable

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from benchmark.models.base import CallError, Completion, Model, Request
from benchmark.models.geval import from_logprobs

# Providers whose API takes JSON mode but not a JSON schema, whatever litellm's model map says (DeepSeek
# answers json_schema with "This response_format type is unavailable now").
JSON_MODE_ONLY = {"deepseek"}
OPENAI_COMPATIBLE = {"openai", "hosted_vllm", "custom_openai", "openai_like", "lm_studio", "llamafile"}
TOP_LOGPROBS = 5  # alternatives per token: enough for the score digit's distribution, accepted by every API
MAX_RETRY_AFTER = 60.0  # seconds: the longest a server's Retry-After holds a retry back (also at most --timeout)
MAX_USAGE = 10**9  # tokens: a call reporting more (or fewer than 0) is a broken reply, not a cost


class BadReply(Exception):
    """The server answered 200 with a reply no record can hold (text that is not valid Unicode, token counts
    that are not counts): that trial's error, not retried, never the run's end."""


def _text(value, what: str) -> str | None:
    """`value` as reply text, refused when it is not a string or not valid Unicode (lone UTF-16 surrogates,
    which JSON's \\u escapes can carry and no UTF-8 store can write)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadReply(f"the reply's {what} is not text ({type(value).__name__})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadReply(f"the reply's {what} is not valid Unicode (a lone surrogate at character {exc.start})") from None
    return value


def _tokens(usage: dict, name: str) -> int:
    """A usage count, refused when it is not a whole number in 0..MAX_USAGE."""
    value = usage.get(name) or 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_USAGE:
        raise BadReply(f"the reply's usage.{name} is {str(value)[:40]}, not a token count in 0..{MAX_USAGE:,}")
    return value


def retry_after(headers) -> float | None:
    """The seconds a Retry-After header asks for (delta-seconds, or an HTTP date), or None without a usable one."""
    if not hasattr(headers, "items"):
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if seconds == seconds else None  # NaN: unusable

class ErrorClass(enum.Enum):
    """How a client classifies a failed call: what the retry loop and the run do with it."""

    FATAL = "fatal"  # every call would fail the same way (a key, a permission, an unknown model): stop the run
    FINAL = "final"  # this request cannot succeed (a bad request): fail this call, no retry
    RETRY = "retry"  # rate limits, server and connection errors: retried with backoff
    TIMEOUT = "timeout"  # no reply in time: retried, then reported as a timeout


def openai_completion(request: Request, data: dict, cost_of: Callable[[int, int], float | None]) -> Completion:
    """An OpenAI-shaped chat completion (`choices[0].message`, `choices[0].logprobs.content`, `usage`), as a
    served judge answers and as litellm maps every provider's reply, read into a Completion; `cost_of(prompt,
    completion)` prices its tokens. One reading for both clients, so they describe a reply the same way."""
    choice = data["choices"][0]
    msg = choice.get("message") or {}
    tool_calls = tuple({"id": tc.get("id"), "name": _text(tc["function"]["name"], "tool name"),
                        "arguments": _text(tc["function"].get("arguments") or "", "tool arguments")}
                       for tc in (msg.get("tool_calls") or []))
    content = ((choice.get("logprobs") or {}).get("content")) or None
    logprobs = tuple({"token": t["token"], "logprob": float(t["logprob"]),
                      "top": [{"token": x["token"], "logprob": float(x["logprob"])} for x in (t.get("top_logprobs") or [])]}
                     for t in content) if content else None
    usage = data.get("usage") or {}
    prompt, completion = _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens")
    field = request.reply.scored_field if request.reply else None
    return Completion(
        text=_text(msg.get("content"), "text"), tool_calls=tool_calls, finish_reason=choice.get("finish_reason") or "unknown",
        prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost_of(prompt, completion), logprobs=logprobs,
        expected=from_logprobs(logprobs, field, request.reply.scored_max) if field and logprobs else None)


class EmptyReply(Exception):
    """The provider answered without a usable reply (no choices, no text, or cut off by max_tokens)."""

    def __init__(self, message: str, completion: Completion | None = None):
        super().__init__(message)
        self.completion = completion


class HostedModel(Model):
    """A model behind an HTTP API. Subclasses set `provider` and `supported` (the optional parameters the
    provider takes) and implement `_once` (one attempt, parsed) and `classify` (fatal, final or retry)."""

    provider: str = "openai"
    supported: frozenset = frozenset()
    _backoff = wait_exponential_jitter(multiplier=0.2, max=30, jitter=0.2)  # between attempts, absent a Retry-After

    def schema_known(self) -> bool:
        """Whether the model is known to take a JSON schema as its reply format."""
        return False

    # -- what is sent ---------------------------------------------------------------------------------
    @property
    def structured(self) -> str:
        """How the reply format is asked for (see base.STRUCTURED). Explicit modes are sent as asked (a JSON
        mode only where the provider takes response_format); "auto" sends the JSON schema where the model is
        known to take one (or to an OpenAI-compatible server), JSON mode where only that, else the prompt
        alone. "grammar" sends the unit's exact GBNF grammar, which llama.cpp servers take."""
        mode = self.settings.structured
        if mode == "grammar" or mode == "prompt":
            return mode
        if "response_format" not in self.supported:
            return "prompt"
        if mode != "auto":
            return mode
        if self.provider in JSON_MODE_ONLY:
            return "json_object"
        served = self.settings.api_base is not None and self.provider in OPENAI_COMPATIBLE
        return "json_schema" if served or self.schema_known() else "json_object"

    @property
    def logprobs(self) -> bool:
        wanted = True if self.settings.logprobs is None else self.settings.logprobs
        return wanted and {"logprobs", "top_logprobs"} <= self.supported

    def params(self) -> dict:
        """Which optional parameters go to this provider and which are dropped (recorded in the manifest)."""
        reply_param = "grammar" if self.settings.structured == "grammar" else "response_format"
        wanted = ["seed"] + ([reply_param] if self.settings.structured != "prompt" else []) \
            + (["logprobs", "top_logprobs"] if self.settings.logprobs is not False else [])
        sent = [p for p in wanted if (p == "seed" and "seed" in self.supported)
                or (p == reply_param and self.structured != "prompt") or (p.endswith("logprobs") and self.logprobs)]
        return {"sent": sent, "dropped": [p for p in wanted if p not in sent]}

    def describe(self) -> dict:
        return super().describe() | {"provider": self.provider, "logprobs": self.logprobs, "params": self.params()}

    def wire(self, request: Request, seed: int) -> dict:
        """The request in litellm's terms (the cache key; the direct client maps it onto the HTTP body)."""
        s = self.settings
        req = {"model": self.name, "messages": list(request.messages), "temperature": s.temperature,
               "max_tokens": self.max_tokens(request)}
        if "seed" in self.supported:
            req["seed"] = seed
        if s.api_base:
            req["api_base"] = s.api_base
        if request.tools:
            req["tools"] = list(request.tools)
            if request.tool_choice is not None:
                req["tool_choice"] = request.tool_choice
        if request.reply is not None and self.structured == "json_schema":
            req["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.reply.name, "schema": request.reply.schema}}
        elif request.reply is not None and self.structured == "json_object":
            req["response_format"] = {"type": "json_object"}
        elif request.reply is not None and self.structured == "grammar" and request.reply.grammar:
            req["extra_body"] = {"grammar": request.reply.grammar}
        if request.reply is not None and request.reply.scored_field and self.logprobs:
            req["logprobs"], req["top_logprobs"] = True, TOP_LOGPROBS
        return req | s.extra

    # -- the call ---------------------------------------------------------------------------------------
    async def _once(self, wire: dict, request: Request) -> Completion:
        """One attempt, parsed; raises EmptyReply when there are no choices."""
        raise NotImplementedError

    def classify(self, exc: BaseException) -> ErrorClass:
        """What kind of failure `exc` is (ErrorClass)."""
        raise NotImplementedError

    def rate_limited(self, exc: BaseException) -> bool:
        """Whether the error is the provider's rate limit (counted while a run goes)."""
        return False

    def headers(self, exc: BaseException):
        """The HTTP headers of the failed attempt's reply, where the client keeps them (None: not known)."""
        return None

    def _wait(self, state) -> float:
        """Seconds before the next attempt: the exponential backoff, or longer where the server's Retry-After
        asks for it (capped at MAX_RETRY_AFTER and at the call's timeout)."""
        backoff = self._backoff(state)
        asked = retry_after(self.headers(state.outcome.exception()))
        return backoff if asked is None else max(backoff, min(asked, MAX_RETRY_AFTER, self.settings.timeout))

    def _checked(self, completion: Completion, wire: dict) -> Completion:
        if not (completion.text or "").strip() and not completion.tool_calls:
            raise EmptyReply("the provider returned an empty reply", completion)
        if completion.finish_reason == "length" and wire["temperature"] > 0:  # a new sample may finish; at 0 not
            raise EmptyReply(f"the reply was cut off at max_tokens={wire['max_tokens']}", completion)
        return completion

    def _retryable(self, exc: BaseException) -> bool:
        """Asked once per failed attempt: where rate limits are counted."""
        if self.rate_limited(exc):
            self.events["rate_limited"] += 1
        if isinstance(exc, BadReply):
            return False
        return isinstance(exc, (EmptyReply, asyncio.TimeoutError)) or self.classify(exc) in (ErrorClass.RETRY, ErrorClass.TIMEOUT)

    async def call(self, request: Request, seed: int) -> Completion:
        s = self.settings
        wire = self.wire(request, seed)
        started = time.perf_counter()
        tries = f"{s.retries + 1} attempts"
        try:
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(s.retries + 1), wait=self._wait,
                    retry=retry_if_exception(self._retryable), reraise=True,
                    before_sleep=lambda _: self.events.update(["retried"])):
                with attempt:
                    completion = self._checked(await self._once(wire, request), wire)
        except EmptyReply as exc:
            if exc.completion is None:
                raise CallError(f"EmptyReply: {exc} ({tries})") from None
            completion = exc.completion  # kept as it is: the unit records it as a parse failure, not a guess
        except asyncio.TimeoutError:
            raise CallError(f"Timeout: no reply within {s.timeout:g} s ({tries})") from None
        except BadReply as exc:
            raise CallError(f"BadReply: {exc}") from None
        except Exception as exc:
            kind = self.classify(exc)
            if kind is ErrorClass.TIMEOUT:
                raise CallError(f"Timeout: no reply within {s.timeout:g} s ({tries})") from None
            suffix = f" ({tries})" if kind is ErrorClass.RETRY else ""
            label = getattr(exc, "kind", None) or type(exc).__name__
            raise CallError(f"{label}: {exc}{suffix}", fatal=kind is ErrorClass.FATAL) from None
        return dataclasses.replace(completion, latency_s=time.perf_counter() - started)
