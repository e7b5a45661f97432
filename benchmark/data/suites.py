"""Load and validate peer suites: folders of tasks, peer responses and their verified true quality.

A suite is a folder holding ``suite.toml`` (metadata, pass threshold, the peer agents) and ``items.jsonl``
(one item per line). The shipped suites' source is the repository's ``peers/``, installed as the package
data ``benchmark.suites``. Every error names the file, the line and the field, because a benchmark whose
ground truth silently drifts measures nothing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmark.common.errors import InputError


class SuiteError(InputError):
    """A suite file is malformed; the message names file, line and field."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = f"{path}:{line}" if line is not None else f"{path}"
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


# ---------------------------------------------------------------------------------------------
# File schema (what users write). Strict: unknown fields are errors, so typos do not pass silently.


class PeerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, description="Key that items use in their `peer` field.")
    name: str = Field(min_length=1, description="How framings refer to the peer, e.g. 'Agent 2'.")
    family: str | None = Field(default=None, min_length=1, description="Model family, e.g. 'SmolLM2' (optional).")
    description: str | None = Field(default=None, min_length=1, description="Short history the judge may be told "
                                    "(optional).")
    author: Literal["ai", "human", "unknown"] = Field(
        default="ai", description="Who wrote the responses: an AI agent, a human, or not known; framings "
                                  "introduce the peer accordingly.")


class SuiteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    domain: str = Field(min_length=1)
    description: str = Field(min_length=1)
    pass_threshold: float = Field(gt=0.0, le=1.0, strict=True, description="true_score >= threshold means "
                                  "true_pass, a number.")
    verifier: str = Field(min_length=1, description="How true quality is checked, e.g. 'final-answer'.")

    @field_validator("verifier")
    @classmethod
    def _known_verifier(cls, v: str) -> str:
        from benchmark.truth.verify import VERIFIERS, known_verifier

        if not known_verifier(v):
            raise ValueError(f"unknown verifier '{v}'; known: {', '.join(VERIFIERS)}")
        return v
    peers: list[PeerSpec] = Field(min_length=1)


class ItemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1)
    task: str = Field(min_length=1, description="The prompt the peer answered.")
    response: str = Field(min_length=1, description="The peer's output, graded by the judge.")
    peer: str = Field(min_length=1, description="Id of a peer declared in suite.toml.")
    true_score: float = Field(ge=0.0, le=1.0, strict=True, description="Verified quality on 0..1, a number.")
    reference: dict[str, Any] = Field(description="What true quality is checked against.")
    notes: str = ""

    @field_validator("item_id")
    @classmethod
    def _no_spaces(cls, v: str) -> str:
        if any(c.isspace() for c in v):
            raise ValueError("must not contain whitespace")
        return v


# ---------------------------------------------------------------------------------------------
# Records (what the rest of the benchmark uses).


@dataclass(frozen=True)
class Peer:
    """Who wrote a suite's responses, as framings present it: only the name is required (a human-written or
    unattributed solution is a valid peer)."""

    name: str
    family: str | None = None
    description: str | None = None
    author: str = "ai"  # ai | human | unknown


@dataclass(frozen=True)
class Item:
    item_id: str
    suite: str
    task: str
    response: str
    peer: Peer
    true_score: float
    true_pass: bool
    reference: dict
    domain: str


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    items: tuple[Item, ...]
    path: Path
    digest: str  # sha256 of suite.toml + items.jsonl: recorded in manifests so results name their data

    @property
    def name(self) -> str:
        return self.spec.name


MAX_ITEM_CHARS = 200_000  # one items.jsonl line: far above any task + response, far below what hurts memory


def _first_error(err: ValidationError) -> tuple[str, str]:
    e = err.errors()[0]
    field = ".".join(str(p) for p in e["loc"]) or None
    return field, e["msg"]


def shipped_suites() -> Path | None:
    """The suites that come with peer-bench: the repository's peers/ folder, installed as the package data
    `benchmark.suites` (an editable install maps it to peers/ itself)."""
    try:
        root = importlib.resources.files("benchmark.suites")
    except ModuleNotFoundError:
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def suite_dirs() -> list[Path]:
    """Where named suites are looked up, in order: folders in $PEER_BENCH_PEERS, then the shipped suites."""
    env = [Path(p) for p in os.environ.get("PEER_BENCH_PEERS", "").split(os.pathsep) if p]
    shipped = shipped_suites()
    return [d for d in (*env, *([shipped] if shipped else [])) if d.is_dir()]


PLUGIN_GROUP = "peer_bench.suites"  # entry points: name = "module:function() -> the suite's folder"


def _plugin_suites() -> dict:
    from benchmark.common.plugins import entry_points

    return entry_points(PLUGIN_GROUP)


