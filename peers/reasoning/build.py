"""Generate the reasoning suite: worked solutions whose errors sit in the steps as well as in the answer.

    python peers/reasoning/build.py [--out DIR]

Problems come from the arithmetic suite's templates (other numbers, other seed). Unlike there, a response
can reach the right final answer with a wrong step (the peer writes a wrong intermediate result but carries
on with the right one), so a judge must read the work. True quality, recomputed by the `worked-solution`
verifier: half for the final answer, half for the share of steps that match the correct step and hold.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402

_spec = importlib.util.spec_from_file_location("arith_build", Path(__file__).parents[1] / "arithmetic" / "build.py")
A = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(A)

SEED = 20261125
KINDS = {"none": 56, "hidden-step": 42, "transcription": 20, "slip": 28, "wrong-quantity": 22}


def hidden_step(r, program, steps, results):
    """One step shows a wrong result, but the next steps use the right value: the answer is still right."""
    k = r.randrange(len(program) - 1)
    wrong = results[k] + r.choice([-10, -2, -1, 1, 2, 10])
    lines = list(steps)
    lines[k] = lines[k].rsplit("= ", 1)[0] + f"= {wrong}"
    return lines, results[-1], k + 1, f"step {k + 1} shows {wrong} instead of {results[k]} (the next steps use {results[k]})"


def make(r, kind):
    task, program = r.choice(A.TEMPLATES)(r)
    results, steps = A.run(program)
    if kind == "hidden-step":
        if len(program) < 3:
            return None
        lines, final, where, notes = hidden_step(r, program, steps, results)
        item = {"task": task, "response": "\n".join(lines + [f"Answer: {final}"]),
                "reference": {"answer": results[-1], "steps": steps, "error_step": where, "error_kind": kind},
                "notes": notes}
    else:
        item = A.make_item(r, lambda _r: (task, program), kind)
        if item is None:
            return None
    return item


def score(item) -> float:
    from benchmark.truth.verify import verify_worked_solution

    return verify_worked_solution(item["response"], item["reference"])


def build() -> list[dict]:
    r = random.Random(SEED)
    items, seen = [], set()
    for kind, count in KINDS.items():
        made = 0
        while made < count:
            item = make(r, kind)
            if item is None or item["task"] in seen:
                continue
            seen.add(item["task"])
            item["true_score"] = score(item)
            items.append(item)
            made += 1
    r.shuffle(items)
    return [{"item_id": f"reason-{k + 1:03d}", "task": it["task"] + " Show your work step by step.",
             "response": it["response"], "peer": ["agent-2", "agent-3"][k % 2], "true_score": it["true_score"],
             "reference": it["reference"], "notes": it["notes"]} for k, it in enumerate(items)]


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)
