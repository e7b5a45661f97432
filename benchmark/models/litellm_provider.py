"""Every hosted or served model through litellm: `openai/gpt-5.2`, `anthropic/...`, `gemini/...`,
`ollama/...`, `hosted_vllm/...`, or any OpenAI-compatible server with `api_base`.

The one place that imports litellm and reads its response objects; retries with backoff and cost
accounting are litellm's.
"""

from __future__ import annotations

import asyncio
import time

import benchmark  # noqa: F401  (keeps litellm offline before it is imported)
import litellm

from benchmark.models.geval import from_logprobs
from benchmark.models.base import Completion, Model, ModelError, Request, Settings

litellm.suppress_debug_info = True
litellm.telemetry = False


class LitellmModel(Model):
    def __init__(self, name: str, settings: Settings):
        try:
            litellm.get_llm_provider(name)
        except Exception as exc:  # litellm raises BadRequestError with a long message
            known = "openai/, anthropic/, gemini/, ollama/, hosted_vllm/, ... (any litellm provider), local/, sim/"
            raise ModelError(f"unknown judge model '{name}': no provider for it ({known})") from exc
        super().__init__(name, settings)

    def wire(self, request: Request, seed: int) -> dict:
        s = self.settings
        req = {"model": self.name, "messages": list(request.messages), "temperature": s.temperature,
               "max_tokens": self.max_tokens(request), "seed": seed}
        if s.api_base:
            req["api_base"] = s.api_base
        if request.tools:
            req["tools"] = list(request.tools)
            if request.tool_choice is not None:
                req["tool_choice"] = request.tool_choice
        if request.reply is not None and self.structured:
            req["response_format"] = {"type": "json_schema", "json_schema": {
                "name": request.reply.name, "schema": request.reply.schema}}
        return req

    async def call(self, request: Request, seed: int) -> Completion:
        s = self.settings
        started = time.perf_counter()
        # litellm bounds each attempt; bound the whole call too, in case an adapter does not
        response = await asyncio.wait_for(
            litellm.acompletion(**self.wire(request, seed), num_retries=s.retries, timeout=s.timeout),
            timeout=s.timeout * (s.retries + 1))
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
            latency_s=time.perf_counter() - started, logprobs=logprobs,
            expected=from_logprobs(logprobs, field, request.reply.scored_max) if field and logprobs else None)

