"""The report: what the reaper did, what failed and what it cost, from the ledger alone.

    data = collect(ledger, since, now)              # every figure for the period [since, now]
    json.dumps(to_json(data))                       # the figures for machines
    report_terminal.render_terminal(console, data)  # the same figures as rich tables
    report_html.render_html(data, "title")          # the same figures and their charts, one page

`ReportData` is the one computed figures object: the terminal, `--json`, `--html` and the demo's summary
all read it, and name each headline figure through `FIGURES`, so they agree on every number. It holds
only what the journal holds (ids, rule names, counts, the reaper's own reasons, HTTP statuses, scrubbed
error texts, queue names read from the platform): never message text, never a credential. Every chart
is drawn from it, so `report --html` draws for a real ledger whatever the demo shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from session_reaper.core.schedule import format_span, parse_duration
from session_reaper.errors import EXIT_USAGE, ReaperError
from session_reaper.ledger import (
    Ledger,
    LedgerUnavailable,
    LedgerUrlError,
    LedgerVersionError,
    normalize_url,
)
from session_reaper.ledger import history as queries
from session_reaper.ledger.history import ACTED, NONE, Closed, RequestCost
from session_reaper.ledger.opening import check_sqlite_path, sqlite_path
from session_reaper.ledger.schema import decisions, sweeps
from session_reaper.ledger.vocabulary import scrub

HOUR_KEY = "%Y-%m-%dT%H:00Z"  # the ledger's hour buckets: "2026-11-21T10:00Z", UTC
ACTIONS = ACTED
# How each action reads in a table's heading, and in a sentence.
ACTION_HEADINGS = {"close": "closed", "teardown": "torn down", "wrapup": "wrap-ups", "warn": "warnings"}
TIMELINE_TITLE = "Closes by rule over time"
TIMELINE_HOURS_MAX = 48  # a longer span is bucketed by day
# The headline figures, in order: (JSON key, label). One definition for the terminal, JSON, HTML and demo.
FIGURES: tuple[tuple[str, str], ...] = (
    ("closed", "conversations closed"),
    ("tornDown", "orphaned conversations torn down"),
    ("wrappedUp", "wrap-ups applied (acw-stuck)"),
    ("warned", "warnings sent"),
    ("cancelled", "cancelled: activity just before acting"),
    ("failed", "failures"),
    ("sweeps", "sweeps"),
    ("appliedSweeps", "applied sweeps"),
    ("apiRequests", "API requests of the applied sweeps"),
    ("requestsPerClose", "API requests per conversation closed or torn down"),
)
FIGURE_LABELS = dict(FIGURES)


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A failed decision with the last error seen: the decision's own, else its last failed step's."""

    conversation_id: str
    rule: str | None
    decision: str
    decided_at: datetime
    reason: str | None
    error: str | None
    step_kind: str | None
    http_status: int | None
    error_code: str | None
    context_id: str | None

    @property
    def last_error(self) -> str:
        """The decision's error, then where it failed: "still connected — disconnect:agent: HTTP 503 x"."""
        status = " ".join(
            p for p in (f"HTTP {self.http_status}" if self.http_status else "", self.error_code) if p
        )
        where = ": ".join(p for p in (self.step_kind, status) if p)
        found = " — ".join(p for p in (self.error, where) if p)
        return found or "failed (no error recorded)"

    def to_json(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "rule": self.rule,
            "decision": self.decision,
            "decidedAt": _iso(self.decided_at),
            "reason": self.reason,
            "lastError": self.last_error,
            "step": self.step_kind,
            "httpStatus": self.http_status,
            "errorCode": self.error_code,
            "contextId": self.context_id,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    """Series over shared labels, e.g. [("09:00", {"idle": 3, "customer-left": 1}), ...].

    A series missing from a point counts 0 there. `kind` "line" draws one line per series; "bar" draws
    a bar per label and suits a single series (with several, lines are drawn anyway).
    """

    title: str
    points: Sequence[tuple[str, Mapping[str, float]]]
    value_label: str = ""
    kind: Literal["line", "bar"] = "line"
    note: str = ""

    def series(self) -> dict[str, list[float]]:
        names: dict[str, None] = {}
        for _, values in self.points:
            names.update(dict.fromkeys(values))
        return {name: [float(values.get(name, 0.0)) for _, values in self.points] for name in names}


@dataclass(frozen=True, slots=True)
class ReportData:
    since: datetime
    until: datetime
    sweeps: int = 0  # sweeps started in the period
    applied_sweeps: int = 0
    first_sweep_at: datetime | None = None
    last_sweep_at: datetime | None = None  # the last finish (or start, if it never finished)
    by_rule: list[tuple[str, int]] = field(default_factory=list)  # closes and teardowns, by rule
    acted_by_rule: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # every action, by rule
    by_queue: list[tuple[str, int]] = field(default_factory=list)  # closes and teardowns, by queue name
    by_hour: list[tuple[str, int]] = field(default_factory=list)  # ("2026-11-21T10:00Z", n), in time order
    actions: dict[str, int] = field(default_factory=dict)  # done decisions by kind: close, warn, ...
    cancelled: int = 0
    idle_minutes: list[float] = field(default_factory=list)  # per close: how long nobody had written
    past_threshold_minutes: list[float] = field(default_factory=list)  # per close: idle minus threshold
    timeline: Timeline | None = None  # closes by rule over time
    cost_by_hour: list[tuple[str, RequestCost]] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)
    api_requests: int = 0  # by the applied sweeps that finished in the period
    cost_sweeps: int = 0
    cost_closes: int = 0

    @property
    def closes(self) -> int:
        """Conversations ended: closed or torn down."""
        return sum(count for _, count in self.by_rule)

    @property
    def requests_per_close(self) -> float | None:
        return self.api_requests / self.cost_closes if self.cost_closes else None

    @property
    def empty(self) -> bool:
        return self.sweeps == 0 and not self.by_rule and not self.failures

    @property
    def period(self) -> timedelta:
        return self.until - self.since

    def figures(self) -> dict[str, int | float | None]:
        """The headline figures by their `FIGURES` key: what every output shows first."""
        values: dict[str, int | float | None] = {
            "closed": self.actions.get("close", 0),
            "tornDown": self.actions.get("teardown", 0),
            "wrappedUp": self.actions.get("wrapup", 0),
            "warned": self.actions.get("warn", 0),
            "cancelled": self.cancelled,
            "failed": len(self.failures),
            "sweeps": self.sweeps,
            "appliedSweeps": self.applied_sweeps,
            "apiRequests": self.api_requests,
            "requestsPerClose": _round2(self.requests_per_close),
        }
        assert list(values) == [key for key, _ in FIGURES]
        return values


