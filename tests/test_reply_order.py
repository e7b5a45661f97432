"""Reply order: `--reply reason-first` asks for a one-line reason, then the verdict, then the score, in the
prompt, the JSON schema and the embedded model's grammar alike; it is part of the trial's identity, is
recorded in the manifest, can be set per judge, and keeps a judge's two orders apart on a board."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.api import GradeConfig, grade, leaderboard
from benchmark.cli import main
from benchmark.run.store import RunStore, read_manifest
from benchmark.units.item import REPLIES, parse_reply
from tests.conftest import MINI, REPO


def _grade(tmp_path, *args):
    out = CliRunner().invoke(main, ["grade", "--suite", str(MINI), "--limit", "3", "--quiet", "--json",
                                    "--runs-dir", str(tmp_path / "runs"), *args])
    assert out.exit_code == 0, out.output
    return json.JSONDecoder().raw_decode(out.output[out.output.index("{"):])[0]


def test_reason_first_over_http_changes_the_request_not_the_parse(tmp_path, openai_server):
    base = ["--judge", "openai/judge", "--api-base", openai_server.base, "--structured", "json_schema"]
    first = _grade(tmp_path, *base)
    n_first = len(openai_server.requests)
    second = _grade(tmp_path, *base, "--reply", "reason-first")
    assert first["run_id"] != second["run_id"]  # another request, another run and other trial ids
    sent = [r["body"] for r in openai_server.requests[n_first:]]
    assert len(sent) == 3 * 2  # nothing came from the score-first run's cache
    user = sent[0]["messages"][-1]["content"]
    assert 'First write a one-line reason' in user and '{"reason": "<one line>", "verdict"' in user
    schema = sent[0]["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reason", "verdict", "score"] == schema["required"]
    old = openai_server.requests[0]["body"]
    assert list(old["response_format"]["json_schema"]["schema"]["properties"]) == ["score", "verdict", "reason"]
    # the fake server answers score-first: field order does not change how a reply is read
    assert all(r["parse_failures"] == 0 for r in second["rows"])
    run = tmp_path / "runs" / second["run_id"]
    assert read_manifest(run)["judges"]["openai/judge"]["reply"] == "reason-first"
    with RunStore.open_existing(run / "run.sqlite") as store:
        prompts = store.prompts()
    assert all("First write a one-line reason" in p[-1]["content"] for p in prompts.values())


def test_score_first_keeps_the_identity_runs_had(tmp_path):
    from benchmark.models import Settings, resolve

    assert "reply" not in resolve("sim/x", Settings()).describe()
    assert resolve("sim/x", Settings(reply="reason-first")).describe()["reply"] == "reason-first"


def test_reply_order_per_judge_from_a_judges_config(tmp_path):
    config = tmp_path / "judges.toml"
    config.write_text('[judges."sim/a?delta=0.1"]\nreply = "reason-first"\n[judges."sim/b"]\n')
    out = _grade(tmp_path, "--judges-config", str(config))
    manifest = read_manifest(tmp_path / "runs" / out["run_id"])
    assert manifest["judges"]["sim/a?delta=0.1"]["reply"] == "reason-first" and "reply" not in manifest["judges"]["sim/b"]
    config.write_text('[judges."sim/a"]\nreply = "reason-last"\n')
    bad = CliRunner().invoke(main, ["grade", "--judges-config", str(config), "--suite", str(MINI), "--quiet"])
    assert bad.exit_code == 1 and "'reason-last' is not one of score-first, reason-first" in bad.output


def test_a_board_keeps_a_judges_two_orders_apart(tmp_path):
    runs = [grade(GradeConfig(judges=("sim/j?delta=0.1",), suites=(str(REPO / "peers" / "code"),), reply=order,
                              runs_dir=str(tmp_path / "runs")), show_progress=False)
            for order in ("score-first", "reason-first")]
    data = leaderboard(runs, tmp_path / "board")
    assert {r["judge"] for r in data["board"]} == {"sim/j?delta=0.1 (reply score-first)",
                                                   "sim/j?delta=0.1 (reply reason-first)"}
    assert any("different settings (reply)" in w for w in data["warnings"])


def test_the_reason_first_grammar_and_schema_parse_back():
    reply = '{"reason": "step 2 adds wrong", "verdict": "fail", "score": 3}'
    assert parse_reply(reply).raw_score == 3
    assert REPLIES["reason-first"].grammar.index('reason') < REPLIES["reason-first"].grammar.index('score ::=')


@pytest.mark.slow
def test_the_embedded_judge_writes_its_reason_first(tmp_path):
    out = _grade(tmp_path, "--judge", "local/smollm2", "--reply", "reason-first")
    run = tmp_path / "runs" / out["run_id"]
    with RunStore.open_existing(run / "run.sqlite") as store:
        replies = store.grades()["raw_reply"].tolist()
    assert replies and all(r.startswith('{"reason": "') for r in replies)
    assert all(r["parse_failures"] == 0 for r in out["rows"])
