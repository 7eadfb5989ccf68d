"""The SQL of the console's journal: pending decisions (shared by replicas) and what operators did.

At most one decision per conversation is `pending` at a time — a partial unique index, so that two
replicas pending the same conversation at once insert one row (ON CONFLICT DO NOTHING, on SQLite and
PostgreSQL alike) and both read back the same. Resolving is one conditional UPDATE (`WHERE status =
'pending' AND expires_at > now`): an approval and a rejection racing on two replicas cannot both win,
and a decision past its expiry can no longer be approved.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from session_reaper.core.approvals import PendingDecision
from session_reaper.core.vocabulary import APPROVAL_STATUSES
from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import console_actions, pending_decisions
from session_reaper.ledger.vocabulary import ACTIONS, check, scrub

WAITING = "pending"
CONSOLE_ACTIONS = frozenset({"close", "exempt", "lift-exempt", "approve", "reject"})
_t = pending_decisions


def _pending(row: Any) -> PendingDecision:
    return PendingDecision(
        row.decision_id,
        row.conversation_id,
        row.rule,
        row.decision,
        row.reason or "",
        row.queue_id,
        row.created_at,
        row.expires_at,
        row.status,
        row.operator,
        row.resolved_at,
        row.outcome,
        row.org,
    )


def expire(connection: Connection, now: datetime, conversation_id: str | None = None) -> None:
    """Mark as expired what waited past its expiry (for one conversation, or all)."""
    statement = update(_t).where(_t.c.status == WAITING, _t.c.expires_at <= now)
    if conversation_id is not None:
        statement = statement.where(_t.c.conversation_id == conversation_id)
    connection.execute(statement.values(status="expired", resolved_at=_t.c.expires_at))


def pend(
    connection: Connection,
    conversation_id: str,
    *,
    rule: str | None,
    decision: str,
    reason: str,
    queue_id: str | None,
    now: datetime,
    ttl: timedelta,
    org: str | None = None,
) -> PendingDecision:
    """The conversation's waiting decision: the one already there, an answer for the same rule still
    in force (a rejection: never pended again for that decision; an approval being or been carried
    out: a pass that read the conversation before it closed must not ask again), or a new one."""
    check(decision, ACTIONS, "decision")
    expire(connection, now, conversation_id)
    answered = connection.execute(
        select(_t)
        .where(
            _t.c.conversation_id == conversation_id,
            _t.c.rule == rule,
            _t.c.expires_at > now,
            (_t.c.status == "rejected")
            | ((_t.c.status == "approved") & (_t.c.outcome.is_(None) | (_t.c.outcome == "done"))),
        )
        .order_by(_t.c.created_at.desc())
    ).first()
    if answered is not None:
        return _pending(answered)
    values = {
        "decision_id": secrets.token_hex(16),
        "conversation_id": conversation_id,
        "rule": rule,
        "decision": decision,
        "reason": scrub(reason),
        "queue_id": queue_id,
        "created_at": now,
        "expires_at": now + ttl,
        "status": WAITING,
        "org": org,
    }
    statement = (
        dialect_insert(connection)(_t)
        .values(values)
        .on_conflict_do_nothing(index_elements=[_t.c.conversation_id], index_where=_t.c.status == WAITING)
    )
    connection.execute(statement)
    row = connection.execute(
        select(_t).where(_t.c.conversation_id == conversation_id, _t.c.status == WAITING)
    ).one()
    return _pending(row)


def waiting(connection: Connection, now: datetime, org: str | None = None) -> list[PendingDecision]:
    """What waits at `now`: of `org` only, when given (None: every row, the unnamed org's ledger)."""
    query = select(_t).where(_t.c.status == WAITING, _t.c.expires_at > now)
    if org is not None:
        query = query.where(_t.c.org == org)
    return [_pending(r) for r in connection.execute(query.order_by(_t.c.created_at))]


def one(connection: Connection, decision_id: str) -> PendingDecision | None:
    row = connection.execute(select(_t).where(_t.c.decision_id == decision_id)).first()
    return None if row is None else _pending(row)


def resolve(
    connection: Connection, decision_id: str, status: str, operator: str, now: datetime
) -> tuple[bool, PendingDecision | None]:
    """Approve or reject a waiting decision: whether this call did (nobody else first, not expired),
    and the row as it stands afterwards (None when there is no such decision)."""
    check(status, APPROVAL_STATUSES, "approval status")
    changed = connection.execute(
        update(_t)
        .where(_t.c.decision_id == decision_id, _t.c.status == WAITING, _t.c.expires_at > now)
        .values(status=status, operator=operator, resolved_at=now)
    ).rowcount
    expire(connection, now)
    return changed == 1, one(connection, decision_id)


def settle(connection: Connection, decision_id: str, outcome: str) -> None:
    connection.execute(update(_t).where(_t.c.decision_id == decision_id).values(outcome=outcome))


def record_action(
    connection: Connection,
    operator: str,
    action: str,
    conversation_id: str,
    detail: str | None,
    at: datetime,
    org: str | None = None,
) -> None:
    check(action, CONSOLE_ACTIONS, "console action")
    values = {
        "at": at,
        "operator": operator,
        "action": action,
        "conversation_id": conversation_id,
        "detail": scrub(detail),
        "org": org,
    }
    connection.execute(insert(console_actions).values(values))


def actions_since(connection: Connection, since: datetime) -> list[dict[str, Any]]:
    t = console_actions
    rows = connection.execute(select(t).where(t.c.at >= since).order_by(t.c.at, t.c.id))
    return [
        {
            "at": r.at,
            "operator": r.operator,
            "action": r.action,
            "conversationId": r.conversation_id,
            "detail": r.detail,
            "org": r.org,
        }
        for r in rows
    ]
