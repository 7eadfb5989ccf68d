"""Leases: at most one replica holds a thing (a conversation, an organization) at a time.

A claim is ONE atomic statement — INSERT ... ON CONFLICT DO UPDATE ... WHERE the lease has expired
or is already ours — so two replicas racing for the same thing cannot both win, on SQLite
(>= 3.24) and PostgreSQL alike, without a read-then-write window. `LeaseTable` is that claim, renewal,
release and take-over on any table of (key, owner, expires_at, claimed_at); the conversation leases
are the module's functions below, the org leases are in org_leases.py.

Times are the caller's `now`, never the database's or the machine's: replicas take it from the
platform's `Date` header, so they agree on expiry even when their own clocks disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select, update
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import leases


class LeaseTable:
    """The leases kept in `table`, one row per `key` (its primary key column's name)."""

    def __init__(self, table: Table, key: str) -> None:
        self.table = table
        self.key = table.c[key]

    def claim(self, connection: Connection, thing: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours (then renewed); True when we hold it."""
        table = self.table
        held = {"owner": owner, "expires_at": now + ttl, "claimed_at": now}
        statement = (
            dialect_insert(connection)(table)
            .values({self.key.name: thing, **held})
            .on_conflict_do_update(
                index_elements=[self.key],
                set_=held,
                where=(table.c.expires_at < now) | (table.c.owner == owner),
            )
        )
        # Row count, not RETURNING: it tells "inserted or updated" from "conflict, WHERE false" on both
        # back ends (SQLite >= 3.24) — but SQLAlchemy only keeps an INSERT's row count when asked to.
        result = connection.execute(statement, execution_options={"preserve_rowcount": True})
        return result.rowcount == 1

    def renew(self, connection: Connection, thing: str, owner: str, ttl: timedelta, now: datetime) -> bool:
        """Extend our lease; False when another replica holds it (we lost it and must stop)."""
        statement = (
            update(self.table)
            .where(self.key == thing, self.table.c.owner == owner)
            .values(expires_at=now + ttl)
        )
        return connection.execute(statement).rowcount == 1

    def release(self, connection: Connection, thing: str, owner: str) -> bool:
        """Give the lease back (only ours): another replica may take it at once; True when there was one."""
        statement = delete(self.table).where(self.key == thing, self.table.c.owner == owner)
        return connection.execute(statement).rowcount == 1

    def take_over(
        self, connection: Connection, thing: str, owner: str, previous: str, ttl: timedelta, now: datetime
    ) -> bool:
        """Take the lease from `previous` (known dead) in one statement; False if it changed hands since."""
        statement = (
            update(self.table)
            .where(self.key == thing, self.table.c.owner == previous)
            .values(owner=owner, expires_at=now + ttl, claimed_at=now)
        )
        return connection.execute(statement).rowcount == 1

    def holder(self, connection: Connection, thing: str) -> tuple[str, datetime] | None:
        """Who holds the lease on `thing`, and until when; None when nobody does."""
        row = connection.execute(
            select(self.table.c.owner, self.table.c.expires_at).where(self.key == thing)
        ).first()
        return None if row is None else (row[0], row[1])

    def holders(self, connection: Connection) -> dict[str, tuple[str, datetime]]:
        """key -> (owner, expires at), expired leases included."""
        query = select(self.key, self.table.c.owner, self.table.c.expires_at)
        return {thing: (owner, expires) for thing, owner, expires in connection.execute(query)}


# Conversation leases: the one replica that may act on a conversation.
conversations = LeaseTable(leases, "conversation_id")
claim = conversations.claim
renew = conversations.renew
release = conversations.release
holder = conversations.holder
take_over = conversations.take_over
