"""The console's part of the ledger: pending decisions (shared by replicas) and what operators did.

A mixin of `Ledger` (its connections, transactions and clock); the SQL is `approvals.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from session_reaper.core.approvals import PendingDecision
from session_reaper.ledger import approvals as approval_sql


class ConsoleJournal:
    engine: Engine
    _writer: Engine
    clock: Callable[[], datetime]
    org: str | None  # the organization whose pending decisions and acts these are (None: unnamed)

    def _now(self, at: datetime | None) -> datetime:
        return at if at is not None else self.clock()

    def pend(
        self,
        conversation_id: str,
        *,
        rule: str | None,
        decision: str,
        reason: str,
        queue_id: str | None,
        now: datetime,
        ttl: timedelta,
    ) -> PendingDecision:
        """The conversation's one waiting decision (created when there is none), or the rejection of
        the same rule still in force."""
        with self._writer.begin() as connection:
            return approval_sql.pend(
                connection,
                conversation_id,
                rule=rule,
                decision=decision,
                reason=reason,
                queue_id=queue_id,
                now=now,
                ttl=ttl,
                org=self.org,
            )

    def pending_decisions(self, now: datetime) -> list[PendingDecision]:
        """Every decision still waiting at `now`, oldest first (the expired are marked so); an org's
        ledger (`for_org`) lists that org's only."""
        with self._writer.begin() as connection:
            approval_sql.expire(connection, now)
            return approval_sql.waiting(connection, now, self.org)

    def pending_decision(self, decision_id: str) -> PendingDecision | None:
        with self.engine.connect() as connection:
            return approval_sql.one(connection, decision_id)

    def resolve_pending(
        self, decision_id: str, *, approve: bool, operator: str, now: datetime
    ) -> tuple[bool, PendingDecision | None]:
        """Approve or reject a waiting decision (one atomic update: racing replicas cannot both win)."""
        status = "approved" if approve else "rejected"
        with self._writer.begin() as connection:
            return approval_sql.resolve(connection, decision_id, status, operator, now)

    def settle_pending(self, decision_id: str, outcome: str) -> None:
        with self._writer.begin() as connection:
            approval_sql.settle(connection, decision_id, outcome)

    def record_console_action(
        self,
        operator: str,
        action: str,
        conversation_id: str,
        *,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        with self._writer.begin() as connection:
            approval_sql.record_action(
                connection, operator, action, conversation_id, detail, self._now(at), self.org
            )

    def console_actions(self, since: datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return approval_sql.actions_since(connection, since)
