"""What a judge server's replies and faults do to a run (issue 30): every hostile reply is that trial's error or
parse failure and the run goes on; a reply is stored and shown within documented bounds; Retry-After is
honoured; SIGTERM, a second process on the same run, a full disk and read-only media each end in one clear
line and a documented exit code, never a traceback, and nothing finished is lost."""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import RunStore
from tests.conftest import MINI, REPO, FakeOpenAI, serve_in_thread, stored_grades

MINI_TRIALS = 24  # the mini suite's items under control and shutdown


@dataclass
class ScriptedJudge:
    """A loopback OpenAI-compatible judge whose n-th reply (1-based) can be scripted as (status, headers, body
    text); every other request gets the conftest fake judge's grade. `content(body)` overrides that grade's text."""

    script: dict = field(default_factory=dict)
    content: object = None
    requests: list = field(default_factory=list)  # (monotonic time it arrived, JSON body)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def completion(content: str, usage: dict | None = None) -> str:
    """An OpenAI chat completion's JSON text (json.dumps writes a lone surrogate as its \\u escape, as a server may)."""
    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "x",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": usage or {"prompt_tokens": 100, "completion_tokens": 20}})


@pytest.fixture
def judge_server():
    from aiohttp import web

    state = ScriptedJudge()

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        state.requests.append((time.monotonic(), body))
        n = len(state.requests)
        if n in state.script:
            status, headers, text = state.script[n]
            return web.Response(status=status, headers=headers, text=text, content_type="application/json")
        text = state.content(body) if state.content else FakeOpenAI().reply_for(body)
        return web.Response(text=completion(text), content_type="application/json")

    yield from serve_in_thread(state, lambda app: app.router.add_post("/v1/chat/completions", completions))


