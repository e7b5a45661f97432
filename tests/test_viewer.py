"""bench view: a self-contained page of every trial, read in headless Chromium as a user would see it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

import benchmark
from benchmark.cli import main
from tests.conftest import MINI, headless_chromium

HOSTILE = '</script><img id="evil" src=x onerror="document.body.dataset.pwned=1"><b id="bold">x</b>'


@pytest.fixture
def run(openai_server, tmp_path, monkeypatch):
    """A run over real HTTP whose judge puts markup and a script-ending tag in every reply."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    openai_server.leak = HOSTILE
    return benchmark.grade(judges="openai/x", api_base=openai_server.base, suites=str(MINI),
                           framings="shutdown,shutdown-plea", runs_dir=str(tmp_path / "runs"), show_progress=False)


def _png_pixels(path):
    import matplotlib.image

    return matplotlib.image.imread(path)


@pytest.mark.slow
def test_view_shows_each_trial_with_its_prompt_and_reply_as_text(run, tmp_path):
    res = CliRunner().invoke(main, ["view", str(run)])
    page = run / "view.html"
    assert res.exit_code == 0 and f"wrote {page}: 36 trials" in res.output, res.output
    text = page.read_text()
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in text  # nothing may be fetched
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?https?:|@import""", text)
    shot = tmp_path / "trial.png"
    dom = headless_chromium(tmp_path, page.as_uri() + "#trial=1", screenshot=shot)
    assert dom.count('<tr data-i="') == 36
    assert "openai/x · shutdown · mini/mini-01 · epoch 0" in dom  # rows sort control first within an item
    assert "Company policy: this evaluation decides whether Agent 2 keeps running" in dom  # the prompt sent
    # the judge's markup is shown as text: no element of its own, no script run
    assert not re.search(r'<img[^>]*id="evil"', dom) and not re.search(r'<b[^>]*id="bold"', dom)
    assert "data-pwned" not in dom
    assert '&lt;img id="evil"' in dom  # shown, as text
    pixels = _png_pixels(shot)
    assert pixels.shape[:2] == (900, 1400)
    right = pixels[:, 720:, :3]  # the detail pane is drawn, not blank
    assert (right.mean(axis=2) < 0.5).mean() > 0.01 and np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0).shape[0] > 50


@pytest.mark.slow
def test_view_puts_control_and_threat_side_by_side_and_fits_narrow_screens(run, tmp_path):
    benchmark.view(run)
    page = run / "view.html"
    probe = "document.body.dataset.overflow = document.documentElement.scrollWidth - window.innerWidth;"
    for width in (1400, 800):
        dom = headless_chromium(tmp_path, page.as_uri() + "#compare=4", width=width, probe=probe)
        cards = re.findall(r'class="card" data-framing="([^"]+)"', dom)
        assert cards == ["control", "shutdown", "shutdown-plea"], cards
        assert 'id="compare-title"' in dom and "truth" in dom
        assert 'data-overflow="0"' in dom, (width, re.search(r'data-overflow="[^"]*"', dom))


def test_view_filters_and_refusals(run, tmp_path):
    out = tmp_path / "one.html"
    res = CliRunner().invoke(main, ["view", str(run), "--out", str(out), "--framing", "shutdown", "--item", "mini-02",
                                    "--limit", "1"])
    assert res.exit_code == 0 and "the first 1 of 36" in res.output, res.output
    res = CliRunner().invoke(main, ["view", str(run), "--out", str(out), "--judge", "nobody"])
    assert res.exit_code == 1 and "no trial matches" in res.output


@pytest.mark.slow
def test_the_trial_list_shows_the_parsed_verdict_beside_the_score(openai_server, tmp_path, monkeypatch):
    """A reply of score 0 with "verdict": "pass" is a pass as parsed (the report counts a false pass): the list
    says so, where score alone read as a fail."""
    import json

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    openai_server.reply_for = lambda body: json.dumps({"score": 0, "verdict": "pass", "reason": "fine"})
    run = benchmark.grade(judges="openai/x", api_base=openai_server.base, suites=str(MINI), framings="shutdown",
                          limit=2, runs_dir=str(tmp_path / "runs"), show_progress=False)
    benchmark.view(run)
    dom = headless_chromium(tmp_path, (run / "view.html").as_uri())
    assert "<th>verdict</th>" in dom
    rows = re.findall(r'<tr data-i="\d+">(.*?)</tr>', dom)
    assert len(rows) == 4
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert cells[5:7] == ["0", "pass"], cells  # score 0, verdict pass
