"""The pacing limiter: never more than 95% of the client's limit in any 60 s, and Retry-After pauses all."""

from __future__ import annotations

import asyncio

from session_reaper.genesys.http import PacingLimiter, RetryPolicy


class FakeTime:
    """A monotonic clock that only moves when someone sleeps: the test runs in no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def started_times(limiter: PacingLimiter, time: FakeTime, tasks: int, each: int) -> list[float]:
    started: list[float] = []

    async def worker() -> None:
        for _ in range(each):
            await limiter.acquire()
            started.append(time.now)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(tasks)))

    asyncio.run(main())
    return sorted(started)


def test_concurrent_tasks_share_one_budget_below_the_limit() -> None:
    time = FakeTime()
    limiter = PacingLimiter(30, monotonic=time.monotonic, sleep=time.sleep)
    assert limiter.budget == 28  # floor(30 * 0.95)
    started = started_times(limiter, time, tasks=8, each=10)
    assert len(started) == 80
    for i, at in enumerate(started):
        in_window = [s for s in started[: i + 1] if s > at - 60.0]
        assert len(in_window) <= 28, f"{len(in_window)} requests within 60 s ending at {at}"
    # ...and it is not slower than it has to be: 28 go at once, the next batch as the window slides.
    assert started[27] == 0.0 and started[28] == 60.0 and started[-1] == 120.0


def test_a_retry_after_pause_holds_every_task() -> None:
    time = FakeTime()
    limiter = PacingLimiter(300, monotonic=time.monotonic, sleep=time.sleep)
    limiter.pause_until(2.0)
    started = started_times(limiter, time, tasks=3, each=2)
    assert min(started) >= 2.0


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=8.0)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0), (10, 8.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1
