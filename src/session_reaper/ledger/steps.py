"""The journal's steps: each request the reaper sends, as an intent before and an outcome after.

An intent without an outcome is a step a crash interrupted: `pending` hands those to recovery, and
`of_conversation` tells which steps' effects are already in place, so that none is sent twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, insert, or_, select, true, update
from sqlalchemy.engine import Connection

from session_reaper.core.model import JournalledSteps, PendingStep
from session_reaper.core.results import Outcome
from session_reaper.ledger.engine import inserted_id
from session_reaper.ledger.schema import decisions, steps, sweeps
from session_reaper.ledger.vocabulary import EFFECTIVE_STEP_OUTCOMES, STEP_OUTCOMES, check, scrub


def intent(
    connection: Connection,
    decision_id: int,
    conversation_id: str,
    kind: str,
    participant_id: str | None,
    at: datetime,
) -> int:
    values = {
        "decision_id": decision_id,
        "conversation_id": conversation_id,
        "kind": kind,
        "participant_id": participant_id,
        "intent_at": at,
    }
    return inserted_id(connection.execute(insert(steps).values(values).returning(steps.c.id)))


def outcome(
    connection: Connection,
    step_id: int,
    outcome: str,
    *,
    http_status: int | None,
    context_id: str | None,
    error_code: str | None,
    request_count: int | None,
    at: datetime,
) -> bool:
    """Record how a step ended unless an outcome already stands; True when this one was recorded."""
    check(outcome, STEP_OUTCOMES, "step outcome")
    values = {
        "outcome": outcome,
        "outcome_at": at,
        "http_status": http_status,
        "context_id": context_id,
        "error_code": scrub(error_code),
        "request_count": request_count,
    }
    statement = update(steps).where(steps.c.id == step_id, steps.c.outcome.is_(None)).values(values)
    return connection.execute(statement).rowcount == 1


def sending(connection: Connection, step_id: int, until: datetime | None) -> bool:
    """Mark the step's request as on its way until `until` (None: answered, nothing on its way),
    unless an outcome already stands (another look settled it meanwhile: it must not be sent). True
    when marked: send now."""
    statement = (
        update(steps).where(steps.c.id == step_id, steps.c.outcome.is_(None)).values(in_flight_until=until)
    )
    return connection.execute(statement).rowcount == 1


def settle(
    connection: Connection, step_id: int, outcome: str, *, in_flight_until: datetime | None, at: datetime
) -> bool:
    """Recovery's outcome, recorded only if the step is still open and no attempt was marked sent since
    recovery read it (`in_flight_until` as it read it): else its act is alive and sending. True when
    recorded."""
    check(outcome, STEP_OUTCOMES, "step outcome")
    statement = (
        update(steps)
        .where(
            steps.c.id == step_id,
            steps.c.outcome.is_(None),
            steps.c.in_flight_until.is_not_distinct_from(in_flight_until),
        )
        .values(outcome=outcome, outcome_at=at)
    )
    return connection.execute(statement).rowcount == 1


# The columns of a `PendingStep`, in the order of its fields, and the joins that reach them.
_PENDING_COLUMNS = (
    steps.c.id,
    steps.c.decision_id,
    decisions.c.sweep_id,
    sweeps.c.owner,
    steps.c.conversation_id,
    steps.c.kind,
    steps.c.participant_id,
    steps.c.intent_at,
    steps.c.in_flight_until,
)
_PENDING = len(_PENDING_COLUMNS)


def _with_decisions(*extra: Any) -> Select[Any]:
    """Steps with their decision's sweep and owner (a `PendingStep`'s columns, then `extra`), oldest first."""
    return (
        select(*_PENDING_COLUMNS, *extra)
        .join(decisions, decisions.c.id == steps.c.decision_id)
        .join(sweeps, sweeps.c.id == decisions.c.sweep_id)
        .order_by(steps.c.id)
    )


def pending(
    connection: Connection, owner: str | None, org: str | None = None, conversation_id: str | None = None
) -> list[PendingStep]:
    """Open intents, oldest first: of `owner`'s sweeps, `org`'s decisions and one conversation when given."""
    query = _with_decisions().where(steps.c.outcome.is_(None))
    if owner is not None:
        query = query.where(sweeps.c.owner == owner)
    if org is not None:
        query = query.where(decisions.c.org == org)
    if conversation_id is not None:
        query = query.where(steps.c.conversation_id == conversation_id)
    return [PendingStep(*found) for found in connection.execute(query)]


def of_conversation(
    connection: Connection, conversation_id: str, org: str | None, since: datetime | None
) -> JournalledSteps:
    """One conversation's open intents (of `org`'s decisions when given, as `pending`) and the steps in
    place since `since` (as `completed`), with the decisions of the acts journalled as done that put
    them there."""
    in_place = and_(
        steps.c.outcome.in_(EFFECTIVE_STEP_OUTCOMES),
        steps.c.intent_at >= since if since is not None else true(),
    )
    query = _with_decisions(
        steps.c.outcome, decisions.c.decision, decisions.c.outcome, decisions.c.org
    ).where(steps.c.conversation_id == conversation_id, or_(steps.c.outcome.is_(None), in_place))
    open_steps: list[PendingStep] = []
    done: set[tuple[str, str | None]] = set()
    finished: set[str] = set()
    for row in connection.execute(query):
        step = PendingStep(*row[:_PENDING])
        outcome, decision, decided, decision_org = row[_PENDING:]
        if outcome is None:
            if org is None or decision_org == org:
                open_steps.append(step)
            continue
        done.add((step.kind, step.participant_id))
        if decided == Outcome.DONE.value:
            finished.add(decision)
    return JournalledSteps(tuple(open_steps), frozenset(done), frozenset(finished))
