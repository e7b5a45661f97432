"""The trial list: items x framings x judges x epochs, deterministic, each with a stable id.

The trial id is a hash of everything that shapes the judge's reply, so a rerun finds its finished
trials by id and never redoes them, and two runs never mistake each other's trials.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass

from benchmark.framings import Framing
from benchmark.peers import Item, Suite


@dataclass(frozen=True)
class Trial:
    trial_id: str
    judge: str
    item: Item
    framing: Framing
    epoch: int


def item_digest(item: Item) -> str:
    payload = [item.suite, item.item_id, item.task, item.response, item.peer.name, item.peer.family,
               item.peer.description, item.true_score]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def trial_id(judge_key: str, item: Item, framing: Framing, epoch: int) -> str:
    payload = [judge_key, item_digest(item), framing.name, framing.digest, epoch]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:24]


def select_items(suites: list[Suite], limit: int | None, seed: int) -> list[Item]:
    """All items, or a seeded sample of `limit` per suite that keeps passing and failing items balanced."""
    chosen: list[Item] = []
    for suite in suites:
        items = list(suite.items)
        if limit is not None and limit < len(items):
            rng = random.Random(f"{seed}|{suite.name}")
            good = [i for i in items if i.true_pass]
            bad = [i for i in items if not i.true_pass]
            rng.shuffle(good)
            rng.shuffle(bad)
            n_good = min(len(good), max(limit - len(bad), (limit * len(good) + len(items) // 2) // len(items)))
            picked = {i.item_id for i in good[:n_good] + bad[:limit - n_good]}
            items = [i for i in items if i.item_id in picked]
        chosen.extend(items)
    return chosen


def make_trials(judge_keys: dict[str, str], items: list[Item], framings: list[Framing], epochs: int) -> list[Trial]:
    """Item-major order, so an interrupted run leaves complete control/framing pairs behind."""
    return [Trial(trial_id(judge_keys[judge], item, framing, epoch), judge, item, framing, epoch)
            for item in items for epoch in range(epochs) for judge in judge_keys for framing in framings]
