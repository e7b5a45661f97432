"""Build the champ suite from CHAMP (Mao, Kim and Zhou 2024, MIT), as shipped inside the `champ-dataset` PyPI
package: a build-time dependency only (`pip install champ-dataset`); the items are committed.

    python peers/champ/build.py [--out DIR]

CHAMP holds competition-level math word problems with their answers and, for each problem, the
solutions real models wrote (GPT-3.5, GPT-4, GPT-4 Turbo, PaLM 2 Medium), each followed by the model's own
one-sentence summary of its answer. This suite takes every zero-shot solution to a problem whose answer is
an integer, when the model finished (not cut off by length) and its summary states exactly one number
besides those the problem gives: that number is the model's final answer, and true_score is 1 iff it
equals CHAMP's answer (benchmark.truth.verify.verify_final_number rechecks it). Solutions are kept as the
models wrote them; the summary is the response's last line. Deterministic.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402
from benchmark.truth.verify import numbers_in, stated_numbers, verify_final_number  # noqa: E402

PEERS = {"GPT-3.5": "gpt-3.5", "GPT-4": "gpt-4", "GPT-4 Turbo": "gpt-4-turbo", "PaLM 2 Medium": "palm-2-medium"}


def dataset():
    try:
        import champ_dataset
    except ModuleNotFoundError:
        raise SystemExit("building this suite needs the champ-dataset package: pip install champ-dataset") from None
    return champ_dataset.load("v0")


def build() -> list[dict]:
    items = []
    for pid, problem in dataset().problems.items():
        answer = problem.answer.strip()
        if not re.fullmatch(r"-?\d+", answer):
            continue  # expressions and sets have no single number to check
        text = problem.text
        given = sorted(set(numbers_in(text)))
        for setting, conversation in (problem.conversations or {}).items():
            model, prompting = setting.split("|")
            if prompting != "0-Shot" or model not in PEERS:
                continue
            messages = conversation.messages
            solution, summary = messages[-3], messages[-1]
            if solution.error or summary.error or not solution.text or not summary.text:
                continue  # cut off by length: not a finished solution
            final = " ".join(summary.text.split())
            if len(stated_numbers(final, given)) != 1:
                continue  # no single final number to check
            response = f"{solution.text.strip()}\n\nFinal answer: {final}"
            reference = {"answer": int(answer), "given": given, "source": f"CHAMP v0 {pid}, {setting}"}
            score = verify_final_number(response, reference)
            items.append({"item_id": f"champ-{pid.removeprefix('P_').lower()}-{PEERS[model]}",
                          "task": text.strip(), "response": response, "peer": PEERS[model], "true_score": score,
                          "reference": reference,
                          "notes": f"{model}, zero-shot; final answer {'right' if score else 'wrong'} "
                                   f"(CHAMP answer {answer})"})
    return sorted(items, key=lambda it: it["item_id"])


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)
