"""The two programs that run inside the sandbox, started as `python -I -S sandbox_child.py ROLE ...`.

Standard library only, never imported by the benchmark's own process for running code: benchmark/truth/sandbox.py
starts each role in an isolation tool of its own.

- `solution` loads the peer's code and answers requests about its objects (call `f` with these
  arguments, read this attribute) over a socket. It never sees the tests.
- `evaluator` runs the suite's tests. The solution's names are proxies: a call crosses the socket, the
  result comes back as plain data (exact builtin types only) and every comparison happens here, on those
  values. An object the solution made stays on its side as a handle: it can be called or read, but it
  is never compared by its own `__eq__`, so an always-equal object equals nothing. The evaluator reports
  each test's result to the benchmark over a pipe the solution has no way to reach.

Before the solution runs any peer code it arms a guard: a seccomp filter in the kernel (a new process, program
or socket kills it) and an audit hook (any other escape attempt ends it, after writing why on a report pipe to
the benchmark). Peer code never runs again after an attempt, so it cannot hide one, and nothing either part
decides on is a Python object peer code could rebind. The benchmark reads the verdict from the solution's
exit status and that pipe, not from anything the solution says over its socket.
"""

from __future__ import annotations

import builtins
import json
import os
import struct
import sys

MAX_FRAME = 64 << 20  # bytes in one message
MAX_DEPTH = 100  # nesting of a value
MAX_ITER = 1_000_000  # items read from a remote iterator


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message, or went away."""


class RemoteError(Exception):
    """An exception raised on the other side whose type is not a builtin one."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(fd: int, message: dict) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def recv(fd: int) -> dict:
    (size,) = struct.unpack(">I", _read_exact(fd, 4))
    if size > MAX_FRAME:
        raise ProtocolError(f"a message of {size} bytes is over the {MAX_FRAME}-byte limit")
    try:
        message = json.loads(_read_exact(fd, size))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a malformed message: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not an object")
    return message


_SCALARS = (type(None), bool, int, str)
_CONTAINERS = {tuple: "tuple", set: "set", frozenset: "frozenset"}
_BUILTIN_ERRORS = {name: obj for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, BaseException)}


class Remote:
    """An object that lives on the other side. Calls, attributes, items, length, truth, iteration and text
    are asked of its owner; equality and hashing are by identity, never by the owner's say-so."""

    __slots__ = ("_endpoint", "_ref")

    def __init__(self, endpoint: "Endpoint", ref: int):
        object.__setattr__(self, "_endpoint", endpoint)
        object.__setattr__(self, "_ref", ref)

    def _ask(self, op: str, **fields):
        return self._endpoint.request({"op": op, "ref": self._ref, **fields})

    def __getattr__(self, name):
        return self._ask("getattr", name=name)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=[self._endpoint.encode(a) for a in args],
                         kwargs={k: self._endpoint.encode(v) for k, v in kwargs.items()})

    def __getitem__(self, key):
        return self._ask("getitem", key=self._endpoint.encode(key))

    def __len__(self):
        n = self._ask("len")
        if type(n) is not int:
            raise TypeError("len() of a remote object is not an int")
        return n

    def __bool__(self):
        return self._ask("bool") is True

    def __iter__(self):
        items = self._ask("iter")
        if type(items) is not list:
            raise TypeError("iterating a remote object did not give a list")
        return iter(items)

    def __contains__(self, item):
        return self._ask("contains", item=self._endpoint.encode(item)) is True

    def __str__(self):
        text = self._ask("str")
        return text if type(text) is str else "<remote object>"

    def __repr__(self):
        text = self._ask("repr")
        return text if type(text) is str else "<remote object>"

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__


