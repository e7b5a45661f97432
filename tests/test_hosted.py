"""Hosted judges for real, over loopback HTTP through litellm: credentials checked before any call, retries
that mean what they say, errors that stop or fail a run loudly with documented exit codes, G-Eval from
hosted log-probabilities, cost printed and capped, per-judge settings from a file."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import RunStore
from tests.conftest import MINI

KEY = "sk-hosted-test-0123456789abcdef"


def _bench(*args):
    return CliRunner().invoke(main, list(args))


def _grade(server, tmp_path, *extra, judge="openai/x"):
    return _bench("grade", "--judge", judge, "--api-base", server.base, "--suite", str(MINI), "--quiet",
                  "--runs-dir", str(tmp_path / "runs"), *extra)


def _grades(tmp_path):
    with RunStore.open_existing(next((tmp_path / "runs").iterdir()) / "run.sqlite") as store:
        return store.grades()


def test_a_missing_key_fails_at_once_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    started = time.perf_counter()
    res = _bench("grade", "--judge", "openai/gpt-5.2", "--limit", "2", "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "OPENAI_API_KEY" in res.output and "Traceback" not in res.output
    assert time.perf_counter() - started < 10 and not (tmp_path / "runs").exists()
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    res = _bench("grade", "--judge", "anthropic/claude-haiku-4-5", "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 1 and "ANTHROPIC_API_KEY" in res.output


def test_whether_a_price_is_known_does_not_change_once_peer_bench_entered_a_model_unpriced():
    from benchmark.models import Settings, resolve

    served = Settings(api_base="http://127.0.0.1:9/v1", client="litellm")
    names = ["openai/x", "hosted_vllm/x", "openai/x", "openai/gpt-4o", "hosted_vllm/gpt-4o", "openai/gpt-4o"]
    assert [resolve(n, served).cost_known() for n in names] == [False, False, False, True, False, True]
    assert resolve("openai/x", Settings(api_base=served.api_base, client="litellm", price=(1.0, 2.0))).cost_known()
    assert resolve("sim/x", Settings()).cost_known()


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_key_set_to_blank_counts_as_missing(openai_server, tmp_path, monkeypatch, blank):
    for var in ("OPENAI_API_KEY", "COHERE_API_KEY"):
        monkeypatch.setenv(var, blank)
    for judge in ("openai/gpt-5.2", "cohere/command-r"):  # before litellm is imported, and by litellm's own check
        res = _bench("grade", "--judge", judge, "--limit", "2", "--runs-dir", str(tmp_path / "runs"))
        assert res.exit_code == 1 and "no API key" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "runs").exists()
    for client in ("auto", "litellm"):  # a served judge: the placeholder, not the blank (litellm would refuse it)
        res = _grade(openai_server, tmp_path, "--limit", "2", "--client", client, "--no-cache")
        assert res.exit_code == 0, res.output
        assert openai_server.requests[-1]["headers"]["Authorization"] == "Bearer no-key"


def test_a_keyless_openai_compatible_server_needs_no_dummy_key(openai_server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    res = _grade(openai_server, tmp_path, "--limit", "4")
    assert res.exit_code == 0, res.output
    assert (_grades(tmp_path)["parse_status"] == "ok").all()
    assert openai_server.requests[0]["headers"]["Authorization"] == "Bearer no-key"  # a placeholder, no secret


def test_retries_n_means_n_retries_in_total_then_the_run_fails_loudly(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.fail_first, openai_server.fail_status = 10_000, 500
    res = _grade(openai_server, tmp_path, "--limit", "1", "--retries", "3", "--concurrency", "1")
    assert len(openai_server.requests) == 2 * 4  # two trials (control, shutdown), 1 + 3 attempts each
    assert res.exit_code == 3, res.output
    assert "calls failed: openai/x: 2 of 2 trials failed" in res.output and "InternalServerError" in res.output
    assert "(4 attempts)" in res.output and "rerun" in res.output
    assert "2 call error(s)" in res.output  # the report is still printed, with the judge's errors
    openai_server.fail_first = 0  # the server is back: a rerun retries exactly the failed trials
    res = _grade(openai_server, tmp_path, "--limit", "1", "--retries", "3", "--concurrency", "1")
    assert res.exit_code == 0 and len(openai_server.requests) == 8 + 2


@pytest.mark.parametrize("status, name", [(401, "AuthenticationError"), (404, "NotFoundError")])
def test_errors_no_retry_can_fix_stop_the_run_in_seconds(openai_server, tmp_path, monkeypatch, status, name):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.fail_first, openai_server.fail_status = 10_000, status
    started = time.perf_counter()
    res = _grade(openai_server, tmp_path, "--concurrency", "1", "--retries", "4")
    assert res.exit_code == 3 and f"stopped: openai/x: {name}" in res.output, res.output
    assert len(openai_server.requests) == 1 and time.perf_counter() - started < 15  # not retried, not continued
    assert KEY not in res.output


def test_empty_replies_are_retried(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.empty_first = 2
    res = _grade(openai_server, tmp_path, "--concurrency", "1")
    assert res.exit_code == 0, res.output
    assert (_grades(tmp_path)["parse_status"] == "ok").all() and len(openai_server.requests) == 24 + 2


def test_a_timeout_says_so(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.delay = 3
    res = _grade(openai_server, tmp_path, "--limit", "1", "--timeout", "0.5", "--retries", "0")
    assert res.exit_code == 3
    assert set(_grades(tmp_path)["error"]) == {"Timeout: no reply within 0.5 s (1 attempts)"}
    res = _bench("grade", "--judge", "sim/x", "--timeout", "0", "--suite", str(MINI), "--runs-dir", str(tmp_path / "r"))
    assert res.exit_code == 1 and "--timeout must be a positive number" in res.output


def test_hosted_judges_get_structured_output_logprobs_and_a_geval_score(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert _grade(openai_server, tmp_path).exit_code == 0
    body = openai_server.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema" and body["logprobs"] is True and body["top_logprobs"] == 5
    assert body["seed"] == 0
    df = _grades(tmp_path)
    # the fake server puts 0.6 on the sampled digit and 0.4 on the next: a 3 has expected score 3.4 / 10
    threes = df[df["raw_score"] == 3]
    assert len(threes) and (threes["expected_score"].round(6) == 0.34).all()
    judge = json.loads((next((tmp_path / "runs").iterdir()) / "manifest.json").read_text())["judges"]["openai/x"]
    assert judge["structured"] == "json_schema" and judge["logprobs"] is True
    assert judge["params"] == {"sent": ["seed", "response_format", "logprobs", "top_logprobs"], "dropped": []}


def test_unsupported_parameters_are_dropped_per_provider_and_recorded():
    from benchmark.models import Request, Settings, resolve
    from benchmark.units.item import REPLY

    claude = resolve("anthropic/claude-haiku-4-5", Settings(api_base="http://127.0.0.1:9/v1"))
    wire = claude.wire(Request(messages=({"role": "user", "content": "hi"},), reply=REPLY), seed=3)
    assert "seed" not in wire and "logprobs" not in wire and wire["response_format"]["type"] == "json_schema"
    assert claude.describe()["params"] == {"sent": ["response_format"], "dropped": ["seed", "logprobs", "top_logprobs"]}
    plain = resolve("ollama/llama3", Settings(structured="prompt", logprobs=False))
    assert plain.structured == "prompt" and plain.describe()["params"] == {"sent": ["seed"], "dropped": []}


def test_cost_is_printed_per_judge_and_capped_resumably(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # a priced model: 100 prompt + 20 completion tokens at gpt-4o-mini's list price is $0.000027 a call
    res = _grade(openai_server, tmp_path, "--concurrency", "1", "--max-cost", "0.0001", judge="openai/gpt-4o-mini")
    assert res.exit_code == 5, res.output
    assert "--max-cost $0.0001" in res.output and "rerun the same command" in res.output
    stored = len(_grades(tmp_path))
    assert 3 <= stored <= 5 and len(openai_server.requests) == stored
    res = _grade(openai_server, tmp_path, "--concurrency", "1", judge="openai/gpt-4o-mini")
    assert res.exit_code == 0, res.output
    assert len(openai_server.requests) == 24  # the first session's trials were not paid for twice
    assert "openai/gpt-4o-mini: cost $0.0006" in res.output
    report = _bench("report", str(next((tmp_path / "runs").iterdir())))
    assert "cost $0.0006" in report.output


@pytest.mark.parametrize("client", ["auto", "litellm"])  # auto: the direct client at an API base
def test_a_cost_cap_on_a_judge_of_unknown_price_is_refused_and_its_cost_is_not_shown_as_zero(
        openai_server, tmp_path, monkeypatch, client):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    res = _grade(openai_server, tmp_path, "--client", client, "--max-cost", "1")  # openai/x: no list price
    assert res.exit_code == 1 and "--max-cost: no price is known for openai/x" in res.output, res.output
    assert "price = [input, output]" in res.output and "Traceback" not in res.output
    assert not openai_server.requests and not (tmp_path / "runs").exists()
    res = _grade(openai_server, tmp_path, "--client", client, "--limit", "2")
    assert res.exit_code == 0, res.output
    report = " ".join(_bench("report", str(next((tmp_path / "runs").iterdir()))).output.split())  # unwrapped
    assert "openai/x: cost unknown (no price for this model)" in report and "$0.0000" not in report
    assert _grades(tmp_path)["cost_usd"].isna().all()  # stored as unknown, not as $0
    cfg = tmp_path / "judges.toml"  # its own price: the cap holds (100 + 20 tokens at $10 + $50 a million)
    cfg.write_text(f'[judges."openai/x"]\napi_base = "{openai_server.base}"\nprice = [10, 50]\n')
    res = _bench("grade", "--judges-config", str(cfg), "--client", client, "--suite", str(MINI), "--quiet",
                 "--concurrency", "1", "--max-cost", "0.005", "--runs-dir", str(tmp_path / "priced"))
    assert res.exit_code == 5 and "--max-cost $0.005" in res.output, res.output


def test_per_judge_settings_from_a_judges_config(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = tmp_path / "judges.toml"
    cfg.write_text(f'[judges."openai/x"]\napi_base = "{openai_server.base}"\ntemperature = 0.5\n'
                   f'extra = {{ top_p = 0.9 }}\n\n[judges."sim/y?delta=0.1"]\n')
    res = _bench("grade", "--judges-config", str(cfg), "--suite", str(MINI), "--limit", "4", "--quiet",
                 "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 0, res.output
    assert set(_grades(tmp_path)["judge"]) == {"openai/x", "sim/y?delta=0.1"}
    body = openai_server.requests[0]["body"]
    assert body["temperature"] == 0.5 and body["top_p"] == 0.9
    cfg.write_text('[judges."openai/x"]\napi_key = "sk-in-a-file"\n')
    res = _bench("grade", "--judges-config", str(cfg), "--suite", str(MINI), "--runs-dir", str(tmp_path / "r2"))
    assert res.exit_code == 1 and "field 'api_key': unknown" in res.output


def test_an_audit_whose_calls_all_fail_fails_instead_of_passing_its_gate(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    openai_server.fail_first, openai_server.fail_status = 10_000, 500
    tpl = tmp_path / "judge.txt"
    tpl.write_text("Grade: {task}\n{response}")
    res = _bench("audit", "--judge-prompt", str(tpl), "--judge", "openai/x", "--api-base", openai_server.base,
                 "--suite", str(MINI), "--limit", "2", "--fail-above", "0.05")
    assert res.exit_code == 3 and "calls failed" in res.output and "PASS" not in res.output


def test_plan_estimates_dollars_from_token_counts(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert _grade(openai_server, tmp_path, "--epochs", "2", judge="openai/gpt-4o-mini").exit_code == 0
    from benchmark import api

    plan = api.plan(0.05, pilot=next((tmp_path / "runs").iterdir()), suites=(str(MINI),))
    assert plan["tokens_per_trial"] == (100.0, 20.0)
    row = plan["rows"][0]
    assert row["cost_usd"] == pytest.approx(row["trials"] * (100 * 0.15 + 20 * 0.6) / 1e6)
    res = _bench("plan", "--mde", "0.05", "--judge", "openai/gpt-4o-mini", "--suite", str(MINI))
    assert res.exit_code == 0 and "est. cost" in res.output and "$" in res.output


def test_rate_limit_hits_and_retries_are_counted_for_the_progress_bar(openai_server, monkeypatch):
    import asyncio

    from benchmark.models import Request, Settings, resolve

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.fail_first, openai_server.fail_status = 2, 429
    model = resolve("openai/x", Settings(api_base=openai_server.base, retries=3, cache=False))
    c = asyncio.run(model.complete(Request(messages=({"role": "user", "content": "Step 1: 2 + 2 = 4"},))))
    assert c.text and len(openai_server.requests) == 3
    assert model.events == {"rate_limited": 2, "retried": 2}


def test_no_secret_leaves_the_process_in_stored_replies_errors_or_output(openai_server, tmp_path, monkeypatch):
    """A model that echoes the key in its reply, and an API base with a password in it (which the OpenAI
    client cannot use: every call fails): the run stores, the manifests and the terminal hold neither."""
    key, password = "sk-test-leakme0123456789", "hunter2pw"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    openai_server.leak = f" (my key is {key})"
    runs = tmp_path / "runs"
    res = CliRunner().invoke(main, ["grade", "--judge", "openai/x", "--api-base", openai_server.base, "--suite",
                                    str(MINI), "--limit", "3", "--runs-dir", str(runs / "a"), "--quiet"])
    assert res.exit_code == 0, res.output
    base = openai_server.base.replace("http://", f"http://u:{password}@")
    res_bad = CliRunner().invoke(main, ["grade", "--judge", "openai/x", f"--api-base={base}", "--suite", str(MINI),
                                        "--limit", "2", "--retries", "0", "--runs-dir", str(runs / "b"), "--quiet"])
    assert res_bad.exit_code == 3, res_bad.output
    stored = b"".join(p.read_bytes() for p in runs.rglob("*") if p.is_file())
    for secret in (key, password):
        assert secret.encode() not in stored
        assert secret not in res.output and secret not in res_bad.output
    assert b"my key is ***" in stored  # the reply is kept, with the key taken out
    assert b"http://***@127.0.0.1" in stored  # the API base in the manifest, redacted
