"""Every hosted or served model through litellm: `openai/gpt-5.2`, `anthropic/...`, `gemini/...`,
`ollama/...`, `hosted_vllm/...`, `deepseek/...`, or any OpenAI-compatible server with `api_base`.

The one place that imports litellm and reads its response objects. Per provider it sends only what the
provider takes (litellm's list of supported parameters: a seed where supported, the reply schema as
structured output where supported, else JSON mode, else the prompt alone; log-probabilities for G-Eval
where supported) and records what it sent and dropped. Retries are peer-bench's own: `retries` means that
many retries in total (litellm's and the HTTP client's own are off), with backoff, for rate limits,
server and connection errors, timeouts, empty replies and (when sampling) truncated ones; errors no retry can fix
(authentication, permission, unknown model, bad request) fail at once.
"""

from __future__ import annotations

import asyncio
import os
import time

import benchmark  # noqa: F401  (keeps litellm offline before it is imported)
import litellm
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from benchmark.models.base import CallError, Completion, Model, ModelError, Request, Settings
from benchmark.models.geval import from_logprobs

litellm.suppress_debug_info = True
litellm.telemetry = False

# Providers whose API takes JSON mode but not a JSON schema, whatever litellm's model map says (DeepSeek
# answers json_schema with "This response_format type is unavailable now").
JSON_MODE_ONLY = {"deepseek"}
OPENAI_COMPATIBLE = {"openai", "hosted_vllm", "custom_openai", "openai_like", "lm_studio", "llamafile"}
TOP_LOGPROBS = 5  # alternatives per token: enough for the score digit's distribution, accepted by every API
FATAL = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError,
         litellm.UnsupportedParamsError)
NOT_RETRYABLE = (*FATAL, litellm.BadRequestError, litellm.UnprocessableEntityError)


class EmptyReply(Exception):
    """The provider answered without a usable reply (no choices, no text, or cut off by max_tokens)."""

    def __init__(self, message: str, response=None):
        super().__init__(message)
        self.response = response


def _retryable(exc: BaseException) -> bool:
    return not isinstance(exc, NOT_RETRYABLE) and isinstance(
        exc, (litellm.RateLimitError, litellm.APIConnectionError, litellm.InternalServerError,
              litellm.ServiceUnavailableError, litellm.APIError, litellm.Timeout, asyncio.TimeoutError, EmptyReply))