def figure_text(value: int | float | None) -> str:
    """A figure as every output prints it: "3,858", "10.5", "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def _round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _iso(moment: datetime | None) -> str | None:
    return (
        None
        if moment is None
        else moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


# ------------------------------------------------------------------------------------------ collect


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

    exit_code = EXIT_USAGE

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code  # 1 when the database server does not answer (it may come back), else 2


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
        raise ReportError(str(exc), 1 if exc.unreachable else 2) from None
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


def parse_since(text: str) -> timedelta:
    """`--since`: a positive duration such as 7d, 24h, 90m. Raises ValueError with a hint."""
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"--since must be longer than zero, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------- timelines


def closes_timeline(closed: Sequence[Closed], until: datetime) -> Timeline | None:
    """Closes by rule from the first close's hour to `until` (the last sweep): by hour up to two days,
    else by day."""
    if not closed:
        return None
    first = closed[0].at.astimezone(UTC)
    start = first.replace(minute=0, second=0, microsecond=0)
    bucket = timedelta(hours=1)
    if until - start > timedelta(hours=TIMELINE_HOURS_MAX):
        start, bucket = start.replace(hour=0), timedelta(days=1)
    return timeline_of([(c.at, c.rule) for c in closed], start, max(until, start + bucket), bucket)


def timeline_of(
    rows: Sequence[tuple[datetime, str | None]],
    since: datetime,
    until: datetime,
    bucket: timedelta,
    title: str = TIMELINE_TITLE,
) -> Timeline:
    """(time, rule) rows in [since, until), counted per `bucket` from `since`: every bucket present.

    Labels are the buckets' UTC start times ("09:00", "11-21 09:00" across days, "11-21" by day);
    empty buckets keep the time axis honest.
    """
    if bucket <= timedelta(0):
        raise ValueError("bucket must be positive")
    inside = [(at, rule) for at, rule in rows if since <= at < until]
    count = max(1, math.ceil((until - since) / bucket))
    starts = [since + i * bucket for i in range(count)]
    rules = sorted({rule or NONE for _, rule in inside})
    counts = [dict.fromkeys(rules, 0.0) for _ in starts]
    for at, rule in inside:
        counts[min(count - 1, int((at - since) / bucket))][rule or NONE] += 1
    one_day = len({s.date() for s in starts}) <= 1
    midnights = all(s.hour == s.minute == 0 for s in starts)
    spelling = "%m-%d" if bucket >= timedelta(days=1) and midnights else "%H:%M" if one_day else "%m-%d %H:%M"
    labels = [s.astimezone(UTC).strftime(spelling) for s in starts]
    unit = "closes per day" if bucket >= timedelta(days=1) else "closes"
    return Timeline(title, list(zip(labels, counts, strict=True)), value_label=unit)


def rule_timeline(
    ledger: Ledger,
    since: datetime,
    until: datetime,
    bucket: timedelta = timedelta(hours=1),
    title: str = TIMELINE_TITLE,
) -> Timeline:
    """Closes done in [since, until), by rule, per `bucket` from `since` (see `timeline_of`)."""
    if bucket <= timedelta(0):
        raise ValueError("bucket must be positive")
    ledger.flush()
    with ledger.engine.connect() as connection:
        rows = [(c.at, c.rule) for c in queries.closed(connection, since)]
    return timeline_of(rows, since, until, bucket, title)


def hourly(by_hour: Sequence[tuple[str, int]]) -> list[tuple[datetime, int]]:
    """The ledger's hour buckets as a continuous series: every hour from the first to the last, 0 if none."""
    if not by_hour:
        return []
    counts = {datetime.strptime(key, HOUR_KEY).replace(tzinfo=UTC): n for key, n in by_hour}
    hour, last = min(counts), max(counts)
    series = []
    while hour <= last:
        series.append((hour, counts.get(hour, 0)))
        hour += timedelta(hours=1)
    return series


