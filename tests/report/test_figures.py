"""The report's figures, collected from a real SQLite ledger filled through the Ledger API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from session_reaper.commands.report.as_json import to_json
from session_reaper.commands.report.collect import collect, load, open_ledger, parse_since
from session_reaper.commands.report.figures import FailureRow, ReportData
from session_reaper.commands.report.timelines import hour_labels, hourly, rule_timeline
from session_reaper.ledger import Ledger

from .conftest import ERROR, HOSTILE, NOW, T0, FakeClock, fill

WEEK = NOW - timedelta(days=7)


def test_closes_by_rule_queue_and_hour(filled: Ledger) -> None:
    data = collect(filled, WEEK, NOW)
    assert data.by_rule == [("idle", 4), ("customer-left", 2), ("orphaned", 1)]
    assert data.by_queue == [("q-sales", 3), ("q-support", 3), ("(no queue)", 1)]  # no name recorded: ids
    assert data.by_hour == [("2026-11-21T09:00Z", 3), ("2026-11-21T10:00Z", 1), ("2026-11-21T12:00Z", 3)]
    assert data.closes == 7
    # The dry run's "close" and the cancelled one are not closes; the warning is counted apart.
    assert data.actions == {"close": 6, "teardown": 1, "wrapup": 0, "warn": 1}
    assert data.acted_by_rule == [
        ("idle", {"close": 4, "teardown": 0, "wrapup": 0, "warn": 1}),
        ("customer-left", {"close": 2, "teardown": 0, "wrapup": 0, "warn": 0}),
        ("orphaned", {"close": 0, "teardown": 1, "wrapup": 0, "warn": 0}),
    ]
    assert data.cancelled == 1
    assert data.idle_minutes == pytest.approx([6, 16, 31, 33, 35, 41, 90])


def test_sweeps_span_and_requests_per_close(filled: Ledger) -> None:
    data = collect(filled, WEEK, NOW)
    assert (data.sweeps, data.applied_sweeps) == (3, 2)
    assert data.first_sweep_at == T0 - timedelta(minutes=10)
    assert data.last_sweep_at == T0 + timedelta(hours=3, minutes=40)
    # Only the applied sweeps count: 40 + 30 requests for 4 + 2 closes and 1 teardown.
    assert (data.cost_sweeps, data.api_requests, data.cost_closes) == (2, 70, 7)
    assert data.requests_per_close == pytest.approx(10.0)
    assert (data.since, data.until) == (WEEK, NOW)


def test_failures_carry_their_last_error_newest_first(filled: Ledger) -> None:
    first, second = collect(filled, WEEK, NOW).failures
    assert (first.conversation_id, first.decision, first.rule) == ("c-fail2", "teardown", "orphaned")
    assert first.last_error == "failed (no error recorded)"
    assert (second.conversation_id, second.reason, second.context_id) == ("c-fail", HOSTILE, "ctx-9")
    assert (second.step_kind, second.http_status, second.error_code) == (
        "disconnect:agent",
        503,
        "service.unavailable",
    )
    assert second.last_error == f"{ERROR} — disconnect:agent: HTTP 503 service.unavailable"


def test_the_period_bounds_every_figure(filled: Ledger) -> None:
    month = collect(filled, NOW - timedelta(days=30), NOW)
    assert month.closes == 8 and ("q-old", 1) in month.by_queue
    assert (month.api_requests, month.cost_closes, month.sweeps) == (120, 8, 4)
    assert month.requests_per_close == pytest.approx(15.0)

    late = collect(filled, T0 + timedelta(hours=2), NOW)
    assert late.by_rule == [("customer-left", 1), ("idle", 1), ("orphaned", 1)]
    assert [f.conversation_id for f in late.failures] == ["c-fail2"]
    assert (late.sweeps, late.api_requests, late.requests_per_close) == (1, 30, 10.0)


def test_until_reaches_the_last_record_when_the_ledger_runs_ahead(filled: Ledger) -> None:
    early = T0 + timedelta(hours=1)  # a machine clock behind the platform's
    assert collect(filled, early - timedelta(days=7), early).until == T0 + timedelta(hours=3, minutes=40)


def test_collect_refuses_naive_times(filled: Ledger) -> None:
    with pytest.raises(ValueError, match="aware"):
        collect(filled, datetime(2026, 11, 1), NOW)


def test_an_empty_ledger_is_an_empty_report(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        data = collect(ledger, WEEK, NOW)
    assert data.empty and data.closes == 0 and data.requests_per_close is None
    assert to_json(data)["closes"] == {"total": 0, "byRule": {}, "byQueue": {}, "byHour": {}}


def test_a_missing_sqlite_ledger_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nothing-here.db"
    assert open_ledger(url) is None
    assert load(url, WEEK, NOW) == ReportData(since=WEEK, until=NOW)
    assert not (tmp_path / "nothing-here.db").exists()


def test_json_figures(filled: Ledger) -> None:
    figures = to_json(collect(filled, WEEK, NOW))
    assert figures["period"] == {
        "since": "2026-11-14T15:00:00Z",
        "until": "2026-11-21T15:00:00Z",
        "firstSweepAt": "2026-11-21T08:50:00Z",
        "lastSweepAt": "2026-11-21T12:40:00Z",
    }
    assert figures["sweeps"] == {"total": 3, "applied": 2}
    assert figures["closes"]["byRule"] == {"idle": 4, "customer-left": 2, "orphaned": 1}
    assert {k: v for k, v in figures["actions"].items() if k != "byRule"} == {
        "close": 6,
        "teardown": 1,
        "warn": 1,
        "wrapup": 0,
        "cancelled": 1,
    }
    assert figures["actions"]["byRule"]["orphaned"] == {"close": 0, "teardown": 1, "wrapup": 0, "warn": 0}
    assert figures["figures"] == {
        "closed": 6,
        "tornDown": 1,
        "wrappedUp": 0,
        "warned": 1,
        "cancelled": 1,
        "failed": 2,
        "sweeps": 3,
        "appliedSweeps": 2,
        "apiRequests": 70,
        "requestsPerClose": 10.0,
    }
    assert (figures["apiRequests"], figures["requestsPerClose"]) == (70, 10.0)
    assert figures["failures"][1]["lastError"].startswith(ERROR)
    assert figures["failures"][1]["httpStatus"] == 503
    assert figures["idleBeforeClose"] == {
        "closes": 7,
        "medianMinutes": 33.0,
        "p90Minutes": 90.0,
        "maxMinutes": 90.0,
    }
    # Idle minus the 30-minute threshold, never below zero: 0 0 1 3 5 11 60.
    assert figures["pastThreshold"] == {
        "closes": 7,
        "medianMinutes": 3.0,
        "p90Minutes": 60.0,
        "maxMinutes": 60.0,
    }


def test_hours_are_made_continuous_for_the_chart() -> None:
    series = hourly([("2026-11-21T09:00Z", 3), ("2026-11-21T12:00Z", 1)])
    assert [(h.hour, n) for h, n in series] == [(9, 3), (10, 0), (11, 0), (12, 1)]
    assert hourly([]) == []
    assert hour_labels([h for h, _ in series]) == ["09:00", "10:00", "11:00", "12:00"]
    two_days = [datetime(2026, 11, 20, 23, tzinfo=UTC), datetime(2026, 11, 21, 0, tzinfo=UTC)]
    assert hour_labels(two_days) == ["11-20 23:00", "11-21 00:00"]


@pytest.mark.parametrize(("text", "expected"), [("7d", timedelta(days=7)), ("24h", timedelta(hours=24))])
def test_since_takes_a_duration(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["bad", "", "7 days", "0m", "-1d"])
def test_since_refuses_what_is_not_a_positive_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_since(text)


def test_last_error_without_a_failed_step() -> None:
    row = FailureRow("c", "idle", "close", NOW, None, "boom", None, None, None, None)
    assert row.last_error == "boom"
    row = FailureRow("c", "idle", "close", NOW, None, None, "verify", 409, None, None)
    assert row.last_error == "verify: HTTP 409"


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(filled: Ledger, postgres_ledger_url: str) -> None:
    clock = FakeClock(T0)
    with Ledger.open(postgres_ledger_url, owner="replica-a", clock=clock) as ledger:
        fill(ledger, clock)
        on_postgres = collect(ledger, WEEK, NOW)
    assert to_json(on_postgres) == to_json(collect(filled, WEEK, NOW))
    assert on_postgres.idle_minutes == pytest.approx(collect(filled, WEEK, NOW).idle_minutes)


def test_closes_by_rule_over_time(filled: Ledger) -> None:
    timeline = rule_timeline(filled, T0, T0 + timedelta(hours=4))
    assert [label for label, _ in timeline.points] == ["09:00", "10:00", "11:00", "12:00"]
    assert timeline.series() == {
        "customer-left": [1, 0, 0, 1],
        "idle": [2, 1, 0, 1],
        "orphaned": [0, 0, 0, 1],
    }
    halves = rule_timeline(filled, T0, T0 + timedelta(hours=1), timedelta(minutes=30), title="first hour")
    assert halves.title == "first hour"
    assert halves.points == [
        ("09:00", {"customer-left": 0, "idle": 2}),
        ("09:30", {"customer-left": 1, "idle": 0}),
    ]
    across = rule_timeline(filled, T0 - timedelta(days=9), T0 - timedelta(days=7), timedelta(days=1))
    assert across.points == [("11-12 09:00", {"idle": 0}), ("11-13 09:00", {"idle": 1})]  # c-old: T0 - 8d
    assert rule_timeline(filled, NOW, NOW + timedelta(hours=2)).series() == {}
    with pytest.raises(ValueError):
        rule_timeline(filled, T0, NOW, timedelta(0))


def test_the_delay_past_the_threshold_is_measured_on_the_rules_own_clock(ledger_url: str) -> None:
    """customer-left's clock starts when the customer left, not at the last message: 10m held, 5m past."""
    clock = FakeClock(T0)
    with Ledger.open(ledger_url, clock=clock) as ledger:
        sweep = ledger.start_sweep(True)
        for conversation_id, held in (("c-left", 600.0), ("c-old-ledger", None)):
            decision = ledger.record_decision(
                sweep,
                conversation_id,
                decision="close",
                rule="customer-left",
                threshold_seconds=300,
                idle_seconds=3600,
                held_seconds=held,
            )
            ledger.set_decision_outcome(decision, "done")
        ledger.finish_sweep(sweep, {"closed": 2, "apiRequests": 9})
        data = collect(ledger, WEEK, NOW)
    # A decision journalled before held_seconds existed falls back to its idle time: 60m - 5m.
    assert data.past_threshold_minutes == pytest.approx([5.0, 55.0])
    assert data.idle_minutes == pytest.approx([60.0, 60.0])
