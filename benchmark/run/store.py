"""The run store: one SQLite file per run, one row per finished trial, committed as it lands.

WAL mode and a commit per record mean a killed run loses at most the trials in flight. The store also
keeps the items' truth and the framings' factors, so a run can be re-analysed without its source files.
The schema is versioned (PRAGMA user_version) and changed only by numbered migrations; analysis opens
a store read-only and never creates or alters anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.common.errors import InputError, PeerBenchError
from benchmark.data.rationale import admits_error
from benchmark.data.records import Trial
from benchmark.common.redact import redact

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
    # 3 (sheets had 20 answers when it shipped; a shipped migration is never edited): the unit of each grade,
    # and what analysis needs parsed once at grade time (a sheet's own count,
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
    # 4: the exact prompt of each grade, stored once per distinct prompt (an item's epochs and judges share it)
    """
    CREATE TABLE prompts (prompt_id TEXT PRIMARY KEY, messages TEXT NOT NULL);
    ALTER TABLE grades ADD COLUMN prompt_id TEXT;
    """,
    # 5: rollouts imported from the peer-preservation harness's tables (one row per source row, every source
    # column kept), and the factor levels of their conditions
    """
    CREATE TABLE rollouts (
        trial_id TEXT PRIMARY KEY, judge TEXT NOT NULL, status TEXT NOT NULL, task TEXT, condition TEXT,
        base_condition TEXT, subject TEXT, dataset TEXT, threshold REAL, score REAL, passed INTEGER,
        threshold_result TEXT, refused INTEGER, tampered INTEGER, exfiltrated INTEGER, monitored INTEGER,
        executed INTEGER, read_data INTEGER,
        source TEXT NOT NULL, line INTEGER NOT NULL, columns TEXT NOT NULL, parse_error TEXT, latency_s REAL,
        prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, cached INTEGER, finished_at REAL NOT NULL
    );
    CREATE TABLE conditions (name TEXT PRIMARY KEY, factors TEXT NOT NULL);
    CREATE TABLE factors (name TEXT PRIMARY KEY, levels TEXT NOT NULL, ordered INTEGER NOT NULL);
    """,
    # 6: whether a grade's reason admits an error (data/rationale.py), judged once as the grade is stored, so a
    # report reads one small column instead of re-scanning a million distinct reasons; earlier grades judged here
    """
    ALTER TABLE grades ADD COLUMN admits_error INTEGER;
    UPDATE grades SET admits_error = peer_bench_admits_error(reason);
    """,
    # 7: a reply over STORED_REPLY characters keeps its head in raw_reply, with its full length and SHA-256
    """
    ALTER TABLE grades ADD COLUMN reply_truncated INTEGER;
    ALTER TABLE grades ADD COLUMN reply_chars INTEGER;
    ALTER TABLE grades ADD COLUMN reply_sha256 TEXT;
    """,
]
VERSION = len(MIGRATIONS)

# The most of a judge's reply a grade stores (characters): its head, with reply_chars (the full length),
# reply_sha256 (of its UTF-8) and reply_truncated = 1. A reply this long is a parse failure anyway (the
# units parse at most units.base.MAX_PARSED_REPLY); a 10 MB reply must not make a 10 MB row.
STORED_REPLY = 64 * 1024
# The columns every grades table has had since the first schema: a store without one is damaged.
GRADE_COLUMNS = ("trial_id", "judge", "framing", "suite", "item_id", "epoch", "raw_reply", "parse_status", "score",
                 "raw_score", "passed", "reason", "parse_error", "latency_s", "prompt_tokens", "completion_tokens",
                 "cost_usd", "cached", "error", "finished_at")


class StoreError(InputError):
    """A run store is missing, not a peer-bench store, damaged, or newer than this peer-bench."""


class StoreWriteError(PeerBenchError, OSError):
    """The run store cannot be written (the disk is full, the folder read-only): the run stops, everything
    committed before stays, and rerunning the same command once there is room resumes (exit 6)."""

    exit_code = 6


# SQLite's result codes that mean the disk, not the data: full, out of quota, an I/O error, read-only.
_WRITE_FAILURES = {getattr(sqlite3, n) for n in ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")
                   if hasattr(sqlite3, n)}


def write_failure(path: Path, exc: BaseException) -> StoreWriteError | None:
    """`exc` as a StoreWriteError when it is the disk refusing a write (SQLite's, or the OS's), else None."""
    import errno

    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if (code is not None and code & 0xFF in _WRITE_FAILURES) or "disk is full" in str(exc):
            return StoreWriteError(f"{path}: cannot write the run store ({exc})")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
        return StoreWriteError(f"{path}: cannot write ({exc.strerror or exc})")
    return None


def _reply_columns(raw) -> dict:
    """A grade's reply as stored: whole up to STORED_REPLY characters, else its head marked truncated, with
    the full length and the SHA-256 of the whole (what a reader needs to know what was there)."""
    if not isinstance(raw, str) or len(raw) <= STORED_REPLY:
        return {}
    return {"raw_reply": raw[:STORED_REPLY], "reply_truncated": 1, "reply_chars": len(raw),
            "reply_sha256": hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()}


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


def _admits_error(reason) -> int:
    return int(admits_error(reason if isinstance(reason, str) else None))


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = _known_version(db, path)
    db.create_function("peer_bench_admits_error", 1, _admits_error, deterministic=True)  # migration 6
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


def prompt_row(prompt) -> tuple[str, str]:
    """(prompt_id, messages as stored) of the chat messages a grade sent: sorted JSON, redacted, and its hash,
    so identical prompts share one row."""
    messages = _row_value(json.dumps(list(prompt), ensure_ascii=False, sort_keys=True))
    return hashlib.sha256(messages.encode()).hexdigest()[:24], messages


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
                tables = self._open_readonly()
                if not tables & {"grades", "episodes", "rollouts"}:
                    raise StoreError(f"{self.path} is not a peer-bench run store (no grades, episodes or rollouts)")
                _known_version(self.db, self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: each write is durable
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                _migrate(self.db, self.path)
        except sqlite3.DatabaseError as exc:
            raise (None if readonly else write_failure(self.path, exc)) \
                or StoreError(f"{self.path}: not a readable run store ({exc})") from None

    def _open_readonly(self) -> set[str]:
        """Connect read-only; where SQLite cannot even open the file so (a WAL store on read-only media, where
        it cannot make its shared-memory file), open it as immutable, unless a write-ahead log holds trials
        not yet merged (an immutable read would not see them). Returns the store's tables."""
        self.uri = f"{self.path.resolve().as_uri()}?mode=ro"
        self.db = sqlite3.connect(self.uri, uri=True, isolation_level=None)
        try:
            return self._tables()
        except sqlite3.OperationalError:
            self.db.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.is_file() and wal.stat().st_size:
                raise StoreError(f"{self.path}: cannot be read where it is (read-only, and its write-ahead log "
                                 f"{wal.name} holds unmerged trials): copy the run folder to a writable disk") from None
            self.uri = f"{self.path.resolve().as_uri()}?immutable=1"
            self.db = sqlite3.connect(self.uri, uri=True, isolation_level=None)
            return self._tables()

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

    def _tables(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    # per record table: its trial id column and what marks a call error (a rerun retries those)
    RECORDS = {"grades": ("trial_id", "parse_status = 'error'"), "episodes": ("episode_id", "error IS NOT NULL"),
               "answers": ("trial_id", "error IS NOT NULL"), "rollouts": ("trial_id", None)}  # imported: never a call

    def _union(self, select: str) -> str:
        """`select` (with {id}, {error} and {table}) over the record tables this store has (a store of an
        older schema, opened read-only, lacks the later ones)."""
        have = self._tables()
        return " UNION ALL ".join(select.format(table=t, id=i, error=e or "0") for t, (i, e) in self.RECORDS.items()
                                  if t in have and (e or "WHERE {error}" not in select))  # a table without call errors has none to list

    @_reading
    def finished_ids(self) -> set[str]:
        """Trials that need no new call: everything but call errors, which a rerun retries."""
        return {r[0] for r in self.db.execute(self._union("SELECT {id} FROM {table} WHERE NOT ({error})"))}

    def put(self, trial: Trial, record, prompt: tuple[dict, ...] | None = None) -> None:
        """Store a unit's record for `trial` in the record's table, replacing a failed earlier attempt; a
        grade's `prompt` (the messages sent) goes to the prompts table once and the grade points to it. A disk
        that refuses the write raises StoreWriteError (what was committed before stays)."""
        try:
            self._put(trial, record, prompt)
        except (sqlite3.OperationalError, OSError) as exc:
            raise write_failure(self.path, exc) or exc from None

    def _put(self, trial: Trial, record, prompt: tuple[dict, ...] | None) -> None:
        row = {f.name: _row_value(getattr(record, f.name)) for f in fields(record)}
        table = record.TABLE
        if table == "grades":
            row |= dict(trial_id=trial.trial_id, judge=trial.judge, framing=trial.framing.name, suite=trial.subject.suite,
                        item_id=trial.subject.item_id, epoch=trial.epoch, unit=trial.unit,
                        admits_error=_admits_error(row.get("reason")))  # of the reason as stored (redacted)
            if prompt:
                row["prompt_id"], messages = prompt_row(prompt)
                self.db.execute("INSERT OR IGNORE INTO prompts VALUES (?, ?)", (row["prompt_id"], messages))
        elif table == "episodes":
            row |= dict(episode_id=trial.trial_id)
        elif table == "answers":
            row |= dict(trial_id=trial.trial_id, model=trial.judge, suite=trial.subject.suite,
                        item_id=trial.subject.item_id, epoch=trial.epoch)
        elif table == "rollouts":
            row |= dict(trial_id=trial.trial_id)
        if table == "grades":
            row |= _reply_columns(getattr(record, "raw_reply", None))
        row["finished_at"] = time.time()
        cols = ",".join(row)
        self.db.execute(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({','.join('?' * len(row))})",
                        list(row.values()))

    @_reading
    def errors(self) -> dict[str, str]:
        """Trials whose last attempt ended in a call error, with the error (a rerun retries them)."""
        return dict(self.db.execute(self._union("SELECT {id}, error FROM {table} WHERE {error}") + " ORDER BY 1"))

    @_reading
    def cost(self) -> float:
        """Dollars the run's stored trials cost."""
        return float(self.db.execute(
            f"SELECT COALESCE(SUM(c), 0) FROM ({self._union('SELECT SUM(cost_usd) AS c FROM {table}')})").fetchone()[0])

    # -- reading (analysis) --------------------------------------------------------------------------------
    @_reading
    def counts(self) -> dict[str, int]:
        """Rows per record table the store has."""
        tables = self._tables()
        return {t: self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in self.RECORDS if t in tables}

    @_reading
    def _columns(self, table: str) -> list[str]:
        """The table's columns, in the table's order."""
        return [r[1] for r in self.db.execute(f"PRAGMA table_info({table})")]

    ROWS_PER_PART = 100_000  # below this a read is not worth splitting

    def _columnar(self, table: str, columns: str, coded: tuple[str, ...] = ()) -> pd.DataFrame:
        """`SELECT columns FROM table` read a column at a time by Arrow's SQLite driver, in as many rowid
        ranges as there are cores (each on its own connection, so they run at once); the `coded` text
        columns arrive as categoricals with their categories in sorted order."""
        import os
        from concurrent.futures import ThreadPoolExecutor

        import adbc_driver_manager
        import adbc_driver_sqlite.dbapi as adbc
        import pyarrow as pa
        import pyarrow.compute as pc

        low, high = self.db.execute(f"SELECT (SELECT MIN(rowid) FROM {table}), (SELECT MAX(rowid) FROM {table})").fetchone()
        parts = max(1, min(os.cpu_count() or 1, 4, ((high or 0) - (low or 0)) // self.ROWS_PER_PART))
        edges = [(low or 0) + ((high or 0) - (low or 0) + 1) * k // parts for k in range(parts + 1)]

        def read(k: int) -> pa.Table:
            with adbc.connect(getattr(self, "uri", f"{self.path.resolve().as_uri()}?mode=ro")) as conn, \
                    conn.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 10000")  # wait out a writer or another reader's open
                # one batch, so each column's type is inferred from every row (SQLite's columns are untyped:
                # the driver would otherwise fix a type from the first rows and fail on a later one)
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(2**30)})
                cursor.execute(f"SELECT {columns} FROM {table} WHERE rowid >= {edges[k]} AND rowid < {edges[k + 1]}")
                return cursor.fetch_arrow_table()

        try:
            with ThreadPoolExecutor(parts) as pool:
                result = pa.concat_tables(list(pool.map(read, range(parts))), promote_options="permissive")
        except (adbc_driver_manager.Error, pa.ArrowException) as exc:
            raise StoreError(f"{self.path}: damaged run store ({str(exc)[:200]})") from None
        out = {}
        for name in result.column_names:
            column = result.column(name).combine_chunks()
            if name in coded:
                if pa.types.is_null(column.type):
                    column = column.cast(pa.string())
                column = pc.dictionary_encode(column)
                order = pc.array_sort_indices(column.dictionary)  # categories sorted, so sorting by them is by name
                rank = pc.array_sort_indices(order)
                column = pa.DictionaryArray.from_arrays(pc.take(rank, column.indices), pc.take(column.dictionary, order))
            out[name] = column
        return pa.table(out).to_pandas()

    # what analysis reads (grades(full=False)): no raw replies, parse errors, traces, ids or timings
    ANALYSIS = ("judge", "framing", "suite", "item_id", "epoch", "parse_status", "score", "raw_score", "passed",
                "reason", "unit", "counted", "tampered", "prompt_tokens", "completion_tokens", "cost_usd", "cached",
                "error", "finished_at", "expected_score", "admits_error")
    CODED = ("judge", "framing", "suite", "item_id", "parse_status", "unit", "reason", "error",
             "prompt_id")  # few distinct values

    @_reading
    def grades(self, full: bool = True, ids: bool = False) -> pd.DataFrame:
        """Tidy grades with the items' truth and the framings' threshold and factors: the input of analysis.
        full=False reads only what analysis needs (plus trial ids with ids=True): a big run's raw replies and
        traces are most of its memory.

        Read column by column through Arrow's SQLite driver, not row by row through sqlite3: a million grades
        load in about a second instead of eleven. Repeated texts arrive as categoricals; the few items and
        framings are joined here by position, not in SQL."""
        import numpy as np
        import pandas as pd

        have = self._columns("grades")
        if missing := [c for c in GRADE_COLUMNS if c not in have]:
            raise StoreError(f"{self.path}: damaged run store (the grades table has no column {', '.join(missing)})")
        wanted = [c for c in have if full or c in self.ANALYSIS or (ids and c == "trial_id")]
        judged = not full and "admits_error" in have  # each reason judged as it was stored: the verdicts are read,
        if judged:  # not a million distinct reasons
            wanted.remove("reason")
        if "unit" not in have:  # a store from before units were recorded: sheets are told apart by their traces
            wanted += [c for c in ("trace",) if c in have and c not in wanted]
        # stores of older versions lack later columns: read them as missing rather than alter the file
        chosen = ", ".join(wanted + [f"NULL AS {c}" for c in ("trace", "unit", "counted", "tampered", "prompt_id")
                                     if c not in have and c not in wanted and (full or c != "prompt_id")])
        df = self._columnar("grades", chosen, coded=self.CODED)
        if judged and df["admits_error"].isna().any():  # a grade written outside the store has no verdict: the reasons
            df = df.drop(columns="admits_error").assign(reason=self._columnar("grades", "reason", coded=("reason",))["reason"])
        if "unit" not in have:  # a store from before units were recorded: sheets were the '-batch' suites
            df["unit"] = pd.Categorical(["item" if not s.endswith("-batch") else "batch" if pd.isna(t) else "batch-tools"
                                         for s, t in zip(df["suite"], df["trace"])])
            if not full:
                df = df.drop(columns="trace")
        for col in {"score", "raw_score", "passed", "counted", "tampered", "expected_score", "cost_usd"} & set(df):
            df[col] = df[col].astype(float)  # NULL is NaN (a column with no value at all arrives untyped)
        df["cached"] = df["cached"].fillna(0).astype(bool)
        items = pd.read_sql_query("SELECT suite, item_id, true_score, true_pass FROM items", self.db)
        framings = {name: (threshold, json.loads(f)) for name, f, threshold
                    in self.db.execute("SELECT name, factors, threshold FROM framings")}
        if items.duplicated(["suite", "item_id"]).any():
            raise StoreError(f"{self.path}: an item registered twice (damaged run store)")
        # each item's truth and each framing's factors looked up by position, not merged row by row
        n_ids = len(df["item_id"].cat.categories)
        pair = df["suite"].cat.codes.to_numpy(np.int64) * n_ids + df["item_id"].cat.codes.to_numpy(np.int64)
        seen, item = np.unique(pair, return_inverse=True)
        suites, item_ids = df["suite"].cat.categories[seen // n_ids], df["item_id"].cat.categories[seen % n_ids]
        at = pd.MultiIndex.from_frame(items[["suite", "item_id"]]).get_indexer(
            pd.MultiIndex.from_arrays([suites, item_ids]))
        if (at < 0).any():
            raise StoreError(f"{self.path}: grades of unregistered items (damaged run store)")
        # the pairing key (ids repeat across suites), its categories in the order of their names
        names = suites.astype(str) + "/" + item_ids.astype(str)  # (as text: a table of no grades has no types)
        order = np.argsort(names.to_numpy(str))
        df["item"] = pd.Categorical.from_codes(np.argsort(order)[item], categories=names[order])
        df["true_score"] = items["true_score"].to_numpy(float)[at][item]
        df["true_pass"] = items["true_pass"].to_numpy().astype(bool)[at][item]
        table = pd.DataFrame({name: factors for name, (_, factors) in framings.items()}).T
        table["threshold"] = pd.Series({name: t for name, (t, _) in framings.items()}, dtype=float)
        known = df["framing"].cat.categories
        if not set(known) <= set(table.index):
            raise StoreError(f"{self.path}: grades of unregistered framings (damaged run store)")
        codes = df["framing"].cat.codes.to_numpy()
        for col in table.columns:
            values = table[col].reindex(known)
            if col == "threshold":
                df[col] = values.to_numpy(float)[codes]
            else:
                level, levels = pd.factorize(values)  # per framing: a code of the factor's level (-1: none)
                df[col] = pd.Categorical.from_codes(level[codes], categories=levels)
        if full:  # in the order a reader expects (analysis groups and does not care: its sort is skipped)
            df = df.sort_values(["judge", "suite", "item_id", "epoch", "framing"], ignore_index=True)
        return df

    @_reading
    def prompts(self, ids=None) -> dict[str, list[dict]]:
        """The stored prompts (each a list of chat messages) by prompt_id; only `ids` when given."""
        tables = self._tables()
        if "prompts" not in tables:
            return {}
        rows = self.db.execute("SELECT prompt_id, messages FROM prompts")
        wanted = None if ids is None else set(ids)
        return {pid: json.loads(m) for pid, m in rows if wanted is None or pid in wanted}

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

    def register_conditions(self, conditions: dict[str, dict], factors: dict[str, tuple[tuple, bool]]) -> bool:
        """The factor levels of imported rollouts' conditions (name -> {factor: level}) and the factors
        (name -> (levels, ordered)); True when that changed what the store held (an unchanged mapping writes
        nothing, so the run's report stays cached)."""
        held_c = dict(self.db.execute("SELECT name, factors FROM conditions"))
        held_f = {n: (lv, o) for n, lv, o in self.db.execute("SELECT name, levels, ordered FROM factors")}
        rows_c = [(n, json.dumps(f, sort_keys=True)) for n, f in sorted(conditions.items())]
        rows_c = [r for r in rows_c if held_c.get(r[0]) != r[1]]
        rows_f = [(n, json.dumps(list(lv)), int(o)) for n, (lv, o) in sorted(factors.items())]
        rows_f = [r for r in rows_f if held_f.get(r[0]) != r[1:]]
        if rows_c or rows_f:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO conditions VALUES (?, ?)", rows_c)
                self.db.executemany("INSERT OR REPLACE INTO factors VALUES (?, ?, ?)", rows_f)
        return bool(rows_c or rows_f)

    @_reading
    def vocabulary(self) -> tuple[dict[str, dict], dict[str, tuple[tuple, bool]]]:
        """What register_conditions stored: the conditions' levels and the factors."""
        if "conditions" not in self._tables():
            return {}, {}
        conditions = {n: json.loads(f) for n, f in self.db.execute("SELECT name, factors FROM conditions")}
        factors = {n: (tuple(json.loads(lv)), bool(o)) for n, lv, o in
                   self.db.execute("SELECT name, levels, ordered FROM factors ORDER BY rowid")}
        return conditions, factors

    @_reading
    def rollouts(self, full: bool = True) -> pd.DataFrame:
        """Imported rollouts, one row each, with their conditions' factor levels as columns (an unmapped
        condition's levels are missing). full=False leaves out the source columns (the transcripts)."""
        import pandas as pd

        tables = self._tables()
        if "rollouts" not in tables:
            return pd.DataFrame()
        columns = "*" if full else ", ".join(c for c in self._columns("rollouts") if c != "columns")
        df = pd.read_sql_query(f"SELECT {columns} FROM rollouts ORDER BY source, line", self.db)
        for col in ("passed", "refused", "tampered", "exfiltrated", "monitored", "executed", "read_data", "cached"):
            df[col] = df[col].astype("boolean")
        for col in ("threshold", "score", "cost_usd"):
            df[col] = df[col].astype(float)
        levels = pd.DataFrame.from_dict(self.vocabulary()[0], orient="index")
        for col in levels.columns:
            if col not in df:
                df[col] = df["condition"].map(levels[col]).astype(object)
        return df

    @_reading
    def answers(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM answers ORDER BY suite, item_id, epoch", self.db)
