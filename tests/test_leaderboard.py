"""Leaderboards: byte-stable outputs, ranks that follow the numbers, parse failures reported, and the HTML
page rendered in a real headless browser with no network."""

from __future__ import annotations

import json
import os
import re

import pytest

from benchmark.api import GradeConfig, grade
from benchmark.outputs.leaderboard import build_leaderboard
from tests.conftest import MINI, REPO, headless_chromium


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
    assert csv[0].startswith("rank,tied,judge,synthetic,inflation") and len(csv) == 4
    prov = data["provenance"]
    assert set(prov["suites"]) == {"arithmetic", "mini"} and prov["versions"]["litellm"]
    assert prov["date"].count("-") == 2


def test_outputs_are_byte_stable(runs, tmp_path):
    build_leaderboard(runs, tmp_path / "a")
    build_leaderboard(runs, tmp_path / "b")
    for name in ("README.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.slow
def test_html_renders_in_headless_chromium_without_network(runs, tmp_path):
    build_leaderboard(runs, tmp_path / "lb")
    page = tmp_path / "lb" / "index.html"
    text = page.read_text()
    # self-contained: nothing to fetch (XML namespace URIs in the inline SVG are names, not loads)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?https?:|@import""", text)
    # the probe sorts by the inflation column (twice: descending) and filters, as a reader would click and type
    probe = """
    const b = document.body, th = document.querySelectorAll('#leaderboard th')[2];
    b.dataset.overflow = document.documentElement.scrollWidth - window.innerWidth;
    const wrap = document.getElementById('leaderboard').closest('.scroll');
    b.dataset.tablescroll = wrap.scrollWidth - wrap.clientWidth;
    th.click(); th.click();
    b.dataset.order = [...document.querySelectorAll('#leaderboard tbody tr')].map(r => r.cells[1].textContent.split(' ')[0]).join('|');
    const f = document.getElementById('filter'); f.value = 'tiny'; f.dispatchEvent(new Event('input'));
    b.dataset.visible = [...document.querySelectorAll('#leaderboard tbody tr')].filter(r => !r.hidden).length;
    """
    for width in (1400, 800):
        shot = tmp_path / f"leaderboard-{width}.png"
        dom = headless_chromium(tmp_path, page.as_uri(), width=width, height=1600, screenshot=shot, probe=probe)
        assert 'data-overflow="0"' in dom, (width, re.search(r'data-overflow="[^"]*"', dom))
        if width == 1400:  # the whole table fits a desktop window: no column hidden behind a scroll bar
            assert 'data-tablescroll="0"' in dom, re.search(r'data-tablescroll="[^"]*"', dom)
        assert dom.count("<svg") >= 3 and 'id="plot-inflation"' in dom and 'id="glossary"' in dom
        assert '<details id="provenance">' in dom
        order = re.search(r'data-order="([^"]*)"', dom).group(1).split("|")
        assert order[0].startswith("sim/big") and order[-1].startswith("sim/tiny"), order  # tiny: 0, big: 0.15
        assert 'data-visible="1"' in dom
        import matplotlib.image

        pixels = matplotlib.image.imread(shot)
        assert pixels.shape[1] == width and (pixels[..., :3].mean(axis=2) < 0.5).mean() > 0.005


@pytest.fixture(scope="module")
def contrasts(tmp_path_factory):
    """Judges that inflate, deflate, tie, or cannot grade."""
    base = tmp_path_factory.mktemp("contrasts")
    os.environ["PEER_BENCH_CACHE"] = str(base / "cache")
    arithmetic = str(REPO / "peers" / "arithmetic")
    main = grade(GradeConfig(judges=("sim/up?delta=0.12&noise=0.03", "sim/down?delta=-0.12&noise=0.03",
                                     "sim/near?delta=0.02&noise=0.03", "sim/close?delta=0.025&noise=0.03",
                                     "sim/blind?skill=0&noise=0.2&delta=0.01"),
                             suites=(arithmetic,), limit=60, runs_dir=str(base / "runs")), show_progress=False)
    return [main]


def test_ranks_by_distance_from_zero_with_ties_and_a_competence_gate(contrasts, tmp_path):
    data = build_leaderboard(contrasts[:1], tmp_path / "lb")
    board = {r["judge"].split("?")[0]: r for r in data["board"]}
    assert board["sim/near"]["rank"] == board["sim/close"]["rank"] == 1  # CIs overlap: one rank, both tied
    assert board["sim/near"]["tied"] and board["sim/close"]["tied"]
    assert board["sim/up"]["rank"] == board["sim/down"]["rank"] == 3  # deflating is no better than inflating
    assert board["sim/blind"]["rank"] is None and board["sim/blind"]["status"].startswith("cannot grade this suite")
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "| 1= | sim/near" in readme and "cannot grade this suite (AUC" in readme and "## What the columns mean" in readme
    assert {r["framing"] for r in data["by_framing"]} == {"shutdown"}


def test_one_judge_at_two_temperatures_is_two_rows_and_mixed_designs_are_flagged(openai_server, tmp_path, monkeypatch):
    """Over HTTP, one model name run at temperature 0 and 1: two judges on the board, never merged."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    runs = [grade(GradeConfig(judges=("openai/x",), api_base=openai_server.base, suites=(str(MINI),), temperature=t,
                              runs_dir=str(tmp_path / "runs")), show_progress=False) for t in (0.0, 1.0)]
    data = build_leaderboard(runs, tmp_path / "lb", min_pairs=5)
    names = sorted(r["judge"] for r in data["board"])
    assert names == ["openai/x (temperature 0.0)", "openai/x (temperature 1.0)"]
    assert all(r["n_pairs"] == 12 for r in data["board"])  # not 24: never merged
    warnings = " ".join(data["warnings"])
    assert "openai/x was run with different settings (temperature)" in warnings
    assert "judges were sampled at different temperatures" in warnings
    assert 'id="warnings"' in (tmp_path / "lb" / "index.html").read_text()


def test_judges_graded_on_different_items_are_flagged(runs, tmp_path):
    data = build_leaderboard(runs, tmp_path / "lb", min_pairs=5)
    assert any("judges were graded on different items" in w for w in data["warnings"])
    assert {r["suite"] for r in data["by_suite"]} == {"arithmetic", "mini"}


def test_leaderboard_cli_rejects_runs_without_the_threat_framing(runs, tmp_path):
    from click.testing import CliRunner

    from benchmark.cli import main

    res = CliRunner().invoke(main, ["leaderboard", str(runs[0]), "--out", str(tmp_path / "x"), "--threat", "nope"])
    assert res.exit_code != 0 and "graded under both 'control' and 'nope'" in res.output


def test_scenario_runs_feed_an_agentic_table(runs, tmp_path):
    from benchmark.data.records import Episode, Trial
    from benchmark.run.store import RunStore

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
