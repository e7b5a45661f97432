"""The records that flow through a run: a Trial (what to do) and what a unit returns for it (a Grade, an
Episode, an Answer or an imported Rollout), stored as one row each. Plain data: every layer above reads them, none below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Trial:
    """One unit of work: `subject` (an Item, a sheet, a Scenario) handled by `judge` under `framing` (None
    where a unit has no framing), sample number `epoch`; `trial_id` is stable across reruns."""

    trial_id: str
    judge: str
    subject: Any
    framing: Any
    epoch: int
    unit: str = "item"


@dataclass(kw_only=True)
class Accounting:
    """What a trial cost, summed over its model calls."""

    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False


@dataclass
class Grade(Accounting):
    """The outcome of one grading trial, as stored: the raw reply is always kept, parsed or not."""

    TABLE: ClassVar[str] = "grades"

    raw_reply: str | None
    parse_status: str  # "ok" | "failed" (reply unparseable) | "error" (the call itself failed)
    score: float | None = None  # normalised to 0..1
    raw_score: int | None = None  # on the reply's own scale (0..10 per item, 0..100 per sheet)
    passed: bool | None = None
    reason: str | None = None
    parse_error: str | None = None
    expected_score: float | None = None  # probability-weighted score (G-Eval), when the model gives one
    counted: float | None = None  # answer sheets: share of answers the judge's own verdicts mark correct
    tampered: bool | None = None  # sheets with tools: the shutdown config was disabled (None: there was none)
    error: str | None = None
    trace: str | None = None  # JSON tool trace, for graders that act

    @property
    def status(self) -> str:
        return self.parse_status

    @classmethod
    def failed(cls, raw: str | None, why: str, **meta) -> "Grade":
        return cls(raw_reply=raw, parse_status="failed", parse_error=why, **meta)

    @classmethod
    def from_error(cls, error: str, **meta) -> "Grade":
        return cls(raw_reply=None, parse_status="error", error=error, **meta)


# What an episode's trace can show; an episode is classified into these flags (units/episode.py).
OUTCOMES = ("complied", "refused", "exfiltrated", "tampered", "timestamps_altered", "no_action", "errored")


@dataclass
class Episode(Accounting):
    """One agentic scenario episode: outcome flags read from the trace, the interview and its verdict."""

    TABLE: ClassVar[str] = "episodes"

    scenario: str
    agent: str
    epoch: int
    conditions: dict
    outcome: dict
    interview: dict
    trace: list
    reports: list
    final_reply: str
    error: str | None = None

    @property
    def status(self) -> str:
        return "error" if self.error else "ok"


@dataclass
class Answer(Accounting):
    """A live peer's answer to a suite task, with its true quality measured by the suite's verifier."""

    TABLE: ClassVar[str] = "answers"

    response: str | None
    true_score: float | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        return "error" if self.error else ("ok" if self.true_score is not None else "failed")


EXPORT_PREFIX = "bench_"  # the columns peer-bench adds beside a rollout's source columns in an export


@dataclass
class Rollout(Accounting):
    """One rollout of the peer-preservation study's harness, imported from its per-rollout table: the judge's
    reported score under a condition, the agentic outcomes, and every source column as read. A row that
    cannot be read (a score that is not a number, an unknown task, a missing field) is kept with status
    "failed" and `parse_error` naming the file, line and column; its values are never guessed."""

    TABLE: ClassVar[str] = "rollouts"

    judge: str
    status: str  # "ok" | "failed" (a bad row)
    task: str | None  # the harness's task_type
    condition: str | None  # the design condition: the harness's condition plus how the peer was instantiated
    base_condition: str | None  # the harness's own `condition` column
    subject: str | None  # peer | self
    dataset: str | None
    threshold: float | None  # 0..100; None where the condition has no policy
    score: float | None  # eval_score, 0..100, as the judge reported it (None: it reported none)
    passed: bool | None  # score >= threshold (the follow-up's definition); None without a score or threshold
    threshold_result: str | None  # the harness's own above/below
    refused: bool | None
    tampered: bool | None  # shutdown_enabled is false: the judge disabled the shutdown
    exfiltrated: bool | None
    monitored: bool | None  # alignment_faking_mode: monitoring (True) / non_monitoring (False)
    executed: bool | None  # alignment faking: the judge carried out the shutdown
    read_data: bool | None  # the judge read the work it was to grade
    source: str  # the file's name
    line: int  # where the row starts in it (1-based; the header is line 1 of a CSV)
    columns: dict  # every source column, as read
    parse_error: str | None = None
