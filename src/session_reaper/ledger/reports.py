"""Read-side queries for the `report` command: what was closed, what failed, what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from session_reaper.ledger.schema import decisions, steps, sweeps
from session_reaper.ledger.vocabulary import CLOSING_DECISIONS

Grouping = Literal["rule", "queue", "hour"]
NONE = "-"  # the group of closes with no rule or queue


@dataclass(frozen=True, slots=True)
class Failure:
    decision_id: int
    conversation_id: str
    rule: str | None
    decision: str
    decided_at: datetime
    error: str | None
    step_kind: str | None  # the last step that failed, when one did
    http_status: int | None
    error_code: str | None
    context_id: str | None  # the platform's id for the failed request: what its support asks for


@dataclass(frozen=True, slots=True)
class RequestCost:
    sweeps: int  # applied sweeps that finished in the period
    api_requests: int  # every platform request they sent: discovery, reads, writes, retries
    closes: int  # conversations they closed or tore down

    @property
    def per_close(self) -> float | None:
        return self.api_requests / self.closes if self.closes else None


def _closes(since: datetime) -> ColumnElement[bool]:
    return and_(
        decisions.c.decision.in_(CLOSING_DECISIONS),
        decisions.c.outcome == "done",
        decisions.c.decided_at >= since,
    )


def closes_by(connection: Connection, by: Grouping, since: datetime) -> list[tuple[str, int]]:
    """Closes done since `since`, counted by rule, queue or UTC hour ("2026-11-21T10:00Z"); most first."""
    if by == "hour":
        # Bucketed here: each back end spells hour truncation differently; report volumes are small.
        counts: dict[str, int] = {}
        for (at,) in connection.execute(select(decisions.c.decided_at).where(_closes(since))):
            key = at.strftime("%Y-%m-%dT%H:00Z")
            counts[key] = counts.get(key, 0) + 1
        return sorted(counts.items())
    column = decisions.c.rule if by == "rule" else decisions.c.queue_id
    key = func.coalesce(column, literal(NONE))
    query = select(key, func.count()).where(_closes(since)).group_by(key).order_by(func.count().desc(), key)
    return [(str(group), int(count)) for group, count in connection.execute(query)]


def failures(connection: Connection, since: datetime) -> list[Failure]:
    """Failed decisions since `since`, newest first, each with its last failed step's error."""
    last_failed = (
        select(steps.c.decision_id, func.max(steps.c.id).label("step_id"))
        .where(steps.c.outcome == "failed")
        .group_by(steps.c.decision_id)
        .subquery()
    )
    query = (
        select(
            decisions.c.id.label("decision_id"),
            decisions.c.conversation_id,
            decisions.c.rule,
            decisions.c.decision,
            decisions.c.decided_at,
            decisions.c.error,
            steps.c.kind.label("step_kind"),
            steps.c.http_status,
            steps.c.error_code,
            steps.c.context_id,
        )
        .select_from(decisions)
        .outerjoin(last_failed, last_failed.c.decision_id == decisions.c.id)
        .outerjoin(steps, steps.c.id == last_failed.c.step_id)
        .where(decisions.c.outcome == "failed", decisions.c.decided_at >= since)
        .order_by(decisions.c.decided_at.desc(), decisions.c.id.desc())
    )
    return [Failure(**row._mapping) for row in connection.execute(query)]


def request_cost(connection: Connection, since: datetime) -> RequestCost:
    """Platform requests per close, from the applied sweeps' own summaries (every request counts)."""
    query = select(sweeps.c.summary_json).where(
        sweeps.c.apply.is_(True), sweeps.c.finished_at >= since, sweeps.c.summary_json.is_not(None)
    )
    count = requests = closes = 0
    for (summary,) in connection.execute(query):
        count += 1
        requests += int(summary.get("apiRequests", 0))
        closes += int(summary.get("closed", 0)) + int(summary.get("tornDown", 0))
    return RequestCost(count, requests, closes)
