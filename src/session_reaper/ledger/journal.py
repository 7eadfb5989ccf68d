"""The ledger: an audit journal of sweeps, decisions and steps, plus conversation leases.

The Ledger owns connections, transactions, the clock and the decision buffer; the SQL of each concept
lives in its own module (sweeps, decisions, steps, own_messages, queue_names, read_schedule,
discovery_windows, leases, history); the console's part, the read schedule's and the leases' are
mixins (console_journal, schedule_journal, lease_journal, step_journal).

Every call is one short transaction on a pooled connection, so one `Ledger` may be shared by threads
(the engine calls it from worker threads, engine/off_loop.py; on SQLite those calls take turns on
`call_lock`). A step's intent is committed when `step_intent` returns — before the caller sends the
request — and its outcome after; a crash in between leaves an open intent that `pending_steps` hands
to recovery.

Times: every write is stamped by `ledger.clock` (or an explicit `at=`). It defaults to the machine's
UTC clock; the sweep should set it to the platform's clock so that journal times compare with the
platform's message times and agree across replicas. Lease calls take `now` explicitly for the same
reason.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from session_reaper.ledger import decisions as decision_sql
from session_reaper.ledger import history as reports
from session_reaper.ledger import leases as lease_sql
from session_reaper.ledger import migrate, opening, own_messages, queue_names
from session_reaper.ledger import sweeps as sweep_sql
from session_reaper.ledger.console_journal import ConsoleJournal
from session_reaper.ledger.engine import create_ledger_engine, normalize_url, writer
from session_reaper.ledger.lease_journal import LeaseJournal
from session_reaper.ledger.opening import LedgerUnavailable
from session_reaper.ledger.org_leases import OrgLeases
from session_reaper.ledger.platform_counts import PlatformCounts
from session_reaper.ledger.schedule_journal import ScheduleJournal
from session_reaper.ledger.step_journal import StepJournal

Clock = Callable[[], datetime]
BUFFER_LIMIT = 200  # buffered decisions written in one statement; bounded so a crash loses little


def _machine_clock() -> datetime:
    return datetime.now(UTC)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger(ConsoleJournal, ScheduleJournal, LeaseJournal, StepJournal):
    def __init__(
        self,
        engine: Engine,
        *,
        owner: str | None = None,
        clock: Clock | None = None,
        org: str | None = None,
        _owns_engine: bool = True,
        _call_lock: threading.Lock | None = None,
    ) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.owner = owner or default_owner()
        self.clock: Clock = clock or _machine_clock
        # the organization whose rows this ledger writes and reads (None: the one unnamed org)
        self.org = org
        self._owns_engine = _owns_engine
        self._buffer: list[dict[str, Any]] = []
        self._buffer_lock = threading.Lock()
        # Held around each call the engine makes from its worker threads (engine/off_loop.py): SQLite
        # takes one writer at a time (in memory, over one shared connection that two threads must never
        # use at once), so in-process callers take turns here instead of polling its busy handler.
        # None: PostgreSQL, whose pooled connections take concurrent calls. Shared with `for_org`.
        self.call_lock: threading.Lock | None = _call_lock
        if _call_lock is None and engine.dialect.name == "sqlite":
            self.call_lock = threading.Lock()
        self.org_leases = OrgLeases(engine, self.call_lock)
        self.platform_counts = PlatformCounts(engine, self.call_lock)

    def for_org(self, org: str | None) -> Ledger:
        """The same ledger as one organization's engine sees it: its sweeps, decisions and read schedule
        carry `org`, its recovery and schedule read only that org's rows, and it has its own clock and
        decision buffer (each org's sweep sets the clock to its own platform's). Closing it flushes;
        the connections stay this ledger's."""
        return Ledger(
            self.engine,
            owner=self.owner,
            clock=self.clock,
            org=org,
            _owns_engine=False,
            _call_lock=self.call_lock,
        )

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

    def connection_lost(self, exc: BaseException) -> LedgerUnavailable | None:
        """`exc` (raised by one of its calls) as the connection to its database lost, or None."""
        return opening.connection_lost(self.engine.url, exc)

    def ping(self) -> None:
        """One round trip (a pooled connection checked first: pool_pre_ping); raises when lost."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def schema_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return migrate.current_revision(connection)

    def close(self) -> None:
        self.flush()
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _now(self, at: datetime | None) -> datetime:
        return at if at is not None else self.clock()

    # -- sweeps --------------------------------------------------------------------------------------

    def start_sweep(self, apply: bool, *, owner: str | None = None, at: datetime | None = None) -> int:
        with self._writer.begin() as connection:
            return sweep_sql.start(connection, owner or self.owner, apply, self._now(at), self.org)

    def finish_sweep(self, sweep_id: int, summary: Mapping[str, Any], *, at: datetime | None = None) -> None:
        self.flush()
        with self._writer.begin() as connection:
            sweep_sql.finish(connection, sweep_id, summary, self._now(at))

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
        operator: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Journal a decision now (before acting on it); returns its id for the steps.

        `operator`: the console user it is carried out for (close now, an approval)."""
        row = self._decision_row(**_args(locals()))
        with self._writer.begin() as connection:
            return decision_sql.insert_one(connection, row)

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
                decision_sql.insert_many(connection, rows)
        except BaseException:
            with self._buffer_lock:
                self._buffer[:0] = rows
            raise
        return len(rows)

    def _decision_row(self, *, at: datetime | None, **values: Any) -> dict[str, Any]:
        return decision_sql.row({**values, "org": self.org}, self._now(at))

    def set_decision_outcome(
        self,
        decision_id: int,
        outcome: str,
        *,
        error: str | None = None,
        release: tuple[str, str] | None = None,
        at: datetime | None = None,
    ) -> None:
        """How the act on a decision ended; `release` (conversation id, owner): the act's lease given
        back in the same transaction, the act's last round trip."""
        with self._writer.begin() as connection:
            decision_sql.set_outcome(connection, decision_id, outcome, error, self._now(at))
            if release is not None:
                lease_sql.release(connection, *release)

    def cut_off(self, conversation_id: str, owner: str, sweep_id: int, *, at: datetime | None = None) -> None:
        """An act the ledger's lost connection cut off (fix 38), once it answers again: its decision in
        this sweep, if still without an outcome, is `interrupted`, and its lease is given back, in one
        transaction. An intent it left open stays open for recovery, which settles it from the platform."""
        with self._writer.begin() as connection:
            decision_sql.interrupt_unfinished(connection, conversation_id, sweep_id, self._now(at))
            lease_sql.release(connection, conversation_id, owner)

    def prune(self, before: datetime) -> int:
        """Delete decisions older than `before` that changed nothing (skipped, deferred, dry run).

        Every sweep journals each conversation it looked at, so these are most of the rows; the
        audit trail proper — decisions that acted, their steps, sweeps, message ids — is kept.
        Returns how many rows went.
        """
        self.flush()
        with self._writer.begin() as connection:
            return decision_sql.prune(connection, before)

    # -- the reaper's own messages -------------------------------------------------------------------

    def record_reaper_message(
        self, conversation_id: str, message_id: str, kind: str, *, sent_at: datetime | None = None
    ) -> None:
        """Remember a message id the reaper sent (idempotent: recording it twice changes nothing)."""
        with self._writer.begin() as connection:
            own_messages.record(connection, conversation_id, message_id, kind, self._now(sent_at))

    def reaper_messages(self, conversation_id: str) -> dict[str, str]:
        """message id -> kind ("warning" or "closing") for every message the reaper sent there."""
        with self.engine.connect() as connection:
            return own_messages.in_conversation(connection, conversation_id)

    def reaper_messages_since(self, since: datetime) -> dict[str, dict[str, str]]:
        """conversation id -> {message id -> kind} for every message the reaper sent since `since`:
        one query for a whole sweep instead of one per conversation."""
        with self.engine.connect() as connection:
            return own_messages.since(connection, since)

    def warned_at(self, conversation_id: str) -> datetime | None:
        """When the reaper last sent its warning in this conversation, if ever."""
        with self.engine.connect() as connection:
            return own_messages.warned_at(connection, conversation_id)

    # -- queue names ----------------------------------------------------------------------------------

    def known_queues(self) -> set[str]:
        """Queue ids already read (named, or refused for good): never read again."""
        with self.engine.connect() as connection:
            return queue_names.known(connection)

    def record_queue(
        self, queue_id: str, name: str | None, *, status: int | None = None, at: datetime | None = None
    ) -> None:
        """A queue's name, or no name and the HTTP status that refused its read (403, 404)."""
        with self._writer.begin() as connection:
            queue_names.record(connection, queue_id, name, status, self._now(at))

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
