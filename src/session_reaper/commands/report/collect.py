"""Every figure of a period, read from the ledger alone; a ledger that cannot be read is one clear error."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from session_reaper.commands.report.figures import ACTIONS, ConsoleAction, FailureRow, ReportData
from session_reaper.commands.report.timelines import closes_timeline
from session_reaper.core.schedule import parse_duration
from session_reaper.errors import EXIT_USAGE, ReaperError
from session_reaper.ledger import (
    Ledger,
    LedgerUnavailable,
    LedgerUrlError,
    LedgerVersionError,
    normalize_url,
)
from session_reaper.ledger import approvals as console_sql
from session_reaper.ledger import history as queries
from session_reaper.ledger.opening import check_sqlite_path, sqlite_path
from session_reaper.ledger.schema import decisions, sweeps
from session_reaper.ledger.vocabulary import scrub


def collect(ledger: Ledger, since: datetime, now: datetime) -> ReportData:
    """Every figure of the report for decisions and sweeps at or after `since` (an aware datetime)."""
    if since.tzinfo is None or now.tzinfo is None:
        raise ValueError("collect() takes aware datetimes (the ledger's times are UTC)")
    ledger.flush()
    # One connection, so one transaction: every figure comes from the same state of the journal. (Not
    # the Ledger's own report methods: each opens a connection, and SQLite would wait on our lock.)
    with ledger.engine.connect() as connection:
        cost = queries.request_cost(connection, since)
        closed = queries.closed(connection, since)
        sweep_row = connection.execute(
            select(
                func.count(),
                func.count().filter(sweeps.c.apply.is_(True)),
                func.min(sweeps.c.started_at),
                func.max(func.coalesce(sweeps.c.finished_at, sweeps.c.started_at)),
            ).where(sweeps.c.started_at >= since)
        ).one()
        acted = queries.acted_by_rule(connection, since)
        cancelled = connection.execute(
            select(func.count()).where(decisions.c.decided_at >= since, decisions.c.outcome == "cancelled")
        ).scalar_one()
        data = ReportData(
            since=since,
            until=now,
            by_rule=queries.closes_by(connection, "rule", since),
            acted_by_rule=acted,
            by_queue=queries.closes_by(connection, "queue", since),
            by_hour=queries.closes_by(connection, "hour", since),
            actions={kind: sum(row[kind] for _, row in acted) for kind in ACTIONS},
            cancelled=int(cancelled),
            idle_minutes=sorted(c.idle_seconds / 60 for c in closed if c.idle_seconds is not None),
            past_threshold_minutes=sorted(
                c.past_threshold_seconds / 60 for c in closed if c.past_threshold_seconds is not None
            ),
            cost_by_hour=queries.cost_by_hour(connection, since),
            failures=_failures(connection, since),
            api_requests=cost.api_requests,
            cost_sweeps=cost.sweeps,
            cost_closes=cost.closes,
            console_actions=[
                ConsoleAction(a["at"], a["operator"], a["action"], a["conversationId"], a["detail"], a["org"])
                for a in console_sql.actions_since(connection, since)
            ],
            by_org=queries.by_org(connection, since),
        )
    count, applied, first, last = sweep_row
    until = max(now, last) if last is not None else now
    return replace(
        data,
        until=until,
        sweeps=int(count),
        applied_sweeps=int(applied),
        first_sweep_at=first,
        last_sweep_at=last,
        # Up to the last sweep, not to now: past it, no close means no sweep ran, not nothing to close.
        timeline=closes_timeline(closed, last if last is not None else until),
    )


def _failures(connection: Connection, since: datetime) -> list[FailureRow]:
    failed = queries.failures(connection, since)
    reasons: dict[int, str | None] = {}
    if failed:
        ids = [f.decision_id for f in failed]
        reasons = dict(
            connection.execute(
                select(decisions.c.id, decisions.c.reason).where(decisions.c.id.in_(ids))
            ).all()
        )
    return [
        FailureRow(
            conversation_id=f.conversation_id,
            rule=f.rule,
            decision=f.decision,
            decided_at=f.decided_at,
            reason=reasons.get(f.decision_id),
            error=scrub(f.error),
            step_kind=f.step_kind,
            http_status=f.http_status,
            error_code=scrub(f.error_code),
            context_id=f.context_id,
        )
        for f in failed
    ]


def open_ledger(url: str) -> Ledger | None:
    """The ledger to report on, or None when it was never created (a SQLite file that does not exist).

    A missing SQLite file is not created: a report must not leave an empty database behind.
    Raises LedgerUrlError for a URL of no supported back end, LedgerVersionError for a newer schema,
    LedgerUnavailable for a ledger that cannot be opened.
    """
    parsed = normalize_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        check_sqlite_path(parsed, path)  # a wrong path is an error, a file not made yet an empty report
        if not path.exists():
            return None
    return Ledger.open(url)


class ReportError(ReaperError):
    """The ledger could not be read (unreachable database, unusable URL, newer schema)."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # 1 when the database server does not answer (it may come back), else 2


def last_recorded(ledger: Ledger) -> datetime | None:
    """The latest moment the ledger recorded: the platform's clock, as the sweeps stamp every row."""
    ledger.flush()
    with ledger.engine.connect() as connection:
        latest = connection.execute(
            select(func.max(func.coalesce(sweeps.c.finished_at, sweeps.c.started_at)))
        ).scalar_one()
    return latest if isinstance(latest, datetime) else None


def load(url: str, since: datetime | timedelta, now: datetime | None = None) -> ReportData:
    """The report of the ledger at `url`; an empty one when that ledger was never created.

    `since` may be a period: it then counts back from `now`, which defaults to the last moment the
    ledger recorded. The ledger's times are the platform's clock, so a period counted back from the
    machine's clock would hide everything the day the two disagree (a wrong machine clock, the
    emulator's virtual day).
    """
    try:
        ledger = open_ledger(url)
    except (LedgerUrlError, LedgerVersionError) as exc:
        raise ReportError(f"ledger: {exc}") from None
    except LedgerUnavailable as exc:
        raise ReportError(str(exc), exc.exit_code) from None
    except SQLAlchemyError as exc:  # never echo the URL or the driver's text: either may hold a password
        raise ReportError(f"cannot open the ledger ({type(exc).__name__})") from None
    try:
        if now is None:
            now = (last_recorded(ledger) if ledger is not None else None) or datetime.now(UTC)
        if isinstance(since, timedelta):
            since = now - since
        if ledger is None:
            return ReportData(since=since, until=now)
        return collect(ledger, since, now)
    except SQLAlchemyError as exc:
        raise ReportError(f"cannot read the ledger ({type(exc).__name__})") from None
    finally:
        if ledger is not None:
            ledger.close()


def collect_recent(ledger: Ledger, period: timedelta) -> ReportData:
    """`collect` for `period` back from the ledger's latest moment (the platform's clock), on an open ledger.

    What `serve`'s console shows: read from the service's own ledger, not from a new connection to its
    URL (an in-memory SQLite ledger, the demo's, exists only there).
    """
    now = last_recorded(ledger) or datetime.now(UTC)
    return collect(ledger, now - period, now)


def parse_since(text: str) -> timedelta:
    """`--since`: a positive duration such as 7d, 24h, 90m. Raises ValueError with a hint."""
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"--since must be longer than zero, got {text!r}")
    return value
