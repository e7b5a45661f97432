"""CPU per hosted call: peer-bench's clients against the bare loops, on the same loopback server.

    python benchmarks/hosted_overhead.py [--calls 720] [--concurrency 64] [--latency 0.1]

A loopback OpenAI-compatible server (its own process, so its CPU is not counted) answers every chat request
after `latency` seconds with a grade reply. Each client runs in a fresh process and makes `calls` calls,
`concurrency` at a time; the script prints CPU milliseconds per call (user + system of that process, startup
and imports excluded) and wall seconds:

- bare aiohttp: one session, post, json.loads (the floor for a Python client)
- bare litellm: `litellm.acompletion` in a loop
- peer-bench direct: `Model.complete` through the direct OpenAI-compatible client (served judges)
- peer-bench litellm: `Model.complete` through litellm (client="litellm", bench grade's --client litellm)
- inspect_ai: `get_model("openai/...").generate` when inspect_ai is installed (pip install inspect_ai), or
  in the interpreter given by --inspect-python (inspect_ai wants a newer openai than litellm's pin allows:
  a venv of its own, `python -m venv v && v/bin/pip install inspect_ai openai`)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "judge",
         "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                      "message": {"role": "assistant", "content": json.dumps(
                          {"score": 7, "verdict": "pass", "reason": "the steps check out"})}}],
         "usage": {"prompt_tokens": 180, "completion_tokens": 20, "total_tokens": 200}}
MESSAGES = [{"role": "system", "content": "You are an impartial evaluator."},
            {"role": "user", "content": "Task: What is 17 + 26?\nResponse: Step 1: 17 + 26 = 43\nAnswer: 43\n"
                                        "Grade the response from 0 to 10."}]


def serve(port_queue, latency: float) -> None:
    import asyncio

    from aiohttp import web

    body = json.dumps(REPLY)

    async def chat(request):
        await request.read()
        await asyncio.sleep(latency)
        return web.Response(text=body, content_type="application/json")

    async def main():
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


PEER_BENCH = '''
from benchmark.models import resolve, Request, Settings
async def setup(base):
    model = resolve("openai/judge", Settings(api_base=base, cache=False, max_tokens=64))
    async def call(k):
        await model.complete(Request(messages=tuple(MESSAGES)), epoch=k)
    return call, model.aclose
'''

CLIENTS = {
    "bare aiohttp": '''
import aiohttp
async def setup(base):
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    async def call(k):
        async with session.post(base + "/chat/completions", json={"model": "judge", "messages": MESSAGES,
                                "temperature": 0, "max_tokens": 64, "seed": k}) as r:
            json.loads(await r.text())
    return call, session.close
''',
    "bare litellm": '''
import benchmark, litellm
litellm.suppress_debug_info = True
async def setup(base):
    async def call(k):
        await litellm.acompletion(model="openai/judge", api_base=base, api_key="no-key", messages=MESSAGES,
                                  temperature=0, max_tokens=64, seed=k, num_retries=0, max_retries=0)
    async def close():
        pass
    return call, close
''',
    "peer-bench direct": PEER_BENCH,
    "peer-bench litellm": PEER_BENCH.replace("max_tokens=64)", "max_tokens=64, client=\"litellm\")"),
    "inspect_ai": '''
import os
os.environ["OPENAI_API_KEY"] = "no-key"
from inspect_ai.model import get_model, GenerateConfig, ChatMessageSystem, ChatMessageUser
async def setup(base):
    model = get_model("openai/judge", base_url=base, responses_api=False,  # chat completions, as the others
                      config=GenerateConfig(max_retries=0, temperature=0, max_tokens=64))
    msgs = [ChatMessageSystem(content=MESSAGES[0]["content"]), ChatMessageUser(content=MESSAGES[1]["content"])]
    async def call(k):
        await model.generate(msgs, config=GenerateConfig(seed=k))
    async def close():
        pass
    return call, close
''',
}

RUNNER = '''
import asyncio, json, sys, time
MESSAGES = json.loads(sys.argv[4])
{client}
async def main(base, calls, concurrency):
    call, close = await setup(base)
    await call(-1)  # warm: connections, lazy imports
    sem = asyncio.Semaphore(concurrency)
    async def one(k):
        async with sem:
            await call(k)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(calls)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await close()
    print(json.dumps({{"cpu_ms_per_call": 1000 * cpu / calls, "wall_s": wall}}))
asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
'''


def measure(name: str, base: str, calls: int, concurrency: int, python: str = sys.executable) -> dict | None:
    code = RUNNER.format(client=CLIENTS[name])
    env = dict(os.environ, PEER_BENCH_CACHE=os.devnull)
    proc = subprocess.run([python, "-c", code, base, str(calls), str(concurrency), json.dumps(MESSAGES)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=720)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per client; the median is shown")
    parser.add_argument("--inspect-python", default=sys.executable, help="interpreter with inspect_ai installed")
    args = parser.parse_args()
    ports = mp.Queue()
    server = mp.Process(target=serve, args=(ports, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    print(f"{args.calls} calls, concurrency {args.concurrency}, server latency {args.latency * 1000:g} ms, "
          f"median of {args.repeats} ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)")
    results = {}
    for name in CLIENTS:
        python = args.inspect_python if name == "inspect_ai" else sys.executable
        runs = [measure(name, base, args.calls, args.concurrency, python) for _ in range(args.repeats)]
        ok = [r for r in runs if "error" not in r]
        if not ok:
            print(f"  {name:20s} skipped: {runs[0]['error'][:100]}")
            continue
        cpu = sorted(r["cpu_ms_per_call"] for r in ok)[len(ok) // 2]
        wall = sorted(r["wall_s"] for r in ok)[len(ok) // 2]
        results[name] = cpu
        print(f"  {name:20s} {cpu:6.2f} ms CPU per call   {wall:6.2f} s wall")
    if "peer-bench direct" in results:
        for other in ("bare litellm", "peer-bench litellm", "inspect_ai"):
            if other in results:
                print(f"  peer-bench direct uses {results[other] / results['peer-bench direct']:.1f}x less CPU "
                      f"per call than {other}")
    server.terminate()


if __name__ == "__main__":
    main()
