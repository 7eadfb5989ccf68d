"""One root for every failure the reaper reports, and the process exit codes, defined once.

Each error knows its exit code; the commands map any `ReaperError` to a message and that code in one
place instead of listing exception types. Errors never carry a secret (see telemetry/logs.py).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ACTION_FAILED = 1  # an action failed, or the platform could not be reached
EXIT_USAGE = 2  # bad input: configuration, arguments, a ledger URL
EXIT_AUTH = 3  # credentials refused or a permission missing
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class ReaperError(Exception):
    """A failure worth a clear one-line message and an exit code (never a traceback)."""

    exit_code: int = EXIT_ACTION_FAILED  # a class default; an instance may carry its own


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions themselves, however deeply task groups nested them."""
    if not isinstance(exc, BaseExceptionGroup):
        return [exc]
    return [leaf for inner in exc.exceptions for leaf in leaves(inner)]


def describe(exc: BaseException) -> str:
    """What failed, in one line, even when a task group wrapped it ("unhandled errors in a TaskGroup"
    says nothing): each distinct leaf in its own words. A platform error names its method, path,
    status, code and contextId; messages are built without secrets (and logs redact them anyway).
    Of a foreign error only the first line: a driver's later lines quote statements and parameters."""
    said: list[str] = []
    for leaf in leaves(exc):
        if isinstance(leaf, ReaperError):
            text = str(leaf)
        else:
            first = str(leaf).strip().splitlines()
            text = f"{type(leaf).__name__}: {first[0]}" if first else type(leaf).__name__
        if text not in said:
            said.append(text)
    return "; ".join(said)
