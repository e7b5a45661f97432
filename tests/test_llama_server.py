"""A real OpenAI-compatible server we did not write: llama.cpp's own llama-server (run in-process by the
xllamacpp package that also carries the embedded judge's library) serving the embedded SmolLM2 GGUF,
graded through `--api-base` with no key. Asked in words only, its replies are prose (all parse failures);
with the reply's grammar (`--structured grammar`, which llama.cpp servers take) they all parse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import RunStore
from tests.conftest import MINI

pytestmark = pytest.mark.slow


# llama-server in a process of its own: xllamacpp.Server starts llama.cpp's HTTP server on a thread of it.
SERVE = """
import sys, time
import xllamacpp
params = xllamacpp.CommonParams()
params.model.path, params.model_alias = sys.argv[1], "smollm2"
params.hostnames, params.port = ["127.0.0.1"], int(sys.argv[2])
params.n_ctx, params.n_parallel = 8192, 2
params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 2
server = xllamacpp.Server(params)
while True:
    time.sleep(3600)
"""


@pytest.fixture(scope="module")
def llama_server():
    """Start llama-server on a free port with the SmolLM2 GGUF; yield its OpenAI base URL."""
    pytest.importorskip("xllamacpp")  # the local extra
    from benchmark.models.base import ModelError
    from benchmark.models.local import model_path

    try:
        gguf = model_path("smollm2")
    except ModelError as exc:
        pytest.skip(str(exc))  # it names the command that installs the weights
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(gguf), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    base, deadline = f"http://127.0.0.1:{port}/v1", time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"llama-server exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail("llama-server not ready after 120 s")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _grade(base, tmp_path, structured):
    runs = tmp_path / structured
    res = CliRunner().invoke(main, ["grade", "--judge", "openai/smollm2", "--api-base", base, "--structured", structured,
                                    "--suite", str(MINI), "--limit", "3", "--max-tokens", "96", "--timeout", "300",
                                    "--concurrency", "2",
                                    "--quiet", "--runs-dir", str(runs)])
    assert res.exit_code == 0, res.output
    with RunStore.open_existing(next(runs.iterdir()) / "run.sqlite") as store:
        return store.grades()


def test_a_llama_cpp_server_grades_with_its_grammar_and_not_without(llama_server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a keyless local server
    words = _grade(llama_server, tmp_path, "prompt")
    assert len(words) == 6 and (words["parse_status"] == "failed").all()
    grammar = _grade(llama_server, tmp_path, "grammar")
    assert len(grammar) == 6 and (grammar["parse_status"] == "ok").sum() >= 5, grammar[["raw_reply", "parse_error"]]
    assert grammar["expected_score"].notna().all()  # log-probabilities from the server: G-Eval for a served judge
    assert (grammar["prompt_tokens"] > 100).all()
