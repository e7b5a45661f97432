"""Run untrusted peer code against unit tests, contained by a real isolation tool.

Peer code (shipped suites, anyone's suite, code written by live models) never runs in the benchmark's own
process. Each item gets two sandboxes made by bubblewrap (`bwrap`): one loads the solution and answers calls
over a socket, the other runs the tests and compares the values that come back (`benchmark/truth/sandbox_child.py`).
Each sandbox has no network, a read-only view of only what Python needs (no /etc, no home, no checkout), a
fresh size-limited /tmp as the only writable place, its own process namespace (everything in it dies with
it: no orphans), a user id of its own with a process limit that applies, CPU, memory and file-size limits,
and dies with the benchmark. Results come back to the benchmark on a pipe only the test sandbox holds.

Inside the solution sandbox a guard (a seccomp filter and an audit hook, `sandbox_child._guard`) stops the
solution at its first escape attempt. The benchmark takes the verdict from outside: the solution's exit status
(killed by the kernel, or ended by its guard) and the guard's report pipe, so a solution that rebinds or
digs out anything inside its interpreter still scores 0 with the attempt named.

Without bubblewrap, code is refused (`SandboxUnavailable`) unless the user opts out loudly
(`--unsafe-no-isolation` or PEER_BENCH_UNSAFE_NO_ISOLATION=1): then the same two programs run as plain
child processes, which contains hangs and forged results but not reads, writes or the network.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.common.errors import PeerBenchError
from benchmark.truth.sandbox_child import UNARMED_EXIT, VIOLATION_EXIT

CHILD = Path(__file__).with_name("sandbox_child.py")
UNSAFE_ENV = "PEER_BENCH_UNSAFE_NO_ISOLATION"
PROCESSES = 32  # per sandbox
TMP_BYTES = 64 << 20
_UIDS = itertools.count()
_LOCK = threading.Lock()


class SandboxUnavailable(PeerBenchError, RuntimeError):
    """No isolation tool works here, and the user did not opt out of isolation."""


@dataclass(frozen=True)
class TestRun:
    passed: int
    total: int
    status: str  # "ok" | "timeout" | "crashed" | "violation" (tried to escape the sandbox)
    errors: tuple[str, ...] = ()
    results: tuple[bool, ...] = ()  # per test, in order (all False unless the run finished cleanly)

    @property
    def score(self) -> float:
        """Share of tests passed; anything that did not finish cleanly scores 0."""
        return self.passed / self.total if self.status == "ok" and self.total else 0.0


def _python() -> str:
    """The real interpreter binary (a venv's `python` is a link to it); the sandbox needs only its stdlib."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _system_binds() -> list[str]:
    """A read-only view of /usr (with the /lib, /bin links of a merged-/usr system) and the interpreter's
    own prefix: enough for `python -I -S`, and nothing else of the host (no /etc, no home, no checkout)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/lib", "/lib32", "/lib64", "/bin", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    binds = []
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/") and prefix != "/usr":
        binds.append(prefix)
    python_dir = os.path.dirname(_python())
    if not python_dir.startswith(("/usr/", prefix + "/")):
        binds.append(python_dir)
    for path in binds:
        # the folders above it appear traversable (as /root is not, a pyenv Python would not run)
        parents = [str(p) for p in reversed(Path(path).parents) if str(p) != "/"]
        args += [a for parent in parents for a in ("--perms", "0755", "--dir", parent)]
        args += ["--ro-bind", path, path]
    return args


@dataclass(frozen=True)
class Isolation:
    """How a sandboxed program is started: `bwrap` (isolated) or, after an explicit opt-out, a bare child."""

    bwrap: str | None

    @property
    def isolated(self) -> bool:
        return self.bwrap is not None

    def command(self, role: str, input_fd: int, input_path: str, extra: list[str]) -> tuple[list[str], str | None]:
        """(argv, working folder for an unisolated child) for one role of sandbox_child.py."""
        if not self.isolated:
            workdir = tempfile.mkdtemp(prefix="peer-bench-unisolated-")
            return [_python(), "-I", "-S", str(CHILD), role, input_path, *extra], workdir
        argv = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "peer-sandbox",
                *_system_binds(), "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
                "--ro-bind", str(CHILD), "/sandbox_child.py",
                "--perms", "0444", "--ro-bind-data", str(input_fd), "/input.json",
                "--chdir", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", "0"]
        if os.getuid() == 0:
            # root is exempt from the process limit: each sandbox runs as a user id of its own
            with _LOCK:
                uid = 200_000 + (os.getpid() % 4096) * 1024 + next(_UIDS) % 1024
            argv += ["--", shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                     "--clear-groups", "--no-new-privs"]
        else:
            argv += ["--unshare-user"]
        return [*argv, "--", _python(), "-I", "-S", "/sandbox_child.py", role, "/input.json", *extra], None


_ISOLATION: Isolation | None = None
_WARNED = False


def _unsafe_allowed() -> bool:
    """The loud opt-out, PEER_BENCH_UNSAFE_NO_ISOLATION=1 (what --unsafe-no-isolation sets for its command):
    where no isolation tool works, run peer code as a bare child process, which can then read and write as
    you. One switch, read where it matters, never a module flag set from outside."""
    return os.environ.get(UNSAFE_ENV) == "1"


def _probe(bwrap: str) -> str | None:
    """None if a sandbox starts here, else the reason it does not."""
    with tempfile.TemporaryFile() as spec:
        spec.write(b"{}")
        spec.seek(0)
        cmd, _ = Isolation(bwrap).command("probe", spec.fileno(), "", [])
        try:
            proc = subprocess.run(cmd, pass_fds=(spec.fileno(),), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
    if proc.returncode == 0 and proc.stdout.strip() == "ok":
        return None
    return (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]


def isolation() -> Isolation:
    """The isolation in force, checked once per process. Raises SandboxUnavailable with what to do."""
    global _ISOLATION, _WARNED
    if _ISOLATION is None or (not _ISOLATION.isolated and not _unsafe_allowed()):
        bwrap = shutil.which("bwrap")
        reason = _probe(bwrap) if bwrap else "bubblewrap (bwrap) is not installed"
        if reason is None:
            _ISOLATION = Isolation(bwrap)
        elif _unsafe_allowed():
            _ISOLATION = Isolation(None)
        else:
            raise SandboxUnavailable(
                f"refusing to run untrusted peer code without isolation: {reason}. Install bubblewrap "
                "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or, only for "
                "code you trust, pass --unsafe-no-isolation")
    if not _ISOLATION.isolated and not _WARNED:
        _WARNED = True
        print("WARNING: running untrusted peer code WITHOUT isolation (--unsafe-no-isolation): it can read "
              "and write your files and reach the network", file=sys.stderr)
    return _ISOLATION


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


KERNEL_STOPPED = ("the solution started a process or a program, or opened a socket, and the kernel's filter "
                  "stopped it")
GUARD_STOPPED = "the solution tried something the sandbox forbids (its guard's report did not arrive)"


class _Pair:
    """One solution sandbox and one test sandbox joined by a socket; the test sandbox reports on a pipe, the
    solution's guard on another."""

    def __init__(self, iso: Isolation, spec_solution: dict, spec_tests: dict):
        self.procs: list[subprocess.Popen] = []
        self.workdirs: list[str] = []
        self.gone = False  # the test sandbox saw the solution's process end
        ours, theirs = socket.socketpair()
        ctl_read, ctl_write = os.pipe()
        guard_read, guard_write = os.pipe()
        try:
            self._start(iso, "solution", spec_solution, [theirs.fileno(), guard_write])
            self._start(iso, "evaluator", spec_tests, [ours.fileno(), ctl_write])
        except BaseException:
            os.close(ctl_read)
            os.close(guard_read)
            self.close()
            raise
        finally:
            ours.close()
            theirs.close()
            os.close(ctl_write)
            os.close(guard_write)
        self.ctl, self.guard = ctl_read, guard_read
        os.set_blocking(self.guard, False)
        self.buffer = b""

    def _start(self, iso: Isolation, role: str, spec: dict, fds: list[int]) -> None:
        with tempfile.NamedTemporaryFile(prefix="peer-bench-input-", suffix=".json") as f:
            f.write(json.dumps(spec).encode())
            f.flush()
            f.seek(0)
            cmd, workdir = iso.command(role, f.fileno(), f"/dev/fd/{f.fileno()}", [str(fd) for fd in fds])
            if workdir:
                self.workdirs.append(workdir)
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
            self.procs.append(subprocess.Popen(
                cmd, pass_fds=(*fds, f.fileno()), cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

    def next_message(self, deadline: float) -> dict | None:
        """The test sandbox's next report, or None at the deadline or when it is gone."""
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.ctl], [], [], left)[0]:
                return None
            chunk = os.read(self.ctl, 65536)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > 1 << 20:
                return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def violations(self) -> list[str]:
        """What the solution was stopped for, seen from outside: the lines on its guard's pipe (only the guard
        writes there, and only before it ends the process) and its exit status. Call before close()."""
        proc = self.procs[0]
        try:  # the test sandbox saw it end: give its sandbox a moment to report the exit status
            proc.wait(timeout=2.0)  # also after a load that timed out: a guard that stopped it reports late under load
        except subprocess.TimeoutExpired:
            pass
        data = b""
        while len(data) < 1 << 16:
            try:
                chunk = os.read(self.guard, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        found = [line.strip()[:300] for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        code = proc.returncode
        if code == UNARMED_EXIT:
            raise SandboxUnavailable("refusing to run untrusted peer code: " + (
                found[0] if found else "the solution sandbox's guard could not be armed"))
        if code in (-signal.SIGSYS, 128 + signal.SIGSYS):  # a bare child, or bubblewrap passing the signal on
            found.append(KERNEL_STOPPED)
        elif code == VIOLATION_EXIT and not found:
            found.append(GUARD_STOPPED)
        return found[:20]

    def close(self) -> None:
        for proc in self.procs:
            _kill(proc)
        if hasattr(self, "ctl"):
            os.close(self.ctl)
            os.close(self.guard)
        for workdir in self.workdirs:
            shutil.rmtree(workdir, ignore_errors=True)


def run_tests(code: str, tests: list[str], timeout: float = 3.0, cpu_seconds: int = 8,
              memory_bytes: int = 512 * 1024 * 1024) -> TestRun:
    """Load `code` in one sandbox, run each test snippet in another against it, and count the passes.

    Each test has `timeout` seconds (3, as HumanEval's own harness): a test that hangs or crashes the solution fails alone (both sandboxes
    are killed and restarted for the tests after it). A solution whose loading hangs fails every test."""
    iso = isolation()
    results: dict[int, tuple[bool, str | None]] = {}
    crashed, start = False, 0
    limits = {"cpu_seconds": max(1, int(cpu_seconds * max(1, len(tests)))), "memory_bytes": int(memory_bytes),
              "processes": PROCESSES}
    violations: list[str] = []
    while start < len(tests):
        pair = _Pair(iso, {**limits, "code": code, "require_filter": iso.isolated},
                     {**limits, "tests": list(tests), "start": start})
        try:
            start, crashed = _collect(pair, tests, start, timeout, results)
            violations += pair.violations()
        finally:
            pair.close()
        if crashed or violations:  # one attempt scores 0: the tests after it need not run
            break
    errors = tuple(e for k in sorted(results) if (e := results[k][1]))
    failed = (False,) * len(tests)
    if violations:
        return TestRun(0, len(tests), "violation", tuple(dict.fromkeys(violations))[:20], failed)
    if crashed:
        return TestRun(0, len(tests), "crashed", errors or ("the sandbox did not start",), failed)
    if all(e == "timed out while loading the solution" for _, e in results.values()) and tests:
        return TestRun(0, len(tests), "timeout", errors[:1], failed)
    passes = tuple(bool(results[k][0]) if k in results else False for k in range(len(tests)))
    return TestRun(sum(passes), len(tests), "ok", errors[:20], passes)


def _collect(pair: _Pair, tests: list[str], start: int, timeout: float,
             results: dict) -> tuple[int, bool]:
    """Read one pair's reports into `results`; (where the next pair starts, whether the sandbox failed)."""
    # loading the solution gets the same deadline as one test, plus the sandbox's start
    message = pair.next_message(time.monotonic() + timeout + 10)  # the sandbox's start is slow on a loaded machine
    pair.gone = bool(message and message.get("gone"))
    if message is None or not message.get("loaded"):
        if message is None and any(p.poll() not in (None, 0) for p in pair.procs) and not results:
            return len(tests), True
        for k in range(start, len(tests)):
            results[k] = (False, "timed out while loading the solution")
        return len(tests), False
    current = None
    while True:
        message = pair.next_message(time.monotonic() + timeout)
        if message is None:
            if current is None:
                current = start
            if current not in results:
                gone = pair.procs[1].poll() is not None
                results[current] = (False, f"{tests[current][:80]}: " + ("crashed" if gone else "timed out"))
            return current + 1, False
        if message.get("done"):
            return len(tests), False
        k = message.get("started", message.get("test"))
        if not isinstance(k, int) or not start <= k < len(tests):
            return len(tests), True
        current = k
        if "test" in message:
            pair.gone = pair.gone or bool(message.get("gone"))
            results[k] = (bool(message.get("passed")), message.get("error"))


if __name__ == "__main__":  # pragma: no cover - manual check
    print(run_tests(os.environ.get("CODE", "def f(x): return x"), ["assert f(1) == 1"]))
