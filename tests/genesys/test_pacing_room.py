"""wait_for_room: a check and its dependent action leave back to back, with no pacing wait between."""

from __future__ import annotations

import asyncio

from session_reaper.genesys.http import PacingLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_waits_until_two_requests_can_start_without_waiting():
    clock = FakeTime()
    limiter = PacingLimiter(10, headroom=1.0, window=60.0, monotonic=clock.monotonic, sleep=clock.sleep)

    async def scenario() -> None:
        for second in range(10):  # the whole budget used, one request a second
            clock.now = float(second)
            await limiter.acquire()
        clock.now = 30.0
        await limiter.wait_for_room(2)
        assert clock.now == 61.0  # the two oldest (t=0, t=1) have left the window
        slept_before = len(clock.slept)
        await limiter.acquire()
        await limiter.acquire()
        assert len(clock.slept) == slept_before  # both went out at once

    asyncio.run(scenario())


def test_no_wait_when_there_is_room():
    clock = FakeTime()
    limiter = PacingLimiter(10, headroom=1.0, monotonic=clock.monotonic, sleep=clock.sleep)

    asyncio.run(limiter.wait_for_room(2))

    assert clock.slept == []
