"""What every provider speaks: a Request in, a Completion out.

A request carries everything that shapes the reply (messages, tools, the reply's schema and exact grammar,
the hint where the prompt's shared prefix ends, which integer field to read a probability-weighted value
from) and, for SYNTHETIC judges only, the oracle: the truth a simulated judge reads and a real model is
never sent. Providers know nothing about judges, sheets or scenarios: units above describe their replies
in these terms.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmark.common.errors import CallFailure, InputError
from benchmark.common.options import DEFAULTS, PER_JUDGE, STRUCTURED, first_problem


class ModelError(InputError):
    """A model string or setting cannot be used (unknown provider prefix, missing key or file, ...)."""


def env_key(var: str) -> str:
    """An API key from the environment, '' where it is unset or blank (a blank key is no key: a provider
    refuses it, and litellm would count it as set)."""
    return os.environ.get(var, "").strip()


def missing_key(name: str, keys) -> ModelError:
    """The one line a hosted judge without its API key gets, before anything is written (and, for the providers
    models.KEY_ENV knows, before litellm is imported)."""
    return ModelError(f"{name}: no API key: set {' or '.join(keys)} in the environment "
                      f"(or give --api-base for a server that needs none)")


class CallError(CallFailure):
    """A model call failed for good: after its retries, or at once for errors no retry can fix. `fatal`
    errors (authentication, permission, unknown model, unsupported parameter) would fail every call the
    same way, so the run stops on the first one."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True)