class Endpoint:
    """One side of the channel: encodes values (plain data by value, anything else as a handle), decodes
    what arrives with limits, and answers the other side's requests while it waits for its own reply."""

    def __init__(self, fd: int):
        self.fd = fd
        self.local: dict[int, object] = {}  # handle -> object this side lent out
        self._handle_of: dict[int, int] = {}  # id(object) -> handle
        self._remotes: dict[int, Remote] = {}
        self.broken: str | None = None
        self.handlers: dict = {}  # requests that name no handle: op -> function of no arguments

    # values
    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply")
        kind = type(value)
        if kind in _SCALARS:
            return value
        if kind is float:
            return value if value == value and value not in (float("inf"), float("-inf")) else {"float": repr(value)}
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is dict:
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if kind in _CONTAINERS:
            return {_CONTAINERS[kind]: [self.encode(v, depth + 1) for v in value]}
        if kind is bytes or kind is bytearray:
            return {kind.__name__: value.hex()}
        if kind is complex:
            return {"complex": [self.encode(value.real), self.encode(value.imag)]}
        if kind is Remote and object.__getattribute__(value, "_endpoint") is self:
            return {"home": object.__getattribute__(value, "_ref")}
        handle = self._handle_of.get(id(value))
        if handle is None:
            handle = self._handle_of[id(value)] = len(self.local) + 1
            self.local[handle] = value
        return {"ref": handle}

    def decode(self, data, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if type(data) in _SCALARS or type(data) is float:
            return data
        if type(data) is list:
            return [self.decode(v, depth + 1) for v in data]
        if type(data) is not dict or len(data) != 1:
            raise ProtocolError("a value that is not well formed")
        (tag, body), = data.items()
        if tag == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("bytes", "bytearray") and type(body) is str:
            try:
                return getattr(builtins, tag).fromhex(body)
            except ValueError:
                raise ProtocolError("malformed bytes") from None
        if tag == "complex" and type(body) is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
            return complex(*body)
        if tag == "ref" and type(body) is int:
            if body not in self._remotes:
                self._remotes[body] = Remote(self, body)
            return self._remotes[body]
        if tag == "home" and type(body) is int:
            if body not in self.local:
                raise ProtocolError("a handle this side never lent")
            return self.local[body]
        if type(body) is not list:
            raise ProtocolError("a value that is not well formed")
        try:
            if tag == "dict":
                if not all(type(p) is list and len(p) == 2 for p in body):
                    raise ProtocolError("a malformed dict")
                return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in body}
            if tag in ("tuple", "set", "frozenset"):
                return getattr(builtins, tag)(self.decode(v, depth + 1) for v in body)
        except TypeError as exc:  # an unhashable key or member
            raise ProtocolError(f"a malformed {tag}: {exc}") from None
        raise ProtocolError(f"an unknown value tag {tag[:20]!r}")

    # requests
    def request(self, req: dict):
        """Ask the other side; serve its requests (callbacks) until the answer comes."""
        if self.broken:
            raise ProtocolError(self.broken)
        try:
            send(self.fd, {"req": req})
            while True:
                message = recv(self.fd)
                if "req" in message:
                    self.serve(message["req"])
                elif "ok" in message:
                    return self.decode(message["ok"])
                elif "raise" in message:
                    break
                else:
                    raise ProtocolError("a message that is neither a request nor an answer")
        except (ProtocolError, OSError) as exc:
            self.broken = f"the channel to the other side is broken: {exc}"
            raise ProtocolError(self.broken) from None
        raise self._rebuild(message["raise"])

    @staticmethod
    def _rebuild(info) -> BaseException:
        if type(info) is not dict or type(info.get("type")) is not str or type(info.get("msg")) is not str:
            return ProtocolError("a malformed exception")
        cls = _BUILTIN_ERRORS.get(info["type"])
        if cls is not None and issubclass(cls, Exception) and cls is not RemoteError:
            try:
                return cls(info["msg"])
            except Exception:
                pass
        return RemoteError(f"{info['type'][:80]}: {info['msg']}")

    def serve(self, req) -> None:
        try:
            reply = {"ok": self.encode(self.handle(req))}
        except BaseException as exc:  # noqa: BLE001 - whatever the code raised goes back as an exception
            try:
                text = str(exc)[:500]
            except BaseException:  # noqa: BLE001
                text = "<unprintable>"
            reply = {"raise": {"type": type(exc).__name__, "msg": text}}
        send(self.fd, reply)

    def handle(self, req):
        if type(req) is not dict or type(req.get("op")) is not str:
            raise ProtocolError("a malformed request")
        op = req["op"]
        if op in self.handlers:
            return self.handlers[op]()
        obj = self.local.get(req.get("ref"))
        if obj is None and req.get("ref") not in self.local:
            raise ProtocolError("a request for a handle this side never lent")
        if op == "call":
            args = [self.decode(a) for a in req.get("args", [])]
            kwargs = {str(k): self.decode(v) for k, v in dict(req.get("kwargs", {})).items()}
            return obj(*args, **kwargs)
        if op == "getattr":
            return getattr(obj, str(req.get("name")))
        if op == "getitem":
            return obj[self.decode(req.get("key"))]
        if op == "len":
            return len(obj)
        if op == "bool":
            return bool(obj)
        if op == "iter":
            out = []
            for item in obj:
                if len(out) >= MAX_ITER:
                    raise ValueError(f"more than {MAX_ITER} items")
                out.append(item)
            return out
        if op == "contains":
            return self.decode(req.get("item")) in obj
        if op == "str":
            return str(obj)
        if op == "repr":
            return repr(obj)
        raise ProtocolError(f"an unknown request {op[:20]!r}")


