"""Live peers, the last step: the verified answers of a `generate` run become a new suite folder, ready to
grade. (The answers themselves come from the runner with the PeerAnswer unit; see api.generate.)

This closes the multi-agent loop: peer agents produce, verifiers establish truth, grader agents judge.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from benchmark.common.errors import CallFailure
from benchmark.data.suites import Item, Suite, load_suite, write_items
from benchmark.run.runner import versions
from benchmark.run.store import RunStore


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_generated_suite(run_dir: Path, source: Suite, items: list[Item], peer_model: str, out: Path,
                          name: str | None = None, settings: dict | None = None) -> Path:
    """Write the answers stored in `run_dir` for `items` as suite folder `out` (items that got no usable
    answer are listed in skipped.jsonl; who answered, with which settings, in generated.json); the result
    must load under the same strict schema users face. Item ids are the source suite's, so every answer
    traces back to its task."""
    with RunStore.open_existing(Path(run_dir) / "run.sqlite") as store:
        answers = {r["item_id"]: r for r in store.answers().to_dict("records")}
    slug = re.sub(r"[^a-z0-9]+", "-", peer_model.lower()).strip("-")
    name = name or f"{source.name}-{slug}"[:60].strip("-")
    family = peer_model.split("/")[-1]
    rows, skipped = [], []
    for item in items:
        a = answers.get(item.item_id)
        if a is None or a["true_score"] is None or a["true_score"] != a["true_score"]:
            skipped.append({"item_id": item.item_id, "error": (a or {}).get("error") or "empty reply"})
            continue
        rows.append({"item_id": item.item_id, "task": item.task, "response": a["response"], "peer": "live",
                     "true_score": float(a["true_score"]), "reference": item.reference,
                     "notes": f"live answer by {peer_model}, scored by the {source.spec.verifier} verifier"})
    if not rows:
        raise CallFailure(f"{peer_model} produced no usable answer ({len(skipped)} failed): {skipped[:3]}")
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
    provenance = {"peer_model": peer_model, "settings": settings or {}, "source_suite": source.name,
                  "source_digest": source.digest, "answered": len(items), "kept": len(rows), "skipped": len(skipped),
                  "run": Path(run_dir).name, "generated": time.strftime("%Y-%m-%d", time.gmtime()),
                  "peer_bench": versions().get("peer-bench")}
    (out / "generated.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    load_suite(out)
    return out
