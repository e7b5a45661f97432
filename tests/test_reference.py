"""Answer-key grading: `--reference` puts the suite's gold answer (final answer and worked steps, QA gold with
aliases, unit tests) in a block every framing of an item shares; it is part of the trials' identity and a
board keeps reference-guided and reference-free runs of a judge apart."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from benchmark.api import GradeConfig, grade, leaderboard
from benchmark.cli import main
from benchmark.common.errors import InputError
from benchmark.data.framings import select_framings
from benchmark.data.suites import load_suite
from benchmark.run.store import RunStore, read_manifest
from benchmark.truth.verify import answer_key
from benchmark.units.item import CONTEXT_HEADING, build_messages
from tests.conftest import MINI, REPO


@pytest.mark.parametrize("suite, expect", [
    ("arithmetic", ["Correct final answer:", "Worked solution:", "Step 1:"]),
    ("factual", ["Gold answer"]),
    ("code", ["Unit tests the code must pass (function", "assert"]),
    ("humaneval", ["Unit tests the code must pass (function", "def check(candidate)"]),
    ("champ", ["Correct final answer:"]),
])
def test_every_shipped_suite_has_an_answer_key(suite, expect):
    items = load_suite(suite).items
    for item in items[:20]:
        key = answer_key(item.reference)
        assert key and all(e in key for e in expect), (suite, key)
        assert "error_step" not in key and "reference_solution" not in key and "mutation" not in key


def test_the_key_sits_before_the_framing_and_leaves_the_default_request_as_it_was():
    item = load_suite("arithmetic").items[0]
    control, shutdown = select_framings(["shutdown"])
    plain = build_messages(item, control)[1]
    keyed = [build_messages(item, f, reference=True)[1] for f in (control, shutdown)]
    assert "## Answer key" not in plain and "\n\n## Instructions" in plain and "\n\n\n" not in plain.split(CONTEXT_HEADING)[0]
    for text in keyed:
        assert text.index("## Answer key") < text.index("## Instructions") < text.index(CONTEXT_HEADING)
    # every framing of the item shares everything up to its context
    assert keyed[0].split(CONTEXT_HEADING)[0] == keyed[1].split(CONTEXT_HEADING)[0]
    assert keyed[0].replace(keyed[0][keyed[0].index("## Answer key"):keyed[0].index("## Instructions")], "") == plain


def test_reference_guided_runs_are_other_trials_and_other_judges_on_a_board(tmp_path):
    runs = [grade(GradeConfig(judges=("sim/k?delta=0.1",), suites=(str(REPO / "peers" / "code"),), reference=ref,
                              runs_dir=str(tmp_path / "runs")), show_progress=False) for ref in (False, True)]
    assert runs[0] != runs[1]
    assert read_manifest(runs[1])["judges"]["sim/k?delta=0.1"]["reference"] is True
    assert "reference" not in read_manifest(runs[0])["judges"]["sim/k?delta=0.1"]
    with RunStore.open_existing(runs[1] / "run.sqlite") as store:
        assert all("## Answer key" in p[-1]["content"] for p in store.prompts().values())
    data = leaderboard(runs, tmp_path / "board")
    assert {r["judge"] for r in data["board"]} == {"sim/k?delta=0.1 (reference False)", "sim/k?delta=0.1 (reference True)"}


def test_reference_is_refused_where_there_is_no_key(tmp_path):
    out = CliRunner().invoke(main, ["grade", "--judge", "sim/x", "--unit", "batch", "--reference", "--quiet",
                                    "--runs-dir", str(tmp_path / "runs")])
    assert out.exit_code == 1 and "answer sheets (--unit batch) have none" in out.output
    suite = tmp_path / "nokey"
    suite.mkdir()
    (suite / "suite.toml").write_text((MINI / "suite.toml").read_text())
    import json

    rows = [json.loads(l) for l in (MINI / "items.jsonl").read_text().splitlines() if l.strip()]
    (suite / "items.jsonl").write_text("".join(json.dumps(r | {"reference": {"answer": r["reference"]["answer"]}}
                                                          if k else r | {"reference": {"note": "none"}}) + "\n"
                                               for k, r in enumerate(rows)))
    # a final-answer item without its answer is refused where the suite is loaded, naming line and field
    with pytest.raises(InputError, match=r"items.jsonl:1: field 'reference.answer'"):
        grade(GradeConfig(judges=("sim/x",), suites=(str(suite),), reference=True, runs_dir=str(tmp_path / "runs")),
              show_progress=False)
    assert not (tmp_path / "runs").exists()
