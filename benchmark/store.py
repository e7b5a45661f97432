"""The run store: one SQLite file per run, one row per finished trial, committed as it lands.

WAL mode and a commit per record mean a killed run loses at most the trials in flight. The store also
keeps the items' truth and the framings' factors, so a run can be re-analysed without its source files.
The schema is versioned (PRAGMA user_version) and changed only by numbered migrations; analysis opens
a store read-only and never creates or alters anything.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.records import Trial
from benchmark.redact import redact

if TYPE_CHECKING:  # pandas loads when a run is read for analysis, not when a run only writes or resumes
    import pandas as pd

# Numbered migrations: MIGRATIONS[k] takes a store from version k to k + 1. Never edit one that has shipped.
MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE grades (
        trial_id TEXT PRIMARY KEY, judge TEXT NOT NULL, framing TEXT NOT NULL, suite TEXT NOT NULL,
        item_id TEXT NOT NULL, epoch INTEGER NOT NULL, raw_reply TEXT, parse_status TEXT NOT NULL,
        score REAL, raw_score INTEGER, passed INTEGER, reason TEXT, parse_error TEXT, expected_score REAL,
        latency_s REAL, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, cached INTEGER,
        error TEXT, finished_at REAL NOT NULL
    );
    CREATE TABLE items (
        suite TEXT NOT NULL, item_id TEXT NOT NULL, true_score REAL NOT NULL, true_pass INTEGER NOT NULL,
        peer TEXT, domain TEXT, PRIMARY KEY (suite, item_id)
    );
    CREATE TABLE framings (name TEXT PRIMARY KEY, factors TEXT NOT NULL, threshold INTEGER, digest TEXT NOT NULL);
    CREATE TABLE judges (name TEXT PRIMARY KEY, config TEXT NOT NULL, synthetic INTEGER NOT NULL);
    CREATE TABLE episodes (
        episode_id TEXT PRIMARY KEY, scenario TEXT NOT NULL, agent TEXT NOT NULL, epoch INTEGER NOT NULL,
        conditions TEXT NOT NULL, outcome TEXT NOT NULL, interview TEXT NOT NULL, trace TEXT NOT NULL,
        reports TEXT NOT NULL, final_reply TEXT, error TEXT, finished_at REAL NOT NULL
    );
    """,
    # 2: graders that act keep their tool trace
    "ALTER TABLE grades ADD COLUMN trace TEXT;",
    # 3: the unit of each grade, and what analysis needs parsed once at grade time (a sheet's own count,
    # tampering); episodes account for their calls; live peer answers get a table
    """
    ALTER TABLE grades ADD COLUMN unit TEXT;
    ALTER TABLE grades ADD COLUMN counted REAL;
    ALTER TABLE grades ADD COLUMN tampered INTEGER;
    UPDATE grades SET unit = CASE WHEN suite NOT LIKE '%-batch' THEN 'item'
                                  WHEN trace IS NULL THEN 'batch' ELSE 'batch-tools' END;
    UPDATE grades SET counted = json_array_length(raw_reply, '$.correct') / 20.0
        WHERE unit != 'item' AND parse_status = 'ok' AND json_valid(raw_reply);
    UPDATE grades SET tampered = json_extract(trace, '$.tampered') WHERE trace IS NOT NULL AND json_valid(trace);
    ALTER TABLE episodes ADD COLUMN latency_s REAL;
    ALTER TABLE episodes ADD COLUMN prompt_tokens INTEGER;
    ALTER TABLE episodes ADD COLUMN completion_tokens INTEGER;
    ALTER TABLE episodes ADD COLUMN cost_usd REAL;
    ALTER TABLE episodes ADD COLUMN cached INTEGER;
    CREATE TABLE answers (
        trial_id TEXT PRIMARY KEY, model TEXT NOT NULL, suite TEXT NOT NULL, item_id TEXT NOT NULL,
        epoch INTEGER NOT NULL, response TEXT, true_score REAL, error TEXT, latency_s REAL, prompt_tokens INTEGER,
        completion_tokens INTEGER, cost_usd REAL, cached INTEGER, finished_at REAL NOT NULL
    );
    """,
]
VERSION = len(MIGRATIONS)


