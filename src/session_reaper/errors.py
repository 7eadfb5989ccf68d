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
