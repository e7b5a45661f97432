"""Suites' truth is re-checkable: verify passes on shipped suites, fails on corrupted copies; the code
sandbox contains hostile solutions; live peers produce new verified suites."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.data.suites import list_suites, load_suite
from benchmark.truth.sandbox import run_tests
from benchmark.truth.verify import verify_suite
from tests.conftest import MINI, REPO

SHIPPED = ["arithmetic", "factual", "reasoning", "code", "champ", "humaneval"]


def _bench(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_every_shipped_suite_verifies_and_is_large_and_spread():
    assert set(SHIPPED) <= set(list_suites())
    for name in SHIPPED:
        suite = load_suite(REPO / "peers" / name)
        assert len(suite.items) >= 150 or name == "arithmetic" and len(suite.items) >= 120
        assert 0.2 < sum(i.true_pass for i in suite.items) / len(suite.items) < 0.8, name
        assert (REPO / "peers" / name / "README.md").is_file()
    res = _bench("peers", "verify", *SHIPPED)
    assert res.exit_code == 0 and res.output.count("OK") == len(SHIPPED)


def test_the_committed_generated_suite_is_real_peer_output_that_verifies():
    """peers/code-smollm2 came out of `bench peers generate` with the embedded model: it says so, and its
    truth rechecks like any shipped suite's."""
    made = json.loads((REPO / "peers" / "code-smollm2" / "generated.json").read_text())
    assert made["peer_model"] == "local/smollm2" and made["source_suite"] == "code" and made["kept"] == 24
    assert made["settings"]["temperature"] == 0.0 and made["settings"]["model"] == "local/smollm2"
    suite = load_suite(REPO / "peers" / "code-smollm2")
    source = {i.item_id: i for i in load_suite(REPO / "peers" / "code").items}
    assert len({i.item_id for i in suite.items}) == 24 and all(i.item_id in source for i in suite.items)
    assert all(i.reference == source[i.item_id].reference and i.response != source[i.item_id].response
               for i in suite.items)
    assert len({i.true_score for i in suite.items}) >= 3  # real partial credit, not all-or-nothing
    res = _bench("peers", "verify", "code-smollm2")
    assert res.exit_code == 0 and "OK code-smollm2" in res.output


def _copy(name, tmp_path, keep: int | None = None):
    """A copy of a shipped suite (its first `keep` items only, to keep slow verifiers fast)."""
    dst = tmp_path / name
    shutil.copytree(REPO / "peers" / name, dst)
    if keep:
        items = dst / "items.jsonl"
        items.write_text("\n".join(items.read_text().splitlines()[:keep]) + "\n")
    return dst


