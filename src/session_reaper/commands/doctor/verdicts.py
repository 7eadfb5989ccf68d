"""What doctor says: each check's status, detail and fix, and the diagnosis they add up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from session_reaper.config import ENV_API_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REGION, OrgSettings
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE


@dataclass(frozen=True)
class Names:
    """What the fixes call the settings an organization is reached by: GENESYSCLOUD_*, or its table's."""

    client_id: str = ENV_CLIENT_ID
    client_secret: str = ENV_CLIENT_SECRET
    region: str = ENV_REGION
    api_url: str = ENV_API_URL

    @classmethod
    def of_org(cls, org: OrgSettings) -> Names:
        table = f"[orgs.{org.name}]"
        return cls(org.client_id_env, org.client_secret_env, f"{table} region", f"{table} api_url")


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
    org: str | None = None  # a section of one organization's checks
    sections: list[Diagnosis] = field(default_factory=list)  # with [orgs]: one per organization

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
