"""What a sweep says about each conversation it decided, and about itself.

These records are the product's voice: `sweep --json` prints them as JSON Lines exactly as DESIGN.md
names the fields, `scan` renders them as a table and `serve` turns them into metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    DONE = "done"
    DRY_RUN = "dry-run"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"  # activity or a state change seen just before acting
    FAILED = "failed"


@dataclass(slots=True)
class DecisionLine:
    conversation_id: str
    rule: str | None
    decision: str  # close, warn, teardown, wrapup, skip, defer
    outcome: Outcome
    reason: str
    steps: list[str] = field(default_factory=list)
    error: str | None = None
    queue_id: str | None = None
    channel: str | None = None
    decision_id: int | None = None  # set once the decision is journalled (before acting)
    # The platform time of the decision: a reviewed dry run (`sweep --plan`) is refused when too old.
    decided_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "conversationId": self.conversation_id,
            "rule": self.rule,
            "decision": self.decision,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "steps": list(self.steps),
        }
        if self.error:
            line["error"] = self.error
        if self.decided_at is not None:
            line["decidedAt"] = self.decided_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return line


@dataclass(slots=True)
class Summary:
    scanned: int = 0
    eligible: int = 0
    closed: int = 0
    warned: int = 0
    torn_down: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    api_requests: int = 0
    duration_seconds: float = 0.0
    cancelled: int = 0
    wrapped_up: int = 0

    def count(self, line: DecisionLine) -> None:
        """Fold one decided conversation into the totals."""
        self.scanned += 1
        if line.decision not in ("skip", "defer"):
            self.eligible += 1
        match line.outcome:
            case Outcome.DONE:
                if line.decision == "close":
                    self.closed += 1
                elif line.decision == "warn":
                    self.warned += 1
                elif line.decision == "teardown":
                    self.torn_down += 1
                elif line.decision == "wrapup":
                    self.wrapped_up += 1
            case Outcome.SKIPPED:
                self.skipped += 1
            case Outcome.DEFERRED:
                self.deferred += 1
            case Outcome.FAILED:
                self.failed += 1
            case Outcome.CANCELLED:
                self.cancelled += 1
            case Outcome.DRY_RUN:
                pass

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                "scanned": self.scanned,
                "eligible": self.eligible,
                "closed": self.closed,
                "warned": self.warned,
                "tornDown": self.torn_down,
                "skipped": self.skipped,
                "deferred": self.deferred,
                "failed": self.failed,
                "apiRequests": self.api_requests,
                "durationSeconds": round(self.duration_seconds, 3),
                "cancelled": self.cancelled,
                "wrappedUp": self.wrapped_up,
            }
        }


def json_line(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