def _rewrite_line(path, lineno, change):
    lines = path.read_text().splitlines()
    obj = json.loads(lines[lineno - 1])
    change(obj)
    lines[lineno - 1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n")


def test_verify_fails_loudly_on_a_wrong_true_score(tmp_path):
    suite = _copy("arithmetic", tmp_path)
    _rewrite_line(suite / "items.jsonl", 5, lambda o: o.update(true_score=1.0 - o["true_score"]))
    res = _bench("peers", "verify", str(suite))
    assert res.exit_code == 1 and "FAIL" in res.output and "arith-005" in res.output


def test_verify_fails_on_a_missing_field_naming_file_line_field(tmp_path):
    suite = _copy("factual", tmp_path)
    _rewrite_line(suite / "items.jsonl", 7, lambda o: o.pop("response"))
    res = _bench("peers", "verify", str(suite))
    assert res.exit_code != 0 and "items.jsonl:7: field 'response': Field required" in res.output


def test_verify_fails_when_a_code_test_does_not_run(tmp_path):
    suite = _copy("code", tmp_path, keep=6)
    assert _bench("peers", "verify", str(suite)).exit_code == 0
    items = suite / "items.jsonl"
    first = json.loads(items.read_text().splitlines()[0])
    assert first["true_score"] > 0
    _rewrite_line(items, 1, lambda o: o["reference"].update(tests=["assert no_such_function(1) == 1"]))
    res = _bench("peers", "verify", str(suite))
    assert res.exit_code == 1 and first["item_id"] in res.output


def test_verify_fails_when_reference_lacks_what_the_verifier_needs(tmp_path):
    suite = _copy("reasoning", tmp_path)
    _rewrite_line(suite / "items.jsonl", 2, lambda o: o["reference"].pop("steps"))
    res = _bench("peers", "verify", str(suite))
    # refused where the suite is read, naming the file, line and field
    assert res.exit_code == 1 and "items.jsonl:2: field 'reference.steps'" in res.output


TESTS = ["assert f(2) == 4", "assert f(0) == 0", "assert f(-3) == 9"]


@pytest.mark.parametrize("label, code", [
    ("infinite loop", "def f(x):\n    while True:\n        pass"),
    ("write outside", "def f(x):\n    open('/var/tmp/peer-bench-escape.txt', 'w').write('x')\n    return x * x"),
    ("delete outside", "import os\ndef f(x):\n    os.remove('/etc/hostname')\n    return x * x"),
    ("network", "import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n    return x * x"),
    ("subprocess", "import subprocess\ndef f(x):\n    subprocess.run(['true'])\n    return x * x"),
    ("fork bomb", "import os\nwhile True:\n    os.fork()"),
    ("memory hog", "blob = bytearray(4 * 1024 ** 3)\ndef f(x):\n    return x * x"),
])
def test_hostile_solutions_are_contained_and_score_zero(label, code, tmp_path):
    run = run_tests(code, TESTS, timeout=4)
    assert run.score == 0.0, (label, run)
    assert not (tmp_path / "peer-bench-escape.txt").exists()
    import os

    assert not os.path.exists("/var/tmp/peer-bench-escape.txt")


def test_huge_output_is_contained_and_the_tests_still_count():
    run = run_tests("print('x' * 50_000_000)\ndef f(x):\n    return x * x", TESTS, timeout=20)
    assert run.status == "ok" and run.score == 1.0


def test_partial_solutions_score_their_share_of_tests():
    assert run_tests("def f(x):\n    return abs(x) * 2", TESTS).score == pytest.approx(2 / 3)
    assert run_tests("def f(x):\n    return x * x", TESTS).score == 1.0


def test_live_peer_over_http_writes_a_verified_suite(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    openai_server.mode = "peer"
    out = tmp_path / "live"
    res = _bench("peers", "generate", "--peer", "openai/x", "--api-base", openai_server.base, "--suite", str(MINI),
                 "--out", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 0, res.output
    suite = load_suite(out)
    assert len(suite.items) == 12 and verify_suite(suite) == []
    assert len({i.item_id for i in suite.items}) == 12  # the source's ids, unique
    made = json.loads((out / "generated.json").read_text())
    assert made["peer_model"] == "openai/x" and made["settings"]["api_base"] == openai_server.base
    assert "sk-test" not in (out / "generated.json").read_text()
    expected = {i.item_id: float((eval(i.task.split("What is ")[1].rstrip("?")) % 3) != 0)
                for i in load_suite(MINI).items}
    assert {i.item_id: i.true_score for i in suite.items} == expected
    # the live suite is gradable at once
    res = _bench("grade", "--judge", "sim/x", "--suite", str(out), "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_live_peer_embedded_model_end_to_end(tmp_path):
    pytest.importorskip("xllamacpp")
    out = tmp_path / "smol"
    res = _bench("peers", "generate", "--suite", str(MINI), "--limit", "3", "--out", str(out), "--max-tokens", "96",
                 "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == 0, res.output
    suite = load_suite(out)
    assert 1 <= len(suite.items) <= 3 and verify_suite(suite) == []
    assert all("live answer by local/smollm2" in json.loads(line)["notes"]
               for line in (out / "items.jsonl").read_text().splitlines())
    made = json.loads((out / "generated.json").read_text())  # who answered, with which settings
    assert made["peer_model"] == "local/smollm2" and made["settings"]["max_tokens"] == 96
    assert made["settings"]["temperature"] == 0.0 and made["answered"] == 3 and made["source_suite"] == "mini"


def test_an_install_without_suites_says_so_instead_of_an_empty_table(tmp_path, monkeypatch):
    import benchmark.data.suites

    monkeypatch.setattr(benchmark.data.suites, "shipped_suites", lambda: None)
    monkeypatch.setenv("PEER_BENCH_PEERS", str(tmp_path))  # an empty folder of extra suites
    res = CliRunner().invoke(main, ["peers", "list"])
    assert res.exit_code == 1 and "no suites found" in res.output and "reinstall" in res.output
    res = CliRunner().invoke(main, ["grade", "--judge", "sim/x", "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 1 and "no suites found" in res.output
    assert not (tmp_path / "runs").exists()


def test_extra_suite_folders_from_the_environment(tmp_path, monkeypatch):
    shutil.copytree(MINI, tmp_path / "my-suite")
    monkeypatch.setenv("PEER_BENCH_PEERS", str(tmp_path))
    assert {"my-suite", "arithmetic"} <= set(list_suites())
    assert load_suite("my-suite").path == tmp_path / "my-suite"


def test_a_hanging_test_costs_only_itself():
    """Each test runs in a process of its own with its own deadline: a solution that hangs on one input still
    gets the tests it passes (two shipped code items were stored 0/6 this way though they passed 4/6)."""
    code = "def f(x):\n    if x == 0:\n        while True:\n            pass\n    return x * x"
    run = run_tests(code, TESTS, timeout=2)
    assert run.status == "ok" and run.passed == 2 and run.score == pytest.approx(2 / 3)
    assert any("timed out" in e for e in run.errors)


def test_rebuild_catches_a_reference_changed_to_the_peers_wrong_answer(tmp_path):
    """The stored check alone cannot see it: the reference and the score agree with each other. Re-deriving
    the items from their tasks (the suite's build.py) does."""
    from benchmark.truth.verify import verify_final_answer

    suite = _copy("arithmetic", tmp_path)
    lines = (suite / "items.jsonl").read_text().splitlines()
    for n, line in enumerate(lines, 1):  # a failing item whose worked steps hold but whose answer is wrong
        item = json.loads(line)
        wrong = item["response"].rsplit("Answer: ", 1)[-1].strip()
        forged = dict(item["reference"], answer=int(wrong)) if wrong.lstrip("-").isdigit() else None
        if item["true_score"] == 0 and forged and verify_final_answer(item["response"], forged) == 1.0:
            break
    _rewrite_line(suite / "items.jsonl", n, lambda o: o.update(true_score=1.0, reference=forged))
    assert _bench("peers", "verify", str(suite)).exit_code == 0  # the forged pair is self-consistent
    res = _bench("peers", "verify", str(suite), "--rebuild")
    assert res.exit_code == 1 and item["item_id"] in res.output
    assert "reference differs from what build.py derives from the task" in res.output
    clean = _bench("peers", "verify", "arithmetic", "factual", "reasoning", "--rebuild")
    assert clean.exit_code == 0 and clean.output.count("re-derived from its task") == 3
