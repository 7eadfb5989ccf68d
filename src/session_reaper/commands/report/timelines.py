"""The report's series over time: closes by rule per hour (or day), requests per close per hour."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from session_reaper.commands.report.figures import (
    HOUR_KEY,
    TIMELINE_HOURS_MAX,
    TIMELINE_TITLE,
    ReportData,
    Timeline,
)
from session_reaper.ledger import (
    Ledger,
)
from session_reaper.ledger import history as queries
from session_reaper.ledger.history import NONE, Closed


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