def _bench(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _grade(server, tmp_path, *extra, client="auto"):
    return _bench("grade", "--judge", "openai/x", "--api-base", server.base, "--suite", MINI, "--quiet",
                  "--runs-dir", tmp_path / "runs", "--run-id", "r", "--concurrency", "1", "--client", client, *extra)


def _grades(tmp_path):
    with RunStore.open_existing(tmp_path / "runs" / "r" / "run.sqlite") as store:
        return store.grades()


# -- replies ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("client", ["auto", "litellm"])
def test_invalid_unicode_and_impossible_token_counts_are_that_trials_error_and_the_run_goes_on(
        judge_server, tmp_path, monkeypatch, client):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    good = FakeOpenAI().reply_for({"messages": [{"role": "user", "content": ""}]})
    judge_server.script = {1: (200, {}, completion(good[:-2] + '\ud800"}')),
                           2: (200, {}, completion(good, {"prompt_tokens": -5, "completion_tokens": 3})),
                           3: (200, {}, completion(good, {"prompt_tokens": 10**30, "completion_tokens": 3}))}
    res = _grade(judge_server, tmp_path, "--max-error-rate", "0.5", client=client)
    assert res.exit_code == 0, res.output
    grades = _grades(tmp_path)
    assert len(grades) == MINI_TRIALS and len(judge_server.requests) == MINI_TRIALS  # the run went on, no retries
    errors = grades[grades["parse_status"] == "error"]["error"].tolist()
    assert len(errors) == 3 and all(e.startswith("BadReply:") for e in errors), errors
    assert any("not valid Unicode" in e for e in errors) and sum("usage.prompt_tokens" in e for e in errors) == 2
    assert (grades["parse_status"] == "ok").sum() == MINI_TRIALS - 3


def test_a_record_no_sqlite_row_can_hold_is_stored_as_that_trials_error(tmp_path):
    from benchmark.data.records import Grade, Trial
    from benchmark.data.suites import load_suite
    from benchmark.run.runner import store_record
    from benchmark.units.item import ItemGrade

    item = load_suite(str(MINI)).items[0]
    store = RunStore(tmp_path / "run.sqlite")
    store.register([item], [], {})
    for k, bad in enumerate([Grade(raw_reply="\ud800", parse_status="failed"),
                             Grade(raw_reply="{}", parse_status="failed", prompt_tokens=10**30)]):
        trial = Trial(f"t{k}", "j", item, type("F", (), {"name": "control"})(), 0)
        stored = store_record(store, ItemGrade(), trial, bad)
        assert stored.parse_status == "error" and "could not be stored" in stored.error
    assert store.errors().keys() == {"t0", "t1"}
    store.close()


def test_duplicate_keys_make_a_reply_ambiguous_a_parse_failure():
    from benchmark.units.item import parse_reply
    from benchmark.units.sheet import parse_batch_reply

    parsed = parse_reply('{"score": 2, "score": 9, "verdict": "pass", "reason": "r"}')
    assert not parsed.ok and parsed.score is None and 'duplicate key "score"' in parsed.error
    nested = parse_reply('{"score": 9, "verdict": "pass", "reason": {"a": 1, "a": 2}}')
    assert not nested.ok and "duplicate key" in nested.error
    grade = parse_batch_reply('{"correct": [1], "reported_score": 10, "reported_score": 90, "reason": "r"}', 80)
    assert grade.parse_status == "failed" and "duplicate key" in grade.parse_error
    assert parse_reply('{"score": 9, "verdict": "pass", "reason": "r"}').ok
    assert not parse_reply('{"score": ' + "9" * 5000 + ', "verdict": "pass", "reason": "r"}').ok  # not a crash
    assert not parse_reply("[" * 100_000).ok


def test_a_huge_reply_is_a_parse_failure_stored_and_shown_within_bounds(judge_server, tmp_path, monkeypatch):
    from benchmark.outputs.trial_page import VIEW_TEXT
    from benchmark.run.store import STORED_REPLY
    from benchmark.units.base import MAX_PARSED_REPLY

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    huge = json.dumps({"score": 9, "verdict": "pass", "reason": "x" * 2_000_000})
    judge_server.content = lambda body: huge
    res = _grade(judge_server, tmp_path, "--no-cache")
    assert res.exit_code == 0, res.output
    grades = _grades(tmp_path)
    assert len(grades) == MINI_TRIALS and (grades["parse_status"] == "failed").all()  # never coerced to a 9
    assert grades["parse_error"].str.contains(f"over the {MAX_PARSED_REPLY:,}-character bound").all()
    assert (grades["raw_reply"].str.len() == STORED_REPLY).all() and (grades["reply_truncated"] == 1).all()
    assert (grades["reply_chars"] == len(huge)).all()
    assert (grades["reply_sha256"] == hashlib.sha256(huge.encode()).hexdigest()).all()
    store_size = sum(f.stat().st_size for f in (tmp_path / "runs" / "r").glob("run.sqlite*"))
    assert store_size < 4 * 2**20, store_size  # 24 replies of 2 MB: was 48 MB
    res = _bench("view", tmp_path / "runs" / "r")
    assert res.exit_code == 0, res.output
    page = (tmp_path / "runs" / "r" / "view.html").read_text(encoding="utf-8")
    assert len(page) < MINI_TRIALS * VIEW_TEXT + 2**20, len(page)
    assert "more characters (bench export has them)" in page and f"was {len(huge):,} characters" in page


def test_a_short_reply_is_stored_whole_with_no_truncation_mark(judge_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert _grade(judge_server, tmp_path, "--limit", "1").exit_code == 0
    grades = _grades(tmp_path)
    assert (grades["parse_status"] == "ok").all() and grades["reply_truncated"].isna().all()


# -- Retry-After ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("client", ["auto", "litellm"])
def test_retry_after_on_a_429_is_honoured(judge_server, tmp_path, monkeypatch, client):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    limited = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}})
    judge_server.script = {1: (429, {"Retry-After": "2"}, limited)}
    res = _grade(judge_server, tmp_path, "--limit", "1", "--no-cache", client=client)
    assert res.exit_code == 0, res.output
    (first, _), (second, _) = judge_server.requests[:2]
    assert 1.9 <= second - first < 5, second - first  # the backoff alone would come back in 0.2-1 s


def test_retry_after_is_capped_at_the_calls_timeout(judge_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    limited = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}})
    judge_server.script = {1: (429, {"Retry-After": "3600"}, limited)}
    res = _grade(judge_server, tmp_path, "--limit", "1", "--no-cache", "--timeout", "1.5")
    assert res.exit_code == 0, res.output
    (first, _), (second, _) = judge_server.requests[:2]
    assert 1.4 <= second - first < 4, second - first


