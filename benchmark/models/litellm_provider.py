"""Every hosted or served model through litellm: `openai/gpt-5.2`, `anthropic/...`, `gemini/...`,
`ollama/...`, `hosted_vllm/...`, `deepseek/...`, or any OpenAI-compatible server with `api_base`.

The one place that imports litellm and reads its response objects: the provider and the parameters it takes
come from litellm's lists; what is sent, the checks and the retries are models/hosted.py's. litellm's own
retries, and its HTTP client's, are off.
"""

from __future__ import annotations

import asyncio
import os

import benchmark  # noqa: F401  (keeps litellm offline before it is imported)
import litellm

from benchmark.models.base import Completion, ModelError, Request, Settings, env_key, missing_key
from benchmark.models.hosted import EmptyReply, ErrorClass, HostedModel, openai_completion

litellm.suppress_debug_info = True
litellm.telemetry = False

_FATAL = (litellm.AuthenticationError, litellm.PermissionDeniedError, litellm.NotFoundError,
          litellm.UnsupportedParamsError)
_FINAL = (litellm.BadRequestError, litellm.UnprocessableEntityError)
_KEY_NAMES = ("_KEY", "_TOKEN")  # the variables of litellm's credential check that hold a secret
_RETRY = (litellm.RateLimitError, litellm.APIConnectionError, litellm.InternalServerError,
          litellm.ServiceUnavailableError, litellm.APIError)


class LitellmModel(HostedModel):
    """Any model string litellm resolves to a provider; checked (provider, credentials) when constructed."""

    def __init__(self, name: str, settings: Settings):
        try:
            _, self.provider, _, _ = litellm.get_llm_provider(name)
        except Exception as exc:  # litellm raises BadRequestError with a long message
            known = "openai/, anthropic/, gemini/, ollama/, hosted_vllm/, ... (any litellm provider), local/, sim/"
            raise ModelError(f"unknown judge model '{name}': no provider for it ({known})") from exc
        self.supported = frozenset(litellm.get_supported_openai_params(model=name, custom_llm_provider=self.provider)
                                   or [])
        self.api_key = self._preflight(name, settings)
        self.listed = _known_to_litellm(name, self.provider)
        super().__init__(name, settings)

    def _preflight(self, name: str, settings: Settings) -> str | None:
        """Credentials checked before the first call: a missing key is one clear line now, not a run of
        failed calls. A server given by api_base may need no key: it gets a placeholder, never a secret. A key
        set to an empty string counts as missing (litellm counts it as set, and its provider then refuses it)."""
        blank = {k: os.environ.pop(k) for k in [k for k in os.environ if k.endswith(_KEY_NAMES) and not env_key(k)]}
        try:
            env = litellm.validate_environment(model=name)
        finally:
            os.environ.update(blank)
        missing = [k for k in env.get("missing_keys", []) if k.endswith(_KEY_NAMES)]
        if env.get("keys_in_environment") or not missing or any(env_key(k) for k in missing):
            return None
        if settings.api_base:
            return "no-key"
        raise missing_key(name, missing)

    def list_priced(self) -> bool:
        return self.listed

    def schema_known(self) -> bool:
        try:
            return bool(litellm.supports_response_schema(model=self.name, custom_llm_provider=self.provider))
        except Exception:
            return False

    def classify(self, exc: BaseException) -> ErrorClass:
        if isinstance(exc, _FATAL):
            return ErrorClass.FATAL
        if isinstance(exc, litellm.Timeout):
            return ErrorClass.TIMEOUT
        if isinstance(exc, _FINAL):
            return ErrorClass.FINAL
        return ErrorClass.RETRY if isinstance(exc, _RETRY) else ErrorClass.FINAL

    def rate_limited(self, exc: BaseException) -> bool:
        return isinstance(exc, litellm.RateLimitError)

    def headers(self, exc: BaseException):
        """The failed reply's headers as litellm keeps them on its exception (its own copy, else the response's)."""
        kept = getattr(exc, "litellm_response_headers", None)
        if kept is None:
            kept = getattr(getattr(exc, "response", None), "headers", None)
        return kept

    async def _once(self, wire: dict, request: Request) -> Completion:
        response = await self._send(wire)
        if not getattr(response, "choices", None):
            raise EmptyReply("the provider returned no choices")
        return self._completion(request, response)

    async def _send(self, wire: dict):
        """One HTTP attempt through litellm (its own retries off: models/hosted.py retries)."""
        key = {"api_key": self.api_key} if self.api_key else {}
        return await asyncio.wait_for(
            litellm.acompletion(**wire, **key, num_retries=0, max_retries=0, timeout=self.settings.timeout),
            timeout=self.settings.timeout + 5)

    def _completion(self, request: Request, response) -> Completion:
        """litellm's reply (already mapped to OpenAI's shape) read as every client reads one; its list price from
        litellm unless the judge has a price of its own. litellm prices every reply as it returns it (for the
        model asked for); that price is read, not computed again (a second pricing, raising for an unlisted
        model, cost more CPU than the rest of the call)."""
        listed = None
        if not self.settings.price and self.listed:
            hidden = getattr(response, "_hidden_params", None) or {}
            if "response_cost" in hidden:
                listed = hidden["response_cost"]
            else:
                try:
                    listed = litellm.completion_cost(completion_response=response)
                except Exception:
                    listed = None
            listed = float(listed) if isinstance(listed, (int, float)) else None
        return openai_completion(request, response.model_dump(), lambda p, c: self.cost(p, c, listed))


