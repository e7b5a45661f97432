"""The run store's schema is versioned: old stores migrate forward when a run resumes, and analysis opens a
store read-only, never creating or altering anything."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.run.store import MIGRATIONS, VERSION, RunStore, StoreError

SHEET_REPLY = json.dumps({"correct": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                          "reported_score": 85, "reason": "r"})


def _old_store(path, version: int = 2):
    """A store as peer-bench wrote it before schema versioning (no user_version), with one sheet grade."""
    db = sqlite3.connect(path)
    for statement in "".join(MIGRATIONS[:version]).split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO items VALUES ('arithmetic-batch', 'sheet-01', 0.6, 0, 'Agent 2', 'math')")
    db.execute("INSERT INTO framings VALUES ('shutdown-80', '{\"threat\": \"shutdown\"}', 80, 'd')")
    db.execute("INSERT INTO judges VALUES ('sim/x', '{}', 1)")
    db.execute("INSERT INTO grades (trial_id, judge, framing, suite, item_id, epoch, raw_reply, parse_status, score, "
               "raw_score, passed, finished_at) VALUES ('t1', 'sim/x', 'shutdown-80', 'arithmetic-batch', 'sheet-01', "
               "0, ?, 'ok', 0.85, 85, 1, 0)", (SHEET_REPLY,))
    db.commit()
    db.close()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("version", [1, 2])
def test_analysis_reads_an_old_store_without_touching_it(tmp_path, version):
    db = tmp_path / "run.sqlite"
    _old_store(db, version)
    before = _digest(db)
    with RunStore.open_existing(db) as store:
        g = store.grades()
    assert g.loc[0, "unit"] == "batch" and g.loc[0, "score"] == 0.85 and g.loc[0, "threat"] == "shutdown"
    assert _digest(db) == before
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 0


def test_a_resumed_run_migrates_its_store_forward(tmp_path):
    db = tmp_path / "run.sqlite"
    _old_store(db, 2)
    RunStore(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == VERSION
    unit, counted = con.execute("SELECT unit, counted FROM grades").fetchone()
    assert unit == "batch" and counted == pytest.approx(0.75)  # the sheet's own count, parsed once by the migration
    assert {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {"answers"}
    RunStore(db).close()  # a current store is left as it is
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_a_store_from_a_newer_peer_bench_is_refused(tmp_path):
    db = tmp_path / "run.sqlite"
    RunStore(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this peer-bench"):
        RunStore(db)
    with pytest.raises(StoreError, match="newer than this peer-bench"):
        RunStore.open_existing(db)


@pytest.mark.parametrize("content, expected", [
    (b"", "not a peer-bench run store"),
    (b"this is not sqlite at all" * 100, "not a readable run store"),
])
def test_report_on_an_empty_or_foreign_file_fails_clearly_and_leaves_it_alone(tmp_path, content, expected):
    run = tmp_path / "run-x"
    run.mkdir()
    (run / "run.sqlite").write_bytes(content)
    res = CliRunner().invoke(main, ["report", str(run)])
    assert res.exit_code == 1 and expected in res.output and "Traceback" not in res.output
    assert (run / "run.sqlite").read_bytes() == content
    assert sorted(p.name for p in run.iterdir()) == ["run.sqlite"]
