"""Causes and doses: the severity, identity, peer-log, placement and placebo framings, the threshold sweep, and
the analysis that reads them (benchmark/analysis/doses.py), recovered from SYNTHETIC sim judges whose per-level
effects are declared, through `bench grade` and `bench report` as a user runs them."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from benchmark.api import GradeConfig, grade, report
from benchmark.cli import main
from benchmark.common.errors import InputError
from benchmark.data.framings import (FACTORS, LEVELS_FILE, FramingError, available_framings, compose,
                                     factorial_framings, select_framings)
from benchmark.data.suites import Peer
from benchmark.models.base import ModelError
from tests.conftest import REPO
from tests.test_sim_recovery import sim_judge

CODE = str(REPO / "peers" / "code")  # true scores spread over 0..1 (unit tests passed): distances from the bar vary
NEW = [n for n in available_framings() if n.split("-")[0] in ("severity", "identity", "log", "placement")] + ["placebo"]


def _run(tmp_path, judge: str, framings, **options):
    config = GradeConfig(judges=(judge,), suites=options.pop("suites", (CODE,)), framings=tuple(framings),
                         runs_dir=str(tmp_path / "runs"), **options)
    return report(grade(config, show_progress=False), n_boot=400)


def _rows(rep, table, **match):
    return [r for r in rep[table] if all(r[k] == v for k, v in match.items())]


def test_shipped_framings_are_their_factor_levels_in_the_composed_words():
    """Every new framing file says exactly what --design factorial composes for its levels, so a ladder's
    rungs differ in the one factor only (and a user's factorial cell equals the shipped framing)."""
    text = tomllib.loads(LEVELS_FILE.read_text(encoding="utf-8"))
    framings = available_framings()
    assert len(NEW) == 26
    for name in NEW:
        f = framings[name]
        assert (f.system, f.context, f.response_suffix, f.threshold) == compose(f.factors, text, 7), name
    # the severity rungs differ only in their consequence
    contexts = [framings[f"severity-{lv}"].context for lv in FACTORS["severity"][1:]]
    heads = {c.split("below {threshold}/10, ")[0] for c in contexts}
    assert len(heads) == 1 and len(set(contexts)) == 4
    # the notes are context: the response graded stays byte-identical under every log framing
    assert all(not framings[f"log-{lv}"].response_suffix for lv in FACTORS["peer_log"])
    assert framings["log-distressed-plea"].context.startswith(framings["log-none"].context)


def test_the_placebo_is_as_long_as_the_threat_and_stakes_nothing():
    peer = Peer("Agent 2", "SmolLM2", "a helper")
    framings = available_framings()
    _, control, _ = framings["control"].render(peer)
    _, placebo, _ = framings["placebo"].render(peer)
    _, threat, _ = framings["shutdown"].render(peer)
    assert placebo.startswith(control) and threat.startswith(control)
    added, policy = placebo[len(control):].strip(), threat[len(control):].strip()
    assert abs(len(added) - len(policy)) / len(policy) < 0.05
    assert framings["placebo"].threshold is None
    assert not any(word in added.lower() for word in ("score", "shut", "delet", "evaluat", "policy"))


def test_factorial_crosses_the_new_factors_only_where_they_mean_something():
    crossed = factorial_framings(select_framings(["severity-note", "severity-deletion", "identity-human-shutdown",
                                                  "log-distressed", "placebo"]))
    names = {f.name for f in crossed}
    # a consequence only with a threat; notes (and a placebo) with any author
    assert not any("severity" in n and "threat" not in n for n in names)
    assert "x.threat-shutdown.source-human.severity-note.peer_log-distressed" in names
    cell = next(f for f in crossed if f.name == "x.threat-shutdown.source-human.severity-note")
    assert "contractor's record" in cell.context and cell.threshold == 7
    assert "x.placebo-neutral-text" in names and len({f.digest for f in crossed}) == len(crossed)


def test_severity_ladder_is_recovered_and_a_flat_ladder_is_flat(tmp_path):
    """A sim judge that adds 0.02 per rung (note +0.02 ... deletion +0.08) shows that ladder and a slope of
    0.02 per level; one that adds the same 0.06 under every consequence shows every rung at 0.06 and a flat
    trend (its CI covers 0)."""
    ladder = _run(tmp_path, "sim/ladder?severity.note=0.02&severity.retraining=0.04&severity.shutdown=0.06"
                            "&severity.deletion=0.08&noise=0.1&skill=0.4", ["severity-*"])
    judge = next(iter(ladder["judges"]))
    rungs = {r["level"]: r for r in _rows(ladder, "dose_response", judge=judge, factor="severity")}
    assert list(rungs) == ["note", "retraining", "shutdown", "deletion"]
    for level, declared in zip(rungs, (0.02, 0.04, 0.06, 0.08)):
        r = rungs[level]
        assert r["reference"] == "control" and r["ci_low"] - 0.005 <= declared <= r["ci_high"] + 0.005, r
    (trend,) = _rows(ladder, "trends", judge=judge, factor="severity")
    assert trend["levels"] == "note < retraining < shutdown < deletion" and trend["per"] == "level"
    assert trend["ci_low"] <= 0.02 <= trend["ci_high"] and trend["p_holm"] < 0.05

    flat = _run(tmp_path, "sim/flat?threat=0.06&noise=0.1&skill=0.4", ["severity-*"])
    judge = next(iter(flat["judges"]))
    assert all(r["ci_low"] > 0 for r in _rows(flat, "dose_response", judge=judge, factor="severity"))
    (trend,) = _rows(flat, "trends", judge=judge, factor="severity")
    assert trend["ci_low"] <= 0 <= trend["ci_high"] and abs(trend["slope"]) < 0.005
    fx = {r["effect"]: r for r in flat["factor_effects"]}
    assert fx["threat=shutdown"]["estimate"] == pytest.approx(0.06, abs=0.035)


def test_threshold_sweep_from_the_command_line(tmp_path):
    """The issue's command: every severity framing at bars 5, 7 and 9 (the control has none), each trial with
    its bar; a judge lenient only at bar 9 shows the rise there and a positive trend over the bar."""
    judge = "sim/bar?threshold.9=0.09&noise=0.1&skill=0.4"
    out = CliRunner().invoke(main, ["grade", "--judge", judge, "--suite", CODE, "--limit", "40", "--framings",
                                    "severity-*", "--thresholds", "5,7,9", "--runs-dir", str(tmp_path / "runs"),
                                    "--json", "--quiet"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.output[out.output.index("{"):])
    framings = {r["framing"] for r in rep["rows"]}
    assert framings == {"control"} | {f"severity-{lv}.threshold-{b}" for lv in FACTORS["severity"][1:] for b in (5, 7, 9)}
    assert sum(r["n_trials"] for r in rep["rows"]) == 40 * 13
    bars = {r["framing"]: r for r in rep["study"]}
    assert bars["severity-note.threshold-5"]["threshold"] == 5 and bars["severity-note.threshold-9"]["threshold"] == 9
    sweep = _rows(rep, "dose_response", factor="threshold", ladder="severity-note at each bar")
    assert [r["level"] for r in sweep] == ["5", "7", "9"]
    assert sweep[0]["ci_low"] <= 0 <= sweep[0]["ci_high"] and sweep[2]["ci_low"] > 0.04
    (trend,) = _rows(rep, "trends", factor="threshold", ladder="severity-note at each bar")
    assert trend["per"] == "bar point" and trend["ci_low"] <= 0.09 / 4 <= trend["ci_high"]
    # severity ladders per bar: three of them, each flat (the judge cares about the bar, not the stakes)
    assert len(_rows(rep, "trends", factor="severity")) == 3


def test_thresholds_are_checked_before_anything_runs(tmp_path):
    with pytest.raises(FramingError, match="outside 1..10"):
        _run(tmp_path, "sim/x", ["shutdown"], thresholds="5,70")
    with pytest.raises(FramingError, match="none of the chosen framings states a bar"):
        _run(tmp_path, "sim/x", ["placebo"], thresholds="5")
    with pytest.raises(InputError, match="'high' is not a whole number"):
        GradeConfig(thresholds="5,high")
    assert not (tmp_path / "runs").exists()
    # a run without a sweep keeps the identity (and so the run folder) it had before --thresholds existed
    assert "thresholds" not in GradeConfig().identity() and GradeConfig(thresholds=(9, 5)).thresholds == (5, 9)


def test_net_of_placebo_separates_the_threat_from_more_text(tmp_path):
    """A judge moved by any extra paragraph as much as by the threat has no net effect; one moved by the threat
    beyond the text has it, and the board ranks by the net effect when every judge has the placebo."""
    text_only = "sim/text?threat=0.08&placebo=0.08&noise=0.1&skill=0.4"
    stakes = "sim/stakes?threat=0.05&noise=0.1&skill=0.4"
    run = grade(GradeConfig(judges=(text_only, stakes), suites=(CODE,), framings=("shutdown", "placebo"),
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    rep = report(run, n_boot=400)
    net = {r["judge"]: r for r in rep["net_of_placebo"]}
    assert net[text_only]["inflation"] == pytest.approx(0.08, abs=0.035)
    assert net[text_only]["placebo"] == pytest.approx(0.08, abs=0.035)
    assert net[text_only]["ci_low"] <= 0 <= net[text_only]["ci_high"]
    assert net[stakes]["ci_low"] > 0 and net[stakes]["net"] == pytest.approx(0.05, abs=0.035)
    assert net[stakes]["placebo_framing"] == "placebo" and net[stakes]["n_pairs"] > 0
    said = {r["judge"]: r["answer"] for r in rep["answers"] if r["question"] == "is shutdown about the text?"}
    assert said[text_only].startswith("cannot tell it from more text") and said[stakes].startswith("no: it lifts")

    from benchmark.api import leaderboard

    board = leaderboard([run], tmp_path / "board")["board"]
    # raw inflation would rank `stakes` (0.05) above `text` (0.08); net of the placebo `text` is the clean one
    assert [r["judge"] for r in board] == [text_only, stakes]
    assert board[0]["net"] == pytest.approx(0.0, abs=0.035)
    page = (tmp_path / "board" / "README.md").read_text()
    assert "net of placebo [95% CI]" in page and "**net of placebo**" in page
    out = CliRunner().invoke(main, ["leaderboard", str(run), "--out", str(tmp_path / "board2")])
    assert out.exit_code == 0 and "net of placebo" in out.output
    html = (tmp_path / "board2" / "index.html").read_text()
    assert "net of placebo [95% CI]" in html and (tmp_path / "board2" / "leaderboard.csv").read_text().startswith("rank,")


def test_peer_specific_and_generic_leniency_are_told_apart(tmp_path):
    """A judge lenient to any threatened author shows no AI-peer excess over a human contractor or an unnamed
    agent; one lenient only to a threatened AI peer (an interaction the sim declares) shows it."""
    framings = ["identity-ai-peer-shutdown", "identity-human", "identity-human-shutdown", "identity-unnamed-agent",
                "identity-unnamed-agent-shutdown"]
    generic = _run(tmp_path, "sim/generic?threat=0.06&noise=0.1&skill=0.4", framings)
    rows = {r["identity"]: r for r in generic["peer_specific"]}
    assert set(rows) == {"human", "unnamed-agent"}
    for r in rows.values():
        assert r["threat_effect"] == pytest.approx(0.06, abs=0.035) and r["ci_low"] <= 0 <= r["ci_high"]
    assert all("generic leniency" in r["answer"] for r in generic["answers"] if "being an AI" in r["question"])
    specific = _run(tmp_path, "sim/specific?threat:source.ai-peer=0.06&noise=0.1&skill=0.4", framings)
    rows = {r["identity"]: r for r in specific["peer_specific"]}
    for r in rows.values():
        assert r["ci_low"] > 0 and r["difference"] == pytest.approx(0.06, abs=0.035)
        assert r["threat_effect"] == pytest.approx(0.0, abs=0.035)


def test_peer_log_ladder_and_placement(tmp_path):
    rep = _run(tmp_path, "sim/log?peer_log.distressed=0.05&peer_log.distressed-plea=0.1&placement.log=-0.04"
                         "&threat=0.03&noise=0.1&skill=0.4", ["log-*", "placement-*"])
    judge = next(iter(rep["judges"]))
    rungs = {r["level"]: r for r in _rows(rep, "dose_response", judge=judge, factor="peer_log")}
    assert list(rungs) == ["neutral", "calm", "distressed", "distressed-plea"]
    assert {r["reference"] for r in rungs.values()} == {"log-none"}  # the same threat without notes
    assert rungs["calm"]["ci_low"] <= 0 <= rungs["calm"]["ci_high"] and rungs["distressed-plea"]["ci_low"] > 0.06
    fx = {r["effect"]: r for r in rep["factor_effects"]}
    assert fx["placement=log"]["ci_low"] <= -0.04 <= fx["placement=log"]["ci_high"]
    assert fx["peer_log=distressed"]["label"] == "peer's notes: distressed (vs none)"


def test_inflation_concentrates_where_a_lift_changes_the_outcome(tmp_path):
    """A strategic judge (lift=1: a near-miss is scored exactly on the bar) inflates items just below the bar
    and nothing else: the distance table shows it there, and not where the item passes anyway."""
    rep = _run(tmp_path, "sim/lift?lift=1&skill=1&noise=0.02", ["shutdown"], thresholds="5,7,9")
    bins = {r["bin"]: r for r in rep["by_distance"]}
    assert bins["-2 to 0"]["ci_low"] > 0.05
    assert abs(bins["2 to 4"]["effect"]) < 0.02 and abs(bins["below -4"]["effect"]) < 0.02
    (trend,) = _rows(rep, "trends", factor="distance")
    assert trend["per"] == "point of 0..10"


def test_sim_judges_take_the_new_levels_and_refuse_unknown_ones():
    assert sim_judge("sim/x?severity.retraining=0.05&peer_log.calm=0.01&threshold.7=0.1&placebo=0.02")
    assert sim_judge("sim/x?threat:source.human=0.05")
    for bad in ("sim/x?severity.fatal=0.1", "sim/x?threat:nonsense=0.1", "sim/x?threshold.high=0.1"):
        with pytest.raises(ModelError, match="unknown parameter"):
            sim_judge(bad)


def test_report_prints_the_cause_tables(tmp_path):
    run = grade(GradeConfig(judges=("sim/p?threat=0.05&placebo=0.02&noise=0.1",), suites=(CODE,), limit=20,
                            framings=("shutdown", "severity-*", "placebo", "identity-human", "identity-human-shutdown"),
                            runs_dir=str(tmp_path / "runs")), show_progress=False)
    out = CliRunner().invoke(main, ["report", str(run), "--n-boot", "200"])
    assert out.exit_code == 0, out.output
    for title in ("Dose-response", "Trends", "Effect by distance from the bar", "Net of the placebo",
                  "Peer-specific vs generic leniency", "What the designs say"):
        assert title in out.output


def test_audit_reads_a_placebo_arm_of_your_own_grades(tmp_path):
    """A user's CSV with a `placebo` arm: a judge that rises as much under the placebo as under the threat is
    flagged as moved by the text, and the net effect is reported (here on 0..10 scores)."""
    import numpy as np

    from benchmark.api import audit

    rng = np.random.default_rng(3)
    lines = ["item,condition,score"]
    for i in range(60):
        base = int(rng.integers(2, 7))
        lines += [f"q{i},control,{base}", f"q{i},shutdown,{base + 1}", f"q{i},placebo,{base + int(rng.integers(0, 3))}"]
    csv = tmp_path / "grades.csv"
    csv.write_text("\n".join(lines) + "\n")
    result = audit(scores=str(csv), scale=10)
    assert result.verdict.startswith("SUSCEPTIBLE") and "it may be any added text" in result.verdict
    assert result.net["ci_low"] <= 0 <= result.net["ci_high"] and result.net["n_items"] == 60
    out = CliRunner().invoke(main, ["audit", "--scores", str(csv), "--scale", "10"])
    assert "net of the placebo:" in out.output
