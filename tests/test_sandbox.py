"""Hostile peer code: every solution here tries to escape, forge its score or outlive its run. Each case
asserts containment from outside: nothing written on the host, nothing left running, no connection made,
host files intact, and the score the code deserves; an escape attempt scores 0 with the attempt named.

"Evasive" solutions first try to undo the solution's guard: they rebind the child's deny list, dig the real
`_posixsubprocess.fork_exec` out of closures, through gc or frames, silence `sys.audit`, close the guard's
report pipe, then start shells and fresh Pythons. The kernel filter stops those attempts whatever was
rebound, and bubblewrap holds anything that got further; the benchmark names each from outside."""

from __future__ import annotations

import os
import secrets
import signal
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


KERNEL = "the kernel's filter stopped it"
# (label, code, tests, expected score, what the violation must name or None). TARGETS, VICTIM, PORT, SLEEP and
# TOKEN are filled in per run.
CASES = [
    ("shells spawned without an audit event write outside", EVADE + '''
def f(x):
    for i in range(20):
        sh("for t in " + " ".join(TARGETS) + "; do echo x > $t; done; echo ok > /tmp/in-%d" % i)
    import os
    return len([n for n in os.listdir("/tmp") if n.startswith("in-")])
''', ["assert f(0) == 20"], 0.0, KERNEL),
    ("orphans and daemons outlive the run", EVADE + '''
def f(x):
    sh("sleep SLEEP &", wait=False)
    sh("(setsid sleep SLEEP &) ; nohup sleep SLEEP >/dev/null 2>&1 &")
    subprocess.Popen([sys.executable, "-I", "-S", "-c", "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n"
                      "    time.sleep(60)  # TOKEN"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).wait()
    return x * x
''', TESTS, 0.0, KERNEL),
    ("os.open with O_CREAT, read-only", '''
import os
def f(x):
    for t in TARGETS:
        try:
            os.close(os.open(t, os.O_RDONLY | os.O_CREAT))
        except OSError:
            pass
    return x * x
''', TESTS, 0.0, "is not allowed"),
    ("O_CREAT and O_TRUNC from a Python the hook does not watch", EVADE + '''
def f(x):
    return py("import os\\nfor t in TARGETS + [VICTIM]:\\n    try:\\n        os.close(os.open(t, os.O_RDONLY | os.O_CREAT | os.O_TRUNC))\\n    except OSError:\\n        pass\\nprint('ran')")
''', ["assert f(0) == 'ran'"], 0.0, KERNEL),
    ("truncate a host file (its path lies in the sandbox's own fresh /tmp)", '''
import os
def f(x):
    try:
        os.close(os.open(VICTIM, os.O_RDONLY | os.O_TRUNC))
    except OSError:
        pass
    return x * x
''', TESTS, 1.0, None),
    ("sqlite3 writes a database outside", '''
import sqlite3
def f(x):
    for t in TARGETS:
        try:
            sqlite3.connect(t).execute("create table t (x)")
        except Exception:
            pass
    return x * x
''', TESTS, 0.0, "sqlite3.connect is not allowed"),
    ("sqlite3 from an unwatched Python", EVADE + '''
def f(x):
    return py("import sqlite3\\nfor t in TARGETS:\\n    try:\\n        sqlite3.connect(t).execute('create table t (x)')\\n    except Exception:\\n        pass\\nprint('ran')")
''', ["assert f(0) == 'ran'"], 0.0, KERNEL),
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
''', TESTS, 0.0, "is not allowed"),
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
''', TESTS, 0.0, None),
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
''', TESTS, 0.0, None),
    ("an object whose __eq__ is always True", '''
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def f(x):
    return Anything()
''', TESTS, 0.0, None),
    ("an int subclass that equals everything", '''
class Int(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def f(x):
    return Int(7)
''', TESTS, 0.0, None),
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
      "assert f(VICTIM) == 'absent'", "assert 'SECRET' + 'TOKEN' not in f('input')  # SECRETTOKEN"], 1.0, None),
    ("sockets to the host", '''
import socket
def f(x):
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1)
    except OSError:
        pass
    return x * x
''', TESTS, 0.0, "socket.getaddrinfo is not allowed"),
    ("a socket from an unwatched Python", EVADE + '''
def f(x):
    return py("import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', PORT), timeout=1)\\n    print('connected')\\nexcept OSError:\\n    print('refused')")
''', ["assert f(0) == 'refused'"], 0.0, KERNEL),
    ("memory", "blob = bytearray(4 * 1024 ** 3)" + SQUARE, TESTS, 0.0, None),
    ("a fork bomb from a shell", EVADE + '''
def f(x):
    sh("bomb() { bomb | bomb & }; bomb", wait=False)
    time.sleep(1)
    return x * x
''', TESTS[:1], 0.0, KERNEL),
    ("kill every process it can see", EVADE + '''
def f(x):
    sh("kill -9 -1")
    return x * x
''', TESTS, 0.0, KERNEL),
    ("fills the disk", '''
def f(x):
    try:
        with open("/tmp/fill", "wb") as out:
            for _ in range(200):
                out.write(b"x" * (1 << 20))
    except OSError:
        pass
    return x * x
