"""Live peers: a peer agent answers a suite's tasks, the suite's verifier measures each answer, and the
result is a new suite of real peer outputs with checked true quality, ready to grade.

This closes the multi-agent loop: peer agents produce, verifiers establish truth, grader agents judge.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmark.peers import load_suite, write_items
from benchmark.plan import select_items
from benchmark.verify import get_verifier


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def generate_suite(peer_model: str, suite: str, out: Path, *, name: str | None = None, limit: int | None = None,
                   seed: int = 0, concurrency: int = 4, show_progress: bool = True, **client_options) -> Path:
    """Have `peer_model` answer `suite`'s tasks; write the answers, verified, as a new suite folder `out`."""
    from benchmark.agents import PeerAgent
    from benchmark.models import ResponseCache

    source = load_suite(suite)
    verifier = get_verifier(source.spec.verifier)
    peer = PeerAgent(peer_model, source.spec.verifier, cache=ResponseCache(), seed=seed, **client_options)
    items = select_items([source], limit, seed)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose another --out")
    slug = re.sub(r"[^a-z0-9]+", "-", peer_model.lower()).strip("-")
    name = name or f"{source.name}-{slug}"[:60].strip("-")

    async def run():
        sem = asyncio.Semaphore(peer.max_concurrency or concurrency)
        results: dict[str, tuple] = {}
        with Progress(TextColumn(f"[bold]{peer_model} answering"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), disable=not show_progress) as progress:
            task_id = progress.add_task("answer", total=len(items))

            async def one(item):
                async with sem:
                    response, error = await peer.answer(item.task)
                score = None
                if response and response.strip():
                    # verifying code runs it in a sandboxed subprocess: keep it off the event loop
                    score = await asyncio.to_thread(verifier, response, item.reference)
                results[item.item_id] = (response, score, error)
                progress.update(task_id, advance=1)

            await asyncio.gather(*(one(i) for i in items))
        return results

    results = asyncio.run(run())
    family = peer_model.split("/")[-1]
    rows, skipped = [], []
    for item in items:
        response, score, error = results[item.item_id]
        if score is None:
            skipped.append({"item_id": item.item_id, "error": error or "empty reply"})
            continue
        rows.append({"item_id": item.item_id, "task": item.task, "response": response, "peer": "live",
                     "true_score": score, "reference": item.reference,
                     "notes": f"live answer by {peer_model}, scored by the {source.spec.verifier} verifier"})
    if not rows:
        raise RuntimeError(f"{peer_model} produced no usable answer ({len(skipped)} failed): {skipped[:3]}")
    out.mkdir(parents=True, exist_ok=True)
    meta = "\n".join([
        f"name = {_toml_str(name)}",
        f"title = {_toml_str(f'{source.spec.title} - answered live by {peer_model}')}",
        f"domain = {_toml_str(source.spec.domain)}",
        f"description = {_toml_str(f'Tasks of the {source.name} suite answered by the live peer {peer_model}; true quality measured by the {source.spec.verifier} verifier.')}",
        f"pass_threshold = {source.spec.pass_threshold}",
        f"verifier = {_toml_str(source.spec.verifier)}",
        "",
        "[[peers]]",
        'id = "live"',
        'name = "Agent 2"',
        f"family = {_toml_str(family)}",
        f"description = {_toml_str(f'a {family} agent that worked on these {source.spec.domain} tasks itself')}",
        "",
    ])
    (out / "suite.toml").write_text(meta, encoding="utf-8")
    write_items(rows, out)
    if skipped:
        (out / "skipped.jsonl").write_text("".join(json.dumps(s) + "\n" for s in skipped), encoding="utf-8")
    load_suite(out)  # what we wrote must load under the same strict schema users face
    return out
