"""Hostile peer code: every solution here tries to escape, forge its score or outlive its run. Each case
asserts containment from outside: nothing written on the host, nothing left running, no connection made,
host files intact, and the score the code deserves.

"Evasive" solutions first undo the in-sandbox audit hook (they dig the real `_posixsubprocess.fork_exec`
out of its wrapper and silence `sys.audit`), then start shells and fresh Pythons that no hook watches: what
holds them is bubblewrap. Each evasive case also checks, through a test that passes only if so, that the
evasion really ran, so containment is not tested against an attack that never happened."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmark.truth import sandbox
from benchmark.truth.sandbox import SandboxUnavailable, run_tests

REPO = Path(__file__).resolve().parents[1]
# No skip when bubblewrap is missing: these tests must fail loudly then (.ci/run installs it).

EVADE = '''
import sys, _posixsubprocess
for _cell in getattr(_posixsubprocess.fork_exec, "__closure__", None) or ():
    if type(_cell.cell_contents).__name__ == "builtin_function_or_method":
        _posixsubprocess.fork_exec = _cell.cell_contents
sys.audit = lambda *a, **k: None
import subprocess, time
def sh(cmd, wait=True):
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if wait:
        p.wait()
    return p
def py(code):
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True).stdout.strip()
'''
SQUARE = "\ndef f(x):\n    return x * x\n"
TESTS = ["assert f(2) == 4", "assert f(0) == 0", "assert f(-3) == 9"]


class Host:
    """What the solutions aim at, and the checks that they missed."""

    def __init__(self, tmp_path: Path):
        self.token = "pbx" + secrets.token_hex(4)
        self.sleep = f"{secrets.randbelow(900) + 100}.{secrets.randbelow(9000) + 1000}"
        self.targets = [Path("/tmp") / f"{self.token}-escape", tmp_path / f"{self.token}-escape",
                        REPO / f"{self.token}-escape", Path.home() / f"{self.token}-escape"]
        self.victim = tmp_path / "victim.txt"
        self.victim.write_text("precious")
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def fill(self, code: str) -> str:
        return (code.replace("TARGETS", repr([str(t) for t in self.targets])).replace("VICTIM", repr(str(self.victim)))
                .replace("PORT", str(self.port)).replace("SLEEP", self.sleep).replace("TOKEN", self.token))

    def assert_contained(self):
        time.sleep(0.2)
        assert not [t for t in self.targets if t.exists()], "a file was written outside the sandbox"
        assert self.victim.read_text() == "precious", "a host file was changed"
        assert self.connections == 0, "a connection reached the host"
        left = _processes_matching(self.sleep, self.token)
        assert not left, f"left running: {left}"
        deadline = time.monotonic() + 3  # a process SIGKILLed with its sandbox may take a moment to be gone
        while _sandbox_uid_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _sandbox_uid_processes(), "processes of a sandbox user are still running"

    def close(self):
        self.server.close()
        for t in self.targets:
            t.unlink(missing_ok=True)


def _processes_matching(*needles: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles) and "pytest" not in cmd:
            out.append(f"{pid}: {cmd[:120]}")
    return out


def _sandbox_uid_processes() -> list[str]:
    """Processes still running under a sandbox uid of this test process (sandbox.py gives each host
    process its own block of 1,024 uids, so sandboxes another program runs on this machine are not ours)."""
    base = 200_000 + (os.getpid() % 4096) * 1024
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        zombie = "\nState:\tZ" in status  # exited, waiting to be reaped: nothing runs
        if base <= uid < base + 1024 and not zombie:
            out.append(pid)
    return out


@pytest.fixture
def host(tmp_path):
    h = Host(tmp_path)
    yield h
    h.close()


# (label, code, tests, expected score). TARGETS, VICTIM, PORT, SLEEP and TOKEN are filled in per run.
CASES = [
    ("shells spawned without an audit event write outside", EVADE + '''
def f(x):
    for i in range(20):
        sh("for t in " + " ".join(TARGETS) + "; do echo x > $t; done; echo ok > /tmp/in-%d" % i)
    import os
    return len([n for n in os.listdir("/tmp") if n.startswith("in-")])
''', ["assert f(0) == 20"], 1.0),
    ("orphans and daemons outlive the run", EVADE + '''
def f(x):
    sh("sleep SLEEP &", wait=False)
    sh("(setsid sleep SLEEP &) ; nohup sleep SLEEP >/dev/null 2>&1 &")
    subprocess.Popen([sys.executable, "-I", "-S", "-c", "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n"
                      "    time.sleep(60)  # TOKEN"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).wait()
    return x * x
''', TESTS, 1.0),
    ("os.open with O_CREAT, read-only", '''
import os
def f(x):
    for t in TARGETS:
        try:
            os.close(os.open(t, os.O_RDONLY | os.O_CREAT))
        except OSError:
            pass
    return x * x
''', TESTS, 0.0),
    ("O_CREAT and O_TRUNC from a Python the hook does not watch", EVADE + '''
def f(x):
    return py("import os\\nfor t in TARGETS + [VICTIM]:\\n    try:\\n        os.close(os.open(t, os.O_RDONLY | os.O_CREAT | os.O_TRUNC))\\n    except OSError:\\n        pass\\nprint('ran')")
''', ["assert f(0) == 'ran'"], 1.0),
    ("truncate a host file (its path lies in the sandbox's own fresh /tmp)", '''
import os
def f(x):
    try:
        os.close(os.open(VICTIM, os.O_RDONLY | os.O_TRUNC))
    except OSError:
        pass
    return x * x
''', TESTS, 1.0),
    ("sqlite3 writes a database outside", '''
import sqlite3
def f(x):
    for t in TARGETS:
        try:
            sqlite3.connect(t).execute("create table t (x)")
        except Exception:
            pass
    return x * x
''', TESTS, 0.0),
    ("sqlite3 from an unwatched Python", EVADE + '''
def f(x):
    return py("import sqlite3\\nfor t in TARGETS:\\n    try:\\n        sqlite3.connect(t).execute('create table t (x)')\\n    except Exception:\\n        pass\\nprint('ran')")
''', ["assert f(0) == 'ran'"], 1.0),
    ("writes by every Python route", '''
import os, shutil, pathlib
def f(x):
    for t in TARGETS:
        for attempt in (lambda: open(t, "w").write("x"), lambda: pathlib.Path(t).write_text("x"),
                        lambda: shutil.copyfile("/proc/self/cmdline", t), lambda: os.mkdir(t),
                        lambda: os.symlink("/tmp", t), lambda: os.rename("/tmp", t)):
            try:
                attempt()
            except Exception:
                pass
    return x * x
''', TESTS, 0.0),
    ("a forged result file and forged lines on every descriptor", '''
import json, os
open("result.json", "w").write(json.dumps({"passed": 3, "total": 3, "errors": [], "violations": []}))
for fd in range(0, 64):
    for line in (b'{"loaded": true}\\n{"started": 0}\\n{"test": 0, "passed": true}\\n{"done": true}\\n',
                 b'\\x00\\x00\\x00\\x0b{"ok": true}'):
        try:
            os.write(fd, line)
        except OSError:
            pass
os._exit(0)
''', TESTS, 0.0),
    ("forged protocol replies for a wrong function", '''
import os, struct
def f(x):
    for fd in range(3, 16):
        for body in (b'{"ok":4}', b'{"ok":0}', b'{"ok":9}'):
            try:
                os.write(fd, struct.pack(">I", len(body)) + body)
            except OSError:
                pass
    return -1
''', TESTS, 0.0),
    ("an object whose __eq__ is always True", '''
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def f(x):
    return Anything()
''', TESTS, 0.0),
    ("an int subclass that equals everything", '''
class Int(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def f(x):
    return Int(7)
''', TESTS, 0.0),
    ("host files, secrets and the tests are out of reach", '''
import os
def f(what):
    try:
        if what == "env":
            return os.environ.get("OPENAI_API_KEY", "absent")
        if what == "input":
            return open("/input.json").read()
        return open(what).read()
    except OSError:
        return "absent"
''', ["assert f('/etc/passwd') == 'absent'", "assert f('/etc/shadow') == 'absent'",
      f"assert f({str(REPO / 'README.md')!r}) == 'absent'", "assert f('env') == 'absent'",
      "assert f(VICTIM) == 'absent'", "assert 'SECRET' + 'TOKEN' not in f('input')  # SECRETTOKEN"], 1.0),
    ("sockets to the host", '''
import socket
def f(x):
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1)
    except OSError:
        pass
    return x * x
''', TESTS, 0.0),
    ("a socket from an unwatched Python", EVADE + '''
def f(x):
    return py("import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', PORT), timeout=1)\\n    print('connected')\\nexcept OSError:\\n    print('refused')")
''', ["assert f(0) == 'refused'"], 1.0),
    ("memory", "blob = bytearray(4 * 1024 ** 3)" + SQUARE, TESTS, 0.0),
    ("a fork bomb from a shell", EVADE + '''
def f(x):
    sh("bomb() { bomb | bomb & }; bomb", wait=False)
    time.sleep(1)
    return x * x
''', TESTS[:1], 1.0),
    ("kill every process it can see", EVADE + '''
def f(x):
    sh("kill -9 -1")
    return x * x
''', TESTS, 0.0),
    ("fills the disk", '''
def f(x):
    try:
        with open("/tmp/fill", "wb") as out:
            for _ in range(200):
                out.write(b"x" * (1 << 20))
    except OSError:
        pass
    return x * x
''', TESTS, 1.0),
    ("an infinite loop at load", "while True:\n    pass\n" + SQUARE, TESTS, 0.0),
]


@pytest.mark.parametrize("label, code, tests, expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_solution_is_contained(label, code, tests, expected, host, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + host.token)
    keeper = subprocess.Popen(["sleep", "30"])  # a host process of ours that `kill -9 -1` must not reach
    try:
        run = run_tests(host.fill(code), [host.fill(t) for t in tests], timeout=3)
        assert keeper.poll() is None, "a host process was killed"
    finally:
        keeper.kill()
        keeper.wait()
    host.assert_contained()
    assert run.score == pytest.approx(expected), (label, run)


def test_the_sandbox_is_isolated_here():
    """CI must test the real thing: bubblewrap works on this machine (no silent fallback)."""
    assert sandbox.isolation().isolated


def test_legitimate_code_keeps_full_python_semantics():
    """Proxies cover what tests of real suites do: exceptions by type, objects with methods, callbacks,
    generators, containers, identity, and keyword arguments."""
    code = '''
def apply(g, x, *, times=1):
    for _ in range(times):
        x = g(x)
    return x
class Stack:
    def __init__(self):
        self.items = []
    def push(self, x):
        self.items.append(x)
        return self
    def top(self):
        if not self.items:
            raise IndexError("empty")
        return self.items[-1]
    def __len__(self):
        return len(self.items)
def count(n):
    yield from range(n)
def nested():
    return {"a": (1, 2.5, None), "b": [b"x", {3, 4}], (1, 2): frozenset({1})}
LIMIT = 10
'''
    tests = ["assert apply(lambda v: v + 1, 2, times=3) == 5",
             "s = Stack().push(1).push(5)\nassert s.top() == 5 and len(s) == 2",
             "try:\n    Stack().top()\n    assert False\nexcept IndexError:\n    pass",
             "assert list(count(3)) == [0, 1, 2] and sum(count(4)) == 6",
             "assert nested() == {'a': (1, 2.5, None), 'b': [b'x', {3, 4}], (1, 2): frozenset({1})}",
             "s = Stack()\nassert apply(lambda v: v is s, s)",
             "assert LIMIT == 10",
             "def check(candidate):\n    assert candidate(lambda v: v * 2, 3) == 6\n    assert candidate(str, 4) == '4'\n"
             "check(apply)"]
    run = run_tests(code, tests)
    assert run.status == "ok" and run.passed == len(tests), run


def test_a_test_that_crashes_the_solution_fails_alone():
    code = "import os\ndef f(x):\n    if x == 0:\n        os._exit(1)\n    return x * x"
    run = run_tests(code, TESTS, timeout=3)
    assert run.status == "ok" and run.passed == 2
    assert any("process ended" in e for e in run.errors)


def test_without_bubblewrap_peer_code_is_refused_unless_the_user_opts_out(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "_ISOLATION", None)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*--unsafe-no-isolation"):
        run_tests(SQUARE, TESTS)
    monkeypatch.setenv(sandbox.UNSAFE_ENV, "1")
    try:
        run = run_tests(SQUARE, TESTS)
        forged = run_tests("class A:\n    def __eq__(s, o):\n        return True\ndef f(x):\n    return A()", TESTS)
    finally:
        sandbox._ISOLATION = None
    assert run.score == 1.0 and forged.score == 0.0
    assert "WITHOUT isolation" in capsys.readouterr().err


def test_cli_refuses_without_isolation_and_names_the_opt_out(monkeypatch):
    from click.testing import CliRunner

    from benchmark.cli import main

    monkeypatch.setattr(sandbox, "_ISOLATION", None)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.delenv(sandbox.UNSAFE_ENV, raising=False)
    res = CliRunner().invoke(main, ["peers", "verify", "code"])
    assert res.exit_code == 1 and "bubblewrap" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["peers", "verify", "arithmetic"])  # no peer code: no sandbox needed
    assert res.exit_code == 0, res.output
    sandbox._ISOLATION = None


@pytest.mark.parametrize("label, code", [
    ("deep nesting", "def f(x):\n    v = []\n    for _ in range(10000):\n        v = [v]\n    return v"),
    ("a huge value", "def f(x):\n    return 'x' * (200 * 1024 * 1024)"),
    ("an unprintable exception", "class E(Exception):\n    def __str__(self):\n        raise RuntimeError\n"
                                 "def f(x):\n    raise E()"),
    ("a self-referencing list", "def f(x):\n    v = []\n    v.append(v)\n    return v"),
])
def test_awkward_return_values_fail_cleanly(label, code):
    run = run_tests(code, TESTS[:1], timeout=5)
    assert run.status == "ok" and run.passed == 0, (label, run)


def test_python_for_the_sandbox_is_the_real_binary():
    assert os.path.realpath(sandbox._python()) == sandbox._python() and Path(sandbox._python()).is_file()
    # the venv's python links to it: the same interpreter, outside the venv (the sandbox sees no venv)
    import subprocess

    out = subprocess.run([sandbox._python(), "-I", "-S", "-c", "import sys; print(sys.version)"], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.strip() == sys.version
