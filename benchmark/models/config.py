"""Per-judge settings from a small TOML file, for runs that mix judges (an embedded model, a local server,
hosted APIs) that each need their own endpoint or provider arguments:

    [judges."openai/gpt-5.2"]
    extra = { reasoning_effort = "low" }        # passed to the provider as they are

    [judges."hosted_vllm/Qwen/Qwen3-8B"]
    api_base = "http://gpu-box:8000/v1"
    temperature = 0.7
    timeout = 300
    price = [0.10, 0.20]                        # dollars per million input, output tokens (your GPU's cost)

Keys: the per-judge options of `bench grade` (seed, temperature, max_tokens, api_base, structured, reply,
timeout, retries, cache), and logprobs, extra, price. Never put keys in it: API keys come from the environment.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Callable

from benchmark.common.options import PER_JUDGE, problem
from benchmark.models.base import ModelError, Settings

def _allowed(o) -> type | tuple:
    t = o.python_type
    return (str, list) if o.multiple else (int, float) if t is float else t


# A judge's own settings: every option that is a per-judge setting (benchmark/common/options.py), and the
# settings only a judges config has.
ALLOWED = {o.name: _allowed(o) for o in PER_JUDGE} | {"logprobs": bool, "extra": dict, "price": list}


def load_judges_config(path: str | Path) -> dict[str, Callable[[Settings], Settings]]:
    """judge name -> a function that puts that judge's settings over the run's."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no such judges config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid TOML: {exc}") from None
    judges = raw.get("judges")
    if not isinstance(judges, dict) or set(raw) != {"judges"}:
        raise ModelError(f'{path}: expected only [judges."<model>"] tables')
    out = {}
    for name, table in judges.items():
        if not isinstance(table, dict):
            raise ModelError(f'{path}: [judges."{name}"] must be a table')
        for key, value in table.items():
            if key not in ALLOWED:
                raise ModelError(f'{path}: [judges."{name}"] field \'{key}\': unknown (allowed: {", ".join(ALLOWED)})')
            if isinstance(value, bool) != (ALLOWED[key] is bool) or not isinstance(value, ALLOWED[key]):
                raise ModelError(f'{path}: [judges."{name}"] field \'{key}\': wrong type {type(value).__name__}')
            option = next((o for o in PER_JUDGE if o.name == key), None)
            if option and option.choices and value not in option.choices:
                raise ModelError(f'{path}: [judges."{name}"] field \'{key}\': {value!r} is not one of '
                                 f'{", ".join(option.choices)}')
            if option and (reason := problem(option, value)):  # the rules of the option of the same name
                raise ModelError(f'{path}: [judges."{name}"] field \'{key}\': {reason}')
            if key == "extra" and any(k.lower() in ("api_key", "key", "token") for k in value):
                raise ModelError(f'{path}: [judges."{name}"] extra: keys belong in the environment, not in a file')
        if isinstance(table.get("api_base"), list):  # replicas of one judge: load-balanced by litellm's Router
            bases = table["api_base"]
            if not bases or not all(isinstance(b, str) and b for b in bases):
                raise ModelError(f'{path}: [judges."{name}"] field \'api_base\': a URL or a list of URLs')
            table = table | {"api_base": ",".join(bases)}
        if "price" in table:
            price = table["price"]
            if len(price) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0
                                          and math.isfinite(x) for x in price):
                raise ModelError(f'{path}: [judges."{name}"] field \'price\': two numbers >= 0, dollars per million '
                                 "input and output tokens")
            table = table | {"price": (float(price[0]), float(price[1]))}
        out[name] = lambda s, t=dict(table): dataclasses.replace(s, **t)
    return out
