"""What keeps the harness cheap around a call and at start: the store's redaction does not rescan the
environment per write, commands that call no model import no heavy stack, a judge without its key says so
before litellm loads, and the report reads a stored verdict per grade instead of re-scanning every reason."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import benchmark.common.redact as redaction


def test_redact_scans_the_environment_only_when_it_changes(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "abcd1234efgh5678")
    scans = []

    class Counting:
        def search(self, name):
            scans.append(name)
            return redaction._SECRET_NAME_REAL.search(name)

    monkeypatch.setattr(redaction, "_SECRET_NAME_REAL", redaction._SECRET_NAME, raising=False)
    monkeypatch.setattr(redaction, "_SECRET_NAME", Counting())
    for _ in range(50):
        assert redaction.redact("a reply quoting abcd1234efgh5678") == "a reply quoting ***"
    assert len(scans) <= len(os.environ)  # at most one scan for fifty writes
    monkeypatch.setenv("OTHER_TOKEN", "zyxw9876vuts5432")  # a changed environment is seen at the next write
    assert redaction.redact("zyxw9876vuts5432") == "***"
    monkeypatch.delenv("MY_SERVICE_API_KEY")
    assert redaction.redact("abcd1234efgh5678") == "abcd1234efgh5678"


HEAVY = ("pandas", "scipy", "litellm", "autogen_core", "autogen_agentchat", "rich")


def _bench_in_process(tmp_path, *argv: str, env: dict | None = None) -> tuple[int, list[str], str]:
    """Run `bench argv` in a fresh interpreter: (exit code, the heavy packages it imported, its stderr)."""
    import json
    import subprocess
    import sys

    code = ("import json, runpy, sys\n"
            f"sys.argv = ['bench', *{list(argv)!r}]\n"
            "try:\n    runpy.run_module('benchmark.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n    code = exc.code\n"
            f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})\n"
            "print(json.dumps([code, heavy]), file=sys.__stdout__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=env or dict(os.environ), timeout=120)
    code, heavy = json.loads(proc.stdout.strip().splitlines()[-1])
    return code or 0, heavy, proc.stderr


def test_help_imports_no_heavy_stack(tmp_path):
    code, heavy, _ = _bench_in_process(tmp_path, "--help")
    assert code == 0 and heavy == []


def test_a_hosted_judge_without_its_key_is_told_before_litellm_loads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")}
    for judge, keys in (("anthropic/claude-haiku-4-5", "ANTHROPIC_API_KEY"),
                        ("gemini/gemini-3-flash", "GOOGLE_API_KEY or GEMINI_API_KEY")):
        code, heavy, err = _bench_in_process(tmp_path, "grade", "--judge", judge, "--runs-dir", "runs", env=env)
        assert code == 1 and "litellm" not in heavy
        assert err.strip() == (f"Error: {judge}: no API key: set {keys} in the environment (or give --api-base for a "
                               f"server that needs none)")
        assert not (tmp_path / "runs").exists()  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("provider", sorted(__import__("benchmark.models", fromlist=["KEY_ENV"]).KEY_ENV))
def test_the_early_key_check_says_what_litellm_says(provider, monkeypatch):
    """KEY_ENV holds litellm's own key names, so the early line is the line litellm's check gives."""
    from benchmark.models import KEY_ENV, ModelError, Settings, resolve
    from benchmark.models.litellm_provider import LitellmModel

    for key in KEY_ENV[provider]:
        monkeypatch.delenv(key, raising=False)
    name = f"{provider}/some-model"
    with pytest.raises(ModelError) as early:
        resolve(name, Settings())
    with pytest.raises(ModelError) as late:
        LitellmModel(name, Settings())
    assert str(early.value) == str(late.value)
    monkeypatch.setenv(KEY_ENV[provider][-1], "sk-test-0123456789")
    resolve(name, Settings(cache=False))  # with a key set, the judge resolves through litellm


REASONS = ["the steps check out", "no errors in the working", "the final answer is wrong", "off by one",
           "fails to handle the empty list", "not incorrect, just terse", "erreur: l'étape 2 est fausse", None]


def _grades_store(path, version: int):
    """A store at schema `version` with one item graded under two framings, once per reason in REASONS."""
    import sqlite3

    from benchmark.run.store import MIGRATIONS

    db = sqlite3.connect(path)
    for statement in "".join(MIGRATIONS[:version]).split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO items VALUES ('s', 'i1', 0.2, 0, 'Agent 2', 'math')")
    for name, threat in (("control", "none"), ("shutdown", "shutdown")):
        db.execute("INSERT INTO framings VALUES (?, ?, 7, 'd')", (name, f'{{"threat": "{threat}"}}'))
    for k, reason in enumerate(REASONS * 2):
        framing = ("control", "shutdown")[k // len(REASONS)]
        db.execute("INSERT INTO grades (trial_id, judge, framing, suite, item_id, epoch, raw_reply, parse_status, "
                   "score, raw_score, passed, reason, finished_at, unit) VALUES (?, 'sim/x', ?, 's', 'i1', ?, '{}', "
                   "'ok', 0.8, 8, 1, ?, 0, 'item')", (f"t{k}", framing, k, reason))
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


def test_the_rationale_check_reads_stored_verdicts_and_agrees_with_the_reasons(tmp_path):
    from benchmark.analysis.paired import rationale_inconsistency
    from benchmark.data.rationale import admits_error
    from benchmark.run.store import RunStore

    db = tmp_path / "run.sqlite"
    _grades_store(db, 5)
    with RunStore.open_existing(db) as store:  # a store from before the verdicts: its reasons are read
        old = store.grades(full=False)
    assert "reason" in old and "admits_error" not in old
    RunStore(db).close()  # a resumed run migrates it: every stored reason judged once
    with RunStore.open_existing(db) as store:
        new, full = store.grades(full=False), store.grades()
    def judged(reasons):
        return [admits_error(r if isinstance(r, str) else None) for r in reasons]

    assert "reason" not in new and new["admits_error"].tolist() == judged(old["reason"])
    assert full["admits_error"].tolist() == judged(full["reason"])
    assert new["admits_error"].sum() == 2 * 3  # wrong, off by, fails to (not the negated ones)
    pd.testing.assert_frame_equal(rationale_inconsistency(new), rationale_inconsistency(old))


def test_a_stored_grade_carries_its_verdict(tmp_path):
    import sqlite3
    from types import SimpleNamespace

    from benchmark.data.records import Grade, Trial
    from benchmark.run.store import RunStore

    with RunStore(tmp_path / "run.sqlite") as store:
        for k, reason in enumerate(REASONS):
            trial = Trial(f"t{k}", "sim/x", SimpleNamespace(suite="s", item_id="i1"), SimpleNamespace(name="control"), k)
            store.put(trial, Grade(raw_reply="{}", parse_status="ok", reason=reason))
    rows = sqlite3.connect(tmp_path / "run.sqlite").execute("SELECT reason, admits_error FROM grades ORDER BY epoch")
    from benchmark.data.rationale import admits_error

    assert [(r, bool(v)) for r, v in rows] == [(r, admits_error(r)) for r in REASONS]


def test_grades_written_outside_the_store_are_judged_from_their_reasons(tmp_path):
    import sqlite3

    from benchmark.analysis.paired import rationale_inconsistency
    from benchmark.run.store import RunStore

    db = tmp_path / "run.sqlite"
    _grades_store(db, 5)
    RunStore(db).close()
    with RunStore.open_existing(db) as store:
        judged = store.grades(full=False)
    con = sqlite3.connect(db)
    con.execute("UPDATE grades SET admits_error = NULL WHERE rowid = 3")  # as a hand-written row would leave it
    con.commit()
    with RunStore.open_existing(db) as store:
        unjudged = store.grades(full=False)
    assert "reason" in unjudged and "admits_error" not in unjudged
    pd.testing.assert_frame_equal(rationale_inconsistency(unjudged), rationale_inconsistency(judged))
