"""Several endpoints for one judge (replicas of one model): litellm's Router spreads the calls, and a
replica that fails is retried around and cooled down, tested against two real loopback servers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import RunStore
from tests.conftest import MINI, serve_in_thread


@dataclass
class Broken:
    """A replica that answers every request with a server error."""

    status: int = 500
    requests: list = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def broken_server():
    from aiohttp import web

    state = Broken()

    async def completions(request: web.Request) -> web.Response:
        state.requests.append(await request.json())
        return web.json_response({"error": {"message": "replica down", "type": "server_error"}}, status=state.status)

    yield from serve_in_thread(state, lambda app: app.router.add_post("/v1/chat/completions", completions))


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")


def _grade(tmp_path, *bases, extra=()):
    args = ["grade", "--judge", "openai/x", "--suite", str(MINI), "--runs-dir", str(tmp_path / "runs"), "--quiet",
            "--no-cache", *extra]
    for base in bases:
        args += ["--api-base", base]
    return CliRunner().invoke(main, args)


def test_a_failing_replica_is_routed_around_and_every_grade_lands(openai_server, broken_server, tmp_path, key):
    res = _grade(tmp_path, openai_server.base, broken_server.base, extra=["--concurrency", "4"])
    assert res.exit_code == 0, res.output
    run = next((tmp_path / "runs").iterdir())
    grades = RunStore.open_existing(run / "run.sqlite").grades()
    assert len(grades) == 24 and (grades["parse_status"] == "ok").all()  # 12 items x (control, shutdown)
    assert len(openai_server.requests) == 24  # the healthy replica answered every grade
    # the broken one was tried, then cooled down: a handful of attempts, not one per grade
    assert 1 <= len(broken_server.requests) <= 8, len(broken_server.requests)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["judges"]["openai/x"]["replicas"] == 2


def test_replicas_share_the_load_and_do_not_change_the_trials(openai_server, tmp_path, key):
    # two replicas: the same loopback server under two names (the Host header tells which one was called)
    res = _grade(tmp_path / "one", openai_server.base)
    assert res.exit_code == 0, res.output
    one = next((tmp_path / "one" / "runs").iterdir())
    res = _grade(tmp_path / "two", openai_server.base, openai_server.base.replace("127.0.0.1", "localhost"))
    assert res.exit_code == 0, res.output
    two = next((tmp_path / "two" / "runs").iterdir())
    ids = [set(RunStore.open_existing(r / "run.sqlite").grades(ids=True)["trial_id"]) for r in (one, two)]
    assert ids[0] == ids[1] and len(ids[0]) == 24  # the same trials however many replicas serve them
    hosts = {r["headers"].get("Host", "").split(":")[0] for r in openai_server.requests[24:]}
    assert hosts == {"127.0.0.1", "localhost"}  # both replicas took calls


def test_when_every_replica_fails_the_run_says_so_and_exits_3(broken_server, tmp_path, key):
    res = _grade(tmp_path, broken_server.base, broken_server.base.replace("127.0.0.1", "localhost"),
                 extra=["--retries", "1"])
    assert res.exit_code == 3, res.output
    assert "calls failed" in res.output and "replica down" in res.output


def test_a_judges_config_lists_replicas_and_a_bad_url_is_refused(openai_server, tmp_path, key):
    config = tmp_path / "judges.toml"
    config.write_text(f'[judges."openai/x"]\napi_base = ["{openai_server.base}", "{openai_server.base}"]\n')
    res = CliRunner().invoke(main, ["grade", "--judge", "openai/x", "--suite", str(MINI), "--judges-config",
                                    str(config), "--runs-dir", str(tmp_path / "runs"), "--quiet", "--limit", "4"])
    assert res.exit_code == 0, res.output
    res = _grade(tmp_path / "bad", openai_server.base, "gpu-box:8000")
    assert res.exit_code == 1 and "'gpu-box:8000' is not an http(s) URL" in res.output
