"""Time policy, pure: durations written like "1h30m", and business hours in a named time zone.

Both are read from the TOML file by ``config`` and used by ``rules``; nothing here reads a clock.
Business hours are evaluated on local wall time obtained with ``zoneinfo``, so a window such as
"mon-fri 08:00-18:00" in America/Los_Angeles means 08:00 local on both sides of a DST change (a fixed
UTC offset would be an hour wrong for half the year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DURATION_HINT = "use e.g. 30m, 2h, 90s"
# How far two honest estimates of the platform's time may disagree: each process extrapolates the
# last Date header (whole seconds) with its own monotonic clock, and one that ran slowly under load
# estimates later than the next one will. A time recorded "after now" by less than this is not the
# platform's clock going back, only that disagreement.
CLOCK_SKEW = timedelta(minutes=1)
_UNITS = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}
_DURATION = re.compile(r"(?:(\d+)(ms|[dhms]))")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:ms|[dhms]))+")


def parse_duration(text: str) -> timedelta:
    """ "30m", "2h", "90s", "1h30m", "7d", "500ms", "0m" -> timedelta. Raises ValueError with a hint."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION_WHOLE.fullmatch(compact):
        raise ValueError(f"bad duration {text!r} ({DURATION_HINT})")
    units = [unit for _, unit in _DURATION.findall(compact)]
    if len(units) != len(set(units)):
        raise ValueError(f"bad duration {text!r}: a unit appears twice ({DURATION_HINT})")
    return sum((int(n) * _UNITS[unit] for n, unit in _DURATION.findall(compact)), timedelta())


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, exact to the millisecond: timedelta(minutes=90) -> "1h30m",
    timedelta(milliseconds=500) -> "500ms"; zero -> "0m"."""
    millis = value // _UNITS["ms"]
    if millis <= 0:
        return "0m"
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        count, millis = divmod(millis, _UNITS[unit] // _UNITS["ms"])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_span(value: timedelta) -> str:
    """A duration for a reader: "10h 0m 21s", "1h 30m", "45s", "2d 3h"; zero -> "0s".

    Units from the largest present down to the smallest non-zero one, each spelled (a zero between
    them too, so "10h 0m 21s" never reads as "10h21s"). Fractions of a second are dropped.
    """
    seconds = int(abs(value.total_seconds()))
    sign = "-" if value < timedelta(0) and seconds else ""
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    while len(parts) > 1 and parts[-1].startswith("0"):
        parts.pop()
    return sign + (" ".join(parts) or "0s")


def format_elapsed(value: timedelta) -> str:
    """How long ago, for a human: whole minutes under an hour ("41m"), seconds under a minute.

    Rounded down, so "41m" is never claimed before 41 minutes have really passed.
    """
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return format_duration(timedelta(seconds=seconds - seconds % 60))


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BUSINESS_HOURS_HINT = 'use e.g. "mon-fri 08:00-18:00" or "mon-fri 08:00-18:00, sat 10:00-14:00"'
_WINDOW = re.compile(
    r"(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})"
)


def _clock_time(text: str, *, allow_24: bool) -> time | None:
    hours, minutes = (int(x) for x in text.split(":"))
    if allow_24 and (hours, minutes) == (24, 0):
        return None  # midnight at the end of the day
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"bad time {text!r}")
    return time(hours, minutes)


@dataclass(frozen=True, slots=True)
class Window:
    """Open on `days` (0 = Monday) from `start` to `end` local time; end None = until midnight."""

    days: frozenset[int]
    start: time
    end: time | None

    def contains(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None)
        if self.end is None or self.end > self.start:
            return (
                local.weekday() in self.days
                and self.start <= clock
                and (self.end is None or clock < self.end)
            )
        # Overnight (e.g. 22:00-06:00): the evening belongs to the named day, the small hours to the next.
        if local.weekday() in self.days and clock >= self.start:
            return True
        return (local.weekday() - 1) % 7 in self.days and clock < self.end


@dataclass(frozen=True, slots=True)
class BusinessHours:
    windows: tuple[Window, ...] = ()

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        """ "mon-fri 08:00-18:00, sat 10:00-14:00" -> BusinessHours; "" -> no business hours at all."""
        windows = []
        for raw in text.lower().split(","):
            part = " ".join(raw.split())
            if not part:
                continue
            found = _WINDOW.fullmatch(part)
            if found is None:
                raise ValueError(f"bad business hours {part!r} ({BUSINESS_HOURS_HINT})")
            first, last = found["first"], found["last"] or found["first"]
            for day in (first, last):
                if day not in _DAYS:
                    raise ValueError(f"bad day {day!r} in {part!r} (days are {', '.join(_DAYS)})")
            start = _clock_time(found["start"], allow_24=False)
            end = _clock_time(found["end"], allow_24=True)
            assert start is not None
            if end == start:
                raise ValueError(f"empty business hours window {part!r}")
            i, j = _DAYS.index(first), _DAYS.index(last)
            days = frozenset((i + k) % 7 for k in range((j - i) % 7 + 1))  # "fri-mon" wraps the week
            windows.append(Window(days, start, end))
        return cls(tuple(windows))

    def contains(self, local: datetime) -> bool:
        return any(w.contains(local) for w in self.windows)


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; ValueError (not a zoneinfo internal error) when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name, e.g. America/Los_Angeles)") from exc


@dataclass(frozen=True, slots=True)
class Schedule:
    """Business hours in a time zone. With no windows, every moment is business time (no after-hours)."""

    timezone: ZoneInfo
    hours: BusinessHours

    @classmethod
    def parse(cls, timezone: str, business_hours: str) -> Schedule:
        return cls(zone(timezone), BusinessHours.parse(business_hours))

    def is_business_time(self, now_utc: datetime) -> bool:
        if not self.hours.windows:
            return True
        return self.hours.contains(now_utc.astimezone(self.timezone))

    def next_change(self, now_utc: datetime) -> datetime | None:
        """A time after `now_utc` no later than the next switch between business and after hours.

        A lower bound, never late: every window boundary of the coming week counts, converted with both
        folds so that a boundary in a DST gap or overlap is taken at its earliest possible instant.
        None when the schedule never switches (no windows).
        """
        if not self.hours.windows:
            return None
        local_today = now_utc.astimezone(self.timezone).date()
        clock_times = {time(0, 0)}
        for window in self.hours.windows:
            clock_times.add(window.start)
            clock_times.add(window.end or time(0, 0))
        candidates = []
        for offset in range(-1, 9):
            day = local_today + timedelta(days=offset)
            for clock in clock_times:
                for fold in (0, 1):
                    local = datetime.combine(day, clock, tzinfo=self.timezone).replace(fold=fold)
                    instant = local.astimezone(UTC)
                    if instant > now_utc:
                        candidates.append(instant)
        return min(candidates) if candidates else None
