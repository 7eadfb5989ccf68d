"""The platform's clock, as seen from here: the last ``Date`` header plus local monotonic time since.

Idle is measured on the platform's clock so that a wrong machine clock changes nothing; the machine's
wall clock is never read. ``GenesysApi.connect`` always gets an answer from the platform (the token
request, or ``GET /api/v2/tokens/me`` with a fixed token) before it hands the API out, so ``now()``
is available to every caller; before any answer it raises ``ClockNotSynced`` rather than guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from session_reaper.errors import ReaperError

# A Date header has whole seconds, so two honest observations can disagree by about a second plus the
# round trip. Larger steps backwards mean the platform's clock itself was moved (the emulator's can be).
_BACKWARD_STEP_TOLERANCE = 2.0


class ClockNotSynced(ReaperError, RuntimeError):
    """``now()`` was asked before any platform answer carried a ``Date`` header."""


class PlatformClock:
    """``now()`` = platform time from the freshest ``Date`` header + monotonic time elapsed since.

    Each header gives a lower bound of the offset between platform time and our monotonic clock (the
    header was written before we read it, truncated to the second). Keeping the largest lower bound
    makes ``now()`` precise to well under a second and never step backwards on jitter; a header far
    behind the estimate means the platform's clock was set back, and is then taken as the new truth.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._offset: float | None = None  # platform POSIX seconds - monotonic seconds
        self._reached: datetime | None = None  # the latest time a Date header showed

    @property
    def synced(self) -> bool:
        return self._offset is not None

    def observe(self, date_headers: str | Iterable[str] | None, received_at: float | None = None) -> bool:
        """Feed the ``Date`` header(s) of one answer; returns whether one was usable.

        Some servers send two ``Date`` headers (a default one and the application's); the last one is
        the application's, so it is the one taken.
        """
        values = [date_headers] if isinstance(date_headers, str) else list(date_headers or ())
        platform_time: datetime | None = None
        for value in reversed(values):
            platform_time = _parse(value)
            if platform_time is not None:
                break
        if platform_time is None:
            return False
        at = self._monotonic() if received_at is None else received_at
        candidate = platform_time.timestamp() - at
        stepped_back = self._offset is not None and candidate < self._offset - _BACKWARD_STEP_TOLERANCE
        if self._offset is None or candidate > self._offset or stepped_back:
            self._offset = candidate
        if self._reached is None or platform_time > self._reached or stepped_back:
            self._reached = platform_time
        return True

    def at_least(self, moment: datetime) -> None:
        """The platform's clock has reached `moment` (an event's time): never let `now()` lag behind it.

        With events, few requests are made and so few Date headers seen; a change the platform pushed
        happened on its clock, so the platform's time is at least that.
        """
        if self._offset is None:
            return
        candidate = moment.timestamp() - self._monotonic()
        if candidate > self._offset:
            self._offset = candidate

    def now(self) -> datetime:
        """The platform's current time, timezone-aware UTC."""
        if self._offset is None:
            raise ClockNotSynced("the platform's clock is unknown until the platform has answered once")
        return datetime.fromtimestamp(self._offset + self._monotonic(), tz=UTC)

    def reached(self) -> datetime:
        """A time the platform's clock has certainly reached: the latest ``Date`` it sent.

        ``now()`` assumes the platform's clock runs at the pace of ours; when it runs slower (a host
        stamping messages whose clock lags the one writing ``Date``, or an emulator's clock standing
        still), ``now()`` is ahead of the times the platform writes. What must come before a
        platform time whatever the clocks' pace (a step's intent before the message it sends) is
        stamped with this instead: up to a second (the header's truncation) plus the time since the
        last answer early, never late.
        """
        if self._reached is None:
            raise ClockNotSynced("the platform's clock is unknown until the platform has answered once")
        return min(self._reached, self.now())

    def age_of(self, moment: datetime) -> timedelta:
        """How long ago ``moment`` was, on the platform's clock."""
        return self.now() - moment


def _parse(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC in RFC 5322 terms; HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
