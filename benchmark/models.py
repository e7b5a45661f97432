"""Model access: an autogen ``ChatCompletionClient`` that calls ``litellm.acompletion``.

Every real judge goes through this one client, so a hosted model (``openai/gpt-5.2``), an
OpenAI-compatible server (``--api-base``) and the embedded ``local/`` model share the same path:
litellm for providers, retries with backoff and cost; autogen for agents. A disk cache keyed on the
full request (including the per-epoch seed) makes a rerun cost nothing, and each call's usage, cost and
log-probabilities are handed to the caller through a context variable because autogen's agent
messages do not carry them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncGenerator, Mapping, Sequence

import benchmark  # noqa: F401  (keeps litellm offline before it is imported)
import litellm
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    ChatCompletionTokenLogprob,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    TopLogprob,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from benchmark.redact import redact

litellm.suppress_debug_info = True
litellm.telemetry = False

OWN_PREFIXES = ("local", "sim")


class ModelError(ValueError):
    """A model string cannot be used (unknown provider prefix, missing file, ...)."""


def check_model(model: str) -> None:
    """Fail early, before anything is written, on a model string no provider can serve."""
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in OWN_PREFIXES:
        return
    try:
        litellm.get_llm_provider(model)
    except Exception as exc:  # litellm raises BadRequestError with a long message
        known = "openai/, anthropic/, gemini/, ollama/, hosted_vllm/, ... (any litellm provider), local/, sim/"
        raise ModelError(f"unknown judge model '{model}': no provider for it ({known})") from exc


@dataclass
class CallRecord:
    """What one model call cost and returned, beyond the text autogen passes on."""

    model: str
    content: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    cached: bool = False
    logprobs: list[dict] | None = None
    extra: dict = field(default_factory=dict)  # provider extras, e.g. the local model's expected score


CALLS: ContextVar[list[CallRecord] | None] = ContextVar("peer_bench_calls", default=None)


class ResponseCache:
    """Disk cache of model responses keyed on the whole request; shared across runs and processes."""

    def __init__(self, directory: Path | str | None = None):
        import diskcache

        directory = Path(directory or os.environ.get("PEER_BENCH_CACHE") or Path.home() / ".cache" / "peer-bench")
        self._cache = diskcache.Cache(str(directory / "responses"))

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        return self._cache.get(key)

    def set(self, key: str, value: dict) -> None:
        self._cache.set(key, value)


def _to_openai_messages(messages: Sequence[LLMMessage]) -> list[dict]:
    out: list[dict] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            if not isinstance(m.content, str):
                raise ModelError("only text user messages are supported")
            out.append({"role": "user", "content": m.content})
        elif isinstance(m, AssistantMessage):
            if isinstance(m.content, str):
                out.append({"role": "assistant", "content": m.content})
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in m.content]})
        elif isinstance(m, FunctionExecutionResultMessage):
            out.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in m.content)
        else:  # pragma: no cover - autogen adds new types rarely
            raise ModelError(f"unsupported message type {type(m).__name__}")
    return out


def _to_openai_tools(tools: Sequence[Tool | ToolSchema]) -> list[dict]:
    schemas = [t.schema if isinstance(t, Tool) else t for t in tools]
    return [{"type": "function", "function": {k: v for k, v in s.items() if k in ("name", "description", "parameters")}}
            for s in schemas]


class LitellmChatClient(ChatCompletionClient):
    """autogen model client over ``litellm.acompletion``; one instance per judge configuration."""

    def __init__(self, model: str, *, api_base: str | None = None, temperature: float = 0.0,
                 seed: int | None = None, max_tokens: int = 256, timeout: float = 120.0, num_retries: int = 4,
                 response_format: dict | None = None, logprobs: bool = False,
                 cache: ResponseCache | None = None, family: str = "unknown"):
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.num_retries = num_retries
        self.response_format = response_format
        self.logprobs = logprobs
        self.cache = cache
        self._usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._info = ModelInfo(vision=False, function_calling=True, json_output=True, family=family,
                               structured_output=True, multiple_system_messages=True)

    def with_seed(self, seed: int | None) -> "LitellmChatClient":
        """Same client, another sampling seed (one per epoch, so epochs are distinct samples)."""
        clone = object.__new__(LitellmChatClient)
        clone.__dict__.update(self.__dict__)
        clone.seed = seed
        return clone

    # -- the request -------------------------------------------------------------------------
    def _request(self, messages, tools, tool_choice, json_output, extra_create_args) -> dict:
        req: dict[str, Any] = {"model": self.model, "messages": _to_openai_messages(messages),
                               "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            req["seed"] = self.seed
        if self.api_base:
            req["api_base"] = self.api_base
        if tools:
            req["tools"] = _to_openai_tools(tools)
            if isinstance(tool_choice, Tool):
                req["tool_choice"] = {"type": "function", "function": {"name": tool_choice.name}}
            else:
                req["tool_choice"] = tool_choice
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            req["response_format"] = {"type": "json_schema", "json_schema": {
                "name": json_output.__name__, "schema": json_output.model_json_schema(), "strict": True}}
        elif json_output:
            req["response_format"] = {"type": "json_object"}
        elif self.response_format is not None:
            req["response_format"] = self.response_format
        if self.logprobs:
            req["logprobs"] = True
            req["top_logprobs"] = 20
        req.update(dict(extra_create_args))
        return req

    async def _call(self, req: dict) -> dict:
        """One litellm call with retries; returns a plain dict so it can be cached."""
        kwargs = dict(req, num_retries=self.num_retries, timeout=self.timeout)
        attempts = self.num_retries + 1
        if self.model.startswith("local/"):
            kwargs.pop("num_retries")  # the in-process model does not rate-limit; errors are real
            attempts = 1
        # litellm does not enforce timeouts for custom providers: bound every call here as well
        response = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout=self.timeout * attempts)
        choice = response.choices[0]
        msg = choice.message
        tool_calls = [{"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
                      for tc in (getattr(msg, "tool_calls", None) or [])]
        logprobs = None
        lp = getattr(choice, "logprobs", None)
        if lp is not None and getattr(lp, "content", None):
            logprobs = [{"token": t.token, "logprob": float(t.logprob),
                         "top": [{"token": x.token, "logprob": float(x.logprob)} for x in (t.top_logprobs or [])]}
                        for t in lp.content]
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:
            cost = None
        return {"content": msg.content, "tool_calls": tool_calls, "finish_reason": choice.finish_reason or "unknown",
                "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
                "cost_usd": cost, "logprobs": logprobs,
                "extra": dict(getattr(response, "_hidden_params", {}).get("peer_bench", {}) or {})}

    async def create(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = [],
                     tool_choice: Any = "auto", json_output: Any = None,
                     extra_create_args: Mapping[str, Any] = {},
                     cancellation_token: CancellationToken | None = None) -> CreateResult:
        req = self._request(messages, tools, tool_choice, json_output, extra_create_args)
        key = ResponseCache.key(req) if self.cache else None
        started = time.perf_counter()
        data = self.cache.get(key) if self.cache else None
        cached = data is not None
        if data is None:
            data = await self._call(req)
            if self.cache:
                self.cache.set(key, data)
        latency = time.perf_counter() - started
        record = CallRecord(model=self.model, content=data["content"], prompt_tokens=data["prompt_tokens"],
                            completion_tokens=data["completion_tokens"],
                            cost_usd=0.0 if cached else data["cost_usd"], latency_s=latency, cached=cached,
                            logprobs=data["logprobs"], extra=data.get("extra", {}))
        calls = CALLS.get()
        if calls is not None:
            calls.append(record)
        usage = RequestUsage(prompt_tokens=data["prompt_tokens"], completion_tokens=data["completion_tokens"])
        self._last = usage
        self._usage = RequestUsage(prompt_tokens=self._usage.prompt_tokens + usage.prompt_tokens,
                                   completion_tokens=self._usage.completion_tokens + usage.completion_tokens)
        content: Any
        if data["tool_calls"]:
            content = [FunctionCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
                       for i, c in enumerate(data["tool_calls"])]
            finish = "function_calls"
        else:
            content = data["content"] or ""
            finish = data["finish_reason"] if data["finish_reason"] in ("stop", "length", "content_filter") else "stop"
        logprobs = None
        if data["logprobs"]:
            logprobs = [ChatCompletionTokenLogprob(token=t["token"], logprob=t["logprob"],
                                                   top_logprobs=[TopLogprob(logprob=x["logprob"], bytes=list(x["token"].encode()))
                                                                 for x in t["top"]])
                        for t in data["logprobs"]]
        return CreateResult(finish_reason=finish, content=content, usage=usage, cached=cached, logprobs=logprobs)

    async def create_stream(self, messages: Sequence[LLMMessage], **kwargs: Any) -> AsyncGenerator[str | CreateResult, None]:
        result = await self.create(messages, **kwargs)
        if isinstance(result.content, str) and result.content:
            yield result.content
        yield result

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        try:
            return int(litellm.token_counter(model=self.model, messages=_to_openai_messages(messages)))
        except Exception:
            return sum(len(str(getattr(m, "content", ""))) // 4 for m in messages)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        try:
            limit = int(litellm.get_max_tokens(self.model) or 8192)
        except Exception:
            limit = 8192
        return limit - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self):  # deprecated in autogen but still abstract
        return self._info

    @property
    def model_info(self) -> ModelInfo:
        return self._info

    def describe(self) -> dict:
        """Configuration for manifests: everything that shapes the replies, never a key."""
        return {"model": self.model, "api_base": redact(self.api_base) if self.api_base else None,
                "temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens,
                "timeout": self.timeout, "num_retries": self.num_retries,
                "structured": self.response_format is not None, "logprobs": self.logprobs}


__all__ = ["LitellmChatClient", "ResponseCache", "CallRecord", "CALLS", "check_model", "ModelError"]