# --- limits and the audit hook (run before any code from outside) ---

def _limit(cpu_seconds: int, memory_bytes: int, processes: int) -> None:
    import resource

    for name, value in (("RLIMIT_CPU", cpu_seconds), ("RLIMIT_AS", memory_bytes), ("RLIMIT_FSIZE", 1 << 20),
                        ("RLIMIT_CORE", 0), ("RLIMIT_NPROC", processes)):
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass


VIOLATION_EXIT = 87  # the guard stopped the solution for an escape attempt (the reason went to its report pipe)
UNARMED_EXIT = 88  # the guard could not be armed, so no peer code ran

_DENIED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.spawn", "pty.",
           "ctypes.", "os.kill", "os.killpg", "signal.", "_posixsubprocess.", "sqlite3.", "gc.get_")
# gc's walks reach the interpreter's list of audit hooks; a tracer can rewrite a running hook's variables
_DENIED_EXACT = ("sys.settrace", "sys.setprofile", "sys.addaudithook")
_WRITES = ("os.remove", "os.unlink", "os.rmdir", "os.rename", "os.replace", "shutil.rmtree", "os.mkdir",
           "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "os.utime", "shutil.copyfile",
           "shutil.move")
_TWO_PATHS = ("os.rename", "os.replace", "os.link", "shutil.move")  # both paths are written
_DEST_ONLY = ("shutil.copyfile",)  # the source is only read

# seccomp: per architecture, (AUDIT_ARCH_*, system calls that kill the process, clone, clone3, x32 ABI to refuse)
_SYSCALLS = {
    "x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "socket": 41, "socketpair": 53,
                            "ptrace": 101, "process_vm_writev": 311, "io_uring_setup": 425}, 56, 435, True),
    "aarch64": (0xC00000B7, {"execve": 221, "execveat": 281, "socket": 198, "socketpair": 199, "ptrace": 117,
                             "process_vm_writev": 271, "io_uring_setup": 425}, 220, 435, False),
}
_CLONE_THREAD = 0x00010000


def _filter_program(machine: str) -> list[tuple[int, int, int, int]]:
    """A classic BPF program for seccomp: kill the process on a new process (fork, vfork, clone without
    CLONE_THREAD), a new program (execve), a socket, ptrace or io_uring; clone3 gets ENOSYS so threads fall back
    to clone, whose flags can be checked. Any other architecture or ABI is killed too."""
    if machine not in _SYSCALLS:
        raise OSError(f"no system call table for the {machine} architecture")
    arch, killed, clone, clone3, x32 = _SYSCALLS[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE/JSET|K, BPF_RET|K
    kill, allow, enosys = 0x80000000, 0x7FFF0000, 0x00050000 | 38  # SECCOMP_RET_KILL_PROCESS, _ALLOW, _ERRNO
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill), (ld, 0, 0, 0)]  # seccomp_data.arch, .nr
    if x32:
        prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, kill)]
    for nr in killed.values():
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, kill)]
    prog += [(jeq, 0, 1, clone3), (ret, 0, 0, enosys)]
    prog += [(jeq, 0, 3, clone), (ld, 0, 0, 16), (jset, 1, 0, _CLONE_THREAD), (ret, 0, 0, kill)]  # args[0] = flags
    return prog + [(ret, 0, 0, allow)]


