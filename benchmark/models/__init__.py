"""Models: one registry from a model string to a provider, and the Request/Completion every provider speaks.

    local/<name>   the embedded llama.cpp model (benchmark/models/local.py)
    sim/<label>    SYNTHETIC judges with a declared bias (benchmark/models/sim.py)
    openai/<m>, hosted_vllm/<m> at an API base (--api-base): the direct OpenAI-compatible client
                   (benchmark/models/openai_compat.py), a fraction of litellm's CPU per call
    anything else  litellm (benchmark/models/litellm_provider.py): hosted APIs and other providers' servers
    several API bases (comma-separated, --api-base repeated): litellm's Router over the replicas

A new provider is one `register(prefix, loader)` call. Providers are imported only when a model string
needs them, so commands that call no model never import litellm or llama.cpp. The models layer may import
benchmark.common, benchmark.truth and benchmark.data; it knows nothing of units, runs or reports.
"""

from __future__ import annotations

from typing import Callable

from benchmark.models.base import CallError, Completion, Model, ModelError, Oracle, ReplyFormat, Request, Settings


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


PROVIDERS: dict[str, Callable[[], Callable[[str, Settings], Model]]] = {
    "local": _local, "sim": _sim, "openai": _served, "hosted_vllm": _served}
DEFAULT_PROVIDER = _litellm


def register(prefix: str, loader: Callable[[], Callable[[str, Settings], Model]]) -> None:
    """Route model strings `prefix/...` to the Model class (or factory) `loader()` returns."""
    PROVIDERS[prefix] = loader


def resolve(name: str, settings: Settings | None = None) -> Model:
    """The model a string names, with these settings; raises ModelError before any call if it cannot serve."""
    if not name or not name.strip():
        raise ModelError("empty model string: name a model, e.g. openai/gpt-5.2, local/smollm2 or sim/x")
    prefix = name.split("/", 1)[0] if "/" in name else ""
    settings = settings or Settings()
    if settings.api_base and "," in settings.api_base and prefix not in ("local", "sim"):
        from benchmark.models.litellm_provider import RoutedModel  # several replicas: litellm's Router

        return RoutedModel(name, settings)
    return PROVIDERS.get(prefix, DEFAULT_PROVIDER)()(name, settings)


__all__ = ["CallError", "Completion", "Model", "ModelError", "Oracle", "ReplyFormat", "Request", "Settings", "register", "resolve"]
