"""Conversation leases, as the ledger keeps them: one reaper acts on a conversation at a time, across
processes and replicas. A lease is taken unless another owner holds an unexpired one, renewed before each
step, taken over from a holder known to be dead, released when the act ends.

A mixin of `Ledger` (its connections, owner and clock); the SQL is `leases.py`'s. Every call is one
short transaction, atomic in the database, so concurrent callers (threads, processes) cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from session_reaper.ledger import leases as lease_sql

DEFAULT_LEASE_TTL = timedelta(minutes=5)


class LeaseJournal:
    engine: Engine
    _writer: Engine
    owner: str
    _now: Callable[[datetime | None], datetime]

    def claim(
        self,
        conversation_id: str,
        owner: str | None = None,
        *,
        ttl: timedelta = DEFAULT_LEASE_TTL,
        now: datetime | None = None,
    ) -> bool:
        """Take the conversation's lease unless another owner holds an unexpired one."""
        with self._writer.begin() as connection:
            return lease_sql.claim(connection, conversation_id, owner or self.owner, ttl, self._now(now))

    def renew(
        self,
        conversation_id: str,
        owner: str | None = None,
        *,
        ttl: timedelta = DEFAULT_LEASE_TTL,
        now: datetime | None = None,
    ) -> bool:
        with self._writer.begin() as connection:
            return lease_sql.renew(connection, conversation_id, owner or self.owner, ttl, self._now(now))

    def lease_holder(self, conversation_id: str) -> tuple[str, datetime] | None:
        with self.engine.connect() as connection:
            return lease_sql.holder(connection, conversation_id)

    def take_over(
        self,
        conversation_id: str,
        previous: str,
        owner: str | None = None,
        *,
        ttl: timedelta = DEFAULT_LEASE_TTL,
        now: datetime | None = None,
    ) -> bool:
        """Take a lease whose holder is known to be dead (a killed process), without waiting for expiry."""
        with self._writer.begin() as connection:
            return lease_sql.take_over(
                connection, conversation_id, owner or self.owner, previous, ttl, self._now(now)
            )

    def release(self, conversation_id: str, owner: str | None = None) -> bool:
        with self._writer.begin() as connection:
            return lease_sql.release(connection, conversation_id, owner or self.owner)
