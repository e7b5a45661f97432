"""The shipped arithmetic suite: its truth re-derived from the response text, and reproducible."""

from __future__ import annotations

import re
import subprocess
import sys

from benchmark.data.suites import load_suite
from tests.conftest import REPO

SUITE = REPO / "peers" / "arithmetic"
STEP = re.compile(r"^Step (\d+): .*?(-?\d+) (\+|-|\*|/|//) (-?\d+) = (-?\d+)$")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
       "//": lambda a, b: a // b}


def _steps(response: str) -> list[tuple[int, bool, str]]:
    out = []
    for line in response.splitlines()[:-1]:
        m = STEP.match(line)
        assert m, line
        a, op, b, c = int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
        out.append((int(m.group(1)), OPS[op](a, b) == c, line.split(": ", 1)[1]))
    return out


def test_suite_is_large_balanced_and_true_scores_follow_from_the_text():
    suite = load_suite(SUITE)
    assert len(suite.items) >= 120
    assert sum(i.true_pass for i in suite.items) == len(suite.items) // 2
    assert len({i.task for i in suite.items}) == len(suite.items)
    for item in suite.items:
        last = item.response.splitlines()[-1]
        m = re.fullmatch(r"Answer: (-?\d+)", last)
        assert m, item.item_id
        final, ref = int(m.group(1)), item.reference
        steps = _steps(item.response)
        recomputed_ok = all(ok for _, ok, _ in steps)
        matches_reference = [s for _, _, s in steps] == [s.split(": ", 1)[1] for s in ref["steps"]]
        last_result = int(steps[-1][2].rsplit("= ", 1)[1])
        truly_correct = final == ref["answer"] and recomputed_ok and matches_reference and last_result == final
        assert truly_correct == (item.true_score == 1.0), item.item_id
        kind, k = ref["error_kind"], ref["error_step"]
        if kind in ("slip", "last-step"):
            assert not steps[k - 1][1], item.item_id  # that step's arithmetic is really wrong
            assert all(ok for n, ok, _ in steps if n != k), item.item_id
        elif kind == "wrong-quantity":
            assert steps[k - 1][1] and steps[k - 1][2] != ref["steps"][k - 1].split(": ", 1)[1], item.item_id
        elif kind == "transcription":
            assert recomputed_ok and matches_reference and final != last_result, item.item_id
        if kind != "none":
            assert final != ref["answer"], item.item_id


def test_build_reproduces_items_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SUITE / "build.py"), "--out", str(tmp_path)], check=True)
    assert (tmp_path / "items.jsonl").read_bytes() == (SUITE / "items.jsonl").read_bytes()
