"""The words and rows the terminal and the HTML page share, so that both say every figure alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from session_reaper.commands.report.figures import (
    ACTION_HEADINGS,
    ACTIONS,
    FIGURE_LABELS,
    ReportData,
    figure_text,
    percentile,
    round2,
)
from session_reaper.core.schedule import format_span


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
        (FIGURE_LABELS["requestsPerClose"], figure_text(round2(data.requests_per_close))),
    ]


def org_rows(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """The "by organization" table, shared by the terminal and the page: headings, then rows."""
    headings = [
        "organization",
        "sweeps",
        *(ACTION_HEADINGS[kind] for kind in ACTIONS),
        "failures",
        "API requests",
        "per close",
    ]
    rows = [
        [
            org.org,
            figure_text(org.sweeps),
            *(figure_text(org.actions.get(kind, 0)) for kind in ACTIONS),
            figure_text(org.failed),
            figure_text(org.cost.api_requests),
            figure_text(round2(org.cost.per_close)),
        ]
        for org in data.by_org
    ]
    return headings, rows
