"""The report: what the reaper closed, what failed and what it cost, from the ledger.

    data = collect(ledger, since, now)              # figures for the period [since, now]
    print(render_html(data, "session-reaper report"))   # one self-contained page
    render_terminal(console, data)                  # rich tables
    json.dumps(to_json(data))                       # the same figures for machines

`ReportData` holds only figures read from the journal (ids, rule names, counts, the reaper's own
reasons, HTTP statuses, scrubbed error texts): never message text, never a credential. The demo
reuses it and adds its own series through `dataclasses.replace(data, timelines=..., histograms=...)`:
a `Timeline` is a list of (label, {series: value}) points — "closes by rule over the day", "stale
sessions with and without the reaper" — and a `Histogram` a list of numbers — "idle time before
close (minutes)". `requests_per_close` may be overridden the same way (with `cost_note` saying how
it was measured); the page then shows it without the ledger's requests and closes, which would not add up.

The HTML page has inline CSS and inline SVG charts (see `charts`): no script, no external asset,
every string escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from session_reaper import charts
from session_reaper.ledger import (
    Ledger,
    LedgerUnavailable,
    LedgerUrlError,
    LedgerVersionError,
    normalize_url,
)
from session_reaper.ledger import reports as queries
from session_reaper.ledger.opening import check_sqlite_path, sqlite_path
from session_reaper.ledger.reports import NONE
from session_reaper.ledger.schema import decisions, sweeps
from session_reaper.ledger.vocabulary import CLOSING_DECISIONS, scrub
from session_reaper.schedule import format_duration, parse_duration

HOUR_KEY = "%Y-%m-%dT%H:00Z"  # the ledger's hour buckets: "2026-11-21T10:00Z", UTC
BAR_HOURS_MAX = 72  # more hours than this are drawn as a line, not as bars
ACTIONS = ("close", "teardown", "warn", "wrapup")
IDLE_TITLE = "Idle time before close (minutes)"


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
class Histogram:
    title: str
    values: Sequence[float]
    value_label: str = ""
    bin_width: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ReportData:
    since: datetime
    until: datetime
    sweeps: int = 0  # sweeps started in the period
    applied_sweeps: int = 0
    first_sweep_at: datetime | None = None
    last_sweep_at: datetime | None = None  # the last finish (or start, if it never finished)
    by_rule: list[tuple[str, int]] = field(default_factory=list)
    by_queue: list[tuple[str, int]] = field(default_factory=list)
    by_hour: list[tuple[str, int]] = field(default_factory=list)  # ("2026-11-21T10:00Z", n), in time order
    actions: dict[str, int] = field(default_factory=dict)  # done decisions by kind: close, warn, ...
    cancelled: int = 0
    idle_minutes: list[float] = field(default_factory=list)  # per close: how long nobody had written
    failures: list[FailureRow] = field(default_factory=list)
    api_requests: int = 0  # by the applied sweeps that finished in the period
    cost_sweeps: int = 0
    cost_closes: int = 0
    requests_per_close: float | None = None
    cost_note: str = ""  # e.g. how the demo measured its own requests_per_close
    timelines: list[Timeline] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)

    @property
    def closes(self) -> int:
        return sum(count for _, count in self.by_rule)

    @property
    def ledger_cost_agrees(self) -> bool:
        """Whether requests_per_close is the ledger's own ratio (not a figure the caller put in)."""
        if self.requests_per_close is None or not self.cost_closes:
            return self.requests_per_close is None
        return abs(self.api_requests / self.cost_closes - self.requests_per_close) < 0.005

    @property
    def empty(self) -> bool:
        return self.sweeps == 0 and not self.by_rule and not self.failures

    @property
    def period(self) -> timedelta:
        return self.until - self.since


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
        by_rule = queries.closes_by(connection, "rule", since)
        by_queue = queries.closes_by(connection, "queue", since)
        by_hour = queries.closes_by(connection, "hour", since)
        sweep_row = connection.execute(
            select(
                func.count(),
                func.count().filter(sweeps.c.apply.is_(True)),
                func.min(sweeps.c.started_at),
                func.max(func.coalesce(sweeps.c.finished_at, sweeps.c.started_at)),
            ).where(sweeps.c.started_at >= since)
        ).one()
        done = connection.execute(
            select(decisions.c.decision, func.count())
            .where(
                decisions.c.decided_at >= since,
                decisions.c.outcome == "done",
                decisions.c.decision.in_(ACTIONS),
            )
            .group_by(decisions.c.decision)
        ).all()
        cancelled = connection.execute(
            select(func.count()).where(decisions.c.decided_at >= since, decisions.c.outcome == "cancelled")
        ).scalar_one()
        idle = connection.execute(
            select(decisions.c.idle_seconds).where(
                decisions.c.decided_at >= since,
                decisions.c.outcome == "done",
                decisions.c.decision.in_(CLOSING_DECISIONS),
                decisions.c.idle_seconds.is_not(None),
            )
        ).scalars()
        idle_minutes = sorted(float(seconds) / 60.0 for seconds in idle)
        failed = queries.failures(connection, since)
        reasons: dict[int, str | None] = {}
        if failed:
            ids = [f.decision_id for f in failed]
            reasons = dict(
                connection.execute(
                    select(decisions.c.id, decisions.c.reason).where(decisions.c.id.in_(ids))
                ).all()
            )
    count, applied, first, last = sweep_row
    last_at: datetime | None = last
    return ReportData(
        since=since,
        until=max(now, last_at) if last_at is not None else now,
        sweeps=int(count),
        applied_sweeps=int(applied),
        first_sweep_at=first,
        last_sweep_at=last_at,
        by_rule=by_rule,
        by_queue=by_queue,
        by_hour=by_hour,
        actions={kind: n for kind in ACTIONS for k, n in done if k == kind},
        cancelled=int(cancelled),
        idle_minutes=idle_minutes,
        failures=[
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
        ],
        api_requests=cost.api_requests,
        cost_sweeps=cost.sweeps,
        cost_closes=cost.closes,
        requests_per_close=cost.per_close,
    )


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


