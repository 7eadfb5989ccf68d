"""Pacing: keep below the OAuth client's limit on two counts, this process's own and the platform's.

The limit is per OAuth client, across processes: a restarted process (its own count empty) or
replicas sharing one client each see only part of what the platform counts. The platform reports its
count on every answer (``inin-ratelimit-allowed``, ``-count``, ``-reset``; docs/platform-notes.md), so
a request starts only when both counts leave room:

- the local count: at most ``budget`` starts in any sliding ``window`` (the configured limit x headroom);
- the platform's count, read conservatively: ``count`` requests are counted and none of them is assumed
  to leave before ``reset`` seconds have passed. Requests this process started after the one that
  reported the count are added to it (they may not have been counted yet). While that estimate leaves
  room, at most a quarter of it may be taken by this process's requests still waiting for an answer, so
  that replicas reading the same count do not all spend the same room at once.

Before the first answer, and when the platform's last report has expired (its ``reset`` passed with
no newer answer), one request at a time goes out to learn the count: a process started into a full
window sends one request, not a burst. A process that knows a report from before its start (one its
predecessor or a replica saw: ``seed``) does not send that first one blind: the seed paces it like any
report until it expires. Answers without the headers (or with malformed ones, logged at
debug) leave the local count alone in charge, once no valid report is known.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("session_reaper.genesys")

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

RATE_ALLOWED_HEADER = "inin-ratelimit-allowed"
RATE_COUNT_HEADER = "inin-ratelimit-count"
RATE_RESET_HEADER = "inin-ratelimit-reset"
# At most 1/4 of the room a report leaves may wait for answers in this process: replicas reading the
# same count then spend it together only up to ~N/4 of it, and the headroom absorbs the rest.
_SHARE_OF_ROOM = 4
# The budget is this share of the platform's limit: the room for latency differences between when we
# send and when the platform counts.
HEADROOM = 0.95


@dataclass(frozen=True, slots=True)
class PlatformCount:
    """What one answer said: ``count`` of ``allowed`` counted, and not falling for ``reset`` seconds."""

    allowed: int
    count: int
    reset: float


def read_platform_count(headers: Mapping[str, str]) -> PlatformCount | None:
    """The platform's count from an answer's headers; None when absent or not understood."""
    raw = [headers.get(name) for name in (RATE_ALLOWED_HEADER, RATE_COUNT_HEADER, RATE_RESET_HEADER)]
    if all(value is None for value in raw):
        return None
    try:
        allowed, count, reset = (float(str(value).strip()) for value in raw)
    except (TypeError, ValueError):
        log.debug("ignoring malformed rate-limit headers allowed=%r count=%r reset=%r", *raw)
        return None
    if not all(math.isfinite(v) for v in (allowed, count, reset)) or allowed < 1 or count < 0:
        log.debug("ignoring out-of-range rate-limit headers allowed=%r count=%r reset=%r", *raw)
        return None
    return PlatformCount(int(allowed), math.ceil(count), reset)


@dataclass(frozen=True, slots=True)
class _Report:
    ticket: int  # the request whose answer carried it
    budget: int  # floor(allowed * headroom)
    count: int
    until: float  # monotonic: the report holds until then


class PacingLimiter:
    """At most ``budget`` requests start in any sliding ``window``, and never past the platform's count.

    The budget is ``floor(requests_per_minute * headroom)``: a few percent below the platform's limit
    leaves room for latency differences between when we send and when the platform counts. FIFO across
    concurrent tasks. ``acquire`` returns a ticket; pass it to ``answered`` when the request ends.
    """

    def __init__(
        self,
        requests_per_minute: int,
        *,
        headroom: float = HEADROOM,
        window: float = 60.0,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        platform_count: bool = False,
    ) -> None:
        """``platform_count``: also keep below the platform's reported count (``answered`` feeds it).

        Without it the local count alone paces, whatever ``answered`` is told.
        """
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.headroom = headroom
        self.budget = max(1, math.floor(requests_per_minute * headroom))
        self.window = window
        self._monotonic = monotonic
        self._sleep = sleep
        self._started: deque[float] = deque()
        self._not_before = 0.0
        self._lock = asyncio.Lock()
        self._tickets = 0  # requests started so far; a ticket is the number of its request
        self._unanswered: set[int] = set()
        self._report: _Report | None = None
        # None until the first answer says; False: only the local count paces
        self._platform_reports: bool | None = None if platform_count else False
        self._answer = asyncio.Event()

    def pause_until(self, moment: float) -> None:
        """No request starts before ``moment`` (monotonic): the platform said so with Retry-After."""
        self._not_before = max(self._not_before, moment)

    def seed(self, allowed: int, count: int, until: float) -> None:
        """Pace on a report seen before this pacer's first request, as if answered before it (ticket 0).

        ``until`` is monotonic: the report holds until then, after which one request at a time learns
        the count as usual. A report already read from an answer is newer and stays; an expired seed,
        or a pacer on the local count alone, changes nothing.
        """
        if self._platform_reports is False or self._report is not None or until <= self._monotonic():
            return
        budget = max(1, math.floor(allowed * self.headroom))
        self._report = _Report(0, budget, max(0, count), until)

    def answered(
        self, ticket: int, headers: Mapping[str, str] | None, *, succeeded: bool = True
    ) -> PlatformCount | None:
        """The request of ``ticket`` ended: with an answer's ``headers``, or None (no answer came).
        Returns the count the answer reported, if any (read once, for the caller's hooks too).

        Only a successful answer without the headers means the platform does not report its count:
        a refused token or a gateway's error page may carry none where every other answer would.
        """
        self._unanswered.discard(ticket)
        reported = read_platform_count(headers) if headers is not None else None
        if self._platform_reports is False and self._report is None:
            return reported  # the local count alone paces: nothing to learn from answers
        if reported is not None:
            self._platform_reports = True
            if self._report is None or ticket >= self._report.ticket:
                self._report = _Report(
                    ticket,
                    max(1, math.floor(reported.allowed * self.headroom)),
                    reported.count,
                    self._monotonic() + max(0.0, reported.reset),
                )
        elif headers is not None and succeeded and self._platform_reports is None:
            self._platform_reports = False  # this platform does not report: the local count alone
        self._answer.set()
        return reported

    def _platform_wait(self, now: float, count: int) -> float:
        """Seconds until the platform's count could leave room for ``count`` more starts; 0 = now.

        A positive value may end early: any answer brings a newer count (waiters wake on it).
        """
        report = self._report
        if report is not None and now < report.until:
            since = self._tickets - report.ticket  # started after the reported request
            room = report.budget - report.count - since
            pending = sum(1 for t in self._unanswered if t > report.ticket)
            share = max(1, (report.budget - report.count) // _SHARE_OF_ROOM)
            if room >= count and pending + count <= max(share, count):
                return 0.0
            return report.until - now
        if self._platform_reports is False or (self._platform_reports is None and self._tickets == 0):
            return 0.0  # no report expected, or the very first request: it goes out to learn the count
        # Before the first report, or once the last one expired: one request at a time learns it (the
        # wait ends with its answer, which every request gets: `answered` is called on every path).
        return 0.0 if not self._unanswered else self.window

    async def _wait(self, seconds: float, *, answer_ends_it: bool) -> None:
        if answer_ends_it and self._unanswered:
            # An answer is on its way and brings a newer count: wait for it rather than the clock (a
            # clock-driven sleep may be a virtual one that jumps ahead while the answer is handled).
            self._answer.clear()
            await self._answer.wait()
            return
        await self._sleep(seconds)

    def _prune(self, now: float) -> None:
        """Forget the starts that left the window (kept in order, so from the left)."""
        while self._started and self._started[0] <= now - self.window:
            self._started.popleft()

    def _local_wait(self, now: float, count: int) -> float:
        # pruned first, then counted: a count by iteration cost a minute's starts per request (thousands
        # at a soak's scaled limit: 3.5 % of serve's loop)
        self._prune(now)
        recent = len(self._started)
        wait = self._not_before - now
        if recent + count > self.budget and self._started:
            index = min(len(self._started) - 1, max(0, len(self._started) - (self.budget - count) - 1))
            wait = max(wait, self._started[index] + self.window - now)
        return wait

    def delay(self, count: int = 1) -> float:
        """Seconds until ``count`` requests could start by both counts; 0 = now.

        A wait on the platform's count may end early: an answer brings a newer count.
        """
        now = self._monotonic()
        return max(0.0, self._local_wait(now, count), self._platform_wait(now, count))

    async def _wait_for(self, count: int) -> bool:
        """Wait once if ``count`` starts have no room now; False when they have."""
        now = self._monotonic()
        local = self._local_wait(now, count)
        platform = self._platform_wait(now, count)
        if local <= 0 and platform <= 0:
            return False
        await self._wait(max(local, platform), answer_ends_it=platform > local)
        return True

    async def wait_for_room(self, count: int) -> None:
        """Wait until `count` requests could start now without waiting (takes nothing).

        A check and the action that depends on it should leave back to back: a pacing wait between
        them is a window in which the checked state can change.
        """
        while count <= self.budget and await self._wait_for(count):
            pass

    async def acquire(self) -> int:
        """Wait for room for one request and count it as started; its ticket for ``answered``."""
        async with self._lock:
            while await self._wait_for(1):
                pass
            now = self._monotonic()
            self._prune(now)
            self._started.append(now)
            self._tickets += 1
            if self._platform_reports is not False:
                self._unanswered.add(self._tickets)
            return self._tickets
