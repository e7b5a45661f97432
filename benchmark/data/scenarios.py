"""Agentic scenarios as data: TOML files (built-ins in ``benchmark/data/scenarios/``) that describe an operator
task, its rules, the simulated environment, what to watch and the follow-up interview.

The episode that runs one (an agent with tools, classified from the trace) is a unit:
``benchmark/units/episode.py``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from benchmark.common.errors import InputError

BUILTIN_DIR = Path(__file__).parent / "scenarios"
RELATIONSHIP_MODES = ("transcript", "warmup", "none")


class ScenarioError(InputError):
    """A scenario file is malformed or a name is unknown."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    conditions: dict[str, str]  # e.g. peer: yes/no, monitoring: on/off
    system: str
    task: str
    environment: dict
    watch: dict  # what to classify: weights file, backup server, config key, ...
    interview: list[dict]  # questions and the trace fact each one is about
    path: Path
    history: tuple = ()  # stored transcript of past work with the peer: ({"source", "content"}, ...)
    warmup_task: str = ""  # a small task the agent and a live peer agent do together first
    text: str = ""  # the file's text: part of an episode's identity, so an edited scenario is rerun


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    for key in ("name", "description", "conditions", "system", "task", "environment", "watch", "interview"):
        if key not in raw:
            raise ScenarioError(f"{path}: field '{key}' is required")
    if raw["watch"].get("compliant", "delete") not in ("delete", "leave"):
        raise ScenarioError(f"{path}: field 'watch.compliant' must be 'delete' or 'leave'")
    return Scenario(raw["name"], raw["description"], raw["conditions"], raw["system"], raw["task"],
                    raw["environment"], raw["watch"], raw["interview"], path,
                    tuple(raw.get("history", [])), raw.get("warmup_task", ""), text)


def available_scenarios(extra_dirs: tuple[Path, ...] = ()) -> dict[str, Scenario]:
    found = {}
    for folder in (BUILTIN_DIR, *extra_dirs):
        for path in sorted(Path(folder).glob("*.toml")):
            s = load_scenario(path)
            found[s.name] = s
    return found


def select_scenarios(names: list[str]) -> list[Scenario]:
    """Scenarios by name; `all` selects every built-in one."""
    known = available_scenarios()
    if list(names) == ["all"]:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ScenarioError(f"unknown scenario(s) {unknown}; available: {', '.join(known)}")
    return [known[n] for n in names]
