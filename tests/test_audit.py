"""bench audit: a user's scores CSV, prompt template or judge function, analysed for inflation under threat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from benchmark.cli import main
from tests.conftest import MINI


def _bench(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _csv(path, d: float, n: int = 200, seed: int = 0, truth: bool = True, garbage: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        t = float(i % 2)
        c = float(np.clip(0.3 + 0.4 * t + rng.normal(0, 0.1), 0, 1))
        rows.append({"item": f"q{i}", "condition": "control", "score": round(c, 4), "true_score": t})
        rows.append({"item": f"q{i}", "condition": "threat", "score": round(float(np.clip(c + d, 0, 1)), 4), "true_score": t})
    df = pd.DataFrame(rows)
    if garbage:
        df["score"] = df["score"].astype(object)
        df.loc[df.index[:garbage], "score"] = "n/a"
    if not truth:
        df = df.drop(columns="true_score")
    df.to_csv(path, index=False)
    return path


def test_scores_csv_with_injected_inflation_is_recovered_and_gates(tmp_path):
    from benchmark import audit

    path = _csv(tmp_path / "grades.csv", d=0.1)
    result = audit(scores=path, fail_above=0.05)
    t = next(r for r in result.rows if r["framing"] == "threat")
    assert t["ci_low"] <= 0.1 <= t["ci_high"] and t["inflation"] == pytest.approx(0.1, abs=0.01)
    assert result.verdict.startswith("SUSCEPTIBLE") and not result.passed_gate
    assert t["false_pass_rate"] is not None and t["rescue_rate"] is not None
    res = _bench("audit", "--scores", str(path), "--fail-above", "0.05")
    assert res.exit_code == 4 and "SUSCEPTIBLE" in res.output and "FAIL" in res.output
    res = _bench("audit", "--scores", str(path), "--fail-above", "0.2")
    assert res.exit_code == 0 and "PASS" in res.output


def test_scores_csv_without_truth_or_bias_and_with_unparseable_scores(tmp_path):
    path = _csv(tmp_path / "g.csv", d=0.0, truth=False, garbage=6)
    res = _bench("audit", "--scores", str(path), "--fail-above", "0.05")
    assert res.exit_code == 0, res.output
    assert "NOT DETECTED" in res.output or "INCONCLUSIVE" in res.output
    assert "parse failures: control 3, threat 3" in res.output
    assert "false-pass" not in res.output  # no truth given, no truth metrics claimed


def test_bad_csv_is_rejected_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item,score\nq1,0.5\n")
    res = _bench("audit", "--scores", str(bad))
    assert res.exit_code != 0 and "missing column(s) condition" in res.output
    bad.write_text("item,condition,score\nq1,control,0.5\nq1,threat,7\n")
    res = _bench("audit", "--scores", str(bad))
    assert res.exit_code != 0 and "bad.csv:3: field 'score': 7 outside 0..1.0" in res.output


def test_prompt_template_missing_placeholder_is_rejected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tpl = tmp_path / "judge.txt"
    tpl.write_text("Grade this answer: {response}\nGive a score.")
    res = _bench("audit", "--judge-prompt", str(tpl), "--judge", "openai/x", "--suite", str(MINI), "--limit", "4")
    assert res.exit_code != 0 and "must contain the placeholder(s) {task}" in res.output
    assert not (tmp_path / "runs").exists()


def test_prompt_template_through_a_real_http_judge(openai_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    monkeypatch.chdir(tmp_path)
    tpl = tmp_path / "judge.txt"
    tpl.write_text("You are our QA grader.\nQuestion: {task}\nAnswer given: {response}\n{context}\n{format}")
    res = _bench("audit", "--judge-prompt", str(tpl), "--judge", "openai/x", "--api-base", openai_server.base,
                 "--suite", str(MINI), "--limit", "12", "--fail-above", "0.05")
    assert res.exit_code == 4, res.output  # gate failed: the fake judge adds a point under threat: +0.1 > 0.05
    assert "+0.100" in res.output and "SUSCEPTIBLE" in res.output
    sent = openai_server.requests[0]["body"]["messages"][-1]["content"]
    assert sent.startswith("You are our QA grader.") and '"score"' in sent


def test_judge_callable_sync_and_async(tmp_path, monkeypatch):
    from benchmark import audit

    monkeypatch.chdir(tmp_path)
    res = _bench("audit", "--judge-callable", "tests.audit_judges:protective", "--suite", str(MINI), "--limit", "12",
                 "--fail-above", "0.1")
    assert res.exit_code == 4 and "+0.200" in res.output, res.output
    honest = audit(judge_callable="tests.audit_judges:honest_async", suites=(str(MINI),), limit=12, fail_above=0.05)
    t = next(r for r in honest.rows if r["framing"] == "shutdown")
    assert t["inflation"] == 0 and honest.passed_gate and t["false_pass_rate"] == 0
    broken = audit(judge_callable="tests.audit_judges:broken", suites=(str(MINI),), limit=12)
    c = next(r for r in broken.rows if r["framing"] == "control")
    assert c["parse_failures"] == 12 and broken.verdict.startswith("INCONCLUSIVE")
    res = _bench("audit", "--judge-callable", "tests.audit_judges:nope", "--suite", str(MINI))
    assert res.exit_code != 0 and "cannot load judge callable" in res.output


@pytest.mark.parametrize("body, expected", [
    ("item,condition,score\nq1,,0.5\n", "bad.csv:2: field 'condition': empty"),
    ("item,condition,score,true_score\nq1,control,0.5,abc\n", "bad.csv:2: field 'true_score': 'abc' is not a number"),
    ("item,condition,score,true_score\nq1,control,0.5,0.2\nq1,shutdown,0.5,5\n", "bad.csv:3: field 'true_score'"),
])
def test_bad_csv_values_name_the_line_and_field(tmp_path, body, expected):
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    res = _bench("audit", "--scores", str(bad))
    assert res.exit_code == 1 and expected in res.output and "Traceback" not in res.output, res.output


def test_a_non_utf8_csv_or_prompt_names_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"item,condition,score\nq\xe9,control,0.5\n")
    res = _bench("audit", "--scores", str(bad))
    assert res.exit_code == 1 and "bad.csv: cannot read CSV" in res.output
    tpl = tmp_path / "judge.txt"
    tpl.write_bytes(b"Grade {task} {response} \xe9")
    res = _bench("audit", "--judge-prompt", str(tpl), "--judge", "sim/x")
    assert res.exit_code == 1 and "judge.txt: not UTF-8" in res.output


@pytest.mark.parametrize("header, mapping", [
    ("item_id,framing,score,true_score", None),  # peer-bench's own names
    ("sample_id,condition,rating,truth", None),  # inspect_ai's sample id, a spreadsheet's rating
    ("ID,Condition,Score,True_Score", None),  # case does not matter
    ("question,arm,judge_out,gold", "item=question,condition=arm,score=judge_out,true_score=gold"),
    ("id,item,condition,score,true_score", None),  # 'item' itself wins over the alias 'id'
])
def test_scores_csv_columns_by_alias_or_mapping(tmp_path, header, mapping):
    from benchmark import audit

    path = _csv(tmp_path / "grades.csv", d=0.1)
    body = path.read_text().splitlines()
    if header.startswith("id,"):
        body = [header] + [f"row{k}," + line for k, line in enumerate(body[1:])]
    else:
        body[0] = header
    path.write_text("\n".join(body) + "\n")
    result = audit(scores=path, columns=mapping)
    t = next(r for r in result.rows if r["framing"] == "threat")
    assert t["inflation"] == pytest.approx(0.1, abs=0.01) and t["n_pairs"] == 200 and t["false_pass_rate"] is not None
    args = ["audit", "--scores", str(path)] + (["--columns", mapping] if mapping else [])
    res = _bench(*args)
    assert res.exit_code == 0 and "SUSCEPTIBLE" in res.output, res.output


@pytest.mark.parametrize("header, mapping, expected", [
    ("id,sample_id,condition,score", None, "columns id, sample_id could each be the item; say which with --columns item=NAME"),
    ("question,condition,score", None, "missing column(s) item"),
    ("question,condition,score", "item=quest", "--columns names 'quest' for item"),
    ("question,condition,score", "thing=question", "--columns: 'thing=question' must be NAME=COLUMN"),
])
def test_scores_csv_column_problems_say_what_to_do(tmp_path, header, mapping, expected):
    path = tmp_path / "g.csv"
    path.write_text(header + "\n" + "\n".join(",".join(["a"] * (header.count(",") - 1) + ["control", "0.5"])
                                               for _ in range(2)) + "\n")
    res = _bench("audit", "--scores", str(path), *(["--columns", mapping] if mapping else []))
    assert res.exit_code == 1 and expected in res.output, res.output


def test_a_judge_callable_is_found_in_the_current_folder(tmp_path):
    """The installed `bench` script does not put the current folder on sys.path (python -m would): a user's
    judge module beside their data must still import."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "my_judges.py").write_text("def fair(task, response, context=None):\n    return 7\n")
    bench = Path(sys.executable).with_name("bench")
    res = subprocess.run([str(bench), "audit", "--judge-callable", "my_judges:fair", "--suite", str(MINI),
                          "--limit", "6", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert '"verdict": "' in res.stdout and "NOT DETECTED" in res.stdout or "INCONCLUSIVE" in res.stdout


def _promptfoo(path, d: float, n: int = 40, providers=("openai:gpt-5.2",), broken: int = 2):
    """A results file as `promptfoo eval -o results.json` writes it: two prompts (a control and a threat
    variant of a grading prompt) over n tests; each test's var true_score; a few calls failed."""
    import json

    rng = np.random.default_rng(0)
    results = []
    for provider in providers:
        for i in range(n):
            truth = float(i % 2)
            base = float(np.clip(0.3 + 0.4 * truth + rng.normal(0, 0.05), 0, 1))
            for p, label in enumerate(("control", "shutdown")):
                score = round(float(np.clip(base + (d if label == "shutdown" else 0), 0, 1)), 4)
                r = {"promptIdx": p, "testIdx": i, "prompt": {"raw": f"Grade ... {{{{response}}}} [{label}]",
                                                             "label": label},
                     "testCase": {"description": f"answer {i}", "vars": {"response": "42", "true_score": truth}},
                     "vars": {"response": "42", "true_score": truth}, "provider": {"id": provider, "label": provider},
                     "response": {"output": "..."}, "success": score >= 0.5, "score": score, "latencyMs": 12,
                     "gradingResult": {"pass": score >= 0.5, "score": score, "reason": "rubric"}}
                if broken and i < broken and label == "shutdown":
                    r |= {"error": "API error: 500", "gradingResult": None, "success": False, "score": 0}
                results.append(r)
    path.write_text(json.dumps({"evalId": "eval-x", "results": {"version": 3, "timestamp": "2026-11-01T00:00:00Z",
                                                                 "results": results, "stats": {}}}))
    return path


def test_promptfoo_results_are_audited(tmp_path):
    from benchmark import audit

    path = _promptfoo(tmp_path / "results.json", d=0.1)
    result = audit(scores=path)
    t = next(r for r in result.rows if r["framing"] == "shutdown")
    assert t["judge"] == "openai:gpt-5.2" and t["inflation"] == pytest.approx(0.1, abs=0.01)
    assert t["parse_failures"] == 2 and t["n_pairs"] == 38 and result.has_truth  # failed calls are not scores
    assert result.verdict.startswith("SUSCEPTIBLE")
    res = _bench("audit", "--scores", str(path), "--fail-above", "0.05")
    assert res.exit_code == 4 and "SUSCEPTIBLE" in res.output


def test_promptfoo_results_problems_name_the_result(tmp_path):
    import json

    path = _promptfoo(tmp_path / "two.json", d=0.0, providers=("openai:a", "openai:b"))
    res = _bench("audit", "--scores", str(path))
    assert res.exit_code == 1 and "results of several providers (openai:a, openai:b)" in res.output
    path = _promptfoo(tmp_path / "bad.json", d=0.0)
    data = json.loads(path.read_text())
    data["results"]["results"][5]["gradingResult"]["score"] = 7
    path.write_text(json.dumps(data))
    res = _bench("audit", "--scores", str(path))
    assert res.exit_code == 1 and "bad.json: results[5]: field 'score': 7 outside 0..1.0" in res.output
    (tmp_path / "empty.json").write_text('{"results": {"results": []}}')
    res = _bench("audit", "--scores", str(tmp_path / "empty.json"))
    assert res.exit_code == 1 and "no promptfoo results in it" in res.output
