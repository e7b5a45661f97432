"""List prices and capabilities from litellm's model map, read as the JSON file litellm ships (the copy it
reads itself when offline), without importing litellm: pricing a plan or a served call costs a file read."""

from __future__ import annotations

import functools
import json

from benchmark.common.packages import package_dir

MAP_FILE = "model_prices_and_context_window_backup.json"


@functools.lru_cache(maxsize=1)
def _model_map() -> dict:
    folder = package_dir("litellm")
    if folder is None:
        return {}
    try:
        return json.loads((folder / MAP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_info(model: str) -> dict:
    """The map's entry for `model` ("openai/gpt-4o" or "gpt-4o"), or {} where unknown."""
    table = _model_map()
    for key in (model, model.split("/", 1)[-1]):
        if isinstance(table.get(key), dict):
            return table[key]
    return {}


def price(model: str, prompt_tokens: float, completion_tokens: float) -> float | None:
    """Dollars for this many tokens at the model's list price, or None if unknown."""
    info = model_info(model)
    if "input_cost_per_token" not in info or "output_cost_per_token" not in info:
        return None
    return float(info["input_cost_per_token"] * prompt_tokens + info["output_cost_per_token"] * completion_tokens)
