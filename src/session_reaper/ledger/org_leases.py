"""Organization leases: replicas on one ledger divide the organizations, one sweeper per org at a time.

The same one-statement claim as a conversation's lease (leases.py): INSERT ... ON CONFLICT DO UPDATE
... WHERE the lease has expired or is already ours, so two replicas racing for an org cannot both win.
A replica renews what it holds on every pass; one that dies stops renewing, and its orgs are free
for the others once the lease period has run out; one found dead sooner (a killed process on this
host) is taken over at once (`take_over`). Each replica also beats its heart in `replicas`: the
replicas alive divide the orgs evenly. Times are the caller's `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from session_reaper.ledger.engine import dialect_insert, writer
from session_reaper.ledger.schema import org_leases, replicas


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


def take_over(
    connection: Connection, org: str, owner: str, previous: str, ttl: timedelta, now: datetime
) -> bool:
    """Take the org from `previous` (known dead) in one statement; False if it changed hands meanwhile."""
    statement = (
        update(org_leases)
        .where(org_leases.c.org == org, org_leases.c.owner == previous)
        .values(owner=owner, expires_at=now + ttl, claimed_at=now)
    )
    return connection.execute(statement).rowcount == 1


def heartbeat(connection: Connection, owner: str, ttl: timedelta, now: datetime) -> list[str]:
    """Say `owner` is alive until `now + ttl`; returns every replica alive at `now`, sorted."""
    upsert = dialect_insert(connection)(replicas).values(owner=owner, expires_at=now + ttl)
    connection.execute(
        upsert.on_conflict_do_update(index_elements=[replicas.c.owner], set_={"expires_at": now + ttl})
    )
    connection.execute(delete(replicas).where(replicas.c.expires_at < now))
    alive = select(replicas.c.owner).where(replicas.c.expires_at >= now).order_by(replicas.c.owner)
    return list(connection.execute(alive).scalars())


def forget(connection: Connection, owner: str) -> None:
    """`owner` is gone (stopped, or found dead): it no longer counts among the replicas."""
    connection.execute(delete(replicas).where(replicas.c.owner == owner))


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

    def take_over(self, org: str, owner: str, previous: str, *, ttl: timedelta, now: datetime) -> bool:
        with self._writer.begin() as connection:
            return take_over(connection, org, owner, previous, ttl, now)

    def heartbeat(self, owner: str, *, ttl: timedelta, now: datetime) -> list[str]:
        with self._writer.begin() as connection:
            return heartbeat(connection, owner, ttl, now)

    def forget(self, owner: str) -> None:
        with self._writer.begin() as connection:
            forget(connection, owner)

    def holders(self) -> dict[str, tuple[str, datetime]]:
        with self.engine.connect() as connection:
            return holders(connection)