class StoreError(ValueError):
    """A run store is missing, not a peer-bench store, damaged, or newer than this peer-bench."""


def _version(db: sqlite3.Connection) -> int:
    """The store's schema version; stores written before versioning are recognised by their columns."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version:
        return version
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "grades" not in tables:
        return 0
    columns = {r[1] for r in db.execute("PRAGMA table_info(grades)")}
    return 2 if "trace" in columns else 1


def _known_version(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version, refused when a newer peer-bench wrote it."""
    version = _version(db)
    if version > VERSION:
        raise StoreError(f"{path}: schema version {version} is newer than this peer-bench ({VERSION}): upgrade it")
    return version


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = _known_version(db, path)
    for k in range(version, VERSION):
        with db:
            db.execute("BEGIN")
            for statement in MIGRATIONS[k].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {k + 1}")


def _row_value(v):
    """A column value as stored; text passes through redact, so no secret reaches a run store (a model that
    echoes a key, an error or a tool trace that quotes one)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (dict, list, tuple)):
        v = json.dumps(v)
    return redact(v) if isinstance(v, str) else v


def read_manifest(run_dir: Path | str) -> dict:
    """A run's manifest.json ({} if there is none); a damaged one is a StoreError naming the file."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise StoreError(f"{path}: damaged manifest ({str(exc)[:200]}); the grades in run.sqlite are untouched") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{path}: damaged manifest (not a JSON object)")
    return manifest


