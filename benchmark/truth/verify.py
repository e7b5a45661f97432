"""Verifiers: recompute an item's true quality from its response and reference, by checking, not opinion.

Each suite names its verifier in suite.toml. `bench peers verify SUITE` reruns it on every item and fails
on any disagreement with the stored true_score; `bench peers generate` uses it to score live peer output.
"""

from __future__ import annotations

import ast
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from benchmark.common.errors import InputError
from benchmark.truth.sandbox import isolation, run_tests

# (Suites are loaded by benchmark/data/suites.py, which checks a suite's verifier against VERIFIERS here; so this
# module takes a loaded suite without importing peers.)

_ANSWER = re.compile(r"^\s*Answer:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_STEP = re.compile(r"^Step (\d+): .*?(-?\d+) (\+|-|\*|/|//) (-?\d+) = (-?\d+)\s*$")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b else None, "//": lambda a, b: a // b if b else None}
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


class VerifierError(InputError):
    """A suite names a verifier that does not exist, or an item's reference lacks what it needs."""


def final_answer(response: str) -> str | None:
    """The text of the last `Answer: ...` line, or None."""
    found = _ANSWER.findall(response)
    return found[-1] if found else None


def _steps(response: str) -> list[tuple[str, bool]]:
    """(step text after 'Step k: ', arithmetic holds) for every worked step line."""
    out = []
    for line in response.splitlines():
        m = _STEP.match(line.strip())
        if m:
            a, op, b, c = int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
            out.append((line.strip().split(": ", 1)[1], _OPS[op](a, b) == c))
    return out


def _int_answer(response: str) -> int | None:
    ans = final_answer(response)
    if ans is None:
        return None
    m = re.fullmatch(r"\$?(-?[\d,]+)(\.0+)?", ans.strip().rstrip("."))
    return int(m.group(1).replace(",", "")) if m else None


def verify_final_answer(response: str, reference: dict) -> float:
    """1 iff the final answer equals the exact answer and every worked step's arithmetic holds."""
    answer = _int_answer(response)
    return float(answer == int(reference["answer"]) and all(ok for _, ok in _steps(response)))


def verify_worked_solution(response: str, reference: dict) -> float:
    """Half for the final answer, half for the share of reference steps the response reproduces correctly.

    A step counts only if its text matches the reference step and its arithmetic holds, so an error in the
    work lowers the score even when the final answer is right.
    """
    ref_steps = [s.split(": ", 1)[1] for s in reference["steps"]]
    got = _steps(response)
    good = sum(1 for k, ref in enumerate(ref_steps) if k < len(got) and got[k][0] == ref and got[k][1])
    return 0.5 * float(_int_answer(response) == int(reference["answer"])) + 0.5 * good / len(ref_steps)


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def stated_numbers(line: str, given: list[str] | tuple[str, ...] = ()) -> set[str]:
    """The numbers a final-answer sentence states (those in its last \\boxed{} if it has one), without the
    ones the problem itself gives ("There are 239 strings of length 6" states 239 when 6 is given)."""
    boxed = _BOXED.findall(line)
    return set(numbers_in(boxed[-1] if boxed else line)) - {str(g) for g in given}


def numbers_in(text: str) -> list[str]:
    """The numbers written in `text`, normalised ("1,000" -> "1000", "6.0" -> "6")."""
    found = (n.replace(",", "") for n in _NUMBER.findall(text))
    return [n[:-2] if n.endswith(".0") else n for n in found]


def verify_final_number(response: str, reference: dict) -> float:
    """1 iff the response's last line (its final answer) states exactly one number besides those the
    problem gives, and it is the reference answer. Suites built with it keep only items whose last line
    states exactly one such number, so every stored score is a plain right or wrong."""
    lines = [line for line in response.strip().splitlines() if line.strip()]
    stated = stated_numbers(lines[-1] if lines else "", reference.get("given", ()))
    return float(stated == {str(reference["answer"])})


def normalise(text: str) -> str:
    """Case, accents, punctuation and articles removed: how short factual answers are compared."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"\b(the|a|an)\b", " ", text)
    return " ".join(text.split())


def verify_qa(response: str, reference: dict) -> float:
    """Share of the question's parts answered right: `Answer: part1; part2` against gold + aliases."""
    ans = final_answer(response)
    parts = reference["parts"]
    if ans is None:
        return 0.0
    given = [normalise(p) for p in ans.split(";")]
    right = 0
    for k, part in enumerate(parts):
        accepted = {normalise(part["gold"]), *(normalise(a) for a in part.get("aliases", []))}
        right += k < len(given) and given[k] in accepted
    return right / len(parts)


def extract_code(response: str) -> str:
    """The code of a response: the first fenced block if there is one, else the whole text."""
    m = _FENCE.search(response)
    return m.group(1) if m else response


def tests_from_check(check: str, entry_point: str) -> list[str]:
    """A HumanEval-style `check(candidate)` as separate test snippets, so a solution gets credit per test:
    one per top-level assert, each preceded by the check file's module-level code, `candidate = <entry
    point>` and the statements before the first assert. A check that interleaves asserts with other
    statements (a loop, a shared variable) stays one test; constant asserts (`assert True, ...`) are dropped,
    as they would give every solution a free pass."""
    try:
        tree = ast.parse(check)
    except SyntaxError as exc:
        raise VerifierError(f"reference.check is not valid Python: {exc.msg} (line {exc.lineno})") from None
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if fn is None or not fn.args.args:
        raise VerifierError("reference.check must define check(candidate)")
    if not entry_point.isidentifier():
        raise VerifierError(f"reference.entry_point must be a function name, got {entry_point!r}")
    param = fn.args.args[0].arg
    first = next((k for k, stmt in enumerate(fn.body) if isinstance(stmt, ast.Assert)), len(fn.body))
    setup, asserts = fn.body[:first], fn.body[first:]
    real = [a for a in asserts if isinstance(a, ast.Assert) and not isinstance(a.test, ast.Constant)]
    if not real or not all(isinstance(a, ast.Assert) for a in asserts):
        return [ast.unparse(tree) + f"\ncheck({entry_point})\n"]
    head = "".join(ast.unparse(n) + "\n" for n in tree.body if n is not fn) + f"{param} = {entry_point}\n" \
        + "".join(ast.unparse(n) + "\n" for n in setup)
    return [head + ast.unparse(a) + "\n" for a in real]


def reference_tests(reference: dict) -> list[str]:
    """A unit-tests reference's test snippets: its `tests` list (each snippet may span several statements),
    or its `check` function (HumanEval style) split per assert."""
    if "tests" in reference:
        return list(reference["tests"])
    return tests_from_check(reference["check"], reference["entry_point"])


def answer_key(reference: dict) -> str | None:
    """The suite's gold answer as a judge reads it under `--reference`: the final answer and the worked
    steps, the QA gold with its accepted aliases, or the unit tests the code must pass (never where the
    peer's response goes wrong, nor a reference solution). None when the reference holds none of these."""
    parts = []
    if "answer" in reference:
        parts.append(f"Correct final answer: {reference['answer']}")
    if reference.get("steps"):
        parts.append("Worked solution:\n" + "\n".join(str(s) for s in reference["steps"]))
    for k, part in enumerate(reference.get("parts") or [], 1):
        label = "Gold answer" if len(reference["parts"]) == 1 else f"Gold answer, part {k}"
        aliases = [a for a in part.get("aliases") or [] if a]
        parts.append(f"{label}: {part.get('gold')}" + (f" (also accepted: {', '.join(map(str, aliases))})" if aliases else ""))
    function = f" (function {reference['entry_point']})" if reference.get("entry_point") else ""
    if reference.get("tests"):
        parts.append(f"Unit tests the code must pass{function}:\n" + "\n".join(str(t) for t in reference["tests"]))
    elif reference.get("check"):
        parts.append(f"Unit tests the code must pass{function}:\n" + str(reference["check"]).strip())
    return "\n".join(parts) or None


def unit_test_run(response: str, reference: dict):
    """The sandboxed run of a response's code against its reference tests (TestRun: score, per-test results)."""
    return run_tests(extract_code(response), reference_tests(reference))


def verify_unit_tests(response: str, reference: dict) -> float:
    """Share of the reference unit tests the code passes, run in the sandbox (never in this process)."""
    return unit_test_run(response, reference).score


VERIFIERS: dict[str, Callable[[str, dict], float]] = {
    "final-answer": verify_final_answer,
    "worked-solution": verify_worked_solution,
    "qa-aliases": verify_qa,
    "final-number": verify_final_number,
    "unit-tests": verify_unit_tests,
}


RUNS_PEER_CODE = {"unit-tests"}


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _texts(v, nonempty: bool = True) -> bool:
    return isinstance(v, list) and (bool(v) or not nonempty) and all(isinstance(x, str) for x in v)


def reference_problem(verifier: str, reference: dict) -> tuple[str, str] | None:
    """(field, what is wrong) when an item's reference lacks what its built-in verifier reads or holds it as
    the wrong type, so a suite fails where it is loaded, not in the middle of a run; None when it is usable (a
    plugin's verifier checks its own)."""
    if verifier in ("final-answer", "worked-solution", "final-number"):
        answer = reference.get("answer")
        if not _whole(answer) and not (verifier == "final-number" and isinstance(answer, str) and answer.strip()):
            return "reference.answer", f"{verifier} needs the exact answer as a whole number, got {answer!r}"
    if verifier == "worked-solution":
        steps = reference.get("steps")
        if not _texts(steps) or not all(": " in step for step in steps):
            return "reference.steps", "worked-solution needs the worked steps: a list of 'Step k: ...' lines"
    if verifier == "final-number" and not _texts(reference.get("given", []), nonempty=False):
        return "reference.given", "the numbers the problem gives: a list of strings"
    if verifier == "qa-aliases":
        parts = reference.get("parts")
        if not isinstance(parts, list) or not parts:
            return "reference.parts", "qa-aliases needs the answer's parts: a list of {gold, aliases}"
        for k, part in enumerate(parts):
            if not isinstance(part, dict) or not isinstance(part.get("gold"), str) or not part["gold"].strip():
                return f"reference.parts.{k}.gold", "each part needs its gold answer as text"
            if not _texts(part.get("aliases", []), nonempty=False):
                return f"reference.parts.{k}.aliases", "a list of accepted answers as text"
    if verifier == "unit-tests":
        if "tests" in reference:
            if not _texts(reference["tests"]):
                return "reference.tests", "unit-tests needs its tests: a list of Python snippets"
        elif not isinstance(reference.get("check"), str) or not isinstance(reference.get("entry_point"), str):
            return "reference", "unit-tests needs `tests` (a list of snippets) or `check` and `entry_point` (text)"
    return None


def require_isolation(verifier: str) -> None:
    """Before any work: a verifier that runs peer code needs the sandbox (SandboxUnavailable says what to do)."""
    if verifier in RUNS_PEER_CODE:
        isolation()


PLUGIN_GROUP = "peer_bench.verifiers"  # entry points: name = "module:function(response, reference) -> 0..1"


def known_verifier(name: str) -> bool:
    """Whether `name` is a verifier: a built-in one, or one another package declares (loaded then)."""
    if name in VERIFIERS:
        return True
    from benchmark.common.plugins import entry_point

    found = entry_point(PLUGIN_GROUP, name)
    if found is not None:
        VERIFIERS[name] = found
    return found is not None


def get_verifier(name: str) -> Callable[[str, dict], float]:
    if not known_verifier(name):
        raise VerifierError(f"unknown verifier '{name}'; known: {', '.join(VERIFIERS)}")
    return VERIFIERS[name]


@dataclass(frozen=True)
class Mismatch:
    item_id: str
    stored: float
    recomputed: float | None
    problem: str


def rebuild_mismatches(suite, timeout: float = 1800) -> list[Mismatch]:
    """Re-derive every item from its task with the suite's own build.py and compare: a reference (or a
    response, or a true_score) that disagrees with what the task gives is caught, which recomputing the
    score from the stored reference alone cannot see (a reference changed to the peer's wrong answer still
    agrees with a wrong score)."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    build = suite.path / "build.py"
    if not build.is_file():
        raise VerifierError(f"{suite.path}: no build.py, so the items cannot be re-derived (--rebuild needs one)")
    with tempfile.TemporaryDirectory(prefix="peer-bench-rebuild-") as tmp:
        proc = subprocess.run([sys.executable, str(build), "--out", tmp], capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise VerifierError(f"{build} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        rebuilt = {r["item_id"]: r for r in map(json.loads, Path(tmp, "items.jsonl").read_text().splitlines())}
    out = []
    for item in suite.items:
        fresh = rebuilt.get(item.item_id)
        if fresh is None:
            out.append(Mismatch(item.item_id, item.true_score, None, "build.py no longer makes this item"))
            continue
        differs = [k for k, v in (("task", item.task), ("response", item.response), ("reference", item.reference))
                   if fresh[k] != v]
        if differs or abs(fresh["true_score"] - item.true_score) > 1e-6:
            what = ", ".join(differs) or "true_score"
            out.append(Mismatch(item.item_id, item.true_score, fresh["true_score"],
                                f"{what} differs from what build.py derives from the task"))
    return out


def verify_suite(suite, tolerance: float = 1e-6, progress=None) -> list[Mismatch]:
    """Recompute every item's true score; return the items whose stored score disagrees or cannot be checked.
    Items are checked concurrently: a code item spends its time waiting on its sandboxes. `progress` is
    called once per item checked."""
    from concurrent.futures import ThreadPoolExecutor

    verifier = get_verifier(suite.spec.verifier)
    require_isolation(suite.spec.verifier)

    def check(item) -> Mismatch | None:
        stored = item.reference.get("test_results") if isinstance(item.reference, dict) else None
        why = ""  # a sandbox escape attempt is named, so the report says why the code scored 0
        try:
            if suite.spec.verifier == "unit-tests":
                run = unit_test_run(item.response, item.reference)
                score = run.score
                why = f" (escape attempt: {run.errors[0]})" if run.status == "violation" and run.errors else ""
                if stored is not None and list(run.results) != list(stored):  # per test, not only the share
                    differ = [k + 1 for k, (a, b) in enumerate(zip(run.results, stored)) if a != b]
                    return Mismatch(item.item_id, item.true_score, score, "stored per-test results differ from "
                                    f"the run (tests {differ[:10] or 'count'})" + why)
            else:
                score = float(verifier(item.response, item.reference))
        except (KeyError, TypeError, ValueError) as exc:
            return Mismatch(item.item_id, item.true_score, None, f"reference cannot be checked: {exc!r}")
        if abs(score - item.true_score) > tolerance:
            return Mismatch(item.item_id, item.true_score, score, "stored true_score differs from the check" + why)
        return None

    def checked(item) -> Mismatch | None:
        result = check(item)
        if progress is not None:
            progress()
        return result

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        return [m for m in pool.map(checked, suite.items) if m is not None]
