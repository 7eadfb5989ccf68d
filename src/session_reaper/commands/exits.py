"""The one place a failure becomes an exit code and a one-line message.

Every failure the reaper reports is a `ReaperError` that knows its code (session_reaper/errors.py);
the only foreign types a command turns into a clean exit are the database driver's errors and Ctrl-C.
Commands catch `HANDLED` and call `exit_for`: no command lists exception types of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import SQLAlchemyError

from session_reaper.errors import (
    EXIT_ACTION_FAILED,
    EXIT_AUTH,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ReaperError,
)

HANDLED: tuple[type[BaseException], ...] = (ReaperError, SQLAlchemyError, KeyboardInterrupt)


def exit_for(exc: BaseException) -> tuple[int, str]:
    """(exit code, message) for one of `HANDLED`; the message never quotes a driver (it may hold a URL)."""
    if isinstance(exc, ReaperError):
        return exc.exit_code, str(exc)
    if isinstance(exc, SQLAlchemyError):
        # The driver's text may quote the URL; say what failed, not how to log in.
        reason = type(getattr(exc, "orig", None) or exc).__name__
        return EXIT_ACTION_FAILED, f"the ledger database could not be used ({reason}): check sweep.ledger"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    raise TypeError(f"no exit code for {type(exc).__name__}") from exc


# The most fundamental problem wins: configuration, then authentication, then "could not ask/act".
_SEVERITY = {EXIT_OK: 0, EXIT_ACTION_FAILED: 1, EXIT_AUTH: 2, EXIT_USAGE: 3, EXIT_INTERRUPTED: 4}


def worst(codes: Iterable[int]) -> int:
    """The exit code of a command made of several parts (one per organization): the worst of theirs."""
    return max(codes, key=lambda code: _SEVERITY.get(code, 1), default=EXIT_OK)
