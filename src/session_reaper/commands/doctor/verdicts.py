"""What doctor says: each check's status, detail and fix, and the diagnosis they add up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE


class Status(Enum):
    OK = "ok"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"check": self.name, "status": self.status.value, "detail": self.detail}
        if self.fix:
            data["fix"] = self.fix
        return data


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)
    exit_code: int = EXIT_OK
    queues_without_timer: list[dict[str, str]] = field(default_factory=list)

    def add(self, check: Check, *, exit_code: int | None = None) -> Check:
        self.checks.append(check)
        if exit_code is not None and check.status is Status.FAIL:
            self.fail(exit_code)
        return check

    def fail(self, exit_code: int) -> None:
        # Configuration beats authentication beats "could not ask": say the most fundamental problem.
        order = {EXIT_OK: 0, EXIT_ACTION_FAILED: 1, EXIT_AUTH: 2, EXIT_USAGE: 3}
        if order[exit_code] > order[self.exit_code]:
            self.exit_code = exit_code
