"""The ledger: an audit journal of sweeps, decisions and steps, plus conversation leases.

Every call is one short transaction on a pooled connection, so one `Ledger` may be shared by threads
(the async sweep may call it directly or through `asyncio.to_thread`). A step's intent is committed
when `step_intent` returns — before the caller sends the request — and its outcome after; a crash
in between leaves an open intent that `pending_steps` hands to recovery.

Times: every write is stamped by `ledger.clock` (or an explicit `at=`). It defaults to the machine's
UTC clock; the sweep should set it to the platform's clock so that journal times compare with the
platform's message times and agree across replicas. Lease calls take `now` explicitly for the same
reason.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from session_reaper.core.model import PendingStep, ScheduledRead
from session_reaper.core.schedule import CLOCK_SKEW
from session_reaper.ledger import discovery_windows as window_sql
from session_reaper.ledger import history as reports
from session_reaper.ledger import leases as lease_sql
from session_reaper.ledger import migrate, opening
from session_reaper.ledger.engine import create_ledger_engine, dialect_insert, normalize_url, writer
from session_reaper.ledger.schema import (
    decisions,
    queues,
    read_schedule,
    reaper_messages,
    steps,
    sweeps,
)
from session_reaper.ledger.vocabulary import (
    DECISION_OUTCOMES,
    DECISIONS,
    EFFECTIVE_STEP_OUTCOMES,
    INACTION_OUTCOMES,
    MESSAGE_KINDS,
    STEP_OUTCOMES,
    check,
    scrub,
)

Clock = Callable[[], datetime]
DEFAULT_LEASE_TTL = timedelta(minutes=5)
BUFFER_LIMIT = 200  # buffered decisions written in one statement; bounded so a crash loses little


def _machine_clock() -> datetime:
    return datetime.now(UTC)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger:
    def __init__(self, engine: Engine, *, owner: str | None = None, clock: Clock | None = None) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.owner = owner or default_owner()
        self.clock: Clock = clock or _machine_clock
        self._buffer: list[dict[str, Any]] = []
        self._buffer_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, owner: str | None = None, clock: Clock | None = None) -> Ledger:
        """Connect, create or upgrade the schema, and return a ready ledger.

        Raises LedgerUrlError (no supported back end), LedgerVersionError (a newer schema) or
        LedgerUnavailable (the database cannot be opened or written: the cause, in one line).
        """
        parsed = normalize_url(url)
        path = opening.sqlite_path(parsed)
        if path is not None:
            opening.check_sqlite_path(parsed, path)
        engine = create_ledger_engine(url)
        try:
            migrate.upgrade(engine)
        except (SQLAlchemyError, OSError) as exc:
            engine.dispose()
            raise opening.explain(parsed, exc) from None
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, owner=owner, clock=clock)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The ledger's URL for humans: the password is never shown."""
        return self.engine.url.render_as_string(hide_password=True)

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return migrate.current_revision(connection)

    def close(self) -> None:
        self.flush()
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _now(self, at: datetime | None) -> datetime:
        return at if at is not None else self.clock()

    # -- sweeps --------------------------------------------------------------------------------------

    def start_sweep(self, apply: bool, *, owner: str | None = None, at: datetime | None = None) -> int:
        values = {"owner": owner or self.owner, "apply": apply, "started_at": self._now(at)}
        with self._writer.begin() as connection:
            return _inserted_id(connection.execute(insert(sweeps).values(values).returning(sweeps.c.id)))

    def finish_sweep(self, sweep_id: int, summary: Mapping[str, Any], *, at: datetime | None = None) -> None:
        self.flush()
        with self._writer.begin() as connection:
            connection.execute(
                update(sweeps)
                .where(sweeps.c.id == sweep_id)
                .values(finished_at=self._now(at), summary_json=dict(summary))
            )

    # -- decisions -----------------------------------------------------------------------------------

    def record_decision(
        self,
        sweep_id: int,
        conversation_id: str,
        *,
        decision: str,
        rule: str | None = None,
        reason: str | None = None,
        outcome: str | None = None,
        queue_id: str | None = None,
        channel: str | None = None,
        threshold_seconds: float | None = None,
        idle_seconds: float | None = None,
        held_seconds: float | None = None,
        platform_now: datetime | None = None,
        at: datetime | None = None,
    ) -> int:
        """Journal a decision now (before acting on it); returns its id for the steps."""
        row = self._decision_row(**_args(locals()))
        with self._writer.begin() as connection:
            return _inserted_id(connection.execute(insert(decisions).values(row).returning(decisions.c.id)))

    def buffer_decision(
        self,
        sweep_id: int,
        conversation_id: str,
        *,
        decision: str,
        outcome: str,
        rule: str | None = None,
        reason: str | None = None,
        queue_id: str | None = None,
        channel: str | None = None,
        threshold_seconds: float | None = None,
        idle_seconds: float | None = None,
        platform_now: datetime | None = None,
        at: datetime | None = None,
    ) -> None:
        """Journal a decision that needs no id (skip, defer, dry run) in bulk: one write per batch.

        Written at `flush()`, `finish_sweep()`, `close()`, or every BUFFER_LIMIT rows.
        """
        row = self._decision_row(**_args(locals()))
        with self._buffer_lock:
            self._buffer.append(row)
            full = len(self._buffer) >= BUFFER_LIMIT
        if full:
            self.flush()

    def flush(self) -> int:
        """Write the buffered decisions; returns how many."""
        with self._buffer_lock:
            rows, self._buffer = self._buffer, []
        if not rows:
            return 0
        try:
            with self._writer.begin() as connection:
                connection.execute(insert(decisions), rows)
        except BaseException:
            with self._buffer_lock:
                self._buffer[:0] = rows
            raise
        return len(rows)

    def _decision_row(self, *, at: datetime | None, **values: Any) -> dict[str, Any]:
        check(values["decision"], DECISIONS, "decision")
        if values["outcome"] is not None:
            check(values["outcome"], DECISION_OUTCOMES, "decision outcome")
        now = self._now(at)
        values["decided_at"] = now
        values["outcome_at"] = now if values["outcome"] is not None else None
        values["error"] = None
        return values

    def set_decision_outcome(
        self, decision_id: int, outcome: str, *, error: str | None = None, at: datetime | None = None
    ) -> None:
        check(outcome, DECISION_OUTCOMES, "decision outcome")
        values = {"outcome": outcome, "outcome_at": self._now(at), "error": scrub(error)}
        with self._writer.begin() as connection:
            connection.execute(update(decisions).where(decisions.c.id == decision_id).values(values))

    # -- steps ---------------------------------------------------------------------------------------

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
        values = {
            "decision_id": decision_id,
            "conversation_id": conversation_id,
            "kind": kind,
            "participant_id": participant_id,
            "intent_at": self._now(at),
        }
        with self._writer.begin() as connection:
            return _inserted_id(connection.execute(insert(steps).values(values).returning(steps.c.id)))

    def step_outcome(
        self,
        step_id: int,
        outcome: str,
        *,
        http_status: int | None = None,
        context_id: str | None = None,
        error_code: str | None = None,
        request_count: int | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Journal how a step ended. The first outcome stands: False if one was already recorded."""
        check(outcome, STEP_OUTCOMES, "step outcome")
        values = {
            "outcome": outcome,
            "outcome_at": self._now(at),
            "http_status": http_status,
            "context_id": context_id,
            "error_code": scrub(error_code),
            "request_count": request_count,
        }
        statement = update(steps).where(steps.c.id == step_id, steps.c.outcome.is_(None)).values(values)
        with self._writer.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def pending_steps(self, owner: str | None = None) -> list[PendingStep]:
        """Intents with no outcome, oldest first; only those of `owner`'s sweeps when given."""
        query = (
            select(
                steps.c.id,
                steps.c.decision_id,
                decisions.c.sweep_id,
                sweeps.c.owner,
                steps.c.conversation_id,
                steps.c.kind,
                steps.c.participant_id,
                steps.c.intent_at,
            )
            .join(decisions, decisions.c.id == steps.c.decision_id)
            .join(sweeps, sweeps.c.id == decisions.c.sweep_id)
            .where(steps.c.outcome.is_(None))
            .order_by(steps.c.id)
        )
        if owner is not None:
            query = query.where(sweeps.c.owner == owner)
        with self.engine.connect() as connection:
            return [PendingStep(*row) for row in connection.execute(query)]

    def completed_step(
        self,
        conversation_id: str,
        kind: str,
        participant_id: str | None = None,
        *,
        since: datetime | None = None,
    ) -> bool:
        """Whether this step's effect is already journalled as in place (intent at or after `since`)."""
        participant = (
            steps.c.participant_id.is_(None)
            if participant_id is None
            else steps.c.participant_id == participant_id
        )
        conditions = [
            steps.c.conversation_id == conversation_id,
            steps.c.kind == kind,
            participant,
            steps.c.outcome.in_(EFFECTIVE_STEP_OUTCOMES),
        ]
        if since is not None:
            conditions.append(steps.c.intent_at >= since)
        query = select(steps.c.id).where(and_(*conditions)).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(query).first() is not None

    # -- the reaper's own messages -------------------------------------------------------------------

    def record_reaper_message(
        self, conversation_id: str, message_id: str, kind: str, *, sent_at: datetime | None = None
    ) -> None:
        """Remember a message id the reaper sent (idempotent: recording it twice changes nothing)."""
        check(kind, MESSAGE_KINDS, "reaper message kind")
        values = {
            "message_id": message_id,
            "conversation_id": conversation_id,
            "kind": kind,
            "sent_at": self._now(sent_at),
        }
        with self._writer.begin() as connection:
            statement = dialect_insert(connection)(reaper_messages).values(values)
            connection.execute(
                statement.on_conflict_do_nothing(index_elements=[reaper_messages.c.message_id])
            )

    def reaper_messages(self, conversation_id: str) -> dict[str, str]:
        """message id -> kind ("warning" or "closing") for every message the reaper sent there."""
        query = select(reaper_messages.c.message_id, reaper_messages.c.kind).where(
            reaper_messages.c.conversation_id == conversation_id
        )
        with self.engine.connect() as connection:
            return {message_id: kind for message_id, kind in connection.execute(query)}

    def reaper_messages_since(self, since: datetime) -> dict[str, dict[str, str]]:
        """conversation id -> {message id -> kind} for every message the reaper sent since `since`:
        one query for a whole sweep instead of one per conversation."""
        query = select(
            reaper_messages.c.conversation_id, reaper_messages.c.message_id, reaper_messages.c.kind
        ).where(reaper_messages.c.sent_at >= since)
        found: dict[str, dict[str, str]] = {}
        with self.engine.connect() as connection:
            for conversation_id, message_id, kind in connection.execute(query):
                found.setdefault(conversation_id, {})[message_id] = kind
        return found

    # -- queue names ----------------------------------------------------------------------------------

    def known_queues(self) -> set[str]:
        """Queue ids already read (named, or refused for good): never read again."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(queues.c.queue_id)).scalars())

    def record_queue(
        self, queue_id: str, name: str | None, *, status: int | None = None, at: datetime | None = None
    ) -> None:
        """A queue's name, or no name and the HTTP status that refused its read (403, 404)."""
        values = {"queue_id": queue_id, "name": name, "status": status, "read_at": self._now(at)}
        with self._writer.begin() as connection:
            upsert = dialect_insert(connection)(queues).values(values)
            connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=[queues.c.queue_id],
                    set_={c: upsert.excluded[c] for c in ("name", "status", "read_at")},
                )
            )

    # -- the read schedule ----------------------------------------------------------------------------

    def read_schedule(self, policy: str, now: datetime) -> dict[str, ScheduledRead]:
        """Conversations not to be read before a time, decided under `policy`, still in force at `now`.

        Rows decided after `now` (the platform's clock went back, by more than CLOCK_SKEW) or under
        another policy are ignored.
        """
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
        with self.engine.connect() as connection:
            return {
                cid: ScheduledRead(until, start, seen)
                for cid, until, start, seen in connection.execute(query)
            }

    def save_read_schedule(
        self,
        policy: str,
        decided_at: datetime,
        reads: Mapping[str, ScheduledRead],
        forget: Iterable[str] = (),
    ) -> None:
        """Upsert the rows of `reads` and delete those of `forget`, in one transaction.

        An upsert, not delete-then-insert: replicas saving the same conversation at once must not
        collide on its key.
        """
        rows = [
            {
                "conversation_id": cid,
                "not_before": read.until,
                "decided_at": decided_at,
                "conversation_start": read.conversation_start,
                "policy": policy,
                "participants_fingerprint": read.participants_fingerprint,
            }
            for cid, read in reads.items()
        ]
        gone = sorted(set(forget) - set(reads))
        with self._writer.begin() as connection:
            for start in range(0, len(gone), 500):
                chunk = gone[start : start + 500]
                connection.execute(delete(read_schedule).where(read_schedule.c.conversation_id.in_(chunk)))
            if rows:
                upsert = dialect_insert(connection)(read_schedule)
                columns = (
                    "not_before",
                    "decided_at",
                    "conversation_start",
                    "policy",
                    "participants_fingerprint",
                )
                statement = upsert.on_conflict_do_update(
                    index_elements=[read_schedule.c.conversation_id],
                    set_={c: upsert.excluded[c] for c in columns},
                )
                connection.execute(statement, rows)

    def window_scans(self) -> dict[str, datetime]:
        """When discovery last looked at each older window (see genesys.discovery.WindowBook)."""
        with self.engine.connect() as connection:
            return window_sql.load(connection)

    def save_window_scans(self, scans: Mapping[str, datetime]) -> None:
        with self._writer.begin() as connection:
            window_sql.save(connection, scans)

    def warned_at(self, conversation_id: str) -> datetime | None:
        """When the reaper last sent its warning in this conversation, if ever."""
        query = select(func.max(reaper_messages.c.sent_at)).where(
            reaper_messages.c.conversation_id == conversation_id, reaper_messages.c.kind == "warning"
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def prune(self, before: datetime) -> int:
        """Delete decisions older than `before` that changed nothing (skipped, deferred, dry run).

        Every sweep journals each conversation it looked at, so these are most of the rows; the
        audit trail proper — decisions that acted, their steps, sweeps, message ids — is kept.
        Returns how many rows went.
        """
        self.flush()
        no_steps = ~exists().where(steps.c.decision_id == decisions.c.id)
        statement = delete(decisions).where(
            decisions.c.decided_at < before, decisions.c.outcome.in_(INACTION_OUTCOMES), no_steps
        )
        with self._writer.begin() as connection:
            return connection.execute(statement).rowcount

    # -- leases --------------------------------------------------------------------------------------

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

    # -- reports -------------------------------------------------------------------------------------

    def closes_by(self, by: reports.Grouping, since: datetime) -> list[tuple[str, int]]:
        with self.engine.connect() as connection:
            return reports.closes_by(connection, by, since)

    def failures(self, since: datetime) -> list[reports.Failure]:
        with self.engine.connect() as connection:
            return reports.failures(connection, since)

    def request_cost(self, since: datetime) -> reports.RequestCost:
        with self.engine.connect() as connection:
            return reports.request_cost(connection, since)


def _args(scope: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scope.items() if k != "self"}


def _inserted_id(result: Any) -> int:
    return int(result.scalar_one())
