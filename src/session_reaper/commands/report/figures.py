"""The report: what the reaper did, what failed and what it cost, from the ledger alone.

    data = collect(ledger, since, now)              # every figure for the period [since, now] (collect.py)
    json.dumps(to_json(data))                       # the figures for machines (as_json.py)
    report_terminal.render_terminal(console, data)  # the same figures as rich tables
    report_html.render_html(data, "title")          # the same figures and their charts, one page

`ReportData` is the one computed figures object: the terminal, `--json`, `--html` and the demo's summary
all read it, and name each headline figure through `FIGURES`, so they agree on every number. It holds
only what the journal holds (ids, rule names, counts, the reaper's own reasons, HTTP statuses, scrubbed
error texts, queue names read from the platform): never message text, never a credential. Every chart
is drawn from it, so `report --html` draws for a real ledger whatever the demo shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from session_reaper.core.rules import Action
from session_reaper.ledger.history import ACTED, OrgFigures, RequestCost

HOUR_KEY = "%Y-%m-%dT%H:00Z"  # the ledger's hour buckets: "2026-11-21T10:00Z", UTC
ACTIONS = ACTED
# How each action reads in a table's heading, and in a sentence.
ACTION_HEADINGS: Mapping[str, str] = {
    Action.CLOSE: "closed",
    Action.TEARDOWN: "torn down",
    Action.WRAPUP: "wrap-ups",
    Action.WARN: "warnings",
}
TIMELINE_TITLE = "Closes by rule over time"
TIMELINE_HOURS_MAX = 48  # a longer span is bucketed by day
# The headline figures, in order: (JSON key, label). One definition for the terminal, JSON, HTML and demo.
FIGURES: tuple[tuple[str, str], ...] = (
    ("closed", "conversations closed"),
    ("tornDown", "orphaned conversations torn down"),
    ("wrappedUp", "wrap-ups applied (acw-stuck)"),
    ("warned", "warnings sent"),
    ("cancelled", "cancelled: activity just before acting"),
    ("failed", "failures"),
    ("sweeps", "sweeps"),
    ("appliedSweeps", "applied sweeps"),
    ("apiRequests", "API requests of the applied sweeps"),
    ("requestsPerClose", "API requests per conversation closed or torn down"),
)
FIGURE_LABELS = dict(FIGURES)


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A failed decision with the last error seen: the decision's own, else its last failed step's."""

    conversation_id: str
    rule: str | None
    decision: str
    decided_at: datetime
    reason: str | None
    error: str | None
    step_kind: str | None
    http_status: int | None
    error_code: str | None
    context_id: str | None

    @property
    def last_error(self) -> str:
        """The decision's error, then where it failed: "still connected — disconnect:agent: HTTP 503 x"."""
        status = " ".join(
            p for p in (f"HTTP {self.http_status}" if self.http_status else "", self.error_code) if p
        )
        where = ": ".join(p for p in (self.step_kind, status) if p)
        found = " — ".join(p for p in (self.error, where) if p)
        return found or "failed (no error recorded)"

    def to_json(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "rule": self.rule,
            "decision": self.decision,
            "decidedAt": iso(self.decided_at),
            "reason": self.reason,
            "lastError": self.last_error,
            "step": self.step_kind,
            "httpStatus": self.http_status,
            "errorCode": self.error_code,
            "contextId": self.context_id,
        }


@dataclass(frozen=True, slots=True)
class ConsoleAction:
    """What a person did in the supervisor console: close now, exempt, lift, approve, reject."""

    at: datetime
    operator: str
    action: str
    conversation_id: str
    detail: str | None
    org: str | None = None  # the `[orgs.NAME]` acted in (None: the one unnamed organization)

    def to_json(self) -> dict[str, Any]:
        shown = {
            "at": iso(self.at),
            "operator": self.operator,
            "action": self.action,
            "conversationId": self.conversation_id,
            "detail": self.detail,
        }
        return shown if self.org is None else shown | {"org": self.org}


@dataclass(frozen=True, slots=True)
class Timeline:
    """Series over shared labels, e.g. [("09:00", {"idle": 3, "customer-left": 1}), ...].

    A series missing from a point counts 0 there. `kind` "line" draws one line per series; "bar" draws
    a bar per label and suits a single series (with several, lines are drawn anyway).
    """

    title: str
    points: Sequence[tuple[str, Mapping[str, float]]]
    value_label: str = ""
    kind: Literal["line", "bar"] = "line"
    note: str = ""

    def series(self) -> dict[str, list[float]]:
        names: dict[str, None] = {}
        for _, values in self.points:
            names.update(dict.fromkeys(values))
        return {name: [float(values.get(name, 0.0)) for _, values in self.points] for name in names}


@dataclass(frozen=True, slots=True)
class ReportData:
    since: datetime
    until: datetime
    sweeps: int = 0  # sweeps started in the period
    applied_sweeps: int = 0
    first_sweep_at: datetime | None = None
    last_sweep_at: datetime | None = None  # the last finish (or start, if it never finished)
    by_rule: list[tuple[str, int]] = field(default_factory=list)  # closes and teardowns, by rule
    acted_by_rule: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # every action, by rule
    by_queue: list[tuple[str, int]] = field(default_factory=list)  # closes and teardowns, by queue name
    by_hour: list[tuple[str, int]] = field(default_factory=list)  # ("2026-11-21T10:00Z", n), in time order
    actions: dict[str, int] = field(default_factory=dict)  # done decisions by kind: close, warn, ...
    cancelled: int = 0
    idle_minutes: list[float] = field(default_factory=list)  # per close: how long nobody had written
    past_threshold_minutes: list[float] = field(default_factory=list)  # per close: idle minus threshold
    timeline: Timeline | None = None  # closes by rule over time
    cost_by_hour: list[tuple[str, RequestCost]] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    api_requests: int = 0  # by the applied sweeps that finished in the period
    cost_sweeps: int = 0
    cost_closes: int = 0
    console_actions: list[ConsoleAction] = field(default_factory=list)  # by people, in time order
    by_org: list[OrgFigures] = field(default_factory=list)  # each organization's figures; [] without [orgs]

    @property
    def closes(self) -> int:
        """Conversations ended: closed or torn down."""
        return sum(count for _, count in self.by_rule)

    @property
    def requests_per_close(self) -> float | None:
        return self.api_requests / self.cost_closes if self.cost_closes else None

    @property
    def empty(self) -> bool:
        return self.sweeps == 0 and not self.by_rule and not self.failures and not self.console_actions

    @property
    def period(self) -> timedelta:
        return self.until - self.since

    def figures(self) -> dict[str, int | float | None]:
        """The headline figures by their `FIGURES` key: what every output shows first."""
        values: dict[str, int | float | None] = {
            "closed": self.actions.get(Action.CLOSE, 0),
            "tornDown": self.actions.get(Action.TEARDOWN, 0),
            "wrappedUp": self.actions.get(Action.WRAPUP, 0),
            "warned": self.actions.get(Action.WARN, 0),
            "cancelled": self.cancelled,
            "failed": len(self.failures),
            "sweeps": self.sweeps,
            "appliedSweeps": self.applied_sweeps,
            "apiRequests": self.api_requests,
            "requestsPerClose": round2(self.requests_per_close),
        }
        assert list(values) == [key for key, _ in FIGURES]
        return values


def figure_text(value: int | float | None) -> str:
    """A figure as every output prints it: "3,858", "10.5", "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def iso(moment: datetime | None) -> str | None:
    return (
        None
        if moment is None
        else moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted or unsorted values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]
