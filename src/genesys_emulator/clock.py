"""The platform's virtual clock.

It runs at real speed from a settable origin, so a rate-limited client sees time pass normally, while
tests jump it forward instead of sleeping through an idle threshold. Every timestamp the emulator
writes and every `Date` header come from here.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from genesys_emulator import assumptions as A

EARLIEST = datetime(A.CLOCK_MIN_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(A.CLOCK_MAX_YEAR, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> datetime:
    """The platform reports milliseconds; keeping that precision internally avoids rounding surprises."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, as the platform writes every timestamp."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """An ISO-8601 instant; a naive one is read as UTC. Raises ValueError with a readable message."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"not an ISO-8601 time: {text!r} (use e.g. 2026-11-21T10:00:00.000Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC instant
        raise ValueError(f"not a representable time: {text!r}") from None


def _within_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(
            f"the emulator's clock stays between {EARLIEST.year} and {LATEST.year}, not {iso(moment)}"
        )
    return moment


class VirtualClock:
    def __init__(self, origin: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._origin = to_ms(origin.astimezone(UTC) if origin else datetime.now(UTC))
        self._mono = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._mono
        return to_ms(self._origin + timedelta(seconds=elapsed))

    def advance(self, seconds: float) -> datetime:
        if not 0 <= seconds <= A.MAX_ADMIN_DURATION_SECONDS:  # also refuses NaN
            raise ValueError(
                f"must be between 0 and {A.MAX_ADMIN_DURATION_SECONDS} seconds (a century), not {seconds!r}"
            )
        with self._lock:
            self._origin = _within_range(self._origin + timedelta(seconds=seconds))
        return self.now()

    def set(self, moment: datetime) -> datetime:
        # Setting backwards is allowed (tests of a wrong machine clock need any instant), but timers
        # already due stay processed: the world never un-happens.
        with self._lock:
            self._origin = to_ms(_within_range(moment.astimezone(UTC)))
            self._mono = time.monotonic()
        return self.now()

    def http_date(self) -> str:
        return format_datetime(self.now(), usegmt=True)
