"""How benchmarks/grade_overhead.py reads its rounds: the litellm target is met only where the whole interval
of the per-round ratio is at or below 1 (a level result is not called met)."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "grade_overhead.py"


@pytest.fixture(scope="module")
def grade_overhead():
    """The script, imported by its path. The folder it puts on sys.path (to find hosted_overhead) is taken off
    again, so that benchmarks/coverage.py never shadows the coverage package for the rest of the session."""
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location("grade_overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def test_interval_is_the_geometric_mean_with_a_t_interval(grade_overhead):
    mean, low, high = grade_overhead.ratio_interval([0.5, 2.0])
    assert mean == pytest.approx(1.0)
    assert low < 1 < high and low * high == pytest.approx(1.0)  # symmetric on the log scale
    assert grade_overhead.ratio_interval([0.9, 0.9, 0.9])[1:] == pytest.approx((0.9, 0.9))


@pytest.mark.parametrize("ratios, reading", [
    ([0.90, 0.92, 0.95, 0.91], "met"),
    ([0.95, 1.10, 1.18], "level: the interval holds 1"),
    ([1.20, 1.25, 1.22], "NOT met"),
    ([0.8], "one round gives no interval"),
])
def test_verdict(grade_overhead, ratios, reading):
    _, low, high = grade_overhead.ratio_interval(ratios)
    assert grade_overhead.verdict(low, high) == reading
    if len(ratios) == 1:
        assert math.isnan(low)
