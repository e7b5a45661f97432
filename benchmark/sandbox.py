"""Run untrusted peer code against unit tests in a contained child process.

Never in the benchmark's own process: each run is a fresh `python -I` child in a temporary folder with
CPU, memory, file-size and process limits, no network namespace where the OS allows it, and an audit hook
(which Python code cannot remove) that refuses sockets, subprocesses and writes outside the folder.
The child's own output goes nowhere, so a flood of prints cannot fill memory; results come back through
a file. A timeout, crash or escape attempt scores 0 and the benchmark keeps running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

RUNNER = r'''
import json, os, resource, select, signal, sys, time
limit_cpu, limit_mem, per_test, workdir = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), os.path.realpath(sys.argv[4])
spec = json.load(open(os.path.join(workdir, "spec.json")))
out_path = os.path.join(workdir, "result.json")
result_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

BLOCKED_PREFIXES = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.spawn",
                    "pty.", "ctypes.", "os.kill", "signal.")
WRITE_EVENTS = {"os.remove", "os.unlink", "os.rmdir", "os.rename", "os.replace", "shutil.rmtree", "os.mkdir",
                "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "os.utime"}

def inside(path):
    try:
        p = os.path.realpath(os.fsdecode(path) if not isinstance(path, int) else "")
    except Exception:
        return False
    return p == workdir or p.startswith(workdir + os.sep)

def run_one(test, write_fd):
    # in a forked child: limits, the audit hook, the solution, then one test; report on write_fd
    os.setpgid(0, 0)
    resource.setrlimit(resource.RLIMIT_CPU, (limit_cpu, limit_cpu))
    resource.setrlimit(resource.RLIMIT_AS, (limit_mem, limit_mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0)) if os.getuid() != 0 else None
    violations = []

    def deny(message):
        violations.append(message)
        raise PermissionError("sandbox: " + message)

    def hook(event, args):
        if event.startswith(BLOCKED_PREFIXES):
            deny(f"{event} is not allowed")
        if event == "open" and len(args) > 1:
            path, mode = args[0], args[1] or "r"
            flags = args[2] if len(args) > 2 else 0
            writing = any(c in str(mode) for c in "wax+") or (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR))
            if writing and not isinstance(path, int) and not inside(path):
                deny(f"writing {path} is not allowed")
        if event in WRITE_EVENTS and args and not isinstance(args[0], int) and not inside(args[0]):
            deny(f"{event} outside the sandbox is not allowed")

    sys.addaudithook(hook)
    outcome = {"passed": False, "error": None}
    ns = {"__name__": "peer_solution"}
    try:
        exec(compile(spec["code"], "solution.py", "exec"), ns)
        try:
            exec(compile(test, "test", "exec"), dict(ns))
            outcome["passed"] = True
        except BaseException as e:
            outcome["error"] = f"{test[:80]}: {type(e).__name__}: {str(e)[:120]}"
    except BaseException as e:
        outcome["error"] = f"solution failed to load: {type(e).__name__}: {str(e)[:200]}"
    outcome["violations"] = violations[:20]
    os.write(write_fd, json.dumps(outcome).encode())
    os._exit(0)

# One forked child per test (this trusted runner forks before any peer code runs): a test that hangs or
# crashes costs only itself; its whole process group is killed at its own deadline.
passed, errors, violations = 0, [], []
for test in spec["tests"]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        run_one(test, write_fd)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + per_test
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read_fd], [], [], left)[0]:
            break
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    os.waitpid(pid, 0)
    try:
        outcome = json.loads(b"".join(chunks) or b"null")
    except ValueError:
        outcome = None
    if not isinstance(outcome, dict):
        errors.append(f"{test[:80]}: " + ("timed out" if time.monotonic() >= deadline else "crashed"))
        continue
    passed += bool(outcome.get("passed")) and not outcome.get("violations")
    violations += outcome.get("violations") or []
    if outcome.get("error"):
        errors.append(outcome["error"])
os.write(result_fd, json.dumps({"passed": passed, "total": len(spec["tests"]), "errors": errors[:20],
                                "violations": violations[:20]}).encode())
os.close(result_fd)
os._exit(0)
'''


@dataclass(frozen=True)
class TestRun:
    passed: int
    total: int
    status: str  # "ok" | "timeout" | "crashed" | "violation" (tried to escape the sandbox)
    errors: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """Share of tests passed; anything that did not finish cleanly scores 0."""
        return self.passed / self.total if self.status == "ok" and self.total else 0.0


def _isolation_prefix() -> list[str]:
    """`unshare -n` (no network at all) when the OS lets us; the audit hook blocks sockets regardless."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


_PREFIX: list[str] | None = None


def run_tests(code: str, tests: list[str], timeout: float = 10.0, cpu_seconds: int = 8,
              memory_bytes: int = 512 * 1024 * 1024) -> TestRun:
    """Execute `code`, then each test snippet (an assert), in a contained child; count passes. Each test
    runs in a process of its own with `timeout` seconds: a test that hangs fails alone."""
    global _PREFIX
    if _PREFIX is None:
        _PREFIX = _isolation_prefix()
    with tempfile.TemporaryDirectory(prefix="peer-bench-sandbox-") as tmp:
        Path(tmp, "spec.json").write_text(json.dumps({"code": code, "tests": tests}))
        cmd = [*_PREFIX, sys.executable, "-I", "-S", "-c", RUNNER, str(cpu_seconds), str(memory_bytes), str(timeout), tmp]
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=timeout * len(tests) + 10, start_new_session=True)
        except subprocess.TimeoutExpired:
            return TestRun(0, len(tests), "timeout", ("timed out",))
        result = Path(tmp, "result.json")
        if proc.returncode != 0 or not result.is_file() or not result.stat().st_size:
            return TestRun(0, len(tests), "crashed", (f"exit code {proc.returncode}",))
        data = json.loads(result.read_text())
        if data["violations"]:
            return TestRun(0, int(data["total"]), "violation", tuple(data["violations"]))
        return TestRun(int(data["passed"]), int(data["total"]), "ok", tuple(data["errors"]))


if __name__ == "__main__":  # pragma: no cover - manual check
    print(run_tests(os.environ.get("CODE", "def f(x): return x"), ["assert f(1) == 1"]))
