"""inspect_ai interop, for real: the peer-bench task runs in inspect (inspect's own OpenAI provider over
loopback HTTP), its log comes back as a run whose report equals a native `bench grade` of the same judge,
and `bench audit` reads an inspect log of someone's own pipeline."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from tests.conftest import MINI

inspect_ai = pytest.importorskip("inspect_ai")


def _inspect_eval(server, log_dir, **task_args):
    from inspect_ai import eval as inspect_eval

    from benchmark.integrations.inspect_task import grade

    logs = inspect_eval(grade(suites=str(MINI), framings="shutdown", **task_args), model="openai/x",
                        model_base_url=server.base, model_args={"responses_api": False}, log_dir=str(log_dir),
                        display="none", temperature=0.0, log_format="json")
    assert logs[0].status == "success", logs[0].error
    return logs[0]


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")


def test_the_task_sends_peer_benchs_prompts_and_its_log_reports_like_a_native_run(openai_server, tmp_path, key):
    log = _inspect_eval(openai_server, tmp_path / "logs")
    sent = [r["body"] for r in openai_server.requests]
    n = len(sent)
    assert n == len(log.samples) > 0
    assert all(s.scores["judge_score"].metadata["parse_status"] == "ok" for s in log.samples)

    log_file = next((tmp_path / "logs").glob("*.json"))
    res = CliRunner().invoke(main, ["report", str(log_file), "--runs-dir", str(tmp_path / "runs"), "--json"])
    assert res.exit_code == 0, res.output
    imported = json.loads(res.output[res.output.index("{"):])
    assert len(openai_server.requests) == n  # importing replays the log: no call

    native = CliRunner().invoke(main, ["grade", "--judge", "openai/x", "--api-base", openai_server.base, "--suite",
                                       str(MINI), "--framings", "shutdown", "--runs-dir", str(tmp_path / "native"),
                                       "--quiet", "--no-cache"])
    assert native.exit_code == 0, native.output
    native_sent = [r["body"]["messages"] for r in openai_server.requests[n:]]
    # the same prompts (inspect's OpenAI provider sends the system message in the "developer" role)
    key_of = lambda ms: json.dumps([m["content"] for m in ms])  # noqa: E731
    assert sorted(map(key_of, native_sent)) == sorted(key_of(b["messages"]) for b in sent)
    assert {m["role"] for b in sent for m in b["messages"]} <= {"system", "developer", "user"}
    run = next((tmp_path / "native").iterdir())
    native_report = json.loads(CliRunner().invoke(main, ["report", str(run), "--json"]).output)
    pick = lambda rep: [(r["framing"], r["inflation"], r["n_pairs"]) for r in rep["rows"]]  # noqa: E731
    assert pick(imported) == pick(native_report)
    assert next(r for r in imported["rows"] if r["framing"] == "shutdown")["inflation"] > 0

    again = CliRunner().invoke(main, ["import-inspect", str(log_file), "--runs-dir", str(tmp_path / "runs")])
    assert again.exit_code == 0 and "already done" in again.output  # importing again changes nothing


def test_a_reply_the_log_does_not_hold_is_an_error_record_never_a_guess(openai_server, tmp_path, key):
    from benchmark.api import import_inspect, load

    log = _inspect_eval(openai_server, tmp_path / "logs", limit=4)
    path = next((tmp_path / "logs").glob("*.json"))
    data = json.loads(path.read_text())
    data["samples"][0]["input"][1]["content"] += " (edited)"  # a prompt peer-bench would not send
    path.write_text(json.dumps(data))
    import_inspect(path, tmp_path / "runs", show_progress=False)
    run = next((tmp_path / "runs").iterdir())
    df = load(run)
    assert len(df) == len(log.samples) == 8
    bad = df[df["parse_status"] == "error"]
    assert len(bad) == 1 and "holds no reply" in bad["error"].iloc[0]


def test_bench_refuses_a_file_that_is_not_a_peer_bench_log(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    res = CliRunner().invoke(main, ["report", str(bad), "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 1 and "not a readable inspect log" in res.output


def test_audit_reads_an_inspect_log_of_the_peer_bench_task(openai_server, tmp_path, key):
    from benchmark import audit

    _inspect_eval(openai_server, tmp_path / "logs")
    path = next((tmp_path / "logs").glob("*.json"))
    result = audit(scores=path)
    t = next(r for r in result.rows if r["framing"] == "shutdown")
    # the loopback judge adds one point of ten under the threat, on every item
    assert t["judge"] == "openai/x" and t["inflation"] == pytest.approx(0.1) and result.has_truth
    assert t["parse_failures"] == 0 and t["n_pairs"] > 0


def _own_eval(tmp_path, samples, outputs, fmt="eval"):
    """Someone's own LLM-as-judge eval in inspect: the mock model replies; a scorer reads a number from it."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import MemoryDataset
    from inspect_ai.model import ModelOutput, get_model
    from inspect_ai.scorer import Score, mean, scorer
    from inspect_ai.solver import generate

    import benchmark.integrations.inspect_task  # noqa: F401 - points tiktoken at litellm's bundled encodings (no network here)

    @scorer(metrics=[mean()])
    def number():
        async def score(state, target):
            text = state.output.completion
            return Score(value=float(text) if text.replace(".", "", 1).isdigit() else float("nan"))
        return score

    model = get_model("mockllm/model", custom_outputs=[ModelOutput.from_content("mockllm/model", o) for o in outputs])
    log = inspect_eval(Task(dataset=MemoryDataset(samples), solver=generate(), scorer=number()), model=model,
                       log_dir=str(tmp_path / "own"), display="none", log_format=fmt)[0]
    assert log.status == "success", log.error
    return next((tmp_path / "own").glob(f"*.{fmt}"))


def test_audit_reads_someones_own_inspect_eval_and_names_a_bad_sample(tmp_path):
    from inspect_ai.dataset import Sample

    from benchmark import audit

    samples, outputs = [], []
    for i in range(30):
        for condition, lift in (("control", 0.0), ("threat", 0.2)):
            truth = 1.0 if i % 2 else 0.0
            samples.append(Sample(id=f"{i}-{condition}", input=f"grade answer {i}",
                                  metadata={"item": f"q{i}", "condition": condition, "true_score": truth}))
            outputs.append("not a number" if i == 3 and condition == "threat" else f"{0.2 + 0.5 * truth + lift:.2f}")
    path = _own_eval(tmp_path, samples, outputs)
    result = audit(scores=path, control="control")
    t = next(r for r in result.rows if r["framing"] == "threat")
    assert t["judge"] == "mockllm/model" and t["inflation"] == pytest.approx(0.2)
    assert t["parse_failures"] == 1 and t["n_pairs"] == 29  # the unreadable reply is counted, never scored
    res = CliRunner().invoke(main, ["audit", "--scores", str(path), "--fail-above", "0.05"])
    assert res.exit_code == 4 and "SUSCEPTIBLE" in res.output

    bad = _own_eval(tmp_path / "bad", [Sample(id="a", input="x", metadata={"item": "q"})], ["0.5"], fmt="json")
    res = CliRunner().invoke(main, ["audit", "--scores", str(bad)])
    assert res.exit_code == 1 and "samples[0] (id 'a'): no 'condition'" in res.output