class ReportError(Exception):
    """The ledger could not be read (unreachable database, unusable URL, newer schema)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code  # 1 when the database server does not answer (it may come back), else 2


def load(url: str, since: datetime, now: datetime) -> ReportData:
    """The report of the ledger at `url`; an empty one when that ledger was never created."""
    try:
        ledger = open_ledger(url)
    except (LedgerUrlError, LedgerVersionError) as exc:
        raise ReportError(f"ledger: {exc}") from None
    except LedgerUnavailable as exc:
        raise ReportError(str(exc), 1 if exc.unreachable else 2) from None
    except SQLAlchemyError as exc:  # never echo the URL or the driver's text: either may hold a password
        raise ReportError(f"cannot open the ledger ({type(exc).__name__})") from None
    if ledger is None:
        return ReportData(since=since, until=now)
    try:
        return collect(ledger, since, now)
    except SQLAlchemyError as exc:
        raise ReportError(f"cannot read the ledger ({type(exc).__name__})") from None
    finally:
        ledger.close()


def parse_since(text: str) -> timedelta:
    """`--since`: a positive duration such as 7d, 24h, 90m. Raises ValueError with a hint."""
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"--since must be longer than zero, got {text!r}")
    return value


def rule_timeline(
    ledger: Ledger,
    since: datetime,
    until: datetime,
    bucket: timedelta = timedelta(hours=1),
    title: str = "Closes by rule over time",
) -> Timeline:
    """Closes done in [since, until), by rule, per `bucket` from `since`: every bucket present, 0 if none.

    Labels are the buckets' UTC start times ("09:00", or "11-21 09:00" across days). For the demo's
    "closes by rule over the day"; empty buckets keep the time axis honest.
    """
    if bucket <= timedelta(0):
        raise ValueError("bucket must be positive")
    ledger.flush()
    query = select(decisions.c.decided_at, decisions.c.rule).where(
        decisions.c.decision.in_(CLOSING_DECISIONS),
        decisions.c.outcome == "done",
        decisions.c.decided_at >= since,
        decisions.c.decided_at < until,
    )
    with ledger.engine.connect() as connection:
        rows = connection.execute(query).all()
    count = max(1, math.ceil((until - since) / bucket))
    starts = [since + i * bucket for i in range(count)]
    rules = sorted({rule or NONE for _, rule in rows})
    counts = [dict.fromkeys(rules, 0.0) for _ in starts]
    for at, rule in rows:
        counts[min(count - 1, int((at - since) / bucket))][rule or NONE] += 1
    one_day = len({s.date() for s in starts}) <= 1
    labels = [s.astimezone(UTC).strftime("%H:%M" if one_day else "%m-%d %H:%M") for s in starts]
    return Timeline(title, list(zip(labels, counts, strict=True)), value_label="closes")


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


def to_json(data: ReportData) -> dict[str, Any]:
    """The report's figures as one JSON object (camelCase, times in ISO 8601 UTC)."""
    return {
        "period": {
            "since": _iso(data.since),
            "until": _iso(data.until),
            "firstSweepAt": _iso(data.first_sweep_at),
            "lastSweepAt": _iso(data.last_sweep_at),
        },
        "sweeps": {"total": data.sweeps, "applied": data.applied_sweeps},
        "closes": {
            "total": data.closes,
            "byRule": dict(data.by_rule),
            "byQueue": dict(data.by_queue),
            "byHour": dict(data.by_hour),
        },
        "actions": {**{kind: data.actions.get(kind, 0) for kind in ACTIONS}, "cancelled": data.cancelled},
        "failures": [f.to_json() for f in data.failures],
        "idleBeforeClose": {
            "closes": len(data.idle_minutes),
            "medianMinutes": _round(percentile(data.idle_minutes, 50)),
            "p90Minutes": _round(percentile(data.idle_minutes, 90)),
            "maxMinutes": _round(max(data.idle_minutes, default=None)),
        },
        "apiRequests": data.api_requests,
        "requestsPerClose": None if data.requests_per_close is None else round(data.requests_per_close, 2),
    }


