"""The report's period counts back on the platform's clock, as the ledger records it, never the machine's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from session_reaper.commands.report.collect import last_recorded, load
from session_reaper.ledger import Ledger

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    "platform_now",
    [
        datetime(2026, 11, 1, 10, 0, tzinfo=UTC),  # the platform (or the emulator) far behind the machine
        datetime(2031, 5, 1, 10, 0, tzinfo=UTC),  # far ahead
        datetime.now(UTC).replace(microsecond=0),  # in step
    ],
)
def test_a_period_counts_back_from_the_last_moment_the_ledger_recorded(
    tmp_path: Path, platform_now: datetime
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger.open(url, clock=lambda: platform_now)
    try:
        old = ledger.start_sweep(True, at=platform_now - 3 * DAY)
        ledger.finish_sweep(old, {"apiRequests": 5}, at=platform_now - 3 * DAY)
        recent = ledger.start_sweep(True, at=platform_now - timedelta(hours=2))
        ledger.finish_sweep(recent, {"apiRequests": 7}, at=platform_now - timedelta(hours=1))
        assert last_recorded(ledger) == platform_now - timedelta(hours=1)
    finally:
        ledger.close()

    day = load(url, DAY)
    week = load(url, 7 * DAY)

    assert day.until == week.until == platform_now - timedelta(hours=1)
    assert day.figures()["sweeps"] == 1
    assert week.figures()["sweeps"] == 2


def test_a_ledger_never_made_reports_nothing_up_to_the_machine_clock(tmp_path: Path) -> None:
    data = load(f"sqlite:///{tmp_path / 'never.db'}", DAY)
    assert data.empty
    assert abs(data.until - datetime.now(UTC)) < timedelta(minutes=5)
    assert not (tmp_path / "never.db").exists()