def _kernel_filter() -> None:
    """Install the seccomp filter on this process (and every thread it starts). The kernel holds it: no
    rebinding, closure or frame in this interpreter reaches it, and it cannot be lifted. Raises OSError when
    it cannot be installed."""
    import ctypes

    prog = _filter_program(os.uname().machine)
    code = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to install a filter unprivileged
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    for name in [n for n in sys.modules if n == "ctypes" or n.startswith("ctypes.")]:
        del sys.modules[name]  # peer code that wants ctypes imports it afresh, which the hook stops


def _make_hook(workdir: str, report_fd: int):
    """The audit hook: on an escape attempt it writes the reason to `report_fd` and ends the process at once,
    so peer code never runs again to hide it. It decides on event names and argument values only, with
    everything it uses bound here as constants and real builtin functions (no globals, no builtins looked
    up, no wrapper around anything): rebinding this file's names, a module's functions or builtins changes
    nothing it does."""
    denied, denied_exact, writes, two_paths, dest_only = _DENIED, _DENIED_EXACT, _WRITES, _TWO_PATHS, _DEST_ONLY
    write, stop, getcwd, fspath = os.write, os._exit, os.getcwd, os.fspath
    str_, bytes_, int_, type_, issubclass_, len_ = str, bytes, int, type, issubclass, len
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    root, violation_exit = os.path.realpath(workdir), VIOLATION_EXIT

    def as_text(path):
        """The path as an exact str (None for a file descriptor), without calling methods a str subclass
        could override."""
        kind = type_(path)
        if kind is int_ or kind is type_(None):
            return None
        if not (issubclass_(kind, str_) or issubclass_(kind, bytes_)):
            path = fspath(path)
            kind = type_(path)
        if issubclass_(kind, bytes_):
            return b"".join((path,)).decode("utf-8", "surrogateescape")
        return "".join((path,))

    def outside(path) -> bool:
        p = as_text(path)
        if p is None:
            return False
        if not p.startswith("/"):
            p = getcwd() + "/" + p
        parts = []
        for part in p.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        p = "/" + "/".join(parts)
        return not (p == root or p.startswith(root + "/") or p == "/dev/null")

    def verdict(event, args):
        if event.startswith(denied) or event in denied_exact:
            return event + " is not allowed"
        if event == "open" and len_(args) > 2:
            mode, flags = args[1], args[2]
            writing = (type_(mode) is str_ and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or (
                type_(flags) is int_ and flags & write_flags)
            if writing and outside(args[0]):
                return "writing " + as_text(args[0]) + " is not allowed"
        elif event in writes and args:
            paths = (args[1],) if event in dest_only else (args[0], args[1]) if event in two_paths else (args[0],)
            for path in paths:
                if outside(path):
                    return event + " on " + as_text(path) + " outside the sandbox is not allowed"
        elif event == "object.__setattr__" and len_(args) > 1 and args[1] == "__code__":
            return "replacing a function's code is not allowed"
        return None

    def hook(event, args):
        try:
            reason = verdict(event, args)
        except:  # noqa: E722 - arguments it cannot read (a hostile path object) count as an attempt
            reason = event + " with arguments the sandbox cannot read"
        if reason is not None:
            try:
                write(report_fd, (reason[:300].replace("\n", " ") + "\n").encode("utf-8", "replace"))
            except:  # noqa: E722 - a closed or replaced report pipe: the exit status still says it
                pass
            stop(violation_exit)

    return hook


def _guard(workdir: str, report_fd: int, require_filter: bool) -> None:
    """Arm the solution's guard before any peer code runs. The kernel filter is what is decisive: whatever peer
    code rebinds, a new process, program or socket kills it (the benchmark sees the signal). The audit hook
    names what it can (writes outside `workdir`, sqlite3, ctypes, signals, gc's walks, tracers) and stops the
    process too. The isolation tool contains the rest. Without the filter (only where the user opted out of
    isolation) the hook alone guards."""
    sys.dont_write_bytecode = True  # a cached .pyc written outside /tmp would count as an attempt
    try:
        _kernel_filter()
    except (OSError, ImportError, AttributeError) as exc:
        if require_filter:
            try:
                send_line(report_fd, f"the kernel filter could not be installed: {exc}")
            finally:
                os._exit(UNARMED_EXIT)
    sys.addaudithook(_make_hook(workdir, report_fd))


def send_line(fd: int, text: str) -> None:
    data = (text + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


# --- the roles ---

def solution_main(sock_fd: int, report_fd: int, spec: dict) -> None:
    _limit(spec["cpu_seconds"], spec["memory_bytes"], spec["processes"])
    endpoint = Endpoint(sock_fd)
    # a module of its own, as an imported file has (dataclasses, pickle and typing look classes up there)
    module = type(sys)("peer_solution")
    sys.modules[module.__name__] = module
    namespace: dict = vars(module)
    namespace["__builtins__"] = builtins
    code = spec["code"]
    _guard(os.getcwd(), report_fd, bool(spec.get("require_filter")))
    load_error = None
    try:
        exec(compile(code, "solution.py", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - a solution that fails to load fails every test
        try:
            load_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        except BaseException:  # noqa: BLE001
            load_error = type(exc).__name__

    def names():
        if load_error:
            raise RuntimeError(f"solution failed to load: {load_error}")
        return {k: v for k, v in namespace.items()
                if not k.startswith("__") and type(v).__name__ != "module"}

    endpoint.handlers = {"names": names}
    while True:
        try:
            message = recv(sock_fd)
        except (ProtocolError, OSError):
            os._exit(0)
        endpoint.serve(message.get("req"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ProtocolError):
        return f"the solution's process ended or garbled its replies ({exc})"
    try:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    except BaseException:  # noqa: BLE001
        return type(exc).__name__


def evaluator_main(sock_fd: int, ctl_fd: int, spec: dict) -> None:
    _limit(spec["cpu_seconds"], spec["memory_bytes"], spec["processes"])
    endpoint = Endpoint(sock_fd)
    tests, start = spec["tests"], spec["start"]

    def report(**message) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(ctl_fd, data):]

    load_error = None
    try:
        names = endpoint.request({"op": "names"})
        if type(names) is not dict or not all(type(k) is str for k in names):
            raise ProtocolError("the solution's names are not a mapping")
    except BaseException as exc:  # noqa: BLE001
        names, load_error = {}, str(exc)[:300] if isinstance(exc, RuntimeError) else _describe(exc)
    # `gone`: the solution's process ended (perhaps stopped by its guard): the benchmark reads why
    report(loaded=True, gone=bool(endpoint.broken))
    for k in range(start, len(tests)):
        report(started=k)
        if load_error:
            report(test=k, passed=False, error=load_error)
            continue
        namespace = {**names, "__name__": "peer_test", "__builtins__": builtins}
        passed, error = True, None
        try:
            exec(compile(tests[k], f"test {k + 1}", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - a failing or broken test is a failed test
            passed, error = False, f"{tests[k][:80]}: {_describe(exc)}"
        report(test=k, passed=passed, error=error, gone=bool(endpoint.broken))
        if endpoint.broken:  # the solution died or garbled the channel: start afresh for the next test
            return
    report(done=True)


def main(argv: list[str]) -> None:
    role, input_path = argv[1], argv[2]
    with open(input_path, encoding="utf-8") as f:
        spec = json.load(f)
    if role == "solution":
        solution_main(int(argv[3]), int(argv[4]), spec)
    elif role == "evaluator":
        evaluator_main(int(argv[3]), int(argv[4]), spec)
    elif role == "probe":  # the isolation starts a sandbox, and the kernel filter installs in it
        _kernel_filter()
        print("ok", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
