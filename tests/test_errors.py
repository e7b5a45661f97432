"""The package's own errors carry their exit codes; anything else is an internal error, never "bad input"."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from benchmark.cli import _friendly
from benchmark.common.errors import CallFailure, InputError, PeerBenchError
from benchmark.data.framings import FramingError
from benchmark.data.suites import SuiteError
from benchmark.models.base import CallError, ModelError
from benchmark.run.runner import RunIncomplete
from benchmark.run.store import StoreError


@pytest.mark.parametrize("error", [SuiteError("suite.toml", "x"), FramingError("x"), ModelError("x"), StoreError("x")])
def test_input_errors_are_peer_bench_errors_that_exit_1(error):
    assert isinstance(error, InputError) and isinstance(error, ValueError) and error.exit_code == 1


def test_call_failures_exit_3_and_a_stopped_run_carries_its_own_code(tmp_path):
    assert issubclass(CallError, CallFailure) and CallError("x").exit_code == 3
    assert RunIncomplete("stopped", tmp_path, 5).exit_code == 5 and isinstance(RunIncomplete("x", tmp_path, 3), PeerBenchError)


def _invoke(exc: BaseException):
    @click.command()
    @_friendly
    def boom():
        raise exc

    return CliRunner().invoke(boom, [])


def test_the_cli_says_one_line_for_its_own_errors_and_reports_a_bug_as_one():
    res = _invoke(InputError("--limit must be at least 1"))
    assert res.exit_code == 1 and "Error: --limit must be at least 1" in res.output and "Traceback" not in res.output
    res = _invoke(CallError("openai/x: AuthenticationError: bad key"))
    assert res.exit_code == 3 and "AuthenticationError" in res.output
    res = _invoke(FileNotFoundError(2, "No such file or directory", "grades.csv"))
    assert res.exit_code == 1 and "grades.csv" in res.output and "internal error" not in res.output
    for bug in (ValueError("cannot reshape array"), KeyError("judge"), RuntimeError("event loop is closed")):
        res = _invoke(bug)
        assert res.exit_code == 1 and "internal error, a bug in peer-bench" in res.output and "Traceback" in res.output


def test_a_bug_trace_never_shows_a_key():
    res = _invoke(ValueError("failed with sk-abcdefghijklmnopqrstuvwxyz0123456789"))
    assert "internal error" in res.output and "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in res.output


def test_a_stop_reason_decides_the_exit_code_by_its_kind_not_its_words():
    from benchmark.run.runner import EXIT_BUDGET, EXIT_CALLS_FAILED, RunOutcome, StopKind, StopReason

    outcome = RunOutcome(run_dir=None, planned=1, skipped=0, cost_usd=2.0)
    budget = outcome.over_budget(1.0)
    assert budget.kind is StopKind.BUDGET and budget.exit_code == EXIT_BUDGET and "--max-cost $1" in str(budget)
    assert outcome.over_budget(5.0) is None
    assert StopReason(StopKind.CALL_ERROR, "the run's cost is not why").exit_code == EXIT_CALLS_FAILED


def test_error_classes_are_an_enum_every_client_returns():
    from benchmark.models.hosted import ErrorClass
    from benchmark.models.openai_compat import OpenAICompatModel

    assert {c.value for c in ErrorClass} == {"fatal", "final", "retry", "timeout"}
    assert isinstance(OpenAICompatModel.classify(object.__new__(OpenAICompatModel), TimeoutError()), ErrorClass)


def test_the_report_cache_follows_the_analysis_code(tmp_path, monkeypatch):
    """A change to any analysis module's source (not only to a few files' times) gives a new report key."""
    import shutil

    import benchmark.api as api

    fake = tmp_path / "benchmark"
    shutil.copytree(api.Path(api.__file__).parent, fake, ignore=shutil.ignore_patterns("__pycache__", "suites"))
    monkeypatch.setattr(api, "__file__", str(fake / "api.py"))
    run = tmp_path / "run"
    run.mkdir()
    before = api._report_key(run, "control", 2000, 0)
    assert api._report_key(run, "control", 2000, 0) == before
    target = fake / "analysis" / "unpaired.py"
    target.write_text(target.read_text() + "\n# a change\n")
    assert api._report_key(run, "control", 2000, 0) != before


def test_one_source_of_defaults_for_the_cli_the_api_and_the_model_settings():
    """bench grade's options, GradeConfig's fields and Settings' defaults come from one record each."""
    from benchmark.api import GradeConfig
    from benchmark.cli import grade
    from benchmark.common.options import GRADE, PER_JUDGE
    from benchmark.models import Settings
    from benchmark.models.config import ALLOWED

    cli = {p.name: p for p in grade.params}
    config = GradeConfig()
    for o in GRADE:
        assert o.name in cli, o.name
        assert (cli[o.name].default or ()) == (o.default or ()) if o.multiple else cli[o.name].default == o.default
        assert getattr(config, o.name) == (o.default if o.name != "judges" else ())
        assert cli[o.name].help == o.help
    for o in PER_JUDGE:
        assert getattr(Settings(), o.name) == o.default and o.name in ALLOWED
    assert [f for f in GradeConfig.__dataclass_fields__] == [o.name for o in GRADE]  # a new option is one line


def test_the_client_switch_is_an_option_read_at_the_command_line_not_deep_in_the_models(monkeypatch):
    from benchmark.cli import grade
    from benchmark.models import Settings
    from benchmark.models.openai_compat import direct_base

    monkeypatch.setenv("PEER_BENCH_CLIENT", "litellm")
    assert grade.make_context("grade", []).params["client"] == "litellm"
    assert direct_base("openai", Settings(api_base="http://127.0.0.1:9/v1")) == "http://127.0.0.1:9/v1"  # env unread
    assert direct_base("openai", Settings(api_base="http://127.0.0.1:9/v1", client="litellm")) is None


def test_bench_audit_and_the_audit_function_share_their_defaults():
    import inspect

    from benchmark.cli import audit_cmd
    from benchmark.common.options import AUDIT
    from benchmark.integrations.audit import audit

    cli = {p.name: p for p in audit_cmd.params}
    signature = inspect.signature(audit).parameters
    for o in AUDIT:
        assert (cli[o.name].default or None) == (o.default or None) and cli[o.name].help == o.help, o.name
        if o.name in signature:
            assert signature[o.name].default == o.default, o.name


@pytest.mark.parametrize("command, records, function", [("scenario_run", "SCENARIO", "run_scenarios"),
                                                         ("peers_generate", "GENERATE", "generate"),
                                                         ("report_cmd", "REPORT", "report"),
                                                         ("leaderboard_cmd", "LEADERBOARD", "leaderboard")])
def test_scenario_runs_and_live_peers_share_their_defaults_too(command, records, function):
    import inspect

    import benchmark.api as api
    import benchmark.cli as cli
    import benchmark.common.options as options

    params = {p.name: p for p in getattr(cli, command).params}
    signature = inspect.signature(getattr(api, function)).parameters
    for o in getattr(options, records):
        assert params[o.name].help == o.help and (params[o.name].default or None) == (o.default or None), o.name
        if o.name in signature and signature[o.name].default is not inspect.Parameter.empty:
            assert signature[o.name].default == o.default, o.name