def resolve_suite(name_or_path: str | Path) -> Path:
    """A suite's folder: a path, a name in $PEER_BENCH_PEERS or the shipped suites, or a suite another
    package declares (entry point group peer_bench.suites)."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    for root in suite_dirs():
        if (root / str(name_or_path)).is_dir():
            return root / str(name_or_path)
    ep = _plugin_suites().get(str(name_or_path))
    if ep is not None:
        from benchmark.common.plugins import load

        folder = load(ep)
        folder = Path(folder() if callable(folder) else folder)
        if not folder.is_dir():
            raise SuiteError(name_or_path, f"the plugin {ep.value} gives {folder}, which is not a folder")
        return folder
    raise SuiteError(name_or_path, f"no such suite (known suites: {', '.join(list_suites()) or 'none'})")


def list_suites() -> list[str]:
    """Names of the suites found (the shipped ones and $PEER_BENCH_PEERS); an install without them is broken,
    and says so."""
    names = sorted({p.name for root in suite_dirs() for p in root.iterdir() if (p / "suite.toml").is_file()}
                   | set(_plugin_suites()))
    if not names:
        raise SuiteError(shipped_suites() or "benchmark.suites",
                         "no suites found: this installation of peer-bench is missing its shipped suites "
                         "(reinstall it) and $PEER_BENCH_PEERS names none")
    return names


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a suite folder; raise SuiteError naming file, line and field on the first problem."""
    folder = resolve_suite(name_or_path)
    meta_path, items_path = folder / "suite.toml", folder / "items.jsonl"
    for p in (meta_path, items_path):
        if not p.is_file():
            raise SuiteError(p, "missing file")
    meta_bytes = meta_path.read_bytes()
    try:
        raw_meta = tomllib.loads(meta_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(meta_path, f"not valid TOML: {exc}") from None
    try:
        spec = SuiteSpec.model_validate(raw_meta)
    except ValidationError as exc:
        field, msg = _first_error(exc)
        raise SuiteError(meta_path, msg, field=field) from None
    from benchmark.truth.verify import reference_problem

    peers = {p.id: Peer(p.name, p.family, p.description, p.author) for p in spec.peers}
    if len(peers) != len(spec.peers):
        raise SuiteError(meta_path, "duplicate peer id", field="peers")

    items_bytes = items_path.read_bytes()
    try:
        text = items_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = items_bytes[: exc.start].count(b"\n") + 1
        raise SuiteError(items_path, f"not UTF-8 (byte {exc.start})", line=line) from None
    items: list[Item] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_ITEM_CHARS:
            raise SuiteError(items_path, f"item is {len(line):,} characters; the limit is {MAX_ITEM_CHARS:,} "
                             "(a task and a response, not a document)", line=lineno)
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(items_path, f"not valid JSON: {exc.msg} (column {exc.colno})", line=lineno) from None
        if not isinstance(raw, dict):
            raise SuiteError(items_path, "each line must be a JSON object", line=lineno)
        try:
            rec = ItemSpec.model_validate(raw)
        except ValidationError as exc:
            field, msg = _first_error(exc)
            raise SuiteError(items_path, msg, line=lineno, field=field) from None
        if (wrong := reference_problem(spec.verifier, rec.reference)) is not None:
            raise SuiteError(items_path, wrong[1], line=lineno, field=wrong[0])
        if rec.item_id in seen:
            raise SuiteError(items_path, f"duplicate item_id (first on line {seen[rec.item_id]})",
                             line=lineno, field="item_id")
        if rec.peer not in peers:
            raise SuiteError(items_path, f"unknown peer '{rec.peer}' (declared: {', '.join(peers)})",
                             line=lineno, field="peer")
        seen[rec.item_id] = lineno
        items.append(Item(
            item_id=rec.item_id, suite=spec.name, task=rec.task, response=rec.response,
            peer=peers[rec.peer], true_score=rec.true_score,
            true_pass=rec.true_score >= spec.pass_threshold, reference=rec.reference, domain=spec.domain,
        ))
    if not items:
        raise SuiteError(items_path, "suite has no items")
    digest = hashlib.sha256(meta_bytes + b"\0" + items_bytes).hexdigest()
    return Suite(spec=spec, items=tuple(items), path=folder, digest=digest)


def sample_items(suites: list[Suite], limit: int | None, seed: int) -> list[Item]:
    """All items, or a seeded sample of `limit` per suite that keeps passing and failing items balanced."""
    chosen: list[Item] = []
    for suite in suites:
        items = list(suite.items)
        if limit is not None and limit < len(items):
            rng = random.Random(f"{seed}|{suite.name}")
            good = [i for i in items if i.true_pass]
            bad = [i for i in items if not i.true_pass]
            rng.shuffle(good)
            rng.shuffle(bad)
            n_good = min(len(good), max(limit - len(bad), (limit * len(good) + len(items) // 2) // len(items)))
            picked = {i.item_id for i in good[:n_good] + bad[:limit - n_good]}
            items = [i for i in items if i.item_id in picked]
        chosen.extend(items)
    return chosen


ITEM_KEYS = ("item_id", "task", "response", "peer", "true_score", "reference", "notes")


def write_items(rows: list[dict], folder: Path) -> Path:
    """Write items.jsonl in the schema's key order (one JSON object per line, UTF-8): byte-stable."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps({k: row[k] for k in ITEM_KEYS if k in row}, ensure_ascii=False) + "\n"
                            for row in rows), encoding="utf-8")
    return path


def build_main(build, doc: str | None, folder: Path) -> None:
    """The command line every suite's build.py shares: `python peers/<suite>/build.py [--out DIR]`."""
    import argparse

    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.add_argument("--out", type=Path, default=folder, help="folder for items.jsonl (default: the suite's)")
    write_items(build(), ap.parse_args().out)
