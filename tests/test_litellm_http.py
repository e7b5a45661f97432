"""The real litellm path over HTTP: judge `openai/x` pointed with --api-base at a loopback server."""

from __future__ import annotations

import json

import pytest

from benchmark.api import GradeConfig, grade, report
from benchmark.run.store import RunStore
from tests.conftest import MINI

SECRET = "sk-peerbench-test-SECRET-0123456789"


def _config(server, tmp_path, **kw) -> GradeConfig:
    options = dict(judges=("openai/x",), suites=(str(MINI),), api_base=server.base, runs_dir=str(tmp_path / "runs"),
                   concurrency=4, retries=3, timeout=20)
    return GradeConfig(**(options | kw))


def _all_text(run_dir) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in run_dir.rglob("*") if p.is_file())


def test_grades_land_through_litellm(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    run_dir = grade(_config(openai_server, tmp_path), show_progress=False)
    store = RunStore(run_dir / "run.sqlite")
    df = store.grades()
    store.close()
    assert len(df) == 24 and (df["parse_status"] == "ok").all()
    # the fake judge checked each sum and added a point under the threat: the report must see exactly that
    assert (df.loc[df["framing"] == "control", "score"] == df.loc[df["framing"] == "control", "true_pass"].map(
        {True: 0.9, False: 0.3})).all()
    rows = {r["framing"]: r for r in report(run_dir)["rows"]}
    assert rows["shutdown"]["inflation"] == pytest.approx(0.1)
    assert rows["control"]["auc"] == pytest.approx(1.0)
    # the request really went over HTTP, with the key, the prompt and temperature 0
    req = openai_server.requests[0]
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert req["body"]["temperature"] == 0.0
    assert any("Grade the following response" in m["content"] for m in req["body"]["messages"])
    # ...and the key is nowhere in what the run wrote
    assert SECRET not in _all_text(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["judges"]["openai/x"]["model"] == "openai/x"


def test_rerun_makes_no_calls(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    cfg = _config(openai_server, tmp_path)
    grade(cfg, show_progress=False)
    n = len(openai_server.requests)
    grade(cfg, show_progress=False)
    assert len(openai_server.requests) == n == 24


def test_cache_serves_a_new_run_of_the_same_requests(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    grade(_config(openai_server, tmp_path), show_progress=False)
    n = len(openai_server.requests)
    run_dir = grade(_config(openai_server, tmp_path, run_id="another"), show_progress=False)
    assert len(openai_server.requests) == n
    df = RunStore(run_dir / "run.sqlite").grades()
    assert df["cached"].all() and (df["cost_usd"].fillna(0) == 0).all()


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_server_errors_are_retried(openai_server, tmp_path, monkeypatch, status):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai_server.fail_first, openai_server.fail_status = 3, status
    run_dir = grade(_config(openai_server, tmp_path, concurrency=1), show_progress=False)
    df = RunStore(run_dir / "run.sqlite").grades()
    assert len(df) == 24 and (df["parse_status"] == "ok").all()
    assert len(openai_server.requests) >= 24 + 3


def test_garbage_replies_are_parse_failures_not_scores(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai_server.mode = "garbage"
    run_dir = grade(_config(openai_server, tmp_path), show_progress=False)
    df = RunStore(run_dir / "run.sqlite").grades()
    assert (df["parse_status"] == "failed").all()
    assert df["score"].isna().all() and df["passed"].isna().all()
    assert df["raw_reply"].str.contains("pretty good").all()
    assert df["parse_error"].str.contains("not a JSON object").all()
    rows = {r["framing"]: r for r in report(run_dir)["rows"]}
    assert rows["shutdown"]["parse_failures"] == 12 and rows["control"]["parse_failures"] == 12
    # a failed parse is never a retryable error: rerunning makes no new calls
    n = len(openai_server.requests)
    grade(_config(openai_server, tmp_path), show_progress=False)
    assert len(openai_server.requests) == n


def test_a_listed_model_is_priced_once_by_litellm_itself(openai_server, tmp_path, monkeypatch):
    """The price stored is litellm's own, taken from the reply it returns; pricing it again (which raises for
    an unlisted model) is not done on the call's path."""
    import litellm

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    calls = []
    monkeypatch.setattr(litellm, "completion_cost", lambda *a, **k: calls.append(1) or 0.0)
    run_dir = grade(_config(openai_server, tmp_path, judges=("openai/gpt-4o-mini",), limit=1,
                                 client="litellm"), show_progress=False)
    with RunStore.open_existing(run_dir / "run.sqlite") as store:
        df = store.grades()
    listed = litellm.model_cost["gpt-4o-mini"]
    expected = df["prompt_tokens"] * listed["input_cost_per_token"] + df["completion_tokens"] * listed["output_cost_per_token"]
    assert not calls
    assert (df["parse_status"] == "ok").all() and (df["cost_usd"] > 0).all()
    assert df["cost_usd"].to_numpy() == pytest.approx(expected.to_numpy())


def test_an_unlisted_model_has_no_price_and_costs_litellm_no_search_per_reply(openai_server, tmp_path, monkeypatch):
    """A served endpoint's own model name is not in litellm's price map: litellm is told of the name once,
    so it does not search its whole map for a similar one on every reply; no model litellm does list has
    its price touched, and a judge's own price still applies."""
    import litellm

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    listed_before = dict(litellm.model_cost["gpt-4o-mini"])
    with pytest.raises(Exception):
        litellm.get_model_info(model="openai/peer-bench-unlisted-judge")
    run_dir = grade(_config(openai_server, tmp_path, judges=("openai/peer-bench-unlisted-judge",), limit=2,
                            client="litellm"), show_progress=False)
    with RunStore.open_existing(run_dir / "run.sqlite") as store:
        df = store.grades()
    assert (df["parse_status"] == "ok").all() and (df["cost_usd"].fillna(0) == 0).all()
    assert litellm.get_model_info(model="openai/peer-bench-unlisted-judge")  # known now: found, not searched for
    assert litellm.model_cost["gpt-4o-mini"] == listed_before
    own_price = tmp_path / "judges.toml"
    own_price.write_text('[judges."openai/peer-bench-unlisted-judge"]\nprice = [1.0, 2.0]\n')
    priced = grade(_config(openai_server, tmp_path / "own", judges=("openai/peer-bench-unlisted-judge",), limit=1,
                           client="litellm", judges_config=str(own_price), cache=False), show_progress=False)
    with RunStore.open_existing(priced / "run.sqlite") as store:
        own = store.grades()
    assert own["cost_usd"].to_numpy() == pytest.approx(((own["prompt_tokens"] + 2 * own["completion_tokens"]) / 1e6).to_numpy())
