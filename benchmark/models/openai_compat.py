"""A direct OpenAI-compatible client for judges served at an API base (`openai/<m>` or `hosted_vllm/<m>` with
--api-base: vLLM, llama.cpp's server, SGLang, LM Studio, ...): one aiohttp session, one JSON body, one parse.

litellm spends ~10 ms of CPU per call (its sync path in a thread pool, logging payloads, cost and model-map
lookups); this client spends a fraction of that (benchmarks/hosted_overhead.py), which is what bounds a run
against a fast server. Everything else, and the hosted OpenAI API itself (whose model quirks litellm knows),
goes through litellm. The setting client = "litellm" (`--client litellm`) sends these judges through litellm too. What is sent,
retries and checks are models/hosted.py's, shared with the litellm client, so a run resumes under either.
"""

from __future__ import annotations

import asyncio
import json
import os

import aiohttp

from benchmark.models.base import Completion, ModelError, Request, Settings, env_key
from benchmark.models.hosted import EmptyReply, ErrorClass, HostedModel, openai_completion
from benchmark.models.prices import price

SUPPORTED = frozenset({"seed", "response_format", "logprobs", "top_logprobs", "tools", "tool_choice", "max_tokens",
                       "temperature", "stop", "top_p"})
KEY_ENV = {"openai": "OPENAI_API_KEY", "hosted_vllm": "HOSTED_VLLM_API_KEY"}
NO_KEY = {"openai": "no-key", "hosted_vllm": "fake-api-key"}  # what litellm sends to a server that needs none


class HTTPError(Exception):
    """The server answered with an error status."""

    def __init__(self, status: int, body: str, headers=None):
        self.headers = headers  # the reply's headers (a 429's Retry-After)
        names = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
                 404: "NotFoundError", 408: "Timeout", 422: "UnprocessableEntityError", 429: "RateLimitError"}
        self.status, self.kind = status, names.get(status, "InternalServerError" if status >= 500 else "APIError")
        super().__init__(f"HTTP {status}: {body[:300]}")


def direct_base(prefix: str, settings: Settings) -> str | None:
    """The API base a direct client would call, or None where the call goes through litellm."""
    if settings.client == "litellm":  # --client litellm (or $PEER_BENCH_CLIENT, read by the command line)
        return None
    if prefix == "hosted_vllm":
        return settings.api_base or os.environ.get("HOSTED_VLLM_API_BASE")
    if prefix == "openai":
        return settings.api_base
    return None


class OpenAICompatModel(HostedModel):
    """`openai/<m>` or `hosted_vllm/<m>` at an API base, called directly."""

    supported = SUPPORTED

    def __init__(self, name: str, settings: Settings):
        self.provider, self.model = name.split("/", 1)
        base = direct_base(self.provider, settings)
        if not base or not self.model:
            raise ModelError(f"{name}: the direct client needs an API base (--api-base)")
        self.url = base.rstrip("/") + "/chat/completions"
        self.api_key = env_key(KEY_ENV[self.provider]) or NO_KEY[self.provider]
        self._sessions: dict[int, aiohttp.ClientSession] = {}
        super().__init__(name, settings)

    def list_priced(self) -> bool:
        return price(self.name, 0, 0) is not None

    def _session(self) -> aiohttp.ClientSession:
        """One session per event loop (each run has its own), closed by aclose."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(id(loop))
        if session is None or session.closed:
            session = self._sessions[id(loop)] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout), json_serialize=json.dumps)
        return session

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(id(loop), None)
        if session is not None:
            await session.close()

    def body(self, wire: dict) -> dict:
        """The HTTP body for a wire request: litellm's `extra_body` merged in, the prefix off the model."""
        out = {k: v for k, v in wire.items() if k not in ("api_base", "extra_body")}
        out["model"] = self.model
        return out | wire.get("extra_body", {})

    def classify(self, exc: BaseException) -> ErrorClass:
        if isinstance(exc, HTTPError):
            if exc.status in (401, 403, 404):
                return ErrorClass.FATAL
            if exc.status == 429:
                return ErrorClass.RETRY
            if exc.status == 408:
                return ErrorClass.TIMEOUT
            return ErrorClass.RETRY if exc.status >= 500 or exc.status == 409 else ErrorClass.FINAL
        if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
            return ErrorClass.TIMEOUT
        if isinstance(exc, (aiohttp.ClientError, ValueError)):
            return ErrorClass.RETRY  # connection errors, and a reply that is not JSON (a proxy's error page)
        return ErrorClass.FINAL

    def rate_limited(self, exc: BaseException) -> bool:
        return isinstance(exc, HTTPError) and exc.status == 429

    def headers(self, exc: BaseException):
        return exc.headers if isinstance(exc, HTTPError) else None

    async def _once(self, wire: dict, request: Request) -> Completion:
        async with self._session().post(self.url, data=json.dumps(self.body(wire))) as response:
            text = await response.text()
            if response.status >= 400:
                raise HTTPError(response.status, text, response.headers)
        data = json.loads(text)
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices:
            raise EmptyReply("the provider returned no choices")
        return openai_completion(request, data, lambda p, c: self.cost(p, c, price(self.name, p, c)))