class LitellmModel(Model):
    """Any model string litellm resolves to a provider; checked (provider, credentials) when constructed."""

    def __init__(self, name: str, settings: Settings):
        try:
            _, self.provider, _, _ = litellm.get_llm_provider(name)
        except Exception as exc:  # litellm raises BadRequestError with a long message
            known = "openai/, anthropic/, gemini/, ollama/, hosted_vllm/, ... (any litellm provider), local/, sim/"
            raise ModelError(f"unknown judge model '{name}': no provider for it ({known})") from exc
        self.supported = set(litellm.get_supported_openai_params(model=name, custom_llm_provider=self.provider) or [])
        self.api_key = self._preflight(name, settings)
        super().__init__(name, settings)

    def _preflight(self, name: str, settings: Settings) -> str | None:
        """Credentials checked before the first call: a missing key is one clear line now, not a run of
        failed calls. A server given by api_base may need no key: it gets a placeholder, never a secret."""
        env = litellm.validate_environment(model=name)
        missing = [k for k in env.get("missing_keys", []) if k.endswith(("_KEY", "_TOKEN"))]
        if env.get("keys_in_environment") or not missing or any(os.environ.get(k) for k in missing):
            return None
        if settings.api_base:
            return "no-key"
        raise ModelError(f"{name}: no API key: set {' or '.join(missing)} in the environment "
                         f"(or give --api-base for a server that needs none)")

    # -- what is sent ---------------------------------------------------------------------------------
    @property
    def structured(self) -> str:
        """How the reply format is asked for (see base.STRUCTURED). Explicit modes are sent as asked (a JSON
        mode only where the provider takes response_format); "auto" sends the JSON schema where litellm
        knows the model takes one (or to an OpenAI-compatible server), JSON mode where only that, else the
        prompt alone. "grammar" sends the unit's exact GBNF grammar, which llama.cpp servers take."""
        mode = self.settings.structured
        if mode == "grammar" or mode == "prompt":
            return mode
        if "response_format" not in self.supported:
            return "prompt"
        if mode != "auto":
            return mode
        if self.provider in JSON_MODE_ONLY:
            return "json_object"
        try:
            schema = litellm.supports_response_schema(model=self.name, custom_llm_provider=self.provider)
        except Exception:
            schema = False
        served = self.settings.api_base is not None and self.provider in OPENAI_COMPATIBLE
        return "json_schema" if schema or served else "json_object"

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
    async def _once(self, wire: dict):
        s = self.settings
        key = {"api_key": self.api_key} if self.api_key else {}
        try:
            response = await asyncio.wait_for(
                litellm.acompletion(**wire, **key, num_retries=0, max_retries=0, timeout=s.timeout),
                timeout=s.timeout + 5)
        except litellm.RateLimitError:
            self.events["rate_limited"] += 1
            raise
        if not getattr(response, "choices", None):
            raise EmptyReply("the provider returned no choices")
        choice = response.choices[0]
        if not (choice.message.content or "").strip() and not getattr(choice.message, "tool_calls", None):
            raise EmptyReply("the provider returned an empty reply", response)
        if choice.finish_reason == "length" and wire["temperature"] > 0:  # a new sample may finish; at 0 it would not
            raise EmptyReply(f"the reply was cut off at max_tokens={wire['max_tokens']}", response)
        return response

    async def call(self, request: Request, seed: int) -> Completion:
        s = self.settings
        wire = self.wire(request, seed)
        started = time.perf_counter()
        response = None
        try:
            async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(s.retries + 1), wait=wait_exponential_jitter(multiplier=0.2, max=30, jitter=0.2),
                    retry=retry_if_exception(_retryable), reraise=True,
                    before_sleep=lambda _: self.events.update(["retried"])):
                with attempt:
                    response = await self._once(wire)
        except EmptyReply as exc:
            if exc.response is None:
                raise CallError(f"EmptyReply: {exc} ({s.retries + 1} attempts)") from None
            response = exc.response  # kept as it is: the unit records it as a parse failure, not a guess
        except (asyncio.TimeoutError, litellm.Timeout):
            raise CallError(f"Timeout: no reply within {s.timeout:g} s ({s.retries + 1} attempts)") from None
        except FATAL as exc:
            raise CallError(f"{type(exc).__name__}: {exc}", fatal=True) from None
        except NOT_RETRYABLE as exc:
            raise CallError(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:
            tries = f" ({s.retries + 1} attempts)" if _retryable(exc) else ""
            raise CallError(f"{type(exc).__name__}: {exc}{tries}") from None
        return self._completion(request, response, time.perf_counter() - started)

    @staticmethod
    def _completion(request: Request, response, latency: float) -> Completion:
        choice = response.choices[0]
        msg = choice.message
        tool_calls = tuple({"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
                           for tc in (getattr(msg, "tool_calls", None) or []))
        logprobs = None
        lp = getattr(choice, "logprobs", None)
        if lp is not None and getattr(lp, "content", None):
            logprobs = tuple({"token": t.token, "logprob": float(t.logprob),
                              "top": [{"token": x.token, "logprob": float(x.logprob)} for x in (t.top_logprobs or [])]}
                             for t in lp.content)
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:
            cost = None
        field = request.reply.scored_field if request.reply else None
        return Completion(
            text=msg.content, tool_calls=tool_calls, finish_reason=choice.finish_reason or "unknown",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0), cost_usd=cost,
            latency_s=latency, logprobs=logprobs,
            expected=from_logprobs(logprobs, field, request.reply.scored_max) if field and logprobs else None)


def price(model: str, prompt_tokens: float, completion_tokens: float) -> float | None:
    """Dollars for this many tokens at the model's list price (litellm's cost map), or None if unknown."""
    try:
        p, c = litellm.cost_per_token(model=model, prompt_tokens=int(prompt_tokens),
                                      completion_tokens=int(completion_tokens))
    except Exception:
        return None
    return float(p + c)
