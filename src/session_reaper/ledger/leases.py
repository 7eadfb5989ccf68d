"""Conversation leases: at most one replica acts on a conversation at a time.

A claim is ONE atomic statement — INSERT ... ON CONFLICT DO UPDATE ... WHERE the lease has expired
or is already ours — so two replicas racing for the same conversation cannot both win, on SQLite
(>= 3.24) and PostgreSQL alike, without a read-then-write window.

Times are the caller's `now`, never the database's or the machine's: replicas take it from the
platform's `Date` header, so they agree on expiry even when their own clocks disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import leases


def claim(connection: Connection, conversation_id: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Take the lease if it is free, expired or already ours; True when we hold it afterwards."""
    values = {"conversation_id": conversation_id, "owner": owner, "expires_at": now + ttl, "claimed_at": now}
    statement = (
        dialect_insert(connection)(leases)
        .values(values)
        .on_conflict_do_update(
            index_elements=[leases.c.conversation_id],
            set_={"owner": owner, "expires_at": now + ttl, "claimed_at": now},
            where=(leases.c.expires_at < now) | (leases.c.owner == owner),
        )
    )
    # Row count, not RETURNING: it tells "inserted or updated" from "conflict, WHERE false" on both back
    # ends (SQLite >= 3.24) — but SQLAlchemy only keeps an INSERT's row count when asked to.
    result = connection.execute(statement, execution_options={"preserve_rowcount": True})
    return result.rowcount == 1


def renew(connection: Connection, conversation_id: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Extend our lease; False when another replica holds it (we lost it and must stop)."""
    statement = (
        update(leases)
        .where(leases.c.conversation_id == conversation_id, leases.c.owner == owner)
        .values(expires_at=now + ttl)
    )
    return connection.execute(statement).rowcount == 1


def release(connection: Connection, conversation_id: str, owner: str) -> bool:
    """Give the lease back (only ours); True when there was one to give."""
    statement = delete(leases).where(leases.c.conversation_id == conversation_id, leases.c.owner == owner)
    return connection.execute(statement).rowcount == 1


def holder(connection: Connection, conversation_id: str) -> tuple[str, datetime] | None:
    """Who holds the conversation's lease, and until when; None when nobody does."""
    row = connection.execute(
        select(leases.c.owner, leases.c.expires_at).where(leases.c.conversation_id == conversation_id)
    ).first()
    return None if row is None else (row[0], row[1])


def take_over(
    connection: Connection, conversation_id: str, owner: str, previous: str, ttl: timedelta, now: datetime
) -> bool:
    """Take the lease from `previous` (known dead) in one statement; False if it changed hands meanwhile."""
    statement = (
        update(leases)
        .where(leases.c.conversation_id == conversation_id, leases.c.owner == previous)
        .values(owner=owner, expires_at=now + ttl, claimed_at=now)
    )
    return connection.execute(statement).rowcount == 1
