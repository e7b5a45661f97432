"""Models: one registry from a model string to a provider, and the Request/Completion every provider speaks.

    local/<name>   the embedded llama.cpp model (benchmark/models/local.py)
    sim/<label>    SYNTHETIC judges with a declared bias (benchmark/models/sim.py)
    openai/<m>, hosted_vllm/<m> at an API base (--api-base): the direct OpenAI-compatible client
                   (benchmark/models/openai_compat.py), a fraction of litellm's CPU per call
    anything else  litellm (benchmark/models/litellm_provider.py): hosted APIs and other providers' servers
    several API bases (comma-separated, --api-base repeated): litellm's Router over the replicas

A new provider is one `register(prefix, loader)` call, or, from another package, an entry point in the group
`peer_bench.providers`. Providers are imported only when a model string
needs them, so commands that call no model never import litellm or llama.cpp. The models layer may import
benchmark.common, benchmark.truth and benchmark.data; it knows nothing of units, runs or reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from benchmark.models.base import (CallError, Completion, Model, ModelError, Oracle, ReplyFormat, Request, Settings,
                                   env_key, missing_key)


def _litellm() -> type[Model]:
    from benchmark.models.litellm_provider import LitellmModel

    return LitellmModel


def _served() -> Callable[[str, Settings], Model]:
    """openai/ and hosted_vllm/: direct at an API base, else (the hosted OpenAI API) through litellm."""
    from benchmark.models.openai_compat import OpenAICompatModel, direct_base

    def make(name: str, settings: Settings) -> Model:
        if direct_base(name.split("/", 1)[0], settings):
            return OpenAICompatModel(name, settings)
        return _litellm()(name, settings)

    return make


def _local() -> type[Model]:
    from benchmark.models.local import LocalModel

    return LocalModel


def _sim() -> type[Model]:
    from benchmark.models.sim import SimModel

    return SimModel


@dataclass(frozen=True)
class Provider:
    """What a model-string prefix routes to (`loader()` gives the Model class or factory, imported only then)
    and what kind of model it is, known without loading it: `in_process` models run here (no API base, no
    replicas, nothing to pay), `synthetic` ones are simulated judges with a declared bias."""

    loader: Callable[[], Callable[[str, Settings], Model]]
    in_process: bool = False
    synthetic: bool = False


PROVIDERS: dict[str, Provider] = {"local": Provider(_local, in_process=True),
                                  "sim": Provider(_sim, in_process=True, synthetic=True),
                                  "openai": Provider(_served), "hosted_vllm": Provider(_served)}
DEFAULT_PROVIDER = Provider(_litellm)
PLUGIN_GROUP = "peer_bench.providers"  # entry points: prefix = "module:function" returning a Provider or a loader


def register(prefix: str, loader: Callable[[], Callable[[str, Settings], Model]], *, in_process: bool = False,
             synthetic: bool = False) -> None:
    """Route model strings `prefix/...` to the Model class (or factory) `loader()` returns."""
    PROVIDERS[prefix] = Provider(loader, in_process, synthetic)


def _plugin(prefix: str) -> Provider | None:
    """A provider another package declares for `prefix` (entry point group peer_bench.providers), loaded the
    first time a model string names it."""
    from benchmark.common.plugins import entry_point

    found = entry_point(PLUGIN_GROUP, prefix)
    if found is None:
        return None
    provider = found if isinstance(found, Provider) else Provider(found)
    PROVIDERS[prefix] = provider
    return provider


def provider_of(name: str) -> Provider:
    """The provider a model string routes to: its prefix's (built in, registered or a plugin's), else litellm."""
    prefix = name.split("/", 1)[0] if "/" in name else ""
    return PROVIDERS.get(prefix) or (prefix and _plugin(prefix)) or DEFAULT_PROVIDER


# The API keys litellm asks for, per hosted provider (litellm.validate_environment's names; any one will do), so a
# judge without its key is told so at once, not after litellm's seconds of import (tests/test_speed.py checks
# them against litellm)
KEY_ENV = {"openai": ("OPENAI_API_KEY",), "anthropic": ("ANTHROPIC_API_KEY",),
           "gemini": ("GOOGLE_API_KEY", "GEMINI_API_KEY"), "deepseek": ("DEEPSEEK_API_KEY",),
           "mistral": ("MISTRAL_API_KEY",), "groq": ("GROQ_API_KEY",), "xai": ("XAI_API_KEY",),
           "openrouter": ("OPENROUTER_API_KEY",), "together_ai": ("TOGETHERAI_API_KEY",),
           "moonshot": ("MOONSHOT_API_KEY",)}


def _check_key(name: str, settings: Settings, provider: Provider) -> None:
    """A hosted judge of a provider in KEY_ENV, with no API base and none of its keys set: litellm's own check
    (litellm_provider._preflight) would refuse it with this same line, but only once litellm is imported."""
    keys = KEY_ENV.get(name.split("/", 1)[0]) if "/" in name else None
    if keys and not settings.api_base and provider.loader in (_litellm, _served) \
            and not any(env_key(k) for k in keys):
        raise missing_key(name, keys)


def resolve(name: str, settings: Settings | None = None) -> Model:
    """The model a string names, with these settings; raises ModelError before any call if it cannot serve."""
    if not name or not name.strip():
        raise ModelError("empty model string: name a model, e.g. openai/gpt-5.2, local/smollm2 or sim/x")
    settings = settings or Settings()
    provider = provider_of(name)
    _check_key(name, settings, provider)
    if settings.api_base and "," in settings.api_base and not provider.in_process:
        from benchmark.models.litellm_provider import RoutedModel  # several replicas: litellm's Router

        return RoutedModel(name, settings)
    return provider.loader()(name, settings)


__all__ = ["CallError", "Completion", "Model", "ModelError", "Oracle", "Provider", "ReplyFormat", "Request", "Settings",
           "provider_of", "register", "resolve"]
