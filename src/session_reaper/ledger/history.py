"""Read-side queries for the `report` command: what was closed, what failed, what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from session_reaper.ledger.schema import decisions, queues, steps, sweeps
from session_reaper.ledger.vocabulary import CLOSING_DECISIONS

Grouping = Literal["rule", "queue", "hour"]
NONE = "-"  # the group of closes with no rule
NO_QUEUE = "(no queue)"  # the group of closes of conversations that were in no queue
ACTED = ("close", "teardown", "wrapup", "warn")  # what the reaper does to a conversation, done


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

    def __add__(self, other: RequestCost) -> RequestCost:
        return RequestCost(
            self.sweeps + other.sweeps, self.api_requests + other.api_requests, self.closes + other.closes
        )


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
    if by == "queue":
        return _by_queue(connection, since)
    key = func.coalesce(decisions.c.rule, literal(NONE))
    query = select(key, func.count()).where(_closes(since)).group_by(key).order_by(func.count().desc(), key)
    return [(str(group), int(count)) for group, count in connection.execute(query)]


def _by_queue(connection: Connection, since: datetime) -> list[tuple[str, int]]:
    """Closes by queue, each named as the platform named it (the id when its name could not be read)."""
    query = (
        select(decisions.c.queue_id, queues.c.name, func.count())
        .select_from(decisions)
        .outerjoin(queues, queues.c.queue_id == decisions.c.queue_id)
        .where(_closes(since))
        .group_by(decisions.c.queue_id, queues.c.name)
    )
    rows = [(queue_id, name, int(count)) for queue_id, name, count in connection.execute(query)]
    names = [name for _, name, _ in rows if name]
    found = []
    for queue_id, name, count in rows:
        if queue_id is None:
            label = NO_QUEUE
        elif not name:
            label = queue_id
        else:  # two queues of one name: tell them apart by their ids
            label = name if names.count(name) == 1 else f"{name} ({queue_id})"
        found.append((label, count))
    return sorted(found, key=lambda item: (-item[1], item[0]))


def acted_by_rule(connection: Connection, since: datetime) -> list[tuple[str, dict[str, int]]]:
    """Done actions since `since` by rule: {"close": 3, "wrapup": 0, ...} each; most acted on first."""
    key = func.coalesce(decisions.c.rule, literal(NONE))
    query = (
        select(key, decisions.c.decision, func.count())
        .where(
            decisions.c.decided_at >= since, decisions.c.outcome == "done", decisions.c.decision.in_(ACTED)
        )
        .group_by(key, decisions.c.decision)
    )
    table: dict[str, dict[str, int]] = {}
    for rule, decision, count in connection.execute(query):
        table.setdefault(str(rule), dict.fromkeys(ACTED, 0))[decision] = int(count)
    return sorted(table.items(), key=lambda item: (-sum(item[1].values()), item[0]))


@dataclass(frozen=True, slots=True)
class Closed:
    """One close or teardown done: when, by which rule, how long the conversation had been idle."""

    at: datetime
    rule: str
    idle_seconds: float | None
    threshold_seconds: float | None
    held_seconds: float | None  # how long the rule's condition had held; else the idle time stands in

    @property
    def past_threshold_seconds(self) -> float | None:
        """How long past its rule's threshold the reaper acted: the reaction delay."""
        held = self.held_seconds if self.held_seconds is not None else self.idle_seconds
        if held is None or self.threshold_seconds is None:
            return None
        return max(0.0, held - self.threshold_seconds)


def closed(connection: Connection, since: datetime) -> list[Closed]:
    query = (
        select(
            decisions.c.decided_at,
            decisions.c.rule,
            decisions.c.idle_seconds,
            decisions.c.threshold_seconds,
            decisions.c.held_seconds,
        )
        .where(_closes(since))
        .order_by(decisions.c.decided_at)
    )
    return [
        Closed(at, rule or NONE, idle, threshold, held)
        for at, rule, idle, threshold, held in connection.execute(query)
    ]


def cost_by_hour(connection: Connection, since: datetime) -> list[tuple[str, RequestCost]]:
    """Each UTC hour's applied sweeps' requests and closes (by the hour they finished), in time order."""
    query = select(sweeps.c.finished_at, sweeps.c.summary_json).where(
        sweeps.c.apply.is_(True), sweeps.c.finished_at >= since, sweeps.c.summary_json.is_not(None)
    )
    hours: dict[str, RequestCost] = {}
    for finished, summary in connection.execute(query):
        key = finished.strftime("%Y-%m-%dT%H:00Z")
        hours[key] = hours.get(key, RequestCost(0, 0, 0)) + _cost(summary)
    return sorted(hours.items())


def _cost(summary: dict[str, int]) -> RequestCost:
    closes = int(summary.get("closed", 0)) + int(summary.get("tornDown", 0))
    return RequestCost(1, int(summary.get("apiRequests", 0)), closes)


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
    total = RequestCost(0, 0, 0)
    for (summary,) in connection.execute(query):
        total += _cost(summary)
    return total


NO_ORG = "(no org)"  # rows written without [orgs] (before the organizations were configured)


@dataclass(frozen=True, slots=True)
class OrgFigures:
    """One organization's part of the period: its sweeps, what it had done, what failed, what it cost."""

    org: str
    sweeps: int
    applied_sweeps: int
    actions: dict[str, int]  # done decisions by kind: close, teardown, wrapup, warn
    failed: int
    cost: RequestCost


def by_org(connection: Connection, since: datetime) -> list[OrgFigures]:
    """The figures of each organization, by name; [] when no row names one (no `[orgs]`)."""
    found: dict[str, dict[str, Any]] = {}

    def row(org: str | None) -> dict[str, Any]:
        return found.setdefault(
            org or NO_ORG,
            {
                "sweeps": 0,
                "applied": 0,
                "actions": dict.fromkeys(ACTED, 0),
                "failed": 0,
                "cost": RequestCost(0, 0, 0),
            },
        )

    started = select(sweeps.c.org, sweeps.c.apply, func.count()).where(sweeps.c.started_at >= since)
    for org, applied, count in connection.execute(started.group_by(sweeps.c.org, sweeps.c.apply)):
        row(org)["sweeps"] += int(count)
        row(org)["applied"] += int(count) if applied else 0
    costs = select(sweeps.c.org, sweeps.c.summary_json).where(
        sweeps.c.apply.is_(True), sweeps.c.finished_at >= since, sweeps.c.summary_json.is_not(None)
    )
    for org, summary in connection.execute(costs):
        row(org)["cost"] += _cost(summary)
    done = (
        select(decisions.c.org, decisions.c.decision, decisions.c.outcome, func.count())
        .where(decisions.c.decided_at >= since, decisions.c.outcome.in_(("done", "failed")))
        .group_by(decisions.c.org, decisions.c.decision, decisions.c.outcome)
    )
    for org, decision, outcome, count in connection.execute(done):
        if outcome == "failed":
            row(org)["failed"] += int(count)
        elif decision in ACTED:
            row(org)["actions"][decision] += int(count)
    if set(found) <= {NO_ORG}:
        return []
    return [
        OrgFigures(org, v["sweeps"], v["applied"], v["actions"], v["failed"], v["cost"])
        for org, v in sorted(found.items())
    ]
