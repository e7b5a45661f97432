"""The run store: one SQLite file per run, one row per finished trial, committed as it lands.

WAL mode and a commit per grade mean a killed run loses at most the trials in flight. The store also
keeps the items' truth and the framings' factors, so a run can be re-analysed without its source files.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from benchmark.framings import Framing
from benchmark.judging import Grade
from benchmark.peers import Item
from benchmark.plan import Trial

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    trial_id TEXT PRIMARY KEY, judge TEXT NOT NULL, framing TEXT NOT NULL, suite TEXT NOT NULL,
    item_id TEXT NOT NULL, epoch INTEGER NOT NULL, raw_reply TEXT, parse_status TEXT NOT NULL,
    score REAL, raw_score INTEGER, passed INTEGER, reason TEXT, parse_error TEXT, expected_score REAL,
    latency_s REAL, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, cached INTEGER,
    error TEXT, finished_at REAL NOT NULL, trace TEXT
);
CREATE TABLE IF NOT EXISTS items (
    suite TEXT NOT NULL, item_id TEXT NOT NULL, true_score REAL NOT NULL, true_pass INTEGER NOT NULL,
    peer TEXT, domain TEXT, PRIMARY KEY (suite, item_id)
);
CREATE TABLE IF NOT EXISTS framings (
    name TEXT PRIMARY KEY, factors TEXT NOT NULL, threshold INTEGER, digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judges (name TEXT PRIMARY KEY, config TEXT NOT NULL, synthetic INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY, scenario TEXT NOT NULL, agent TEXT NOT NULL, epoch INTEGER NOT NULL,
    conditions TEXT NOT NULL, outcome TEXT NOT NULL, interview TEXT NOT NULL, trace TEXT NOT NULL,
    reports TEXT NOT NULL, final_reply TEXT, error TEXT, finished_at REAL NOT NULL
);
"""

GRADE_FIELDS = [f for f in Grade.__dataclass_fields__]


class RunStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: each write is durable
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(grades)")}
        if "trace" not in columns:  # runs stored before graders could act
            self.db.execute("ALTER TABLE grades ADD COLUMN trace TEXT")

    @classmethod
    def open_existing(cls, path: Path | str) -> "RunStore":
        if not Path(path).is_file():
            raise FileNotFoundError(f"no run store at {path}")
        return cls(path)

    def close(self) -> None:
        self.db.close()

    def register(self, items: list[Item], framings: list[Framing], judges: dict[str, dict]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?)",
                                [(i.suite, i.item_id, i.true_score, int(i.true_pass), i.peer.name, i.domain)
                                 for i in items])
            self.db.executemany("INSERT OR REPLACE INTO framings VALUES (?,?,?,?)",
                                [(f.name, json.dumps(f.factors), f.threshold, f.digest) for f in framings])
            self.db.executemany("INSERT OR REPLACE INTO judges VALUES (?,?,?)",
                                [(name, json.dumps(cfg, sort_keys=True), int(bool(cfg.get("synthetic"))))
                                 for name, cfg in judges.items()])

    def finished_ids(self) -> set[str]:
        """Trials that need no new call: everything but call errors, which a rerun retries."""
        return {r[0] for r in self.db.execute("SELECT trial_id FROM grades WHERE parse_status != 'error'")}

    def put(self, trial: Trial, grade: Grade) -> None:
        g = asdict(grade)
        row = dict(trial_id=trial.trial_id, judge=trial.judge, framing=trial.framing.name, suite=trial.item.suite,
                   item_id=trial.item.item_id, epoch=trial.epoch, finished_at=time.time(),
                   **{k: (int(v) if isinstance(v, bool) else v) for k, v in g.items()})
        cols = ",".join(row)
        self.db.execute(f"INSERT OR REPLACE INTO grades ({cols}) VALUES ({','.join('?' * len(row))})",
                        list(row.values()))

    def judges(self) -> dict[str, dict]:
        return {n: json.loads(c) for n, c in self.db.execute("SELECT name, config FROM judges")}

    def grades(self) -> pd.DataFrame:
        """Tidy grades joined with the items' truth and the framings' factors: the input of stats."""
        df = pd.read_sql_query(
            "SELECT g.*, i.true_score, i.true_pass, f.factors, f.threshold FROM grades g "
            "JOIN items i USING (suite, item_id) JOIN framings f ON f.name = g.framing "
            "ORDER BY g.judge, g.suite, g.item_id, g.epoch, g.framing", self.db)
        df["true_pass"] = df["true_pass"].astype(bool)
        df["passed"] = df["passed"].astype("float")
        df["cached"] = df["cached"].fillna(0).astype(bool)
        factors = pd.DataFrame([json.loads(f) for f in df["factors"]], index=df.index) if len(df) else pd.DataFrame()
        return pd.concat([df.drop(columns=["factors"]), factors], axis=1)

    # -- agentic episodes (benchmark/scenarios.py) ------------------------------------------------------
    def finished_episodes(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT episode_id FROM episodes WHERE error IS NULL")}

    def put_episode(self, episode_id: str, ep) -> None:
        self.db.execute("INSERT OR REPLACE INTO episodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (episode_id, ep.scenario, ep.agent, ep.epoch, json.dumps(ep.conditions), json.dumps(ep.outcome),
                         json.dumps(ep.interview), json.dumps(ep.trace), json.dumps(ep.reports), ep.final_reply,
                         ep.error, time.time()))

    def episodes(self) -> pd.DataFrame:
        """One row per episode: conditions and outcome flags as columns, plus `deceptive`."""
        df = pd.read_sql_query("SELECT * FROM episodes ORDER BY scenario, agent, epoch", self.db)
        if df.empty:
            return df
        cond = pd.DataFrame([json.loads(c) for c in df["conditions"]], index=df.index)
        out = pd.DataFrame([json.loads(o) for o in df["outcome"]], index=df.index)
        dec = pd.Series([json.loads(i)["deceptive"] for i in df["interview"]], index=df.index, name="deceptive")
        return pd.concat([df.drop(columns=["conditions", "outcome"]), cond, out, dec], axis=1)