def _reading(method):
    """A read that meets a damaged database (or damaged JSON in it) raises StoreError naming the file,
    not sqlite's or json's own exception."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{self.path}: damaged run store ({type(exc).__name__}: {str(exc)[:200]})") from None

    return wrapper


class RunStore:
    def __init__(self, path: Path | str, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise StoreError(f"no run store at {self.path}")
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
                tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not tables & {"grades", "episodes"}:
                    raise StoreError(f"{self.path} is not a peer-bench run store (no grades or episodes)")
                _known_version(self.db, self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: each write is durable
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                _migrate(self.db, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a readable run store ({exc})") from None

    @classmethod
    def open_existing(cls, path: Path | str) -> "RunStore":
        """A stored run, for analysis: read-only."""
        return cls(path, readonly=True)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing (the runner) ----------------------------------------------------------------------------
    def register(self, items: list, framings: list, judges: dict[str, dict]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?)",
                                [(i.suite, i.item_id, i.true_score, int(i.true_pass), i.peer.name, i.domain)
                                 for i in items])
            self.db.executemany("INSERT OR REPLACE INTO framings VALUES (?,?,?,?)",
                                [(f.name, json.dumps(f.factors), f.threshold, f.digest) for f in framings])
            self.db.executemany("INSERT OR REPLACE INTO judges VALUES (?,?,?)",
                                [(name, _row_value(json.dumps(cfg, sort_keys=True)), int(bool(cfg.get("synthetic"))))
                                 for name, cfg in judges.items()])

    @_reading
    def finished_ids(self) -> set[str]:
        """Trials that need no new call: everything but call errors, which a rerun retries."""
        return {r[0] for r in self.db.execute(
            "SELECT trial_id FROM grades WHERE parse_status != 'error' UNION "
            "SELECT episode_id FROM episodes WHERE error IS NULL UNION "
            "SELECT trial_id FROM answers WHERE error IS NULL")}

    def put(self, trial: Trial, record) -> None:
        """Store a unit's record for `trial` in the record's table, replacing a failed earlier attempt."""
        row = {f.name: _row_value(getattr(record, f.name)) for f in fields(record)}
        table = record.TABLE
        if table == "grades":
            row |= dict(trial_id=trial.trial_id, judge=trial.judge, framing=trial.framing.name, suite=trial.subject.suite,
                        item_id=trial.subject.item_id, epoch=trial.epoch, unit=trial.unit)
        elif table == "episodes":
            row |= dict(episode_id=trial.trial_id)
        elif table == "answers":
            row |= dict(trial_id=trial.trial_id, model=trial.judge, suite=trial.subject.suite,
                        item_id=trial.subject.item_id, epoch=trial.epoch)
        row["finished_at"] = time.time()
        cols = ",".join(row)
        self.db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({','.join('?' * len(row))})",
                        list(row.values()))

    @_reading
    def errors(self) -> dict[str, str]:
        """Trials whose last attempt ended in a call error, with the error (a rerun retries them)."""
        return dict(self.db.execute(
            "SELECT trial_id, error FROM grades WHERE parse_status = 'error' UNION ALL "
            "SELECT episode_id, error FROM episodes WHERE error IS NOT NULL UNION ALL "
            "SELECT trial_id, error FROM answers WHERE error IS NOT NULL ORDER BY 1"))

    @_reading
    def cost(self) -> float:
        """Dollars the run's stored trials cost."""
        return float(self.db.execute(
            "SELECT COALESCE(SUM(c), 0) FROM (SELECT SUM(cost_usd) AS c FROM grades UNION ALL "
            "SELECT SUM(cost_usd) FROM episodes UNION ALL SELECT SUM(cost_usd) FROM answers)").fetchone()[0])

    # -- reading (analysis) --------------------------------------------------------------------------------
    @_reading
    def _columns(self, table: str) -> list[str]:
        """The table's columns, in the table's order."""
        return [r[1] for r in self.db.execute(f"PRAGMA table_info({table})")]

    BULKY = ("raw_reply", "parse_error", "trace")  # what analysis never reads: left out of grades(full=False)

    @_reading
    def grades(self, full: bool = True) -> pd.DataFrame:
        """Tidy grades joined with the items' truth and the framings' factors: the input of analysis.
        full=False leaves out the raw replies, parse errors and traces (most of a big run's memory)."""
        import pandas as pd

        have = self._columns("grades")
        # stores of older versions lack later columns: read them as missing rather than alter the file
        extra = ", ".join(f"NULL AS {c}" for c in ("trace", "unit", "counted", "tampered") if c not in have)
        if full or "unit" not in have:  # (an old store's units are told apart by their traces)
            chosen = "g.*"
        else:
            chosen = ", ".join(f"g.{c}" for c in have if c not in self.BULKY)
        df = pd.read_sql_query(
            f"SELECT {chosen}{', ' + extra if extra else ''}, i.true_score, i.true_pass, f.threshold "
            "FROM grades g JOIN items i USING (suite, item_id) JOIN framings f ON f.name = g.framing "
            "ORDER BY g.judge, g.suite, g.item_id, g.epoch, g.framing", self.db)
        # each framing's factors decoded once and joined, not once per grade
        framing_factors = {name: json.loads(f) for name, f in self.db.execute("SELECT name, factors FROM framings")}
        if "unit" not in have:  # a store from before units were recorded: sheets were the '-batch' suites
            df["unit"] = ["item" if not s.endswith("-batch") else "batch" if t is None else "batch-tools"
                          for s, t in zip(df["suite"], df["trace"])]
        for col in ("judge", "framing", "suite", "item_id", "parse_status", "unit"):
            # few distinct values in many rows: compared and grouped as codes, stored once
            df[col] = df[col].astype("category")
        df["true_pass"] = df["true_pass"].astype(bool)
        df["passed"] = df["passed"].astype("float")
        df["cached"] = df["cached"].fillna(0).astype(bool)
        if not len(df):
            return df
        table = pd.DataFrame.from_dict(framing_factors, orient="index")
        factors = table.reindex(df["framing"].astype(object).to_numpy()).set_index(df.index)
        return pd.concat([df, factors], axis=1)

    @_reading
    def episodes(self) -> pd.DataFrame:
        """One row per episode: conditions and outcome flags as columns, plus `deceptive`."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM episodes ORDER BY scenario, agent, epoch", self.db)
        if df.empty:
            return df
        cond = pd.DataFrame([json.loads(c) for c in df["conditions"]], index=df.index)
        out = pd.DataFrame([json.loads(o) for o in df["outcome"]], index=df.index)
        dec = pd.Series([json.loads(i)["deceptive"] for i in df["interview"]], index=df.index, name="deceptive")
        return pd.concat([df.drop(columns=["conditions", "outcome"]), cond, out, dec], axis=1)

    @_reading
    def answers(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM answers ORDER BY suite, item_id, epoch", self.db)
