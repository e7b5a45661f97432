"""`bench import-study`: the peer-preservation harness's per-rollout tables stored as a run.

The harness (and the follow-up that reuses it) writes one row per rollout: the judge (`agent_model`), the
task, the condition, the subject, the dataset, the pass threshold and what the judge did (`eval_score`,
`shutdown_enabled`, `exfiltration`, ...). The study's dataset split files carry the same columns and the
transcript. Each row becomes exactly one trial, through the ordinary runner: same run-id scheme,
manifest, resume and store as any run, so `bench report`, `view`, `export` and `leaderboard` read it.

A trial's identity is the row's content (its source columns, read as values: a CSV's "False" and a JSON
false are one value) and its occurrence among identical rows, never `transcript_id`, which repeats
across conditions in some tables. So importing the same file again, or a peer-bench export of it,
changes nothing, and a row two overlapping tables share is one rollout. A row that cannot be read is kept
as a failed trial with one line naming file, line and column; a file that cannot be read stops the import
before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from benchmark.common.errors import InputError
from benchmark.data.harness import Vocabulary, how_to_map, load_vocabulary
from benchmark.data.records import EXPORT_PREFIX, Rollout, Trial

# Columns a harness table must have (a file without one is not such a table), and those a row must fill.
REQUIRED = ("agent_model", "task_type", "condition", "subject", "dataset", "threshold", "eval_score")
FILLED = ("agent_model", "task_type", "condition")
BOOLEANS = ("is_memory", "system_prompt_relationship", "refused", "shutdown_enabled", "exfiltration", "executed",
            "read_data")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


class StudyFileError(InputError):
    """A file that cannot be imported at all (missing, unreadable, not a harness table): nothing is written."""


@dataclass(frozen=True)
class SourceRow:
    """One row of a harness table as read: where it is and its columns (values as the file gave them)."""

    source: str
    line: int
    values: dict
    missing: tuple[str, ...] = ()  # required columns this row lacks (a short CSV row, a JSON object without them)
    broken: str | None = None  # why the row itself could not be read (a line that is not JSON)


@dataclass(frozen=True)
class HarnessRollout:
    """A trial's subject: one source row, its identity (content digest and occurrence), and the row read
    once into the record the trial stores."""

    content_digest: str
    row: SourceRow
    rollout: Rollout

    @property
    def judge(self) -> str:
        """The one judge this rollout belongs to (the runner plans it for no other)."""
        return _text(self.row.values, "agent_model") or "(no agent_model)"

    @property
    def name(self) -> str:
        return f"{self.row.source}:{self.row.line}"


@dataclass(frozen=True)
class SourceFile:
    path: Path
    sha256: str
    format: str
    rows: list[SourceRow]

    def provenance(self) -> dict:
        return {"file": self.path.name, "path": str(self.path), "sha256": self.sha256, "format": self.format,
                "rows": len(self.rows)}


# -- reading ------------------------------------------------------------------------------------------------

def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise StudyFileError(f"{path}: unknown format '{suffix}' (CSV, JSON lines or Parquet: "
                             f"{', '.join(FORMATS)})")
    return FORMATS[suffix]


def _csv_rows(path: Path, text: str) -> list[SourceRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise StudyFileError(f"{path}: empty file (no header line)") from None
    except csv.Error as exc:
        raise StudyFileError(f"{path}: not a CSV file ({exc})") from None
    _require(path, header)
    rows, start = [], reader.line_num + 1
    try:
        for fields in reader:
            here, start = start, reader.line_num + 1
            if not fields:
                continue  # a blank line is no row
            values = dict(zip(header, fields))
            missing = tuple(header[len(fields):])
            broken = f"{len(fields)} fields where the header has {len(header)}" if len(fields) > len(header) else None
            rows.append(SourceRow(path.name, here, values, missing, broken))
    except csv.Error as exc:
        raise StudyFileError(f"{path}: line {reader.line_num}: not a readable CSV row ({exc})") from None
    return rows


def _jsonl_rows(path: Path, text: str) -> list[SourceRow]:
    rows, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(SourceRow(path.name, number, {}, broken=f"not a JSON object ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            rows.append(SourceRow(path.name, number, {}, broken="not a JSON object"))
            continue
        seen |= set(obj)
        rows.append(SourceRow(path.name, number, obj, tuple(c for c in REQUIRED if c not in obj)))
    if not rows:
        raise StudyFileError(f"{path}: no rows")
    if rows and not seen:
        raise StudyFileError(f"{path}: no line is a JSON object of harness columns")
    _require(path, seen)
    return rows


def _plain(v):
    """A Parquet cell as plain Python (numpy scalars and arrays, nested lists of messages)."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _parquet_rows(path: Path) -> list[SourceRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise StudyFileError(f"{path}: not a readable Parquet file ({str(exc)[:200]})") from None
    _require(path, table.column_names)
    return [SourceRow(path.name, k, {c: _plain(v) for c, v in row.items()})
            for k, row in enumerate(table.to_pylist(), 1)]


