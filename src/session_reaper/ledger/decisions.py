"""The journal's decisions: what the reaper decided for a conversation in a sweep, and how it ended.

A decision that acts is written at once (its steps need its id); one that changes nothing (skip,
defer, dry run) is buffered by the Ledger and written here in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, update
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import inserted_id
from session_reaper.ledger.schema import decisions, steps
from session_reaper.ledger.vocabulary import DECISION_OUTCOMES, DECISIONS, INACTION_OUTCOMES, check, scrub


def row(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A checked decision row from the caller's values, decided (and, with an outcome, ended) at `now`."""
    check(values["decision"], DECISIONS, "decision")
    if values["outcome"] is not None:
        check(values["outcome"], DECISION_OUTCOMES, "decision outcome")
    values["decided_at"] = now
    values["outcome_at"] = now if values["outcome"] is not None else None
    values["error"] = None
    return values


def insert_one(connection: Connection, decision: dict[str, Any]) -> int:
    return inserted_id(connection.execute(insert(decisions).values(decision).returning(decisions.c.id)))


def insert_many(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    connection.execute(insert(decisions), list(rows))


def interrupt_unfinished(connection: Connection, conversation_id: str, sweep_id: int, at: datetime) -> int:
    """The sweep's decisions on the conversation still without an outcome marked `interrupted` (an act
    cut off where no open intent tells recovery to: before its first step, after its last); how many."""
    statement = (
        update(decisions)
        .where(
            decisions.c.conversation_id == conversation_id,
            decisions.c.sweep_id == sweep_id,
            decisions.c.outcome.is_(None),
        )
        .values(outcome="interrupted", outcome_at=at)
    )
    return connection.execute(statement).rowcount


def set_outcome(
    connection: Connection, decision_id: int, outcome: str, error: str | None, at: datetime
) -> None:
    check(outcome, DECISION_OUTCOMES, "decision outcome")
    values = {"outcome": outcome, "outcome_at": at, "error": scrub(error)}
    connection.execute(update(decisions).where(decisions.c.id == decision_id).values(values))


def prune(connection: Connection, before: datetime) -> int:
    """Delete decisions older than `before` that changed nothing and have no steps; how many went."""
    no_steps = ~exists().where(steps.c.decision_id == decisions.c.id)
    statement = delete(decisions).where(
        decisions.c.decided_at < before, decisions.c.outcome.in_(INACTION_OUTCOMES), no_steps
    )
    return connection.execute(statement).rowcount
