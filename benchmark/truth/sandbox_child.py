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


_DENIED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.spawn", "pty.",
           "ctypes.", "os.kill", "os.killpg", "signal.", "_posixsubprocess.", "sqlite3.")
_WRITES = {"os.remove", "os.unlink", "os.rmdir", "os.rename", "os.replace", "shutil.rmtree", "os.mkdir",
           "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "os.utime", "shutil.copyfile",
           "shutil.move"}


def _watch(workdir: str, violations: list) -> None:
    """Record (and refuse) what peer code has no business doing. The isolation tool is what contains it;
    this names the attempt, so a peer that tried to escape scores 0 and the report says why."""
    workdir = os.path.realpath(workdir)

    def inside(path) -> bool:
        try:
            p = os.path.realpath(os.fsdecode(path))
        except Exception:  # noqa: BLE001
            return False
        return p == workdir or p.startswith(workdir + os.sep) or p == "/dev/null"

    def deny(message: str):
        violations.append(message)
        raise PermissionError("sandbox: " + message)

    def hook(event, args):
        if event.startswith(_DENIED):
            deny(f"{event} is not allowed")
        if event == "open" and len(args) > 1 and not isinstance(args[0], int):
            mode, flags = args[1] or "r", args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = any(c in str(mode) for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT
                                                                       | os.O_TRUNC | os.O_APPEND)
            if writing and not inside(args[0]):
                deny(f"writing {args[0]} is not allowed")
        if event in _WRITES and args and not isinstance(args[0], int) and not inside(args[0]):
            deny(f"{event} outside the sandbox is not allowed")

    sys.addaudithook(hook)
    # starting a process through _posixsubprocess raises no audit event of its own
    import _posixsubprocess

    real_fork_exec = _posixsubprocess.fork_exec

    def fork_exec(*args, **kwargs):
        deny("_posixsubprocess.fork_exec is not allowed")
        return real_fork_exec(*args, **kwargs)

    _posixsubprocess.fork_exec = fork_exec


# --- the roles ---

def solution_main(sock_fd: int, spec: dict) -> None:
    _limit(spec["cpu_seconds"], spec["memory_bytes"], spec["processes"])
    endpoint = Endpoint(sock_fd)
    violations: list[str] = []
    namespace: dict = {"__name__": "peer_solution", "__builtins__": builtins}
    code = spec["code"]
    _watch(os.getcwd(), violations)
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

    def take_violations():
        taken = violations[:20]
        violations.clear()
        return taken

    endpoint.handlers = {"names": names, "violations": take_violations}
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

    def ask_violations() -> list[str]:
        try:
            found = endpoint.request({"op": "violations"})
        except BaseException:  # noqa: BLE001
            return []
        return [str(v)[:300] for v in found] if type(found) is list else []

    load_error, load_violations = None, []
    try:
        names = endpoint.request({"op": "names"})
        if type(names) is not dict or not all(type(k) is str for k in names):
            raise ProtocolError("the solution's names are not a mapping")
    except BaseException as exc:  # noqa: BLE001
        names, load_error = {}, str(exc)[:300] if isinstance(exc, RuntimeError) else _describe(exc)
        load_violations = ask_violations()
    report(loaded=True)
    for k in range(start, len(tests)):
        report(started=k)
        if load_error:
            report(test=k, passed=False, error=load_error, violations=load_violations)
            continue
        namespace = {**names, "__name__": "peer_test", "__builtins__": builtins}
        passed, error = True, None
        try:
            exec(compile(tests[k], f"test {k + 1}", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - a failing or broken test is a failed test
            passed, error = False, f"{tests[k][:80]}: {_describe(exc)}"
        violations = ask_violations()
        report(test=k, passed=passed and not violations, error=error, violations=violations)
        if endpoint.broken:  # the solution died or garbled the channel: start afresh for the next test
            return
    report(done=True)


def main(argv: list[str]) -> None:
    role, input_path = argv[1], argv[2]
    with open(input_path, encoding="utf-8") as f:
        spec = json.load(f)
    if role == "solution":
        solution_main(int(argv[3]), spec)
    elif role == "evaluator":
        evaluator_main(int(argv[3]), int(argv[4]), spec)
    elif role == "probe":
        print("ok", flush=True)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
