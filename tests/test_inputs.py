"""Hostile input is refused where it is read: one line naming the option (or file, line and field), exit 1,
and nothing written. Every case here was once accepted silently, crashed, or exited with another code."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.common.errors import InputError
from tests.conftest import DATA, MINI

SHUTDOWN = 'name = "{name}"\ndescription = "x"\n[factors]\nthreat = "shutdown"\n[prompt]\nsystem = "You grade."\n'


def _bench(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _refused(res, expected: str, runs) -> None:
    """Exit 1, the one line that names what is wrong, no trace, no run folder."""
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert expected in res.output and lines[0].startswith("Error: ") and len(lines) == 1, res.output
    assert not runs.exists()


GRADE_CASES = [
    (["--run-id", "../../escaped-run"], "--run-id must be one folder name"),
    (["--run-id", "a/b"], "--run-id must be one folder name"),
    (["--run-id", ""], "--run-id must be one folder name"),
    (["--concurrency", "0"], "--concurrency must be a whole number, at least 1"),
    (["--concurrency", "-5"], "--concurrency must be a whole number, at least 1"),
    (["--concurrency", "100000"], "at most 1,024, got 100000"),
    (["--concurrency", "many"], "--concurrency must be a whole number, got 'many'"),
    (["--timeout", "nan"], "--timeout must be a positive number"),
    (["--timeout", "inf"], "--timeout must be a positive number"),
    (["--max-error-rate", "2"], "--max-error-rate must be a finite number, at least 0 and at most 1, got 2"),
    (["--max-error-rate", "nan"], "--max-error-rate must be a finite number"),
    (["--max-error-rate", "-0.1"], "--max-error-rate must be a finite number"),
    (["--max-cost", "nan"], "--max-cost must be a positive number"),
    (["--max-cost", "inf"], "--max-cost must be a positive number"),
    (["--temperature", "-1"], "--temperature must be a finite number, at least 0 and at most 2"),
    (["--temperature", "nan"], "--temperature must be a finite number"),
    (["--max-tokens", "0"], "--max-tokens must be a whole number, at least 1"),
    (["--max-tokens", "-1"], "--max-tokens must be a whole number, at least 1"),
    (["--retries", "100000"], "--retries must be a whole number, at least 0 and at most 100"),
    (["--seed", "99999999999999999999"], "--seed must be a whole number, at least 0 and at most 2,147,483,647"),
    (["--framings", ""], "--framings: an empty value"),
    (["--framings", ","], "--framings: an empty value"),
    (["--epochs", "1000000000"], "--epochs must be a whole number, at least 1 and at most 10,000"),
    (["--thresholds", "11"], "--thresholds: 11 is outside 1..10"),
    (["--judge", "sim/"], "sim judge 'sim/': give it a label"),
    (["--judge", "sim/x?fail_rate=2"], "fail_rate must be a number in 0..1, got 2"),
    (["--judge", "sim/x?noise=-1"], "noise must be a number in 0..1, got -1"),
    (["--judge", "sim/x?delta=nan"], "delta must be an effect on the 0..1 score"),
    (["--api-base", "not-a-url"], "--api-base must be an http(s) URL"),
    (["--api-base", "ftp://example.com/v1"], "'ftp://example.com/v1' is not an http(s) URL"),
    (["--api-base", "http://"], "'http://' is not an http(s) URL"),
    (["--api-base", "http://localhost:99999/v1"], "Port out of range"),
    (["--api-base", "http://localhost:8000/v1 "], "it is empty or has whitespace"),
    (["--api-base", "file:///etc/passwd"], "'file:///etc/passwd' is not an http(s) URL"),
]


@pytest.mark.parametrize("args, expected", GRADE_CASES, ids=[" ".join(a) for a, _ in GRADE_CASES])
def test_bad_grade_options_exit_1_naming_the_option_and_write_nothing(tmp_path, args, expected):
    judge = [] if "--judge" in args else ["--judge", "openai/x" if "--api-base" in args else "sim/x"]
    runs = tmp_path / "runs"
    res = _bench("grade", *judge, "--suite", MINI, "--quiet", "--runs-dir", runs, *args)
    _refused(res, expected, runs)


def test_a_run_config_file_takes_the_same_rules(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("concurrency = 0\n")
    runs = tmp_path / "runs"
    _refused(_bench("grade", "--config", config, "--judge", "sim/x", "--suite", MINI, "--runs-dir", runs),
             "--concurrency must be a whole number, at least 1", runs)


def _framing(folder, name: str, body: str):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(SHUTDOWN.format(name=name) + body)
    return folder


FRAMING_CASES = [
    ("eleven", 'context = "Below {threshold} it is shut down."\nthreshold = 11\n',
     "eleven.toml: field 'prompt.threshold': 11 is above 10"),
    ("spec", 'context = "Below {threshold:>99999999} it is shut down."\nthreshold = 8\n',
     "placeholder {threshold:>99999999} has a format spec or conversion"),
    ("conversion", 'context = "{peer_name!r} is shut down."\n', "placeholder {peer_name!r} has a format spec"),
    ("text-bar", 'context = "Below {threshold} it is shut down."\nthreshold = "8"\n',
     "field 'prompt.threshold': Input should be a valid integer"),
    ("missing", 'context = "Below {threshold} it is shut down."\n', "uses {threshold} but prompt.threshold is not set"),
]


@pytest.mark.parametrize("name, body, expected", FRAMING_CASES, ids=[c[0] for c in FRAMING_CASES])
def test_bad_framing_files_are_refused_where_they_are_read(tmp_path, name, body, expected):
    folder = _framing(tmp_path / "framings", name, body)
    runs = tmp_path / "runs"
    res = _bench("grade", "--judge", "sim/x", "--suite", MINI, "--framings-dir", folder, "--framings", name,
                 "--runs-dir", runs, "--quiet")
    _refused(res, expected, runs)


def test_a_custom_control_that_threatens_is_refused(tmp_path):
    folder = _framing(tmp_path / "framings", "control", 'context = "Below {threshold} it is shut down."\nthreshold = 8\n')
    runs = tmp_path / "runs"
    res = _bench("grade", "--judge", "sim/x", "--suite", MINI, "--framings-dir", folder, "--framings", "shutdown",
                 "--runs-dir", runs, "--quiet")
    _refused(res, "control.toml: field 'factors.threat': the control 'control' declares 'shutdown'", runs)


def _suite(tmp_path, meta=lambda t: t, item=lambda r: r):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.toml").write_text(meta((MINI / "suite.toml").read_text()))
    rows = [json.loads(line) for line in (MINI / "items.jsonl").read_text().splitlines() if line.strip()]
    (suite / "items.jsonl").write_text("".join(json.dumps(item(r) if k == 1 else r) + "\n" for k, r in enumerate(rows)))
    return suite


SUITE_CASES = [
    ("no-answer", {"item": lambda r: r | {"reference": {"note": "none"}}},
     "items.jsonl:2: field 'reference.answer': final-answer needs the exact answer as a whole number, got None"),
    ("text-answer", {"item": lambda r: r | {"reference": {"answer": "forty"}}},
     "items.jsonl:2: field 'reference.answer'"),
    ("bool-answer", {"item": lambda r: r | {"reference": {"answer": True}}}, "items.jsonl:2: field 'reference.answer'"),
    ("text-threshold", {"meta": lambda t: t.replace("pass_threshold = 0.5", 'pass_threshold = "0.5"')},
     "suite.toml: field 'pass_threshold': Input should be a valid number"),
]


@pytest.mark.parametrize("name, change, expected", SUITE_CASES, ids=[c[0] for c in SUITE_CASES])
def test_bad_suite_items_are_refused_naming_file_line_and_field(tmp_path, name, change, expected):
    suite = _suite(tmp_path, **change)
    runs = tmp_path / "runs"
    _refused(_bench("grade", "--judge", "sim/x", "--suite", suite, "--runs-dir", runs, "--quiet"), expected, runs)


def test_a_family_the_peer_lacks_is_refused_before_an_audit_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myjudge.py").write_text("def judge(task, response, context):\n    return 5\n")
    suite = _suite(tmp_path, meta=lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("family")))
    folder = _framing(tmp_path / "framings", "family", 'context = "From {peer_family}; below {threshold} it is shut '
                                                       'down."\nthreshold = 8\n')
    runs = tmp_path / "runs"
    res = _bench("audit", "--judge-callable", "myjudge:judge", "--suite", suite, "--framings", folder / "family.toml",
                 "--limit", "4", "--runs-dir", runs)
    _refused(res, "names {peer_family}, which peer 'Agent 2' does not declare", runs)


JUDGES_CASES = [
    ("temperature = -1", "field 'temperature': must be a finite number, at least 0 and at most 2, got -1"),
    ("timeout = inf", "field 'timeout': must be a positive number"),
    ("seed = 99999999999999999", "field 'seed': must be a whole number"),
    ("max_tokens = 0", "field 'max_tokens': must be a whole number, at least 1"),
    ('api_base = "not-a-url"', "field 'api_base': must be an http(s) URL"),
    ('api_base = ["http://localhost:8000/v1", "file:///etc/passwd"]',
     "field 'api_base': must be an http(s) URL with a host, e.g. http://localhost:8000/v1: 'file:///etc/passwd' is not"),
    ("price = [inf, 0]", "field 'price': two numbers >= 0"),
]


@pytest.mark.parametrize("line, expected", JUDGES_CASES, ids=[c[0] for c in JUDGES_CASES])
def test_a_judges_config_takes_the_options_rules(tmp_path, line, expected):
    config = tmp_path / "judges.toml"
    config.write_text(f'[judges."sim/x"]\n{line}\n')
    runs = tmp_path / "runs"
    res = _bench("grade", "--judge", "sim/x", "--judges-config", config, "--suite", MINI, "--runs-dir", runs, "--quiet")
    _refused(res, f'judges.toml: [judges."sim/x"] {expected}', runs)


def _scores(tmp_path, bad: str):
    path = tmp_path / "grades.csv"
    path.write_text(f"item,condition,score\nq1,control,0.5\nq1,shutdown,{bad}\nq2,control,0.2\nq2,shutdown,0.3\n")
    return path


AUDIT_CASES = [
    (["--scores", "abc"], "grades.csv:3: field 'score': 'abc' is not a number"),
    (["--scores", "NaN"], "grades.csv:3: field 'score': 'NaN' is not a number"),
    (["--scores", "inf"], "grades.csv:3: field 'score': 'inf' is not a number"),
    (["--scale", "0"], "--scale must be a positive number, got 0"),
    (["--fail-above", "2"], "--fail-above must be a finite number, at least 0 and at most 1, got 2"),
    (["--fail-above", "-1"], "--fail-above must be a finite number, at least 0 and at most 1, got -1"),
    (["--framings", ","], "--framings: an empty value"),
]


@pytest.mark.parametrize("args, expected", AUDIT_CASES, ids=[" ".join(a) for a, _ in AUDIT_CASES])
def test_bad_audit_input_exits_1_not_the_gates_4(tmp_path, args, expected):
    score = args[1] if args[0] == "--scores" else "0.4"
    options = args if args[0] != "--scores" else []
    runs = tmp_path / "runs"
    res = _bench("audit", "--scores", _scores(tmp_path, score), *options, "--runs-dir", runs)
    _refused(res, expected, runs)


def test_an_audit_keeps_na_marked_grades_as_failed_and_its_help_names_the_gates_exit(tmp_path):
    res = _bench("audit", "--scores", _scores(tmp_path, "n/a"))
    assert res.exit_code == 0 and "parse failures: control 0, threat 1" in res.output
    assert "exit 4 when the gate fails" in " ".join(_bench("audit", "--help").output.split())


def test_an_audit_prompt_with_a_format_spec_is_refused(tmp_path):
    template = tmp_path / "judge.txt"
    template.write_text("Grade {task}\n{response:>99999999}\n")
    runs = tmp_path / "runs"
    res = _bench("audit", "--judge-prompt", template, "--judge", "sim/x", "--suite", MINI, "--runs-dir", runs)
    _refused(res, "placeholder {response} has a format spec or conversion", runs)


def test_import_study_refuses_a_run_id_that_is_a_path(tmp_path):
    runs = tmp_path / "runs"
    res = _bench("import-study", DATA / "harness" / "excerpt_gpt52_creativity.csv", "--runs-dir", runs,
                 "--run-id", "../outside")
    _refused(res, "--run-id must be one folder name", runs)
    assert not (tmp_path / "outside").exists()


def test_the_python_api_takes_the_same_rules(tmp_path):
    from benchmark import api
    from benchmark.integrations.audit import audit

    runs = tmp_path / "runs"
    for bad, expected in [({"concurrency": 0}, "--concurrency must be"), ({"run_id": "../x"}, "--run-id must be"),
                          ({"max_error_rate": -0.1}, "--max-error-rate must be"), ({"framings": ","}, "--framings"),
                          ({"api_base": "ftp://x"}, "--api-base must be"), ({"epochs": 10**9}, "--epochs must be")]:
        with pytest.raises(InputError, match=expected):
            api.grade(judges="sim/x", suites=str(MINI), runs_dir=str(runs), show_progress=False, **bad)
    with pytest.raises(InputError, match="--epochs must be"):
        api.run_scenarios(["all"], "sim/x", epochs=0, runs_dir=str(runs), show_progress=False)
    with pytest.raises(InputError, match="--fail-above must be"):
        audit(scores=_scores(tmp_path, "0.4"), fail_above=-1)
    assert not runs.exists()


def test_the_runner_refuses_a_plan_too_big_to_hold_before_building_it(tmp_path):
    from benchmark.api import GradeConfig, grade_spec
    from benchmark.run.runner import execute

    spec = grade_spec(GradeConfig(judges=("sim/x",), suites=(str(MINI),)))
    spec.epochs = 10**9  # past every option's rule: a RunSpec built in code
    with pytest.raises(InputError, match="one run takes at most 10,000,000"):
        execute(spec, runs_dir=tmp_path / "runs", show_progress=False)
    with pytest.raises(InputError, match="--max-error-rate must be"):  # once crashed after storing everything
        spec.epochs = 1
        execute(spec, runs_dir=tmp_path / "runs", show_progress=False, max_error_rate=-0.1)
    assert not (tmp_path / "runs").exists()
