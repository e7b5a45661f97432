"""The package's own errors, and the exit code each one means (README, "Exit codes").

Every error peer-bench raises on purpose is a PeerBenchError: an InputError when what the user gave is wrong
(a file, an option, a suite, a model string: exit 1), a CallFailure when calls to a model failed beyond what
the run allows (exit 3). The CLI prints those as one line; anything else is a bug, printed with its
(redacted) trace and a request to report it.
"""

from __future__ import annotations


class PeerBenchError(Exception):
    """An error peer-bench raises on purpose; `exit_code` is what `bench` exits with."""

    exit_code = 1


class InputError(PeerBenchError, ValueError):
    """What the user gave cannot be used: the message says what to fix (exit 1). A ValueError too, so code that
    catches ValueError around a parse keeps working."""


class CallFailure(PeerBenchError, RuntimeError):
    """Calls to a model failed beyond what the run allows (exit 3)."""

    exit_code = 3
