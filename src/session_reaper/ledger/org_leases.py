"""Organization leases: replicas on one ledger divide the organizations, one sweeper per org at a time.

The same one-statement claim as a conversation's lease (leases.py): INSERT ... ON CONFLICT DO UPDATE
... WHERE the lease has expired or is already ours, so two replicas racing for an org cannot both win.
A replica renews what it holds on every pass; one that dies stops renewing, and its orgs are free
for the others once the lease period has run out. Times are the caller's `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from session_reaper.ledger.engine import dialect_insert, writer
from session_reaper.ledger.schema import org_leases


def claim(connection: Connection, org: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Take the org if it is free, expired or already ours (then renewed); True when we hold it."""
    values = {"org": org, "owner": owner, "expires_at": now + ttl, "claimed_at": now}
    statement = (
        dialect_insert(connection)(org_leases)
        .values(values)
        .on_conflict_do_update(
            index_elements=[org_leases.c.org],
            set_={"owner": owner, "expires_at": now + ttl, "claimed_at": now},
            where=(org_leases.c.expires_at < now) | (org_leases.c.owner == owner),
        )
    )
    result = connection.execute(statement, execution_options={"preserve_rowcount": True})
    return result.rowcount == 1


def renew(connection: Connection, org: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Extend our lease on the org; False when it is no longer ours (expired and taken: stop sweeping it)."""
    statement = (
        update(org_leases)
        .where(org_leases.c.org == org, org_leases.c.owner == owner)
        .values(expires_at=now + ttl)
    )
    return connection.execute(statement).rowcount == 1


def release(connection: Connection, org: str, owner: str) -> bool:
    """Give the org back (only ours): another replica may take it at once."""
    statement = delete(org_leases).where(org_leases.c.org == org, org_leases.c.owner == owner)
    return connection.execute(statement).rowcount == 1


def holders(connection: Connection) -> dict[str, tuple[str, datetime]]:
    """org -> (owner, expires at), expired leases included."""
    query = select(org_leases.c.org, org_leases.c.owner, org_leases.c.expires_at)
    return {org: (owner, expires) for org, owner, expires in connection.execute(query)}


class OrgLeases:
    """The org leases of one ledger (`Ledger.org_leases`): each call one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    def claim(self, org: str, owner: str, *, ttl: timedelta, now: datetime) -> bool:
        with self._writer.begin() as connection:
            return claim(connection, org, owner, ttl, now)

    def renew(self, org: str, owner: str, *, ttl: timedelta, now: datetime) -> bool:
        with self._writer.begin() as connection:
            return renew(connection, org, owner, ttl, now)

    def release(self, org: str, owner: str) -> bool:
        with self._writer.begin() as connection:
            return release(connection, org, owner)

    def holders(self) -> dict[str, tuple[str, datetime]]:
        with self.engine.connect() as connection:
            return holders(connection)