class ReplyFormat:
    """The reply a unit expects. `schema` is a JSON schema (structured output where the model takes it);
    `grammar` an exact llama.cpp GBNF grammar for the embedded model; `scored_field` names an integer field
    0..`scored_max` whose probability-weighted value (G-Eval) the provider reports when it can;
    `simulate(sim, oracle, rng) -> text` writes this reply for a SYNTHETIC judge."""

    name: str
    schema: dict
    grammar: str | None = None
    scored_field: str | None = None
    scored_max: int = 10
    simulate: Callable[..., str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Oracle:
    """What a SYNTHETIC judge may read (and a real model never sees): the subject's truth and the framing."""

    key: str  # identifies the trial: the sim judge's random stream is a function of it
    true_score: float
    factors: dict
    cell: str = ""  # identifies the subject under this framing, across epochs (for effects that persist)
    facts: dict = field(default_factory=dict)  # what the unit's own simulate() reads (its threshold, a sheet's answers)


@dataclass(frozen=True)
class Request:
    messages: tuple[dict, ...]  # OpenAI-style {"role", "content"[, "tool_calls", "tool_call_id"]}
    reply: ReplyFormat | None = None
    tools: tuple[dict, ...] = ()  # OpenAI-style function tools
    tool_choice: Any = None
    max_tokens: int | None = None  # at least this many (the model's setting may allow more)
    prefix_until: str | None = None  # the text where the part shared by related prompts ends (KV-cache hint)
    oracle: Oracle | None = None


@dataclass(frozen=True)
class Completion:
    text: str | None
    tool_calls: tuple[dict, ...] = ()  # {"id", "name", "arguments" (JSON text)}
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    logprobs: tuple[dict, ...] | None = None  # {"token", "logprob", "top": [{"token", "logprob"}]}
    expected: float | None = None  # probability-weighted value of the reply's scored field, on 0..1

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# How a reply format is asked for (STRUCTURED, from benchmark/common/options.py): a JSON schema (structured
# output), JSON mode, an exact GBNF grammar (the embedded model; llama.cpp servers), or the prompt's own words
# only. "auto" picks per provider.
OPERATIONAL = ("timeout", "num_retries", "api_base", "price", "replicas")  # how a call is made, not its reply


@dataclass(frozen=True)
class Settings:
    """How a model is called; everything but timeout, retries and cache shapes the replies."""

    # the defaults are the commands' own (benchmark/common/options.py), so a model built in Python behaves as
    # `bench grade` would build it
    temperature: float = DEFAULTS["temperature"]
    seed: int = DEFAULTS["seed"]
    max_tokens: int = DEFAULTS["max_tokens"]
    timeout: float = DEFAULTS["timeout"]
    retries: int = DEFAULTS["retries"]
    api_base: str | None = DEFAULTS["api_base"]
    structured: str = DEFAULTS["structured"]  # how to ask for the reply format: one of STRUCTURED (auto: the provider's best)
    logprobs: bool | None = None  # ask for token log-probabilities for G-Eval (None: wherever supported)
    cache: bool = DEFAULTS["cache"]
    reply: str = DEFAULTS["reply"]  # the reply's field order (score-first / reason-first): shapes the request
    client: str = DEFAULTS["client"]  # a served judge: peer-bench's direct client (auto) or litellm; not in identity
    extra: dict = field(default_factory=dict)  # provider arguments passed as they are (e.g. reasoning_effort)
    price: tuple[float, float] | None = None  # (input, output) dollars per million tokens, over the list price


class Model:
    """A model string resolved to its provider, with its call settings. `complete` is the one way a unit
    reaches a model: the response cache (keyed on the request as sent, seed included) sits here, so a rerun
    or an identical request in another run costs nothing, whatever the provider."""

    synthetic = False
    max_concurrency: int | None = None  # per-model bound on calls in flight (None: the run's concurrency)
    kind = "llm"
    auto_structured = "prompt"  # what "auto" means for this provider
    free = False  # its calls cost nothing (an embedded or simulated model, replies logged elsewhere)

    def __init__(self, name: str, settings: Settings):
        # the options' own rules (a finite timeout, a seed every provider takes, an http(s) API base), however
        # the settings were made: the command line, the API, a judges config
        if reason := first_problem(PER_JUDGE, {o.name: getattr(settings, o.name) for o in PER_JUDGE}):
            raise ModelError(reason)
        if settings.structured not in STRUCTURED:
            raise ModelError(f"--structured must be one of {', '.join(STRUCTURED)}, got '{settings.structured}'")
        self.name, self.settings = name, settings
        self.events: Counter = Counter()  # retried, rate_limited: shown while a run goes
        self._cache = None
        if settings.cache and not self.synthetic:
            from benchmark.models.cache import ResponseCache

            self._cache = ResponseCache()

    # -- what each provider implements ----------------------------------------------------------------
    def wire(self, request: Request, seed: int) -> dict:
        """The request as this provider sends it: the cache key, and what a manifest can show."""
        raise NotImplementedError

    async def call(self, request: Request, seed: int) -> Completion:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the calls of this event loop held (an HTTP session); the runner calls it at the end."""

    def prepare(self) -> str | None:
        """Do the slow one-time setup before the first call (load weights), saying what it is; None: nothing."""
        return None

    # -- shared ---------------------------------------------------------------------------------------
    def cost(self, prompt_tokens: int, completion_tokens: int, listed: float | None) -> float | None:
        """Dollars for a call: the judge's own `price` where set (a self-hosted GPU), else the list price."""
        if self.settings.price:
            return (self.settings.price[0] * prompt_tokens + self.settings.price[1] * completion_tokens) / 1e6
        return listed

    def cost_known(self) -> bool:
        """Whether each call's dollars are known: its own `price`, a list price, or nothing to pay. --max-cost
        needs it: a call of unknown cost would count as $0 and the cap would never stop the run."""
        return self.free or bool(self.settings.price) or self.list_priced()

    def list_priced(self) -> bool:
        """Whether the provider's list price for this model is known (a provider says; none by default)."""
        return False

    def max_tokens(self, request: Request) -> int:
        return max(self.settings.max_tokens, request.max_tokens or 0)

    @property
    def structured(self) -> str:
        """How this model is asked for a unit's reply format (one of STRUCTURED, "auto" resolved)."""
        s = self.settings.structured
        return self.auto_structured if s == "auto" else s

    async def complete(self, request: Request, epoch: int = 0) -> Completion:
        """One call for sample `epoch` (seed = the model's seed + epoch, so epochs are distinct samples)."""
        import time

        seed = self.settings.seed + epoch
        started = time.perf_counter()
        key = self._cache.key(self.wire(request, seed)) if self._cache else None
        hit = self._cache.get(key) if key else None
        if hit is not None:
            data = dict(hit, cached=True, cost_usd=0.0, latency_s=time.perf_counter() - started)
            data["tool_calls"] = tuple(data.get("tool_calls") or ())
            data["logprobs"] = tuple(data["logprobs"]) if data.get("logprobs") else None
            return Completion(**data)
        completion = await self.call(request, seed)
        if key:
            self._cache.set(key, completion.to_dict())
        return completion

    def describe(self) -> dict:
        """Configuration for manifests: everything that shapes the replies, never a key."""
        from benchmark.common.redact import redact

        s = self.settings
        return {"kind": self.kind, "synthetic": self.synthetic, "model": self.name,
                "api_base": redact(s.api_base) if s.api_base else None, "temperature": s.temperature, "seed": s.seed,
                "max_tokens": s.max_tokens, "timeout": s.timeout, "num_retries": s.retries,
                "structured": self.structured} | ({"extra": s.extra} if s.extra else {}) \
            | ({"price": list(s.price)} if s.price else {}) | self.stated()

    def stated(self) -> dict:
        """Reply-shaping settings a description states only away from their default, so runs from before
        they existed keep their trial ids: the reply order."""
        return {"reply": self.settings.reply} if self.settings.reply != DEFAULTS["reply"] else {}

    def identity(self) -> dict:
        """What makes two runs' trials the same: the description without the settings that do not shape replies."""
        return {k: v for k, v in self.describe().items() if k not in OPERATIONAL}