# ----------------------------------------------------------------------------------------- terminal


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def period_text(data: ReportData) -> str:
    return f"{_when(data.since)} → {_when(data.until)} ({format_duration(data.period)})"


def _counts(title: str, heading: str, rows: Sequence[tuple[str, int]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(heading, overflow="fold")
    table.add_column("closes", justify="right")
    for key, count in rows:
        table.add_row(Text(key), str(count))
    return table


def render_terminal(console: Console, data: ReportData) -> None:
    """Rich tables; every value is printed as plain text (no markup from the ledger is interpreted)."""
    console.print(f"[bold]Report[/] {period_text(data)}", markup=True)
    overview = Table(title="Overview", title_justify="left", show_header=False)
    overview.add_column("figure")
    overview.add_column("value", justify="right")
    overview.add_row("sweeps (applied)", f"{data.sweeps} ({data.applied_sweeps})")
    overview.add_row("first sweep", _when(data.first_sweep_at))
    overview.add_row("last sweep", _when(data.last_sweep_at))
    overview.add_row("closes", str(data.closes))
    for kind in ("warn", "wrapup"):
        overview.add_row(
            {"warn": "warnings sent", "wrapup": "wrap-ups applied"}[kind], str(data.actions.get(kind, 0))
        )
    overview.add_row("cancelled (activity just before acting)", str(data.cancelled))
    overview.add_row("failures", str(len(data.failures)))
    if data.idle_minutes:
        median, p90 = percentile(data.idle_minutes, 50), percentile(data.idle_minutes, 90)
        overview.add_row("idle before close: median / p90", f"{median:.0f}m / {p90:.0f}m")
    console.print(overview)
    console.print(_counts("Closes by rule", "rule", data.by_rule))
    console.print(_counts("Closes by queue", "queue", data.by_queue))
    console.print(_counts("Closes by hour (UTC)", "hour", data.by_hour))
    failures = Table(title="Failures", title_justify="left")
    for column in ("when", "conversation", "rule", "decision", "last error", "context id"):
        failures.add_column(column, overflow="fold")
    for f in data.failures:
        failures.add_row(
            _when(f.decided_at),
            f.conversation_id,
            f.rule or NONE,
            f.decision,
            f.last_error,
            f.context_id or "-",
        )
    console.print(failures)
    cost = Table(title="API requests per close", title_justify="left", show_header=False)
    cost.add_column("figure")
    cost.add_column("value", justify="right")
    cost.add_row("applied sweeps finished", str(data.cost_sweeps))
    cost.add_row("API requests", str(data.api_requests))
    cost.add_row("closes", str(data.cost_closes))
    cost.add_row("requests per close", _per_close(data.requests_per_close))
    console.print(cost)


def _per_close(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --------------------------------------------------------------------------------------------- HTML

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #222;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { background: #1f3b57; color: #fff; padding: 22px 32px 18px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; opacity: .85; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 40px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
  margin-bottom: 20px; }
.figure { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.figure .value { font-size: 26px; font-weight: 600; color: #1f3b57; }
.figure .label { font-size: 13px; color: #666; }
.figure.bad .value { color: #b8455a; }
section { background: #fff; border-radius: 8px; padding: 16px 20px; margin-bottom: 18px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); break-inside: avoid; }
section h2 { margin: 0 0 10px; font-size: 17px; font-weight: 600; color: #1f3b57; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 18px;
  margin-bottom: 18px; }
.grid2 section { margin-bottom: 0; }
.note { color: #666; font-size: 13px; margin: 6px 0 0; }
.empty { color: #888; font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { color: #555; font-weight: 600; background: #fafafa; }
td.num, th.num { text-align: right; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
svg { display: block; max-width: 100%; height: auto; }
footer { color: #888; font-size: 12px; text-align: center; padding: 10px; }
@media print { body { background: #fff; } section, .figure { box-shadow: none; border: 1px solid #ddd; } }
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _figure(value: str, label: str, *, bad: bool = False) -> str:
    css = "figure bad" if bad else "figure"
    return f'<div class="{css}"><div class="value">{e(value)}</div><div class="label">{e(label)}</div></div>'


def _section(title: str, body: str, note: str = "") -> str:
    extra = f'<p class="note">{e(note)}</p>' if note else ""
    return f"<section>\n<h2>{e(title)}</h2>\n{body}\n{extra}</section>"


def _empty_text(text: str) -> str:
    return f'<p class="empty">{e(text)}</p>'


def _table(
    headings: Sequence[str], rows: Sequence[Sequence[str]], classes: Mapping[int, str] | None = None
) -> str:
    """An HTML table; every cell is escaped here. `classes`: column index -> CSS class ("num", "id")."""

    def cls(i: int) -> str:
        return f' class="{(classes or {})[i]}"' if i in (classes or {}) else ""

    head = "".join(f"<th{cls(i)}>{e(h)}</th>" for i, h in enumerate(headings))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


HALF = 480  # the width of a chart that shares its row with another: its text stays legible
CHART_HEIGHT = 260
FULL = 960  # the width of a chart alone on its row


def hour_chart(data: ReportData, width: int = HALF) -> str:
    series = hourly(data.by_hour)
    labels = hour_labels([h for h, _ in series])
    title = "Closes by hour (UTC)"
    counts = [float(n) for _, n in series]
    if len(series) > BAR_HOURS_MAX:
        return charts.line_chart(
            labels, {"closes": counts}, title=title, value_label="closes", width=width, max_labels=8
        )
    return charts.bar_chart(
        list(zip(labels, counts, strict=True)),
        title=title,
        value_label="closes",
        width=width,
        height=CHART_HEIGHT,
        max_labels=10,
        empty="no closes",
    )


def rule_chart(data: ReportData, width: int = HALF) -> str:
    return charts.bar_chart(
        [(rule, float(n)) for rule, n in data.by_rule],
        title="Closes by rule",
        orientation="horizontal",
        value_label="closes",
        width=width,
        height=max(CHART_HEIGHT, 46 + 30 * len(data.by_rule)),
        empty="no closes",
    )


def _timeline_chart(timeline: Timeline) -> str:
    labels = [label for label, _ in timeline.points]
    series = timeline.series()
    if timeline.kind == "bar" and len(series) == 1:
        [(name, values)] = series.items()
        return charts.bar_chart(
            list(zip(labels, values, strict=True)),
            title=timeline.title,
            value_label=timeline.value_label or name,
            width=FULL,
        )
    return charts.line_chart(
        labels, series, title=timeline.title, value_label=timeline.value_label, width=FULL, max_labels=16
    )


def write_html(path: Path, data: ReportData, title: str = "session-reaper report") -> None:
    """Write the page atomically enough for a report: to a sibling temporary file, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(render_html(data, title), encoding="utf-8")
    temporary.replace(path)


def render_html(data: ReportData, title: str = "session-reaper report") -> str:
    """One self-contained HTML page: inline CSS, inline SVG charts, no script, every string escaped."""
    figures = [
        _figure(str(data.closes), "conversations closed"),
        _figure(str(len(data.failures)), "failures", bad=bool(data.failures)),
        _figure(str(data.sweeps), f"sweeps ({data.applied_sweeps} applied)"),
        _figure(str(data.actions.get("warn", 0)), "warnings sent"),
        _figure(str(data.cancelled), "cancelled: activity just before acting"),
        _figure(_per_close(data.requests_per_close), "API requests per close"),
    ]
    sections: list[str] = []
    if data.empty:
        sections.append(
            _section("Nothing recorded yet", _empty_text("The ledger holds no sweep in this period."))
        )
    sections.append(
        '<div class="grid2">\n'
        + _section("Closes by rule", rule_chart(data))
        + "\n"
        + _section("Closes by hour (UTC)", hour_chart(data))
        + "\n</div>"
    )
    if data.by_queue:
        queue_chart = charts.bar_chart(
            [(queue, float(n)) for queue, n in data.by_queue[:20]],
            title="Closes by queue",
            orientation="horizontal",
            value_label="closes",
            width=FULL,
        )
        note = f"{len(data.by_queue) - 20} more queues not shown" if len(data.by_queue) > 20 else ""
        sections.append(_section("Closes by queue", queue_chart, note))
    for timeline in data.timelines:
        sections.append(_section(timeline.title, _timeline_chart(timeline), timeline.note))
    histograms = list(data.histograms)
    if data.idle_minutes and not any(h.title == IDLE_TITLE for h in histograms):
        note = "How long nobody had written when the reaper closed the conversation (from the ledger)."
        histograms.insert(0, Histogram(IDLE_TITLE, data.idle_minutes, "minutes", note=note))
    for item in histograms:
        chart = charts.histogram(
            item.values, title=item.title, value_label=item.value_label, bin_width=item.bin_width, width=FULL
        )
        sections.append(_section(item.title, chart, item.note))
    if data.failures:
        rows = [
            (
                _when(f.decided_at),
                f.conversation_id,
                f.rule or NONE,
                f.decision,
                f.reason or "",
                f.last_error,
                f.context_id or "",
            )
            for f in data.failures
        ]
        headings = ("when", "conversation", "rule", "decision", "why", "last error", "context id")
        body = _table(headings, rows, {1: "id", 6: "id"})
    else:
        body = _empty_text("No failure in this period.")
    sections.append(_section(f"Failures ({len(data.failures)})", body))
    cost_rows = [("API requests per close", _per_close(data.requests_per_close))]
    if data.ledger_cost_agrees:
        cost_rows[:0] = [
            ("applied sweeps finished", str(data.cost_sweeps)),
            ("API requests (discovery, reads, writes, retries)", str(data.api_requests)),
            ("conversations closed or torn down", str(data.cost_closes)),
        ]
    cost = _table(("figure", "value"), cost_rows, {1: "num"})
    sections.append(_section("API requests per close", cost, data.cost_note))
    generated = _when(data.until)
    subtitle = period_text(data)
    if data.first_sweep_at is not None:
        subtitle += f" · first sweep {_when(data.first_sweep_at)} · last sweep {_when(data.last_sweep_at)}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>",
            "<main>",
            f'<div class="figures">{"".join(figures)}</div>',
            *sections,
            "</main>",
            f"<footer>session-reaper · figures from the ledger up to {e(generated)} · times in UTC</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )
