"""The read schedule: conversations not to be read again before a time, decided under a policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from session_reaper.core.model import ScheduledRead
from session_reaper.core.schedule import CLOCK_SKEW
from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import read_schedule

_DELETE_CHUNK = 500  # conversation ids in one IN (...): well under every back end's parameter limit
_SAVED_COLUMNS = (
    "not_before",
    "decided_at",
    "conversation_start",
    "policy",
    "participants_fingerprint",
    "org",
)


def load(
    connection: Connection, policy: str, now: datetime, org: str | None = None
) -> dict[str, ScheduledRead]:
    """The rows in force at `now` under `policy` (and of `org`, when given)."""
    query = select(
        read_schedule.c.conversation_id,
        read_schedule.c.not_before,
        read_schedule.c.conversation_start,
        read_schedule.c.participants_fingerprint,
    ).where(
        read_schedule.c.policy == policy,
        read_schedule.c.decided_at <= now + CLOCK_SKEW,
        read_schedule.c.not_before > now,
    )
    if org is not None:
        query = query.where(read_schedule.c.org == org)
    return {cid: ScheduledRead(until, start, seen) for cid, until, start, seen in connection.execute(query)}


def save(
    connection: Connection,
    policy: str,
    decided_at: datetime,
    reads: Mapping[str, ScheduledRead],
    forget: Iterable[str],
    org: str | None = None,
) -> None:
    rows = [
        {
            "conversation_id": cid,
            "not_before": read.until,
            "decided_at": decided_at,
            "conversation_start": read.conversation_start,
            "policy": policy,
            "participants_fingerprint": read.participants_fingerprint,
            "org": org,
        }
        for cid, read in reads.items()
    ]
    gone = sorted(set(forget) - set(reads))
    for start in range(0, len(gone), _DELETE_CHUNK):
        chunk = gone[start : start + _DELETE_CHUNK]
        connection.execute(delete(read_schedule).where(read_schedule.c.conversation_id.in_(chunk)))
    if rows:
        upsert = dialect_insert(connection)(read_schedule)
        statement = upsert.on_conflict_do_update(
            index_elements=[read_schedule.c.conversation_id],
            set_={c: upsert.excluded[c] for c in _SAVED_COLUMNS},
        )
        connection.execute(statement, rows)
