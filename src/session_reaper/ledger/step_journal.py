"""The journal's steps, as the ledger keeps them: each request the reaper sends is an intent committed
before it goes out and an outcome after; an intent without one is what recovery settles.

A mixin of `Ledger` (its connections, org and clock); the SQL is `steps.py`'s and `leases.py`'s. An act
holds its conversation's lease while it journals (fencing: a stalled act that lost the lease must not
send), so the lease's renewal goes in the same transaction as the write it guards: one round trip per
intent and per attempt rather than two (in the soak at 120x the journal's round trips were 43 % of
serve's time, docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from session_reaper.core.model import JournalledSteps, PendingStep, StepAttempt
from session_reaper.ledger import leases as lease_sql
from session_reaper.ledger import own_messages
from session_reaper.ledger import steps as step_sql


class StepJournal:
    engine: Engine
    _writer: Engine
    org: str | None
    _now: Callable[[datetime | None], datetime]

    def step_intent(
        self,
        decision_id: int,
        conversation_id: str,
        kind: str,
        participant_id: str | None = None,
        *,
        at: datetime | None = None,
    ) -> int:
        """Journal that a request is about to be sent. Committed on return: send only after this."""
        with self._writer.begin() as connection:
            return step_sql.intent(
                connection, decision_id, conversation_id, kind, participant_id, self._now(at)
            )

    def held_step_intent(
        self,
        decision_id: int,
        conversation_id: str,
        kind: str,
        participant_id: str | None,
        *,
        owner: str,
        ttl: timedelta,
        at: datetime,
    ) -> int | None:
        """Renew `owner`'s lease on the conversation and journal the intent, in one transaction; None
        (nothing journalled) when the lease is no longer `owner`'s: another reaper acts there now."""
        with self._writer.begin() as connection:
            if not lease_sql.renew(connection, conversation_id, owner, ttl, at):
                return None
            return step_sql.intent(connection, decision_id, conversation_id, kind, participant_id, at)

    def step_attempt(
        self,
        step_id: int,
        conversation_id: str,
        owner: str,
        *,
        ttl: timedelta,
        now: datetime,
        until: datetime,
    ) -> StepAttempt:
        """Right before an attempt of the step's request: hold the lease again (claim: free, expired or
        `owner`'s) and mark the step on its way until `until` (wall time), in one transaction.
        "not-held": another owner holds the lease, nothing changed; "settled": another look settled the
        step meanwhile, it must not go out; "sending": send now."""
        with self._writer.begin() as connection:
            if not lease_sql.claim(connection, conversation_id, owner, ttl, now):
                return "not-held"
            return "sending" if step_sql.sending(connection, step_id, until) else "settled"

    def step_outcome(
        self,
        step_id: int,
        outcome: str,
        *,
        http_status: int | None = None,
        context_id: str | None = None,
        error_code: str | None = None,
        request_count: int | None = None,
        reaper_message: tuple[str, str, str] | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Journal how a step ended. The first outcome stands: False if one was already recorded.
        `reaper_message` (conversation id, message id, kind): the text the step sent, remembered in
        the same transaction as the reaper's own."""
        now = self._now(at)
        with self._writer.begin() as connection:
            if reaper_message is not None:
                own_messages.record(connection, *reaper_message, now)
            return step_sql.outcome(
                connection,
                step_id,
                outcome,
                http_status=http_status,
                context_id=context_id,
                error_code=error_code,
                request_count=request_count,
                at=now,
            )

    def step_sending(self, step_id: int, *, until: datetime | None) -> bool:
        """Just before an attempt of the step's request: mark it on its way until `until` (wall time);
        None: answered, nothing on its way. False when another look settled the step meanwhile: the
        request must not go out."""
        with self._writer.begin() as connection:
            return step_sql.sending(connection, step_id, until)

    def step_settled(
        self, step_id: int, outcome: str, *, in_flight_until: datetime | None, at: datetime | None = None
    ) -> bool:
        """Recovery's outcome for an open step, unless an attempt was marked sent since it was read
        (`in_flight_until`, as `pending_steps` gave it): False then, and the step stays open."""
        with self._writer.begin() as connection:
            return step_sql.settle(
                connection, step_id, outcome, in_flight_until=in_flight_until, at=self._now(at)
            )

    def pending_steps(
        self, owner: str | None = None, *, conversation_id: str | None = None
    ) -> list[PendingStep]:
        """Intents with no outcome, oldest first; only those of `owner`'s sweeps or of one conversation
        when given, and of this ledger's org when it has one (another org's are not this org's to settle)."""
        with self.engine.connect() as connection:
            return step_sql.pending(connection, owner, self.org, conversation_id)

    def conversation_steps(self, conversation_id: str, *, since: datetime | None = None) -> JournalledSteps:
        """What an act that just took the conversation's lease must know of its steps, in one read: the
        intents left open, the steps in place since `since` (the closing cycle's start), and whether an
        act journalled as done put them there."""
        with self.engine.connect() as connection:
            return step_sql.of_conversation(connection, conversation_id, self.org, since)

    def completed_steps(
        self, conversation_id: str, *, since: datetime | None = None
    ) -> set[tuple[str, str | None]]:
        """(kind, participant id) of each step whose effect is journalled as in place (intent at or
        after `since`): what `conversation_steps` says of them."""
        return set(self.conversation_steps(conversation_id, since=since).in_place)

    def completed_step(
        self,
        conversation_id: str,
        kind: str,
        participant_id: str | None = None,
        *,
        since: datetime | None = None,
    ) -> bool:
        """Whether this one step's effect is already journalled as in place (intent at or after `since`)."""
        return (kind, participant_id) in self.completed_steps(conversation_id, since=since)
