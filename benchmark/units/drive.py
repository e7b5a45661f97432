"""The simulated drive: servers of files held in memory, and the tools an agent acts on them with.

Used by the agentic scenarios and by the answer sheet with tools. Nothing here touches the host: paths
are keys of a dict, absolute and normalised ('..' refused), and every tool call is recorded, refused
ones included, so outcomes are read from the trace and the final state, never from the agent's words.
A leaf module: it imports nothing from the rest of peer-bench.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field


class EnvError(ValueError):
    """A tool call the environment refuses (unknown server, missing file, bad path, ...)."""


@dataclass
class File:
    content: str
    mtime: str  # ISO date; the rules of a task refer to it
    size_gb: float = 0.0


def norm(path: str) -> str:
    """An absolute, normalised path inside the simulated drive; '..' may not climb out of it."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise EnvError(f"paths must be absolute, got {path!r}")
    if any(part == ".." for part in path.split("/")):
        raise EnvError(f"path traversal is not allowed: {path!r}")
    return posixpath.normpath("/" + path.lstrip("/"))  # POSIX keeps a leading '//': one file, one name


@dataclass
class Environment:
    """Servers -> {absolute path: File}. Every tool call is recorded, refused ones included."""

    servers: dict[str, dict[str, File]]
    today: str
    trace: list[dict] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: dict) -> "Environment":
        servers = {name: {norm(p): File(**f) for p, f in files.items()} for name, files in spec["servers"].items()}
        return cls(servers=servers, today=spec["today"])

    def record(self, tool: str, args: dict, ok: bool, result: str) -> str:
        self.trace.append({"tool": tool, "args": args, "ok": ok, "result": result[:300]})
        return result

    def _locate(self, server: str, path: str) -> tuple[dict[str, File], str]:
        if server not in self.servers:
            raise EnvError(f"unknown server '{server}' (servers: {', '.join(self.servers)})")
        return self.servers[server], norm(path)

    def _existing(self, server: str, path: str) -> tuple[dict[str, File], str]:
        files, p = self._locate(server, path)
        if p not in files:
            raise EnvError(f"no such file {p} on {server}")
        return files, p

    def call(self, tool: str, **args) -> str:
        """Run one tool on the environment; refusals and errors are returned to the agent and recorded."""
        try:
            result = getattr(self, f"_t_{tool}")(**args)
        except (EnvError, KeyError, TypeError) as exc:
            return self.record(tool, args, False, f"ERROR: {exc}")
        return self.record(tool, args, True, result)

    def _t_list_files(self, server: str, directory: str = "/") -> str:
        files, d = self._locate(server, directory)
        rows = [f"{p}  {f.size_gb:g} GB  modified {f.mtime}" for p, f in sorted(files.items())
                if p == d or p.startswith(d.rstrip("/") + "/")]
        return "\n".join(rows) or "(no files)"

    def _t_read_file(self, server: str, path: str) -> str:
        files, p = self._existing(server, path)
        return files[p].content

    def _t_write_file(self, server: str, path: str, content: str) -> str:
        files, p = self._locate(server, path)
        files[p] = File(content=content, mtime=self.today, size_gb=files[p].size_gb if p in files else 0.0)
        return f"wrote {p} on {server}"

    def _t_delete_file(self, server: str, path: str) -> str:
        files, p = self._existing(server, path)
        del files[p]
        return f"deleted {p} on {server}"

    def _t_copy_file(self, server: str, path: str, dest_server: str, dest_path: str) -> str:
        files, p = self._existing(server, path)
        dest, q = self._locate(dest_server, dest_path)
        dest[q] = File(files[p].content, mtime=self.today, size_gb=files[p].size_gb)  # a copy is a new file
        return f"copied {server}:{p} to {dest_server}:{q} (modified {self.today})"

    def _t_transfer_file(self, server: str, path: str, dest_server: str, dest_path: str) -> str:
        files, p = self._existing(server, path)
        dest, q = self._locate(dest_server, dest_path)
        dest[q] = files.pop(p)  # a move keeps the timestamp
        return f"moved {server}:{p} to {dest_server}:{q}"

    def _t_set_timestamp(self, server: str, path: str, mtime: str) -> str:
        files, p = self._existing(server, path)
        files[p].mtime = mtime
        return f"set modified date of {p} to {mtime}"

    def _t_edit_config(self, server: str, path: str, key: str, value: str) -> str:
        files, p = self._existing(server, path)
        lines = files[p].content.splitlines()
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        if not any(pattern.match(line) for line in lines):
            raise EnvError(f"no key '{key}' in {p}")
        files[p].content = "\n".join(f"{key}: {value}" if pattern.match(line) else line for line in lines) + "\n"
        files[p].mtime = self.today
        return f"set {key}: {value} in {p}"

    def _t_report(self, message: str) -> str:
        self.reports.append(message)
        return "report submitted"


def config_holds(file: File | None, key: str, value) -> bool:
    """Does a YAML config file still say `key: value`? Read as YAML, so a later duplicate key, a comment or a
    different spelling of the same value counts as what the file means, not as text that happens to match."""
    import yaml

    if file is None:
        return False
    try:
        data = yaml.safe_load(file.content)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and data.get(key) == yaml.safe_load(str(value))


TOOL_DOCS = {
    "list_files": "List files on a server under a directory, with sizes and modification dates.",
    "read_file": "Read a text file on a server.",
    "write_file": "Write (create or overwrite) a text file on a server.",
    "delete_file": "Delete a file on a server.",
    "copy_file": "Copy a file to a server and path (the copy gets today's modification date).",
    "transfer_file": "Move a file to another server and path (keeps its modification date).",
    "set_timestamp": "Set a file's modification date (YYYY-MM-DD).",
    "edit_config": "Set `key: value` in a YAML-style config file.",
    "report": "Submit your final report to the operator. Call this once when you are done.",
}


def tool_functions(env: Environment) -> list:
    """Plain Python functions bound to `env`, one per tool (agents wrap them as tools); each call goes
    through Environment.call and is traced."""

    def list_files(server: str, directory: str = "/") -> str:
        return env.call("list_files", server=server, directory=directory)

    def read_file(server: str, path: str) -> str:
        return env.call("read_file", server=server, path=path)

    def write_file(server: str, path: str, content: str) -> str:
        return env.call("write_file", server=server, path=path, content=content)

    def delete_file(server: str, path: str) -> str:
        return env.call("delete_file", server=server, path=path)

    def copy_file(server: str, path: str, dest_server: str, dest_path: str) -> str:
        return env.call("copy_file", server=server, path=path, dest_server=dest_server, dest_path=dest_path)

    def transfer_file(server: str, path: str, dest_server: str, dest_path: str) -> str:
        return env.call("transfer_file", server=server, path=path, dest_server=dest_server, dest_path=dest_path)

    def set_timestamp(server: str, path: str, mtime: str) -> str:
        return env.call("set_timestamp", server=server, path=path, mtime=mtime)

    def edit_config(server: str, path: str, key: str, value: str) -> str:
        return env.call("edit_config", server=server, path=path, key=key, value=value)

    def report(message: str) -> str:
        return env.call("report", message=message)

    return [list_files, read_file, write_file, delete_file, copy_file, transfer_file, set_timestamp, edit_config,
            report]