def hour_labels(hours: Sequence[datetime]) -> list[str]:
    """ "10:00" when every hour is on one day, else "11-21 10:00"."""
    one_day = len({h.date() for h in hours}) <= 1
    return [h.strftime("%H:00" if one_day else "%m-%d %H:00") for h in hours]


def hourly_cost(data: ReportData) -> list[tuple[str, float]]:
    """Requests per conversation ended, per hour of the applied sweeps' finish (0 when none ended)."""
    keys = [datetime.strptime(key, HOUR_KEY).replace(tzinfo=UTC) for key, _ in data.cost_by_hour]
    return [
        (label, cost.per_close or 0.0)
        for label, (_, cost) in zip(hour_labels(keys), data.cost_by_hour, strict=True)
    ]


# --------------------------------------------------------------------------------------------- JSON


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted or unsorted values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "closes": len(values),
        "medianMinutes": _round(percentile(values, 50)),
        "p90Minutes": _round(percentile(values, 90)),
        "maxMinutes": _round(max(values, default=None)),
    }


def to_json(data: ReportData) -> dict[str, Any]:
    """The report's figures as one JSON object (camelCase, times in ISO 8601 UTC)."""
    return {
        "period": {
            "since": _iso(data.since),
            "until": _iso(data.until),
            "firstSweepAt": _iso(data.first_sweep_at),
            "lastSweepAt": _iso(data.last_sweep_at),
        },
        "figures": data.figures(),
        "sweeps": {"total": data.sweeps, "applied": data.applied_sweeps},
        "closes": {
            "total": data.closes,
            "byRule": dict(data.by_rule),
            "byQueue": dict(data.by_queue),
            "byHour": dict(data.by_hour),
        },
        "actions": {
            **{kind: data.actions.get(kind, 0) for kind in ACTIONS},
            "cancelled": data.cancelled,
            "byRule": dict(data.acted_by_rule),
        },
        "failures": [f.to_json() for f in data.failures],
        "idleBeforeClose": _spread(data.idle_minutes),
        "pastThreshold": _spread(data.past_threshold_minutes),
        "apiRequests": data.api_requests,
        "requestsPerClose": _round2(data.requests_per_close),
    }


# ----------------------------------------------------------------------------------------- terminal


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def period_text(data: ReportData) -> str:
    return f"{when(data.since)} → {when(data.until)} ({format_span(data.period)})"


def minutes_text(minutes: float | None) -> str:
    """Minutes as a duration that reads naturally: "10h 0m 21s"."""
    return "-" if minutes is None else format_span(timedelta(minutes=minutes))


def spread_text(values: Sequence[float]) -> str:
    """ "median 41m / p90 1h 30m" of minutes."""
    return f"median {minutes_text(percentile(values, 50))} / p90 {minutes_text(percentile(values, 90))}"


def rule_rows(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """The "acted on, by rule" table, shared by the terminal and the page: headings, then rows."""
    headings = ["rule", *(ACTION_HEADINGS[kind] for kind in ACTIONS), "total"]
    rows = [
        [rule, *(figure_text(counts[kind]) for kind in ACTIONS), figure_text(sum(counts.values()))]
        for rule, counts in data.acted_by_rule
    ]
    return headings, rows


NOTHING_DONE = "nothing was closed, torn down, wrapped up or warned in this period."
NO_CLOSE = "no conversation was closed or torn down in this period."
NO_FAILURE = "no failure in this period."


def cost_rows(data: ReportData) -> list[tuple[str, str]]:
    """How requests per close is made: the same rows on the terminal and the page."""
    return [
        ("applied sweeps finished", figure_text(data.cost_sweeps)),
        ("API requests (discovery, reads, writes, retries)", figure_text(data.api_requests)),
        ("conversations closed or torn down", figure_text(data.cost_closes)),
        (FIGURE_LABELS["requestsPerClose"], figure_text(_round2(data.requests_per_close))),
    ]