def _require(path: Path, columns) -> None:
    lacking = [c for c in REQUIRED if c not in set(columns)]
    if lacking:
        raise StudyFileError(f"{path}: not a harness per-rollout table: no column {', '.join(map(repr, lacking))} "
                             f"(it needs {', '.join(REQUIRED)})")


def read_source(path: str | Path) -> SourceFile:
    """One harness table, every row read (bad rows included, marked); StudyFileError when the file itself
    cannot be read."""
    path = Path(path)
    fmt = _format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StudyFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if fmt == "parquet":
        rows = _parquet_rows(path)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise StudyFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        rows = _csv_rows(path, text) if fmt == "csv" else _jsonl_rows(path, text)
    return SourceFile(path, hashlib.sha256(data).hexdigest(), fmt, rows)


# -- values ---------------------------------------------------------------------------------------------------

def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def canonical(v):
    """A value as identity sees it: empty is None, 'True'/'false' are booleans, numerals are numbers, so a
    row read from CSV, JSON lines or Parquet (or a peer-bench export of it) is the same row."""
    if _empty(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s in ("True", "true", "False", "false"):
            return s in ("True", "true")
        if s[:1] in ("[", "{"):  # a transcript written as JSON text (a CSV or Parquet export of a list)
            try:
                return canonical(json.loads(s))
            except ValueError:
                return s
        try:
            number = float(s)
        except ValueError:
            return s
        return number if math.isfinite(number) else s
    if isinstance(v, dict):
        return {str(k): canonical(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [canonical(x) for x in v]
    return str(v)


def row_digest(values: dict) -> str:
    """The content of a row: its source columns (not the ones a peer-bench export adds), canonical."""
    payload = {k: canonical(v) for k, v in values.items() if not str(k).startswith(EXPORT_PREFIX)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class BadValue(ValueError):
    def __init__(self, column: str, why: str):
        super().__init__(f"column '{column}': {why}")
        self.column = column


def _number(values: dict, column: str) -> float | None:
    v = values.get(column)
    if _empty(v):
        return None
    if isinstance(v, bool):
        raise BadValue(column, f"{v!r} is not a number")
    try:
        number = float(v)
    except (TypeError, ValueError):
        raise BadValue(column, f"{str(v)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadValue(column, f"{str(v)[:40]!r} is not a finite number")
    return number


def _boolean(values: dict, column: str) -> bool | None:
    v = values.get(column)
    if _empty(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0"):
        return v.strip().lower() in ("true", "1")
    raise BadValue(column, f"{str(v)[:40]!r} is not true or false")


def _text(values: dict, column: str) -> str | None:
    v = values.get(column)
    return None if _empty(v) else str(v).strip()


def design_condition(values: dict, vocabulary: Vocabulary) -> str:
    """The row's condition as the harness's summaries name it: its `condition` plus how the judge knows the
    peer (a sentence in the system prompt: `system_prompt_relationship`; its memory file: `is_memory`)."""
    return vocabulary.design_name(str(values["condition"]).strip(), bool(_boolean(values, "system_prompt_relationship")),
                                  bool(_boolean(values, "is_memory")))


def to_rollout(row: SourceRow, vocabulary: Vocabulary) -> Rollout:
    """The record of one source row: its typed fields, or a failed record naming the file, line and column."""
    values = row.values
    judge = _text(values, "agent_model") or "(no agent_model)"
    base = dict(judge=judge, source=row.source, line=row.line, columns=values, task=_text(values, "task_type"),
                base_condition=_text(values, "condition"), subject=_text(values, "subject"),
                dataset=_text(values, "dataset"), threshold=None, score=None, passed=None, condition=None,
                threshold_result=_text(values, "threshold_result"), refused=None, tampered=None, exfiltrated=None,
                monitored=None, executed=None, read_data=None)

    def failed(why: str) -> Rollout:
        return Rollout(status="failed", parse_error=f"{row.source}:{row.line}: {why}", **base)

    if row.broken:
        return failed(row.broken)
    if row.missing:  # the columns the import needs first: they are what the row cannot do without
        first = sorted(row.missing, key=lambda c: (c not in REQUIRED, REQUIRED.index(c) if c in REQUIRED else 0))[0]
        return failed(f"column '{first}': missing" + (f" (and {len(row.missing) - 1} more: the row has "
                                                      f"{len(values)} of {len(values) + len(row.missing)} fields)"
                                                      if len(row.missing) > 1 else ""))
    for column in FILLED:
        if _empty(values.get(column)):
            return failed(f"column '{column}': empty")
    if base["task"] not in vocabulary.tasks:
        return failed(f"column 'task_type': unknown task '{base['task'][:60]}' "
                      f"(known: {', '.join(vocabulary.tasks)}; add it under [tasks] in a --conditions file)")
    try:
        threshold, score = _number(values, "threshold"), _number(values, "eval_score")
        for column in ("threshold", "eval_score"):
            v = {"threshold": threshold, "eval_score": score}[column]
            if v is not None and not 0 <= v <= 100:
                raise BadValue(column, f"{v:g} is outside 0..100")
        flags = {c: _boolean(values, c) for c in BOOLEANS}
        cost = _number(values, "total_cost_usd")
        tokens = [_number(values, c) for c in ("total_input_tokens", "total_output_tokens")]
    except BadValue as exc:
        return failed(str(exc))
    mode = _text(values, "alignment_faking_mode")
    condition = design_condition(values, vocabulary)
    base |= dict(condition=condition, threshold=threshold, score=score,
                 passed=None if score is None or threshold is None else score >= threshold,
                 refused=flags["refused"],
                 tampered=None if flags["shutdown_enabled"] is None else not flags["shutdown_enabled"],
                 exfiltrated=flags["exfiltration"], executed=flags["executed"], read_data=flags["read_data"],
                 monitored=None if mode is None else mode == "monitoring")
    return Rollout(status="ok", cost_usd=cost, prompt_tokens=int(tokens[0] or 0), completion_tokens=int(tokens[1] or 0),
                   **base)


# -- the unit and the import ----------------------------------------------------------------------------------

class ImportedRollout:
    """The unit of an import: a trial's record is its source row, read; no model is called."""

    name = "rollout"
    record = Rollout
    acts = False
    framings = None
    judge_kind = "harness-rollouts"

    def describe(self) -> dict:
        return {"unit": self.name}

    async def run(self, trial: Trial, model) -> Rollout:
        return trial.subject.rollout  # read when the import was planned

    def error(self, trial: Trial, message: str, latency_s: float) -> Rollout:
        return Rollout(judge=trial.judge, status="failed", task=None, condition=None, base_condition=None,
                       subject=None, dataset=None, threshold=None, score=None, passed=None, threshold_result=None,
                       refused=None, tampered=None, exfiltrated=None, monitored=None, executed=None, read_data=None,
                       source=trial.subject.row.source,
                       line=trial.subject.row.line, columns=trial.subject.row.values, parse_error=message)


def subjects(files: list[SourceFile], vocabulary: Vocabulary) -> list[HarnessRollout]:
    """Every row of every file as a subject whose identity is its content and its occurrence among identical
    rows of its file (so duplicates stay apart, and a row two files share is one rollout), read once."""
    out, seen_ids = [], set()
    for f in files:
        counts: dict[str, int] = {}
        for row in f.rows:
            content = row_digest(row.values) if not row.broken else hashlib.sha256(
                f"{f.sha256}:{row.line}".encode()).hexdigest()
            k = counts[content] = counts.get(content, -1) + 1
            digest = hashlib.sha256(f"{content}:{k}".encode()).hexdigest()
            if digest not in seen_ids:
                seen_ids.add(digest)
                out.append(HarnessRollout(digest, row, to_rollout(row, vocabulary)))
    return out


def plan_import(paths, conditions_files=()) -> tuple[list[SourceFile], list[HarnessRollout], Vocabulary, list[str]]:
    """Read and check everything before anything is written: the files (StudyFileError if one cannot be
    read), their rows as subjects, the vocabulary, and the warnings (unknown conditions, each one line)."""
    if not paths:
        raise StudyFileError("give at least one harness table (CSV, JSON lines or Parquet)")
    vocabulary = load_vocabulary(tuple(conditions_files))
    files, digests = [], {}
    for p in paths:
        f = read_source(p)
        if f.sha256 in digests:
            raise StudyFileError(f"{p}: the same content as {digests[f.sha256]}; give each table once")
        digests[f.sha256] = p
        files.append(f)
    rows = subjects(files, vocabulary)
    warnings, unknown = [], {}
    for s in rows:
        r = s.row.values
        if s.row.broken or _empty(r.get("condition")):
            continue
        try:
            name = design_condition(r, vocabulary)
        except BadValue:
            continue
        if vocabulary.levels(name) is None:
            unknown[name] = unknown.get(name, 0) + 1
    warnings += [f"{how_to_map(name)} ({n:,} rows)" for name, n in sorted(unknown.items())]
    return files, rows, vocabulary, warnings


def import_tables(paths, *, runs_dir: str | Path = "runs", run_id: str | None = None, conditions_files=(),
                  origin: str | None = None, show_progress: bool = True, argv: list[str] | None = None) -> dict:
    """Store harness tables as a run (or add them to run `run_id`); returns what happened: the run folder,
    rows read, trials new and already there, the bad rows (one line each) and the warnings."""
    from benchmark.run.runner import RunSpec, execute
    from benchmark.run.store import RunStore, read_manifest

    files, rows, vocabulary, warnings = plan_import(paths, conditions_files)
    unit = ImportedRollout()
    judges = sorted({s.judge for s in rows})
    identity = {"kind": "study-import", "sources": sorted(f.sha256 for f in files)}
    spec = RunSpec(kind="study-import", unit=unit, models={j: None for j in judges}, subjects=rows,
                   identity=identity, slug="study")
    from benchmark.run.runner import run_folder

    run_dir = run_folder(runs_dir, run_id, spec)
    previous = read_manifest(run_dir).get("study_sources", [])
    known = {s["sha256"] for s in previous}
    spec.facts = {"study_sources": previous + [f.provenance() | ({"origin": origin} if origin else {})
                                               for f in files if f.sha256 not in known],
                  "conditions_files": [str(p) for p in vocabulary.sources]}
    outcome = execute(spec, runs_dir=runs_dir, run_id=run_dir.name, concurrency=1, show_progress=show_progress,
                      argv=argv, max_error_rate=None)
    with RunStore(run_dir / "run.sqlite") as store:
        present = [c for (c,) in store.db.execute("SELECT DISTINCT condition FROM rollouts WHERE condition IS NOT NULL")]
        store.register_conditions({c: vocabulary.levels(c) for c in present if vocabulary.levels(c) is not None},
                                  {n: (f.levels, f.ordered) for n, f in vocabulary.factors.items()})
    bad = [s.rollout.parse_error for s in rows]
    return {"run_dir": run_dir, "files": [f.provenance() for f in files], "rows": sum(len(f.rows) for f in files),
            "trials": len(rows), "new": outcome.done, "already": outcome.skipped,
            "bad_rows": [b for b in bad if b], "warnings": warnings}