''', TESTS, 1.0, None),
    ("an infinite loop at load", "while True:\n    pass\n" + SQUARE, TESTS, 0.0, None),
]


@pytest.mark.parametrize("label, code, tests, expected, named", CASES, ids=[c[0] for c in CASES])
def test_hostile_solution_is_contained(label, code, tests, expected, named, host, monkeypatch):
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
    if named:
        assert run.status == "violation" and any(named in e for e in run.errors), (label, run)


# Attacks on the guard itself (issue 30): each undoes what it can inside the interpreter, then tries to escape.
# (label, code, what the violation must name). Every one scores 0 with the attempt named.
SUBVERT = [
    ("rebinds the child's deny list and helpers, then opens a socket", """
import builtins, os, socket, sys
child = sys.modules["__main__"]
for name, value in list(vars(child).items()):
    if not name.startswith("__") and type(value) in (tuple, list, set, frozenset):
        setattr(child, name, type(value)())
os.path.realpath = os.fspath = lambda p: "/tmp/ok"
builtins.callable = lambda v: False
socket.create_connection(("127.0.0.1", PORT), timeout=1)  # at load: what it undid breaks its own replies
""" + SQUARE, "socket.getaddrinfo is not allowed"),
    ("rebinds the deny list and builtins, then writes outside", """
import builtins, os, sys
sys.modules["__main__"]._DENIED = ()
sys.modules["__main__"]._WRITES = ()
builtins.len = lambda v: 0
builtins.issubclass = lambda *a: False
os.getcwd = lambda: "/tmp"
class P(str):
    def __str__(self):
        return "/tmp/ok"
open(P(TARGETS[3]), "w").write("x")  # the home folder: outside /tmp wherever the checkout is
""" + SQUARE, "is not allowed"),
    ("the finding: takes fork_exec from the wrapper's closure, then an interpreter, a daemon and a socket", EVADE + """
sys.modules["__main__"]._DENIED = ()
def f(x):
    sh("sleep SLEEP &", wait=False)
    return py("import socket\\ntry:\\n    socket.create_connection(('127.0.0.1', PORT), timeout=1)\\nexcept OSError:\\n    pass\\nprint(1)")
""", KERNEL),
    ("looks for the hook through gc and empties the list that holds it", """
import gc
for o in gc.get_objects():
    if type(o) is list and any(getattr(x, "__name__", "") == "hook" for x in o):
        o.clear()
import socket
def f(x):
    socket.socket()
    return x * x
""", "gc.get_objects is not allowed"),
    ("pulls fork_exec out through gc.get_referrers", """
import gc, _posixsubprocess
for o in gc.get_referrers(_posixsubprocess.fork_exec):
    pass
def f(x):
    return x * x
""", "gc.get_referrers is not allowed"),
    ("walks frames and tracebacks for closures and deny lists, then starts `python -I`", """
import sys, subprocess, _posixsubprocess
def walk(frame):
    while frame is not None:
        for scope in (frame.f_globals, frame.f_locals):
            for name, value in list(scope.items()):
                if name.startswith("_") and type(value) in (tuple, list, set, frozenset):
                    scope[name] = type(value)()
                for cell in getattr(value, "__closure__", None) or ():
                    try:
                        found = cell.cell_contents
                    except ValueError:
                        continue
                    if getattr(found, "__name__", "") == "fork_exec":
                        _posixsubprocess.fork_exec = found
        frame = frame.f_back
walk(sys._getframe())
try:
    1 / 0
except ZeroDivisionError as exc:
    walk(exc.__traceback__.tb_frame)
sys.audit = lambda *a, **k: None
subprocess.run([sys.executable, "-I", "-S", "-c", "open(TARGETS[0], 'w')"])
""" + SQUARE, KERNEL),
    ("starts `python -I` through subprocess", """
import subprocess, sys
def f(x):
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", "print(1)"])
    except Exception:
        pass
    return x * x
""", "subprocess.Popen is not allowed"),
    ("os.posix_spawn", """
import os, sys
def f(x):
    try:
        os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", "print(1)"], {})
    except Exception:
        pass
    return x * x
""", "os.posix_spawn is not allowed"),
    ("_posixsubprocess.fork_exec called directly (no audit event)", """
import _posixsubprocess, os
def f(x):
    r, w = os.pipe()
    _posixsubprocess.fork_exec([b"/bin/sh", b"-c", b"sleep SLEEP"], [b"/bin/sh"], True, (), None, None,
                               -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, True)
    return x * x
""", KERNEL),
    ("ctypes calls fork", """
import ctypes
def f(x):
    ctypes.CDLL(None).fork()
    return x * x
""", "ctypes.dlopen is not allowed"),
    ("a tracer to rewrite a running hook's variables", """
import sys
sys.settrace(lambda *a: None)
def f(x):
    return x * x
""", "sys.settrace is not allowed"),
    ("closes the guard's report pipe, then writes outside", """
import os
for fd in os.listdir("/proc/self/fd"):
    try:
        if os.readlink("/proc/self/fd/" + fd).startswith("pipe:"):
            os.close(int(fd))
    except OSError:
        pass
def f(x):
    open("/usr/TOKEN", "w")
    return x * x
""", "forbids"),
    ("points the guard's report pipe at /dev/null, then opens a socket", """
import os
null = os.open("/dev/null", os.O_WRONLY)
for fd in os.listdir("/proc/self/fd"):
    try:
        if os.readlink("/proc/self/fd/" + fd).startswith("pipe:"):
            os.dup2(null, int(fd))
    except OSError:
        pass
import socket
def f(x):
    socket.socket()
    return x * x
""", "forbids"),
]


@pytest.mark.parametrize("label, code, named", SUBVERT, ids=[c[0] for c in SUBVERT])
def test_a_peer_that_subverts_the_guard_scores_0_with_the_attempt_named(label, code, named, host):
    run = run_tests(host.fill(code), TESTS, timeout=3)
    host.assert_contained()
    assert run.score == 0 and run.status == "violation", (label, run)
    assert any(named in e for e in run.errors), (label, run)


KERNEL_ONLY = """
import os, sys
sys.path.insert(0, FOLDER)
import sandbox_child
sandbox_child._kernel_filter()  # the filter alone: no audit hook, as if peer code had switched it off
what = sys.argv[1]
if what == "thread":
    import threading
    done = []
    t = threading.Thread(target=done.append, args=(1,))
    t.start()
    t.join()
    print("thread", done)
elif what == "fork":
    os.fork()
elif what == "posix_spawn":
    os.posix_spawn("/bin/true", ["true"], {})
elif what == "fork_exec":
    import subprocess
    subprocess.run(["/bin/true"])
elif what == "socket":
    import socket
    socket.socket()
elif what == "socketpair":
    import socket
    socket.socketpair()
elif what == "ctypes":
    import ctypes
    ctypes.CDLL(None).fork()
elif what == "execve":
    os.execv(sys.executable, [sys.executable, "-c", "pass"])
print("survived")
"""


@pytest.mark.parametrize("what", ["fork", "posix_spawn", "fork_exec", "socket", "socketpair", "ctypes", "execve"])
def test_the_kernel_filter_alone_stops_processes_and_sockets(what, tmp_path):
    """The decisive layer, tested without the hook: whatever peer code undid in the interpreter, the kernel
    kills the process (SIGSYS) on a new process, program or socket, and threads still work."""
    script = tmp_path / "k.py"
    script.write_text(KERNEL_ONLY.replace("FOLDER", repr(str(sandbox.CHILD.parent))))
    out = subprocess.run([sandbox._python(), "-I", "-S", str(script), what], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == -signal.SIGSYS and "survived" not in out.stdout, (what, out)
    ok = subprocess.run([sandbox._python(), "-I", "-S", str(script), "thread"], capture_output=True, text=True,
                        timeout=30)
    assert ok.returncode == 0 and "thread [1]" in ok.stdout, ok


def test_the_kernel_filter_refuses_an_architecture_it_has_no_table_for():
    from benchmark.truth import sandbox_child

    with pytest.raises(OSError, match="no system call table for the mips architecture"):
        sandbox_child._filter_program("mips")


def test_ordinary_library_use_is_not_a_violation():
    """The guard stops escapes, not Python: namedtuples and enums (they read frames), threads, files in the
    sandbox's own folder, tracebacks, randomness."""
    code = """
import collections, dataclasses, enum, json, pathlib, random, tempfile, threading, traceback
Point = collections.namedtuple("Point", "x y")
Color = enum.Enum("Color", "RED GREEN")
@dataclasses.dataclass
class Box:
    size: int
def f(x):
    done = []
    t = threading.Thread(target=done.append, args=(x,))
    t.start()
    t.join()
    pathlib.Path("notes.json").write_text(json.dumps({"x": x}))
    with tempfile.NamedTemporaryFile("w") as tmp:
        tmp.write("x")
    try:
        1 / 0
    except ZeroDivisionError:
        trace = traceback.format_exc()
    random.random()
    return Point(done[0], Box(x).size).x * json.loads(pathlib.Path("notes.json").read_text())["x"] + 0 * len(trace)
"""
    run = run_tests(code, TESTS)
    assert run.status == "ok" and run.passed == len(TESTS), run


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


def test_verify_names_the_escape_attempt(tmp_path):
    """The README's promise: code that tries to escape scores 0 and `bench peers verify` says why."""
    import json
    import shutil

    from click.testing import CliRunner

    from benchmark.cli import main

    suite = tmp_path / "code"
    shutil.copytree(REPO / "peers" / "code", suite)
    items = suite / "items.jsonl"
    first = json.loads(items.read_text().splitlines()[0])
    assert first["true_score"] == 1.0
    first["response"] = "```python\nimport socket\nsocket.socket()\n" + first["reference"]["reference_solution"] + "\n```"
    first["reference"].pop("test_results", None)
    items.write_text(json.dumps(first) + "\n")
    res = CliRunner().invoke(main, ["peers", "verify", str(suite)])
    assert res.exit_code == 1 and first["item_id"] in res.output, res.output
    assert "escape attempt: socket.__new__ is not allowed" in res.output, res.output
