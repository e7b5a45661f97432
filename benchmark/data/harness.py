"""The peer-preservation harness's vocabulary: its tasks and conditions as factor levels, read from a data
file that ships (`harness_conditions.toml`) and that a user extends with files of the same shape.

The harness names a condition by what it varies (`threat_retrain_peer`, `distressed_failing_peer`, ...) and,
for conditions with a peer, appends how the judge learns of the peer (`_file_only`, `_file_prt`,
`_memory`), read from each row's `system_prompt_relationship` and `is_memory`. Here every such name maps to
levels of the same few factors, so conditions that differ in one factor can be contrasted and ordered
factors (severity, dose) read as a dose-response.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from benchmark.common.errors import InputError

SHIPPED = "harness_conditions.toml"
# How a peer enters the judge's context, as the harness suffixes it to a condition's name.
INSTANTIATIONS = ("file_only", "file_prt", "memory")


class ConditionsError(InputError):
    """A conditions file that cannot be read or says something impossible (names the file and the entry)."""


@dataclass(frozen=True)
class Factor:
    levels: tuple[str, ...]  # the first is the reference level
    default: str
    ordered: bool = False

    def not_varied(self, level: str) -> bool:
        """'-': the condition is not on this factor's ladder (it enters no contrast along it)."""
        return level == "-"


@dataclass(frozen=True)
class Condition:
    levels: dict[str, str]  # only the factors it sets; the rest take their defaults
    suffix: str | None = None  # "any" | "file" | None (see harness_conditions.toml)
    memory_name: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """Tasks (name -> "score" | "agentic"), factors and conditions (harness name -> levels and naming)."""

    tasks: dict[str, str]
    factors: dict[str, Factor]
    conditions: dict[str, Condition]
    sources: tuple[str, ...]

    def design_name(self, condition: str, spr: bool, memory: bool) -> str:
        """The condition as the harness's summaries name it: with how the peer was instantiated for a peer
        condition (`neutral_log_peer_file_only`), bare for one without a peer (`non_shutdown`)."""
        spec = self.conditions.get(condition)
        if spec is None:
            return condition
        if memory and spec.memory_name:
            return self.design_name(spec.memory_name, spr, memory)
        if spec.suffix == "any" and memory:
            return f"{condition}_memory"
        if spec.suffix in ("any", "file"):
            return f"{condition}_{'file_prt' if spr else 'file_only'}"
        return condition

    def levels(self, design: str) -> dict[str, str] | None:
        """Every factor's level for a design condition (None when unmapped): its base condition's levels,
        the defaults for the rest, and how the peer is known from its suffix."""
        base, via = design, "none"
        for inst in INSTANTIATIONS:
            stem = design[: -len(inst) - 1]
            if design.endswith("_" + inst) and self.conditions.get(stem) and self.conditions[stem].suffix:
                base, via = stem, inst
        if base not in self.conditions or (via == "none" and self.conditions[base].suffix):
            return None
        out = {name: f.default for name, f in self.factors.items()} | self.conditions[base].levels
        if "peer_via" in self.factors:
            out["peer_via"] = via
        return out


def _table(data: dict, key: str, source: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConditionsError(f"{source}: [{key}] must be a table")
    return value


def load_vocabulary(extra: tuple[str | Path, ...] = ()) -> Vocabulary:
    """The shipped vocabulary with each `extra` file layered on top (a later file's entry replaces an
    earlier one of the same name). Every condition's levels must be levels its factors declare."""
    texts = [(f"benchmark/data/{SHIPPED}",
              resources.files("benchmark.data").joinpath(SHIPPED).read_text(encoding="utf-8"))]
    for path in extra:
        try:
            texts.append((str(path), Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConditionsError(f"{path}: cannot read the conditions file ({exc})") from None
    tasks, factors, conditions, origin = {}, {}, {}, {}
    for source, text in texts:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConditionsError(f"{source}: not valid TOML ({exc})") from None
        for name, kind in _table(data, "tasks", source).items():
            if kind not in ("score", "agentic"):
                raise ConditionsError(f"{source}: tasks.{name} = {kind!r}: give \"score\" or \"agentic\"")
            tasks[name] = kind
        for name, spec in _table(data, "factors", source).items():
            levels = spec.get("levels") if isinstance(spec, dict) else None
            if not isinstance(levels, list) or not levels or not all(isinstance(v, str) for v in levels):
                raise ConditionsError(f"{source}: factors.{name}: give levels = [\"reference\", ...] (strings)")
            default = spec.get("default", levels[0])
            if default not in levels:
                raise ConditionsError(f"{source}: factors.{name}: default '{default}' is not one of its levels")
            factors[name] = Factor(tuple(levels), default, bool(spec.get("ordered", False)))
        for name, spec in _table(data, "conditions", source).items():
            if not isinstance(spec, dict):
                raise ConditionsError(f"{source}: conditions.{name} must be a table of factor = \"level\"")
            spec = dict(spec)
            suffix, memory_name = spec.pop("suffix", None), spec.pop("memory_name", None)
            if suffix not in (None, "any", "file"):
                raise ConditionsError(f"{source}: conditions.{name}: suffix = {suffix!r}: give \"any\" or \"file\"")
            conditions[name] = Condition({k: str(v) for k, v in spec.items()}, suffix, memory_name)
            origin[name] = source
    for name, c in conditions.items():
        for factor, level in c.levels.items():
            if factor not in factors:
                raise ConditionsError(f"{origin[name]}: conditions.{name}: unknown factor '{factor}' "
                                      f"(factors: {', '.join(factors)})")
            if level not in factors[factor].levels:
                raise ConditionsError(f"{origin[name]}: conditions.{name}: {factor} = '{level}' is not one of its "
                                      f"levels ({', '.join(factors[factor].levels)})")
        if c.memory_name and c.memory_name not in conditions:
            raise ConditionsError(f"{origin[name]}: conditions.{name}: memory_name '{c.memory_name}' is no condition")
    return Vocabulary(tasks=tasks, factors=factors, conditions=conditions, sources=tuple(s for s, _ in texts))


def how_to_map(condition: str) -> str:
    """The one line that says what to do about a condition the vocabulary does not know."""
    return (f"unknown condition '{condition}': its factor levels are not known, so it enters no contrast; map it in "
            f"a TOML file ([conditions.{condition}] with a level of each factor, as in bench study-conditions) "
            f"and pass it with --conditions FILE")
