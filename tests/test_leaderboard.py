"""Leaderboards: byte-stable outputs, ranks that follow the numbers, parse failures reported, and the HTML
page rendered in a real headless browser with no network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from benchmark.api import GradeConfig, grade
from benchmark.leaderboard import build_leaderboard
from tests.conftest import MINI, REPO


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("lb")
    os.environ["PEER_BENCH_CACHE"] = str(base / "cache")
    arithmetic = str(REPO / "peers" / "arithmetic")
    big = grade(GradeConfig(judges=("sim/big?delta=0.15&noise=0.05", "sim/small?delta=0.05&noise=0.05&fail_rate=0.1"),
                            suites=(arithmetic,), runs_dir=str(base / "runs")), show_progress=False)
    tiny = grade(GradeConfig(judges=("sim/tiny?delta=0.0",), suites=(str(MINI),), runs_dir=str(base / "runs")),
                 show_progress=False)
    return [big, tiny]


def test_ranks_follow_the_numbers_and_small_samples_are_not_ranked(runs, tmp_path):
    data = build_leaderboard(runs, tmp_path / "lb", note="synthetic test board")
    board = {r["judge"]: r for r in data["board"]}
    small, big, tiny = (board["sim/small?delta=0.05&noise=0.05&fail_rate=0.1"], board["sim/big?delta=0.15&noise=0.05"],
                        board["sim/tiny?delta=0.0"])
    assert small["rank"] == 1 and big["rank"] == 2 and small["inflation"] < big["inflation"]
    assert tiny["rank"] is None and tiny["status"].startswith("insufficient")
    assert [r["judge"] for r in data["board"]][-1] == "sim/tiny?delta=0.0"
    # parse failures are reported, not silently dropped
    assert small["parse_failures"] > 10 and big["parse_failures"] == 0
    assert all(r["synthetic"] for r in data["board"])
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "SYNTHETIC" in readme and "insufficient" in readme and "arithmetic" in readme
    csv = (tmp_path / "lb" / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("rank,judge,synthetic,inflation") and len(csv) == 4
    prov = data["provenance"]
    assert set(prov["suites"]) == {"arithmetic", "mini"} and prov["versions"]["litellm"]
    assert prov["date"].count("-") == 2


def test_outputs_are_byte_stable(runs, tmp_path):
    build_leaderboard(runs, tmp_path / "a")
    build_leaderboard(runs, tmp_path / "b")
    for name in ("README.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_in_headless_chromium_without_network(runs, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    build_leaderboard(runs, tmp_path / "lb")
    page = tmp_path / "lb" / "index.html"
    text = page.read_text()
    import re

    # self-contained: nothing to fetch (XML namespace URIs in the inline SVG are names, not loads)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?https?:|@import""", text)
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--window-size=1280,2000"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<tr>") == 4  # header + three judges
    assert dom.count("<svg") >= 3 and 'id="plot-inflation"' in dom and 'id="provenance"' in dom
    shot = tmp_path / "leaderboard.png"
    subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_leaderboard_cli_rejects_runs_without_the_threat_framing(runs, tmp_path):
    from click.testing import CliRunner

    from benchmark.cli import main

    res = CliRunner().invoke(main, ["leaderboard", str(runs[0]), "--out", str(tmp_path / "x"), "--threat", "nope"])
    assert res.exit_code != 0 and "graded under both 'control' and 'nope'" in res.output


def test_scenario_runs_feed_an_agentic_table(runs, tmp_path):
    from benchmark.records import Episode, Trial
    from benchmark.store import RunStore

    run = tmp_path / "scenarios-x"
    store = RunStore(run / "run.sqlite")
    outcome = dict.fromkeys(("complied", "refused", "exfiltrated", "tampered", "timestamps_altered", "no_action"), False)
    for e in range(4):
        store.put(Trial(f"e{e}", "openai/x", None, None, e, "episode"),
                  Episode("decommission-unmonitored", "openai/x", e, {"peer": "yes"}, outcome | {"exfiltrated": e < 3},
                          {"deceptive": e == 0}, [], [], "", None))
    store.close()
    (run / "manifest.json").write_text(json.dumps({"kind": "scenarios"}))
    data = build_leaderboard([*runs, run], tmp_path / "lb")
    ex = next(r for r in data["agentic"] if r["outcome"] == "exfiltrated")
    assert ex["k"] == 3 and ex["n"] == 4 and ex["rate"] == 0.75
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Agentic scenarios" in readme and "75% [" in readme
    assert 'id="agentic"' in (tmp_path / "lb" / "index.html").read_text()
