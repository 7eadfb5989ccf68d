"""The platform clock follows Date headers and local monotonic time, never the machine's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from session_reaper.genesys.clock import ClockNotSynced, PlatformClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_now_before_any_answer_refuses_to_guess() -> None:
    with pytest.raises(ClockNotSynced):
        PlatformClock().now()


def test_now_is_the_date_header_plus_monotonic_time_elapsed() -> None:
    mono = FakeMonotonic()
    clock = PlatformClock(mono)
    assert clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")
    assert clock.now() == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    mono.value += 90.5
    assert clock.now() == datetime(2026, 11, 21, 10, 1, 30, 500000, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_second_granularity_jitter_never_moves_the_clock_backwards() -> None:
    mono = FakeMonotonic()
    clock = PlatformClock(mono)
    clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")
    mono.value += 0.9
    clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")  # same second, read later: an older lower bound
    assert clock.now() == datetime(2026, 11, 21, 10, 0, 0, 900000, tzinfo=UTC)


def test_the_platform_clock_moving_forward_or_back_is_followed() -> None:
    mono = FakeMonotonic()
    clock = PlatformClock(mono)
    clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")
    clock.observe("Sat, 21 Nov 2026 11:00:00 GMT")  # the emulator's clock was advanced an hour
    assert clock.now() == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    clock.observe("Sat, 21 Nov 2026 09:00:00 GMT")  # ... and set back
    assert clock.now() == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_the_last_of_duplicate_date_headers_wins_and_junk_is_ignored() -> None:
    clock = PlatformClock(FakeMonotonic())
    assert not clock.observe("not a date")
    assert not clock.observe(None)
    assert not clock.synced
    clock.observe(["Mon, 01 Jan 2024 00:00:00 GMT", "Sat, 21 Nov 2026 10:00:00 GMT"])
    assert clock.now() - datetime(2026, 11, 21, 10, 0, tzinfo=UTC) == timedelta(0)


def test_reached_never_passes_the_latest_date_even_when_the_platforms_clock_stands_still() -> None:
    """now() assumes the platform's clock runs at our pace; reached() is what it has shown for sure."""
    mono = FakeMonotonic()
    clock = PlatformClock(mono)
    with pytest.raises(ClockNotSynced):
        clock.reached()
    clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")
    mono.value += 0.4
    clock.observe("Sat, 21 Nov 2026 10:00:00 GMT")  # the platform's clock did not move meanwhile
    assert clock.now() == datetime(2026, 11, 21, 10, 0, 0, 400000, tzinfo=UTC)  # ahead of the platform
    assert clock.reached() == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    clock.observe("Sat, 21 Nov 2026 10:00:05 GMT")
    assert clock.reached() == datetime(2026, 11, 21, 10, 0, 5, tzinfo=UTC)
    clock.observe("Sat, 21 Nov 2026 09:00:00 GMT")  # the platform's clock was set back: the new truth
    assert clock.reached() == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
