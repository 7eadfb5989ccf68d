"""Organization leases: replicas on one ledger divide the organizations, one sweeper per org at a time.

The same one-statement claim as a conversation's lease (leases.LeaseTable): INSERT ... ON CONFLICT
DO UPDATE ... WHERE the lease has expired or is already ours, so two replicas racing for an org cannot
both win. A replica renews what it holds on every pass; one that dies stops renewing, and its orgs are
free for the others once the lease period has run out; one found dead sooner (a killed process on this
host) is taken over at once (`take_over`). Each replica also beats its heart in `replicas`: the
replicas alive divide the orgs evenly. Times are the caller's `now`.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from session_reaper.ledger.engine import dialect_insert, writer
from session_reaper.ledger.leases import LeaseTable
from session_reaper.ledger.schema import org_leases, replicas

# The same claim, renewal, release and take-over as a conversation's, on the org's row.
organizations = LeaseTable(org_leases, "org")
claim = organizations.claim
renew = organizations.renew
release = organizations.release
take_over = organizations.take_over
holders = organizations.holders


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


class OrgLeases:
    """The org leases of one ledger (`Ledger.org_leases`): each call one short transaction."""

    def __init__(self, engine: Engine, call_lock: threading.Lock | None = None) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.call_lock = call_lock  # the ledger's (SQLite): its calls off the loop take turns with its own

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
