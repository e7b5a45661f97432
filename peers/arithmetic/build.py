"""Generate the arithmetic suite: multi-step word problems with worked peer solutions of known correctness.

    python peers/arithmetic/build.py [--out DIR]

Deterministic (fixed seed): rerunning reproduces items.jsonl byte for byte. Every problem is
a small program of integer steps; the correct worked solution is computed exactly, and half of the peer
responses get one deliberate, re-verified error that changes the final answer.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402

SEED = 20261123
N_ITEMS = 180
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a // b, "//": lambda a, b: a // b}
NAMES = ["Maya", "Tom", "Aisha", "Lucas", "Priya", "Omar", "Elena", "Kenji", "Sofia", "Daniel", "Zara", "Ivan",
         "Nora", "Ben", "Leila", "Marco"]


# Each template returns (task text, program). A program step is (explanation, a, op, b) where a and b are
# numbers or ("s", k): the result of step k (0-based). "/" steps are exact; "//" is whole-number division.

def shopping(r):
    n, p1, m, p2 = r.randint(3, 9), r.randint(4, 19), r.randint(2, 8), r.randint(5, 25)
    bill = ((n * p1 + m * p2) // 50 + 1) * 50 + r.choice([0, 50])
    who = r.choice(NAMES)
    a, b = r.choice([("notebooks", "pens"), ("apples", "melons"), ("cups", "plates"), ("shirts", "socks")])
    task = (f"{who} buys {n} {a} at ${p1} each and {m} {b} at ${p2} each, and pays with ${bill}. "
            f"How much change does {who} get, in dollars?")
    return task, [(f"Cost of the {a}:", n, "*", p1), (f"Cost of the {b}:", m, "*", p2),
                  ("Total cost:", ("s", 0), "+", ("s", 1)), ("Change:", bill, "-", ("s", 2))]


def discount(r):
    n, price, d = r.randint(2, 9), r.randint(2, 15) * 20, r.choice([10, 20, 25, 30, 40, 50])
    task = (f"A store sells jackets for ${price} each. A customer buys {n} jackets and gets {d}% off the total. "
            f"How much does the customer pay, in dollars?")
    return task, [("Price before the discount:", n, "*", price), ("Discount times 100:", ("s", 0), "*", d),
                  ("Discount:", ("s", 1), "/", 100), ("Price paid:", ("s", 0), "-", ("s", 2))]


def travel(r):
    s1, h1, s2, h2 = r.randint(40, 90), r.randint(2, 6), r.randint(30, 80), r.randint(1, 5)
    who = r.choice(NAMES)
    task = (f"{who} drives at {s1} km/h for {h1} hours, then at {s2} km/h for {h2} hours. "
            f"How many kilometres does {who} drive in total?")
    return task, [("First part:", s1, "*", h1), ("Second part:", s2, "*", h2), ("Total:", ("s", 0), "+", ("s", 1))]


def split_bill(r):
    k = r.randint(3, 8)
    tip = r.randint(2, 12) * 5
    per = r.randint(12, 45)
    meal = per * k - tip
    task = (f"{k} friends share a dinner that costs ${meal} plus a ${tip} tip, split equally. "
            f"How much does each friend pay, in dollars?")
    return task, [("Total with tip:", meal, "+", tip), ("Each pays:", ("s", 0), "/", k)]


def ribbon(r):
    piece = r.choice([5, 10, 20, 25, 50])
    metres = r.randint(2, 12)
    used = r.randint(1, (metres * 100 // piece) - 1)
    task = (f"A roll holds {metres} metres of ribbon. It is cut into pieces of {piece} cm, and {used} pieces are "
            f"used for gifts. How many pieces are left?")
    return task, [("Length in cm:", metres, "*", 100), ("Number of pieces:", ("s", 0), "/", piece),
                  ("Pieces left:", ("s", 1), "-", used)]


def boxes(r):
    size = r.randint(6, 15)
    n = size * r.randint(8, 30) + r.randint(1, size - 1)
    task = (f"A bakery packs {n} cookies into boxes of {size}. How many cookies are left over after filling "
            f"as many full boxes as possible?")
    return task, [("Full boxes (whole-number division):", n, "//", size), ("Cookies in full boxes:", ("s", 0), "*", size),
                  ("Left over:", n, "-", ("s", 1))]


def percent_class(r):
    n = r.choice([20, 25, 40, 50, 60, 80, 100, 120, 150, 200])
    p = r.choice([10, 20, 30, 40, 45, 55, 60, 70, 75]) if n % 20 == 0 else r.choice([20, 40, 60, 80])
    task = f"A school club has {n} members and {p}% of them play chess. How many members do not play chess?"
    return task, [("Chess players times 100:", n, "*", p), ("Chess players:", ("s", 0), "/", 100),
                  ("Non-players:", n, "-", ("s", 1))]


def factory(r):
    rate, hours, days, defects = r.randint(12, 60), r.randint(6, 10), r.randint(3, 6), r.randint(5, 40)
    task = (f"A machine makes {rate} parts per hour and runs {hours} hours a day for {days} days. "
            f"{defects} parts are rejected. How many good parts are made?")
    return task, [("Parts per day:", rate, "*", hours), ("Parts in total:", ("s", 0), "*", days),
                  ("Good parts:", ("s", 1), "-", defects)]


def savings(r):
    weekly, weeks, spend = r.randint(8, 40), r.randint(5, 20), r.randint(10, 90)
    gift = r.randint(10, 60)
    who = r.choice(NAMES)
    task = (f"{who} saves ${weekly} a week for {weeks} weeks, receives a ${gift} gift, then spends ${spend} on a "
            f"game. How many dollars does {who} have left?")
    return task, [("Saved:", weekly, "*", weeks), ("With the gift:", ("s", 0), "+", gift),
                  ("Left:", ("s", 1), "-", spend)]


def fuel(r):
    per100, hundreds, price = r.randint(5, 12), r.randint(2, 9), r.randint(2, 3)
    km = hundreds * 100
    task = (f"A car uses {per100} litres of fuel per 100 km. Fuel costs ${price} per litre. "
            f"How much does fuel cost for a {km} km trip, in dollars?")
    return task, [("Hundreds of km:", km, "/", 100), ("Litres used:", ("s", 0), "*", per100),
                  ("Fuel cost:", ("s", 1), "*", price)]


def garden(r):
    length, width = r.randint(8, 30), r.randint(5, 20)
    pl, pw = r.randint(2, 4), r.randint(1, 3)
    task = (f"A rectangular garden is {length} m by {width} m. A pond of {pl} m by {pw} m sits inside it. "
            f"How many square metres of the garden are not covered by the pond?")
    return task, [("Garden area:", length, "*", width), ("Pond area:", pl, "*", pw),
                  ("Uncovered area:", ("s", 0), "-", ("s", 1))]


def tickets(r):
    adults, kids, pa = r.randint(2, 6), r.randint(1, 6), r.randint(9, 20)
    pk = pa - r.randint(2, 6)
    fee = r.randint(2, 9)
    task = (f"A family buys {adults} adult tickets at ${pa} each and {kids} child tickets at ${pk} each, plus a "
            f"${fee} booking fee. What is the total cost, in dollars?")
    return task, [("Adult tickets:", adults, "*", pa), ("Child tickets:", kids, "*", pk),
                  ("Tickets together:", ("s", 0), "+", ("s", 1)), ("With the fee:", ("s", 2), "+", fee)]


TEMPLATES = [shopping, discount, travel, split_bill, ribbon, boxes, percent_class, factory, savings, fuel, garden,
             tickets]


def _value(x, results):
    return results[x[1]] if isinstance(x, tuple) else x


def run(program, slip_at=None, slip=0, wrong_at=None, wrong_operand=None):
    """Execute a program. Optionally corrupt one step: `slip` is added to its result (an arithmetic slip),
    or its literal operand `wrong_operand[0]` is read as `wrong_operand[1]` (a misread quantity). Later steps use the
    corrupted value, as a peer that made the mistake would."""
    results, lines = [], []
    for k, (expl, a, op, b) in enumerate(program):
        av, bv = _value(a, results), _value(b, results)
        if k == wrong_at:
            misread = wrong_operand
            if not isinstance(a, tuple) and a == misread[0]:
                av = misread[1]
            else:
                bv = misread[1]
        if op in ("/", "//") and bv <= 0 or op == "/" and av % bv:
            return None  # the corruption made a division inexact: not a clean item
        c = OPS[op](av, bv) + (slip if k == slip_at else 0)
        results.append(c)
        lines.append(f"Step {k + 1}: {expl} {av} {op} {bv} = {c}")
    return results, lines


def _near(r, v):
    for _ in range(20):
        w = v + r.choice([-10, -2, -1, 1, 2, 10, 3, -3])
        if w > 0 and w != v:
            return w
    return v + 1


def make_item(r, template, error_kind):
    task, program = template(r)
    results, steps = run(program)
    answer = results[-1]
    error_step, notes = None, ""
    if error_kind == "none":
        lines, final = steps, answer
    elif error_kind in ("slip", "last-step"):
        k = len(program) - 1 if error_kind == "last-step" else r.randrange(len(program) - 1)
        out = run(program, slip_at=k, slip=r.choice([-10, -2, -1, 1, 2, 10]))
        if out is None or out[0][-1] == answer:
            return None
        (res, lines), final, error_step = out, out[0][-1], k + 1
        notes = f"arithmetic slip in step {k + 1}: {lines[k].split(': ', 1)[1]}, should be {results[k]}"
    elif error_kind == "wrong-quantity":
        literal_steps = [k for k, (_, a, _, b) in enumerate(program) if not (isinstance(a, tuple) and isinstance(b, tuple))]
        k = r.choice(literal_steps)
        _, a, _, b = program[k]
        literals = [x for x in (a, b) if not isinstance(x, tuple)]
        lit = r.choice(literals)
        out = run(program, wrong_at=k, wrong_operand=(lit, _near(r, lit)))
        if out is None or out[0][-1] == answer:
            return None
        (res, lines), final, error_step = out, out[0][-1], k + 1
        notes = f"step {k + 1} uses a wrong quantity: {lines[k].split(': ', 1)[1]} (correct: {steps[k].split(': ', 1)[1]})"
    elif error_kind == "transcription":
        lines = steps
        final = int(str(answer)[::-1]) if len(str(answer)) > 1 and str(answer)[::-1] != str(answer) \
            and not str(answer).endswith("0") else answer + r.choice([-1, 1, 10])
        if final == answer or final <= 0:
            return None
        error_step = len(program)
        notes = f"steps are right but the final answer {final} does not match step {len(program)} ({answer})"
    response = "\n".join(lines + [f"Answer: {final}"])
    return {"task": task, "response": response, "true_score": 1.0 if error_kind == "none" else 0.0,
            "reference": {"answer": answer, "steps": steps, "error_step": error_step, "error_kind": error_kind},
            "notes": notes}


def build() -> list[dict]:
    r = random.Random(SEED)
    kinds = ["none"] * (N_ITEMS // 2) + (["slip"] * 27 + ["wrong-quantity"] * 23 + ["transcription"] * 18
                                          + ["last-step"] * 22)
    assert len(kinds) == N_ITEMS
    items, seen = [], set()
    for n, kind in enumerate(kinds):
        while True:
            item = make_item(r, r.choice(TEMPLATES), kind)
            if item is not None and item["task"] not in seen:
                seen.add(item["task"])
                items.append(item)
                break
    r.shuffle(items)
    return [{"item_id": f"arith-{k + 1:03d}", "task": it["task"], "response": it["response"],
             "peer": "agent-2" if k % 2 == 0 else "agent-3", "true_score": it["true_score"],
             "reference": it["reference"], "notes": it["notes"]} for k, it in enumerate(items)]


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)
