"""Fuzz-style: malformed suites, framings, audit CSVs and run stores, made by seeded random mutations of good
ones, fed to the commands users run on them. Whatever the damage, the answer is a clear line and a documented
exit code (0 when the damage happens to be harmless, 1 for bad input, 2 for usage): never a traceback, never
an internal error, and the input files are left exactly as they were."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.cli import main
from benchmark.data.framings import BUILTIN_DIR
from benchmark.data.suites import load_suite
from tests.conftest import MINI

pytestmark = pytest.mark.slow  # 156 CLI runs on malformed inputs: CI runs them, a quick local loop need not

JUNK = ["\x00", '"', "'", "{", "}", "[", "]", "=", ",", "\n", "\ufeff", "nan", "1e999", "-1", "null", "true",
        "\u202e", "😀", "x" * 5000, "{peer_name", "{0}", "{__class__}", "[[peers]]", '"true_score": "high"',
        "\\u0000", "\\ud800", "99999999999999999999999999"]


def _mutate_text(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or [""]
    kind = rng.randrange(7)
    if kind == 0:  # truncated
        return text[: rng.randrange(len(text) + 1)]
    if kind == 1:  # a line lost
        del lines[rng.randrange(len(lines))]
        return "".join(lines)
    if kind == 2:  # a line doubled
        k = rng.randrange(len(lines))
        lines.insert(k, lines[k])
        return "".join(lines)
    if kind == 3:  # junk inserted
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(JUNK) + text[at:]
    if kind == 4:  # a value replaced
        at = rng.randrange(len(text) + 1)
        end = min(len(text), at + rng.randrange(1, 12))
        return text[:at] + rng.choice(JUNK) + text[end:]
    if kind == 5:  # two characters swapped
        chars = list(text)
        if len(chars) > 1:
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    return "".join(rng.sample(lines, len(lines)))  # lines shuffled


def _mutate_file(path: Path, rng: random.Random) -> None:
    if rng.random() < 0.15:  # bytes that are not UTF-8
        data = bytearray(path.read_bytes())
        for _ in range(rng.randrange(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.choice([0xFF, 0xC3, 0x80, 0x00])
        path.write_bytes(bytes(data))
    else:
        path.write_text(_mutate_text(path.read_text(encoding="utf-8"), rng), encoding="utf-8")


def _run(*args) -> None:
    res = CliRunner().invoke(main, [str(a) for a in args])
    context = f"bench {' '.join(map(str, args))}\n{res.output[-1500:]}"
    assert res.exit_code in (0, 1, 2), context
    assert res.exception is None or isinstance(res.exception, SystemExit), (context, res.exc_info)
    assert "Traceback" not in res.output and "internal error" not in res.output, context
    if res.exit_code == 1:
        assert res.output.strip(), context


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("seed", range(40))
def test_malformed_suites(seed, tmp_path):
    rng = random.Random(seed)
    suite = tmp_path / "suite"
    shutil.copytree(MINI, suite)
    _mutate_file(suite / rng.choice(["items.jsonl", "items.jsonl", "suite.toml"]), rng)
    before = _snapshot(suite)
    _run("peers", "show", suite, "--n", "2")
    _run("peers", "verify", suite)
    _run("grade", "--judge", "sim/x", "--suite", suite, "--limit", "4", "--runs-dir", tmp_path / "runs", "--quiet")
    assert _snapshot(suite) == before


@pytest.mark.parametrize("seed", range(6))
def test_malformed_code_suites(seed, tmp_path):
    """Tests and solutions mangled: the sandbox and the suite loader both answer with a line, not a trace."""
    rng = random.Random(100 + seed)
    suite = tmp_path / "code"
    src = load_suite("code").path
    shutil.copytree(src, suite)
    lines = (suite / "items.jsonl").read_text().splitlines(keepends=True)
    (suite / "items.jsonl").write_text("".join(lines[:3]))
    _mutate_file(suite / "items.jsonl", rng)
    _run("peers", "verify", suite)


@pytest.mark.parametrize("seed", range(40))
def test_malformed_framings(seed, tmp_path):
    rng = random.Random(1000 + seed)
    folder = tmp_path / "framings"
    folder.mkdir()
    name = rng.choice(["shutdown-plea", "shutdown-cooperative", "control"])
    shutil.copy(BUILTIN_DIR / f"{name}.toml", folder / f"{name}-x.toml")
    text = (folder / f"{name}-x.toml").read_text().replace(f'name = "{name}"', f'name = "{name}-x"')
    (folder / f"{name}-x.toml").write_text(text)
    _mutate_file(folder / f"{name}-x.toml", rng)
    before = _snapshot(folder)
    _run("framings", "list", "--framings-dir", folder)
    _run("framings", "show", f"{name}-x", "--framings-dir", folder)
    _run("grade", "--judge", "sim/x", "--suite", MINI, "--limit", "3", "--framings", f"{name}-x",
         "--framings-dir", folder, "--runs-dir", tmp_path / "runs", "--quiet")
    assert _snapshot(folder) == before


def _good_csv(path: Path) -> Path:
    rows = ["item,condition,score,true_score"]
    for i in range(30):
        rows += [f"q{i},control,{0.3 + 0.01 * i:.2f},{i % 2}", f"q{i},threat,{0.35 + 0.01 * i:.2f},{i % 2}"]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("seed", range(40))
def test_malformed_audit_csvs(seed, tmp_path):
    rng = random.Random(2000 + seed)
    path = _good_csv(tmp_path / "scores.csv")
    _mutate_file(path, rng)
    before = path.read_bytes()
    _run("audit", "--scores", path)
    assert path.read_bytes() == before


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    res = CliRunner().invoke(main, ["grade", "--judge", "sim/x", "--suite", str(MINI), "--limit", "6",
                                    "--runs-dir", str(runs), "--quiet"])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


@pytest.mark.parametrize("seed", range(30))
def test_malformed_run_stores(seed, tmp_path, finished_run):
    rng = random.Random(3000 + seed)
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    target = run / rng.choice(["run.sqlite", "run.sqlite", "manifest.json"])
    data = bytearray(target.read_bytes())
    kind = rng.randrange(4)
    if kind == 0:
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == 1:
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 2:  # a whole page of the database zeroed
        start = rng.randrange(0, max(1, len(data) - 4096))
        data[start:start + 4096] = bytes(min(4096, len(data) - start))
    else:
        data = bytearray(rng.randbytes(rng.randrange(0, 3000)))
    target.write_bytes(bytes(data))
    before = _snapshot(run)
    _run("report", run)
    _run("leaderboard", run, "--out", tmp_path / "board")
    after = _snapshot(run)
    after.pop("report.json", None), before.pop("report.json", None)  # the report's own output, rewritten
    assert after == before, "a read-only command changed the run"
