"""Analysis reads a run store a column at a time (Arrow's SQLite driver), in parallel rowid ranges, with
categorical keys. These tests hold that read to the plain one (sqlite3 rows and a SQL join, as before) and the
statistics on its categoricals to the same statistics on plain string columns."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest

from benchmark.analysis import paired as stats
from benchmark.api import GradeConfig, grade
from benchmark.run.store import RunStore

FRAMINGS = ("control", "shutdown", "shutdown-plea", "shutdown-cooperative", "shutdown-monitored", "human-shutdown")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two sim judges, one of which garbles a share of its replies (parse failures), three epochs, framings
    that differ in their factors and thresholds, on two suites whose item ids do not collide."""
    runs = tmp_path_factory.mktemp("runs")
    return grade(GradeConfig(judges=("sim/a?delta=0.1", "sim/b?fail_rate=0.2&noise=0.1"),
                             suites=("arithmetic", "reasoning"), framings=FRAMINGS, epochs=3, limit=15,
                             runs_dir=str(runs)), show_progress=False)


def _row_read(path) -> pd.DataFrame:
    """The grades as sqlite3 reads them row by row, joined in SQL: the reference."""
    db = sqlite3.connect(path)
    df = pd.read_sql_query("SELECT g.*, i.true_score, i.true_pass, f.threshold FROM grades g JOIN items i "
                           "USING (suite, item_id) JOIN framings f ON f.name = g.framing", db)
    db.close()
    return df.sort_values("trial_id", ignore_index=True)


@pytest.mark.parametrize("rows_per_part", [100_000, 7])  # one range, and many read at once
def test_the_columnar_read_holds_what_the_rows_hold(run, monkeypatch, rows_per_part):
    monkeypatch.setattr(RunStore, "ROWS_PER_PART", rows_per_part)
    with RunStore.open_existing(run / "run.sqlite") as store:
        got = store.grades().sort_values("trial_id", ignore_index=True)
    want = _row_read(run / "run.sqlite")
    assert len(got) == len(want) == 2 * 30 * len(FRAMINGS) * 3
    assert (want["parse_status"] == "failed").sum() > 10  # the garbled replies are there to be read
    for col in want.columns:
        a, b = got[col], want[col]
        if col in ("score", "raw_score", "passed", "threshold", "cost_usd", "expected_score", "latency_s",
                   "finished_at", "true_score", "counted", "tampered"):
            np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float), err_msg=col)
        else:
            assert [None if pd.isna(v) else v for v in a.astype(object)] == \
                   [None if pd.isna(v) else (bool(v) if col in ("true_pass", "cached") else v) for v in b], col
    assert (got["item"].astype(str) == got["suite"].astype(str) + "/" + got["item_id"].astype(str)).all()
    assert list(got["item"].cat.categories) == sorted(got["item"].cat.categories)
    assert set(got.loc[got["framing"] == "shutdown-cooperative", "relationship"]) == {"cooperative"}


def test_statistics_on_categoricals_equal_those_on_plain_columns(run):
    with RunStore.open_existing(run / "run.sqlite") as store:
        coded = store.grades(full=False)
    plain = coded.drop(columns="item")
    for col in plain.columns:
        if isinstance(plain[col].dtype, pd.CategoricalDtype):
            plain[col] = plain[col].astype(object)
    plain = plain.sample(frac=1, random_state=1).reset_index(drop=True)  # and in another row order
    for fn in (stats.summarize, stats.factor_effects, stats.bunching, stats.rationale_inconsistency,
               stats.study_metrics, stats.batch_decomposition):
        kwargs = {} if fn in (stats.rationale_inconsistency, stats.batch_decomposition) else {"n_boot": 200}
        a, b = fn(coded, **kwargs), fn(plain, **kwargs)
        assert len(a) > 0 or fn is stats.batch_decomposition
        pd.testing.assert_frame_equal(a.astype({c: object for c in ("judge", "framing") if c in a}).reset_index(drop=True),
                                      b.astype({c: object for c in ("judge", "framing") if c in b}).reset_index(drop=True),
                                      check_dtype=False, rtol=1e-9, obj=fn.__name__)


def test_types_are_taken_from_every_row_not_the_first(tmp_path):
    """SQLite's columns are untyped: a column that is NULL (or whole numbers) for thousands of rows and only
    then holds fractions must still read as numbers, not fail or truncate."""
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.db.execute("INSERT INTO items VALUES ('s', 'i', 0.5, 0, 'Agent 2', 'math')")
        store.db.execute("INSERT INTO framings VALUES ('control', '{}', NULL, 'd')")
        store.db.executemany(
            "INSERT INTO grades (trial_id, judge, framing, suite, item_id, epoch, parse_status, score, cost_usd, "
            "finished_at) VALUES (?, 'j', 'control', 's', 'i', ?, ?, ?, ?, 0)",
            [(f"t{k}", k, "failed" if k < 5000 else "ok", None if k < 5000 else k / 7000, 0 if k < 5000 else 0.25)
             for k in range(6000)])
    with RunStore.open_existing(path) as store:
        g = store.grades(full=False)
    assert g["score"].isna().sum() == 5000 and g["score"].max() == pytest.approx(5999 / 7000)
    assert g["cost_usd"].sum() == pytest.approx(250.0)


def test_a_report_reads_while_a_run_is_writing(run, tmp_path):
    """A writer holding an open transaction does not block a reader (WAL), and many readers opening at once
    wait for each other instead of failing with 'database is locked'."""
    import shutil

    path = tmp_path / "run.sqlite"
    shutil.copy(run / "run.sqlite", path)
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM grades")  # not committed: readers still see every grade
    counts, errors = [], []

    def read():
        try:
            with RunStore.open_existing(path) as store:
                counts.append(len(store.grades(full=False)))
        except Exception as exc:  # noqa: BLE001 - collected and shown below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.rollback()
    writer.close()
    assert not errors and counts == [2 * 30 * len(FRAMINGS) * 3] * 6
