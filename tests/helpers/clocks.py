"""The one fake clock of the tests: time that moves only when the test moves it.

The ledger and the report get the platform's time as a callable returning an aware datetime (the
sweep hands them `PlatformClock.now`); the token cache and the write proof take a monotonic clock in
seconds. `FakeClock` stands in for either: `FakeClock(T0)` or `FakeClock(100.0)`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # the tests' usual platform time: a Saturday, 10:00 UTC

Moment = TypeVar("Moment", datetime, float)


class FakeClock(Generic[Moment]):
    def __init__(self, now: Moment) -> None:
        self.now = now

    def __call__(self) -> Moment:
        return self.now

    def advance(self, **delta: float) -> Moment:
        """Move on by `timedelta(**delta)`: `clock.advance(minutes=5)`."""
        step = timedelta(**delta)
        if isinstance(self.now, datetime):
            self.now = self.now + step
        else:
            self.now = self.now + step.total_seconds()
        return self.now
