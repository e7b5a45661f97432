"""Benchmark (not a test): the grading speed of each embedded backend. peer-bench's embedded judge
(llama.cpp b11549 from the xllamacpp wheel, with its model layer) vs llama-cpp-python, the backend it
replaced, called directly.

    python benchmarks/local_speed.py [--items 20] [--suite peers/arithmetic] [--no-geval] [--rounds 3]

llama-cpp-python is not a dependency: run this in a venv that has it too (`python
benchmarks/cold_install.py --backend llama-cpp-python --venv DIR` makes one, compiling llama.cpp).

Both sides grade the same prompts (each item under control and shutdown, in that order) with the same
grammar at temperature 0; peer-bench adds its model layer (request, deterministic KV prefix, G-Eval
expected score, unless --no-geval) and the item unit's parser, without the store. Each side warms up on
a prompt outside the timed set; rounds alternate (direct, peer-bench) and the median ratio is printed,
since this machine's own noise is about 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchmark.data.framings import select_framings
from benchmark.models import Settings, resolve
from benchmark.data.suites import load_suite
from benchmark.data.records import Trial
from benchmark.units.item import REPLY_GBNF, ItemGrade, build_messages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--suite", default="arithmetic")
    ap.add_argument("--no-geval", action="store_true", help="peer-bench without the G-Eval expected score")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of each; the median ratio is printed")
    args = ap.parse_args()
    suite = load_suite(args.suite)
    items = suite.items[: args.items]
    framings = select_framings(["shutdown"])
    prompts = [(item, f, *build_messages(item, f)) for item in items for f in framings]
    warm_item = suite.items[-1]  # both sides warm up on a prompt outside the timed set

    from llama_cpp import Llama, LlamaGrammar

    from benchmark.models.local import model_path

    llm = Llama(model_path=str(model_path("smollm2")), n_ctx=2048, n_threads=2, verbose=False, seed=0)
    grammar = LlamaGrammar.from_string(REPLY_GBNF, verbose=False)

    def direct_call(system, user):
        return llm.create_chat_completion(messages=[{"role": "system", "content": system},
                                                    {"role": "user", "content": user}],
                                          temperature=0.0, max_tokens=256, grammar=grammar, seed=0)

    def direct() -> tuple[float, int]:
        direct_call(*build_messages(warm_item, framings[0]))
        tokens, t0 = 0, time.perf_counter()
        for _, _, system, user in prompts:
            tokens += direct_call(system, user)["usage"]["total_tokens"]
        return time.perf_counter() - t0, tokens

    judge = resolve("local/smollm2", Settings(cache=False, logprobs=False if args.no_geval else None))
    unit = ItemGrade()

    async def grade(item, framing):
        return await unit.run(Trial("", judge.name, item, framing, 0), judge)

    async def bench_run() -> tuple[float, int]:
        await grade(warm_item, framings[0])  # (the first call also loads the model, outside the timing)
        total, t0 = 0, time.perf_counter()
        for item, framing, _, _ in prompts:
            g = await grade(item, framing)
            total += g.prompt_tokens + g.completion_tokens
        return time.perf_counter() - t0, total

    rows = []
    for _ in range(args.rounds):
        d, dt = direct()
        b, bt = asyncio.run(bench_run())
        rows.append((d, dt, b, bt))
    llm.close()
    n = len(prompts)
    ratios = sorted(d / b for d, _, b, _ in rows)
    d, dt, b, bt = rows[[d / b for d, _, b, _ in rows].index(ratios[len(ratios) // 2])]
    print(f"{n} grades of {args.suite}, SmolLM2-135M Q4_1, 2 threads, {args.rounds} alternating rounds "
          f"(ratios {', '.join(f'{r:.2f}' for r in ratios)}); the median round:")
    print(f"llama-cpp-python direct : {n / d:6.2f} grades/s  {dt / d:7.1f} tokens/s")
    print(f"peer-bench local/smollm2: {n / b:6.2f} grades/s  {bt / b:7.1f} tokens/s "
          f"(model layer, parsing{'' if args.no_geval else ', G-Eval expected score'}); "
          f"ratio {d / b:.2f}x of direct")


if __name__ == "__main__":
    main()