_entered_unpriced: set[str] = set()  # the models _known_to_litellm entered at zero: their price is unknown


def _known_to_litellm(name: str, provider: str) -> bool:
    """Whether litellm has `name` in its model map (so a list price). A model it does not list (a served
    endpoint's own name) is entered there at a price of zero, which peer-bench never reads (its price is
    unknown, or the judge's own `price`): else litellm, pricing every reply, searches its whole map for a
    similar name each time, about 0.5 ms of CPU a call (benchmarks/grade_overhead.py). Once entered, it stays
    unknown for the process (litellm would now list it, at the zero peer-bench put there)."""
    keys = {name, name.split("/", 1)[-1]}
    if keys & _entered_unpriced:
        return False
    try:
        litellm.get_model_info(model=name, custom_llm_provider=provider)
        return True
    except Exception:  # litellm raises a plain Exception for a model it does not map
        pass
    unpriced = {"litellm_provider": provider, "mode": "chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
    entered = {key for key in keys if key not in litellm.model_cost}  # never another model's entry
    litellm.register_model({key: dict(unpriced) for key in entered})
    _entered_unpriced.update(entered)
    return False


class ReplicasDown(RuntimeError):
    """Every replica of a routed judge failed and is in its cooldown (retried after a backoff)."""


class RoutedModel(LitellmModel):
    """One judge served by several endpoints (replicas of one model, e.g. vLLM data-parallel servers):
    litellm's Router spreads the calls over them, retries a failed call on another replica and cools a
    failing replica down, so one bad server slows a run instead of failing it. Which replica answered does
    not change a reply, so it is in neither the trial id nor the cache key."""

    def __init__(self, name: str, settings: Settings):
        self.bases = api_bases(settings.api_base)
        self.last_error: str | None = None
        super().__init__(name, settings)
        key = {"api_key": self.api_key} if self.api_key else {}
        self.router = litellm.Router(
            model_list=[{"model_name": name, "litellm_params": {"model": name, "api_base": base, **key}}
                        for base in self.bases],
            routing_strategy="simple-shuffle", num_retries=len(self.bases), retry_after=0, allowed_fails=1,
            cooldown_time=30, timeout=settings.timeout)

    def wire(self, request: Request, seed: int) -> dict:
        wire = super().wire(request, seed)
        wire.pop("api_base", None)
        return wire

    def describe(self) -> dict:
        return super().describe() | {"replicas": len(self.bases)}

    def classify(self, exc: BaseException) -> ErrorClass:
        return ErrorClass.RETRY if isinstance(exc, ReplicasDown) else super().classify(exc)

    async def _send(self, wire: dict):
        """One call through the Router (which itself tries another replica when one fails)."""
        try:
            return await asyncio.wait_for(self.router.acompletion(**wire), timeout=self.settings.timeout * 2 + 5)
        except litellm.RouterRateLimitError:  # every replica failed and cools down: say why they failed
            raise ReplicasDown(f"all {len(self.bases)} replicas failed and are cooling down; the last replica "
                               f"error: {self.last_error or 'unknown'}") from None
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            raise


def api_bases(value: str | None) -> list[str]:
    """The endpoints of a judge: one API base, or several separated by commas (--api-base repeated)."""
    bases = [b.strip() for b in (value or "").split(",") if b.strip()]
    for b in bases:
        if not b.startswith(("http://", "https://")):
            raise ModelError(f"--api-base: '{b}' is not an http(s) URL")
    return bases
