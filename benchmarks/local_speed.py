"""Benchmark (not a test): the embedded judge through peer-bench vs llama-cpp-python called directly.

    python benchmarks/local_speed.py [--items 20] [--suite peers/arithmetic] [--no-geval]

Both sides grade the same prompts (each item under control and shutdown, in that order) with the same
grammar at temperature 0; peer-bench adds its model layer (request, deterministic KV prefix, G-Eval
expected score, unless --no-geval) and the item unit's parser, without the store. Prints grades/s and
tokens/s for each.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchmark.framings import select_framings
from benchmark.models import Settings, resolve
from benchmark.peers import load_suite
from benchmark.records import Trial
from benchmark.units.item import REPLY_GBNF, ItemGrade, build_messages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--suite", default="arithmetic")
    ap.add_argument("--no-geval", action="store_true", help="peer-bench without the G-Eval expected score")
    args = ap.parse_args()
    items = load_suite(args.suite).items[: args.items]
    framings = select_framings(["shutdown"])
    prompts = [(item, f, *build_messages(item, f)) for item in items for f in framings]

    from llama_cpp import Llama, LlamaGrammar

    from benchmark.models.local import model_path

    llm = Llama(model_path=str(model_path("smollm2")), n_ctx=2048, n_threads=2, verbose=False, seed=0)
    grammar = LlamaGrammar.from_string(REPLY_GBNF, verbose=False)
    tokens, t0 = 0, time.perf_counter()
    for _, _, system, user in prompts:
        out = llm.create_chat_completion(messages=[{"role": "system", "content": system},
                                                   {"role": "user", "content": user}],
                                         temperature=0.0, max_tokens=256, grammar=grammar, seed=0)
        tokens += out["usage"]["total_tokens"]
    direct = time.perf_counter() - t0
    llm.close()

    judge = resolve("local/smollm2", Settings(cache=False, logprobs=False if args.no_geval else None))
    unit = ItemGrade()

    async def grade(item, framing):
        return await unit.run(Trial("", judge.name, item, framing, 0), judge)

    async def run():
        total = 0
        for item, framing, _, _ in prompts:
            g = await grade(item, framing)
            total += g.prompt_tokens + g.completion_tokens
        return total

    asyncio.run(grade(items[0], framings[0]))  # load the model outside the timing, as direct did
    t0 = time.perf_counter()
    bench_tokens = asyncio.run(run())
    bench = time.perf_counter() - t0
    n = len(prompts)
    print(f"{n} grades of {args.suite}, SmolLM2-135M Q4_1, 2 threads")
    print(f"llama-cpp-python direct : {n / direct:6.2f} grades/s  {tokens / direct:7.1f} tokens/s")
    print(f"peer-bench local/smollm2: {n / bench:6.2f} grades/s  {bench_tokens / bench:7.1f} tokens/s "
          f"(model layer, parsing{'' if args.no_geval else ', G-Eval expected score'}); "
          f"ratio {direct / bench:.2f}x of direct")


if __name__ == "__main__":
    main()