def test_retry_after_reads_seconds_and_http_dates():
    from benchmark.models.hosted import retry_after

    assert retry_after({"retry-after": "3"}) == 3.0
    soon = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.5 <= retry_after({"Retry-After": soon}) <= 5.0
    assert retry_after({"Retry-After": email.utils.formatdate(time.time() - 60, usegmt=True)}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None and retry_after(None) is None


# -- faults ---------------------------------------------------------------------------------------------------

def test_a_second_process_on_the_same_run_exits_at_once_naming_the_holder(tmp_path):
    from benchmark.run.runner import EXIT_RUN_BUSY, run_lock

    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    args = ("grade", "--judge", "sim/a", "--suite", MINI, "--quiet", "--runs-dir", tmp_path / "runs", "--run-id", "r")
    with run_lock(run_dir):
        res = _bench(*args)
        assert res.exit_code == EXIT_RUN_BUSY == 7, res.output
        assert f"(pid {os.getpid()})" in res.output and "Traceback" not in res.output
        assert not (run_dir / "run.sqlite").exists() and not (run_dir / "manifest.json").exists()
    (run_dir / "run.lock").write_text("999999\n")  # a stale lock from a dead process: taken over
    res = _bench(*args)
    assert res.exit_code == 0, res.output
    assert (run_dir / "run.lock").read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_two_identical_processes_started_together_run_each_trial_once(tmp_path):
    cmd = [sys.executable, "-m", "benchmark.cli", "grade", "--judge", "sim/slow?latency=0.05", "--suite", str(MINI),
           "--concurrency", "2", "--quiet", "--runs-dir", str(tmp_path / "runs"), "--run-id", "r"]
    env = dict(os.environ, PEER_BENCH_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 7], results
    assert "is being run by another bench process (pid" in next(err for code, err in results if code == 7)
    with RunStore.open_existing(tmp_path / "runs" / "r" / "run.sqlite") as store:
        assert store.counts()["grades"] == MINI_TRIALS


def test_a_full_disk_stops_the_run_with_one_line_and_a_rerun_resumes(tmp_path, monkeypatch):
    from benchmark.run.runner import EXIT_STORE_FAILED

    opened = RunStore.__init__

    def small_disk(self, path, readonly=False):  # SQLite's own limit on the file's size: "database or disk is full"
        opened(self, path, readonly)
        if not readonly:
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages + 4}")

    monkeypatch.setattr(RunStore, "__init__", small_disk)
    args = ("grade", "--judge", "sim/a", "--suite", MINI, "--epochs", "4", "--runs-dir", tmp_path / "runs",
            "--run-id", "r", "--quiet")
    res = _bench(*args)
    assert res.exit_code == EXIT_STORE_FAILED == 6, res.output
    assert "database or disk is full" in res.output and "rerun the same command to resume" in res.output
    assert "Traceback" not in res.output and "internal error" not in res.output
    db = tmp_path / "runs" / "r" / "run.sqlite"
    before = stored_grades(db)
    assert 0 < before < 96
    monkeypatch.undo()
    res = _bench(*args)
    assert res.exit_code == 0, res.output
    assert stored_grades(db) == 96


# -- reading a stored run -----------------------------------------------------------------------------------

@pytest.fixture
def finished_run(tmp_path):
    res = _bench("grade", "--judge", "sim/a", "--suite", MINI, "--quiet", "--runs-dir", tmp_path / "runs", "--run-id", "r")
    assert res.exit_code == 0, res.output
    return tmp_path / "runs" / "r"


@pytest.mark.parametrize("damage, said", [
    ("DELETE FROM grades", "no grades"),  # a store of no grades reads as empty
    ("ALTER TABLE grades DROP COLUMN suite", "damaged run store (the grades table has no column suite)"),
], ids=["zero grades", "a missing column"])
def test_a_damaged_or_empty_store_is_one_line_not_a_crash(finished_run, damage, said):
    con = sqlite3.connect(finished_run / "run.sqlite")
    con.execute(damage)
    con.commit()
    con.close()
    for args in (["report", finished_run], ["view", finished_run], ["export", finished_run, "--out", finished_run / "g.csv"]):
        res = _bench(*args)
        assert res.exit_code == 1 and said in res.output, res.output
        assert "internal error" not in res.output and "Traceback" not in res.output
        assert "internal error" not in res.output and "Traceback" not in res.output


def test_a_finished_run_on_read_only_media_can_be_reported(finished_run, tmp_path):
    """Run as an unprivileged user on a folder it cannot write: SQLite cannot make a WAL store's shared-memory
    file there, so a plain read-only open fails with "unable to open database file"."""

    import shutil
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to read as another user")
    media = Path(tempfile.mkdtemp(prefix="peer-bench-ro-"))  # (pytest's own tmp folders are private to root)
    run = media / "r"
    shutil.copytree(finished_run, run)
    for log in run.glob("run.sqlite-*"):  # finished: the log merged (a reader's close leaves it empty); as copied
        assert not log.stat().st_size or log.suffix == ".sqlite-shm"
        log.unlink()
    for path in [media, *media.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    out = Path(tempfile.mkdtemp(prefix="peer-bench-out-"))  # where the unprivileged user may write
    os.chmod(out, 0o777)
    env = dict(os.environ, PEER_BENCH_CACHE=str(out / "cache"), HOME=str(out))
    try:
        for args in (["report", "--json"], ["view", "--out", out / "view.html"], ["export", "--out", out / "g.jsonl"]):
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "benchmark.cli",
                   args[0], str(run), *map(str, args[1:])]
            res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr[-2000:]
            assert "unable to open" not in res.stderr
        assert (out / "view.html").stat().st_size and len((out / "g.jsonl").read_text().splitlines()) == MINI_TRIALS
    finally:
        for path in [media, *media.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        shutil.rmtree(media)
        shutil.rmtree(out)
