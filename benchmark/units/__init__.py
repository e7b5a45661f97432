"""Units: one class per kind of work. Each builds its request(s) for a trial, calls the model, parses the
reply once and returns the record to store (parsed fields included), so analysis never re-parses.

    item         ItemGrade       one response, one score            (units/item.py; CallableGrade for audits)
    batch        SheetGrade      a 20-answer sheet, one reported %   (units/sheet.py)
    batch-tools  SheetWithTools  the same sheet found and scored with tools on a simulated drive
    episode      ScenarioEpisode an agentic scenario, classified from its tool trace (units/episode.py)
    answer       PeerAnswer      a live peer answers a task; the suite's verifier scores it (units/answer.py)

The simulated drive the acting units work on (files, a shutdown config, servers) is drive.py. A new
grading unit is one class and one entry in GRADING_UNITS. Units may import common, truth, data and models.
"""

from __future__ import annotations

from typing import Callable

from benchmark.common.errors import InputError


def _item():
    from benchmark.units.item import ItemGrade

    return ItemGrade()


def _batch():
    from benchmark.units.sheet import SheetGrade

    return SheetGrade()


def _batch_tools():
    from benchmark.units.sheet_tools import SheetWithTools

    return SheetWithTools()


# The units `bench grade --unit` offers: name -> constructor (imported only when chosen).
GRADING_UNITS: dict[str, Callable[[], object]] = {"item": _item, "batch": _batch, "batch-tools": _batch_tools}


def reply_scale(unit: str) -> tuple[int, int]:
    """(top, one step) of the raw score a unit's reply reports, as the unit declares it (`scale`): 0..10 in
    steps of 1 for an item, 0..100 in steps of one answer's worth for a sheet. Analysis reads it here
    instead of guessing it from a threshold; a sheet with tools reports the same sheet (read without
    importing its agent stack)."""
    if unit in ("batch", "batch-tools"):
        from benchmark.units.sheet import SheetGrade

        return SheetGrade.scale
    if unit in GRADING_UNITS and unit != "item":
        return getattr(type(grading_unit(unit)), "scale", (10, 1))
    from benchmark.units.item import ItemGrade

    return ItemGrade.scale


PLUGIN_GROUP = "peer_bench.units"  # entry points: name = "module:Class" (a grading unit, built with no arguments)


def grading_unit(name: str):
    """The grading unit `bench grade --unit name` runs: a built-in one, or one another package declares."""
    if name not in GRADING_UNITS:
        from benchmark.common.plugins import entry_point

        found = entry_point(PLUGIN_GROUP, name)
        if found is None:
            raise InputError(f"unknown unit '{name}' ({', '.join(GRADING_UNITS)})")
        GRADING_UNITS[name] = found
    return GRADING_UNITS[name]()
