"""The pacer on the platform's own count (`inin-ratelimit-*`): the stricter of it and the local count.

Unit tests on a fake monotonic clock, then a small discrete simulation of a platform that counts one
OAuth client's requests in a sliding 60 s window and refuses the 301st, shared by several pacers
(replicas, and a process restarted with an empty pacer): none of them ever sees a refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import pytest

from session_reaper.commands.platform_counts import seed_margin
from session_reaper.genesys.pacing import PacingLimiter, read_platform_count


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def headers(allowed: object, count: object, reset: object) -> dict[str, str]:
    return {
        "inin-ratelimit-allowed": str(allowed),
        "inin-ratelimit-count": str(count),
        "inin-ratelimit-reset": str(reset),
    }


def pacer(time: FakeTime, requests_per_minute: int = 300) -> PacingLimiter:
    return PacingLimiter(requests_per_minute, monotonic=time.monotonic, sleep=time.sleep, platform_count=True)


def start(limiter: PacingLimiter) -> int:
    """Start one request that must have room now."""
    assert limiter.delay() == 0
    return asyncio.run(limiter.acquire())


def test_a_fresh_pacer_sends_one_request_and_waits_for_the_platforms_count() -> None:
    time = FakeTime()
    limiter = pacer(time)
    first = start(limiter)
    assert limiter.delay() > 0  # nothing more goes out before the count is known
    limiter.answered(first, headers(300, 120, 40))
    assert limiter.delay() == 0


@pytest.mark.parametrize(
    ("count", "free"),
    [(0, 71), (200, 21), (279, 1), (283, 1)],  # room = 285 - count, at most a quarter of it in flight
)
def test_room_left_by_the_count_is_shared_not_spent_at_once(count: int, free: int) -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), headers(300, count, 30))
    started = 0
    while limiter.delay() == 0 and started < 500:
        asyncio.run(limiter.acquire())
        started += 1
    assert started == free


@pytest.mark.parametrize(("count", "reset"), [(285, 12), (300, 3), (450, 58)])
def test_a_count_at_or_above_the_budget_waits_for_its_reset(count: int, reset: int) -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), headers(300, count, reset))
    assert limiter.delay() == pytest.approx(reset)
    time.now += reset
    start(limiter)  # the report has expired: one request goes out to learn the new count
    assert limiter.delay() > 0


@pytest.mark.parametrize("reset", [0, -5, "-0.5"])
def test_a_reset_in_the_past_is_no_report(reset: object) -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), headers(300, 299, reset))
    assert limiter.delay() == 0  # the full count says nothing about now: learn it again
    start(limiter)
    assert limiter.delay() > 0


def test_without_the_headers_the_local_pacer_alone_paces() -> None:
    time = FakeTime()
    limiter = pacer(time, requests_per_minute=30)
    limiter.answered(start(limiter), {"content-type": "application/json"})
    starts = 1
    while limiter.delay() == 0:
        asyncio.run(limiter.acquire())
        starts += 1
    assert starts == 28  # floor(30 * 0.95) in the window, without waiting for answers
    assert limiter.delay() == pytest.approx(60.0)


def test_a_refused_answer_without_headers_does_not_switch_the_platform_count_off() -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), {}, succeeded=False)  # e.g. a gateway's 502 page
    start(limiter)
    assert limiter.delay() > 0  # still learning the count one request at a time


@pytest.mark.parametrize(
    "bad",
    [
        headers("lots", 10, 30),
        headers(300, "", 30),
        headers(300, 10, "soon"),
        headers(0, 10, 30),
        headers(300, -1, 30),
        headers("nan", 10, 30),
        {"inin-ratelimit-count": "10"},  # the others missing
    ],
)
def test_malformed_headers_are_ignored_with_a_debug_log(
    bad: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert read_platform_count(bad) is None
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), headers(300, 284, 30))  # one start of room left, then none
    with caplog.at_level(logging.DEBUG, logger="session_reaper.genesys"):
        limiter.answered(start(limiter), bad)
    assert "rate-limit headers" in caplog.text
    assert limiter.delay() == pytest.approx(30.0)  # the last valid report still holds


def test_the_stricter_of_the_two_counts_wins() -> None:
    time = FakeTime()
    local_stricter = pacer(time, requests_per_minute=20)  # the platform would allow 1000
    local_stricter.answered(start(local_stricter), headers(1000, 0, 60))
    starts = 1
    while local_stricter.delay() == 0 and starts < 100:
        ticket = asyncio.run(local_stricter.acquire())
        local_stricter.answered(ticket, headers(1000, starts, 60))
        starts += 1
    assert starts == 19  # floor(20 * 0.95)

    platform_stricter = pacer(time, requests_per_minute=1000)  # the platform allows 20
    platform_stricter.answered(start(platform_stricter), headers(20, 1, 60))
    starts = 1
    while platform_stricter.delay() == 0 and starts < 100:
        ticket = asyncio.run(platform_stricter.acquire())
        starts += 1
        platform_stricter.answered(ticket, headers(20, starts, 60))
    assert starts == 19


class SlidingPlatform:
    """One OAuth client's count as the emulator keeps it: refused past `limit` in any 60 s."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counted: deque[float] = deque()
        self.refused = 0
        self.served = 0

    def answer(self, now: float) -> dict[str, str]:
        while self.counted and self.counted[0] <= now - 60:
            self.counted.popleft()
        if len(self.counted) >= self.limit:
            self.refused += 1
        else:
            self.counted.append(now)
            self.served += 1
        reset = max(1, int(self.counted[0] + 60 - now + 0.999)) if self.counted else 60
        return headers(self.limit, len(self.counted), reset)


def simulate(replicas: int, concurrency: int, *, platform_count: bool = True) -> SlidingPlatform:
    """Each replica keeps `concurrency` requests going whenever its pacer lets it; latency 50 ms.

    Every 40 s one replica is "killed" (its requests in flight still reach the platform) and
    replaced by a process with an empty pacer.
    """
    time = FakeTime()
    platform = SlidingPlatform(300)

    def fresh() -> PacingLimiter:
        return PacingLimiter(300, monotonic=time.monotonic, sleep=time.sleep, platform_count=platform_count)

    pacers = [fresh() for _ in range(replicas)]
    in_flight: list[tuple[float, int, int]] = []  # (answer at, replica, ticket); ticket -1: killed
    step, latency, until = 0.01, 0.05, 300.0
    next_restart = 40.0

    async def drive() -> None:
        nonlocal next_restart
        while time.now < until:
            for answer_at, replica, ticket in [f for f in in_flight if f[0] <= time.now]:
                in_flight.remove((answer_at, replica, ticket))
                answer = platform.answer(answer_at - latency / 2)  # counted halfway
                if ticket >= 0:
                    pacers[replica].answered(ticket, answer)
            if time.now >= next_restart:
                victim = int(time.now) % replicas
                in_flight[:] = [(a, r, -1 if r == victim else t) for a, r, t in in_flight]
                pacers[victim] = fresh()
                next_restart += 40.0
            for replica, limiter in enumerate(pacers):
                busy = sum(1 for _, r, t in in_flight if r == replica and t >= 0)
                while busy < concurrency and limiter.delay() == 0:
                    ticket = await limiter.acquire()
                    in_flight.append((time.now + latency, replica, ticket))
                    busy += 1
            time.now += step

    asyncio.run(drive())
    return platform


@pytest.mark.parametrize(("replicas", "concurrency"), [(1, 8), (3, 8), (3, 4), (2, 16)])
def test_replicas_and_restarts_sharing_one_client_are_never_refused(replicas: int, concurrency: int) -> None:
    platform = simulate(replicas, concurrency)
    assert platform.refused == 0
    # ...and pacing on the count is not starving anyone: most of the limit is used.
    assert platform.served >= 0.8 * 300 * 300 / 60, platform.served


@pytest.mark.parametrize(("replicas", "concurrency"), [(1, 8), (3, 8)])
def test_the_same_run_on_the_local_count_alone_is_refused(replicas: int, concurrency: int) -> None:
    """The simulation can fail: pacers blind to the platform's count (restarts, replicas) are refused."""
    assert simulate(replicas, concurrency, platform_count=False).refused > 0


# -- a report seen before the first request (`seed`: a predecessor's or a replica's, from the ledger) --


def test_a_seeded_full_window_waits_for_its_end_then_one_request_learns() -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.seed(300, 300, time.now + 20)
    assert limiter.delay() == pytest.approx(20)  # no blind first request
    first = asyncio.run(limiter.acquire())  # waits, on the clock, until the seed's end
    assert time.now == pytest.approx(20)
    assert limiter.delay() > 0  # past it: one request at a time, as after any report's end
    limiter.answered(first, headers(300, 10, 60))
    assert limiter.delay() == 0


def test_a_seeded_report_with_room_lets_requests_go_as_any_report() -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.seed(300, 200, time.now + 30)
    started = 0
    while limiter.delay() == 0 and started < 500:
        asyncio.run(limiter.acquire())
        started += 1
    assert started == 21  # as an answered report of 200: a quarter of the 85 left, not one blind request
    assert time.now == 0


@pytest.mark.parametrize("until", [-5.0, 0.0])
def test_an_expired_seed_is_ignored(until: float) -> None:
    time = FakeTime()
    time.now = 100.0
    limiter = pacer(time)
    limiter.seed(300, 300, time.now + until)
    start(limiter)  # the fresh pacer's one learning request, as without a seed
    assert limiter.delay() > 0


def test_a_seed_does_not_replace_a_count_an_answer_reported() -> None:
    time = FakeTime()
    limiter = pacer(time)
    limiter.answered(start(limiter), headers(300, 10, 60))
    limiter.seed(300, 300, time.now + 30)  # older than the answer's
    assert limiter.delay() == 0


def test_a_seed_on_the_local_count_alone_changes_nothing() -> None:
    time = FakeTime()
    limiter = PacingLimiter(300, monotonic=time.monotonic, sleep=time.sleep)
    limiter.seed(300, 300, time.now + 30)
    assert limiter.delay() == 0


def simulate_lives(life: float, *, seeded: bool, until: float = 240.0) -> SlidingPlatform:
    """One process keeping 8 requests going, SIGKILLed every `life` seconds (its requests in flight
    still reach the platform) and restarted with an empty pacer. `seeded`: each life starts paced on
    the last report that mattered, as serve keeps it in the ledger (commands/platform_counts.py)."""
    time = FakeTime()
    platform = SlidingPlatform(300)
    concurrency, latency, step = 8, 0.05, 0.01
    saved: tuple[int, int, float] | None = None  # (allowed, count, holds until), as the ledger has it

    def fresh() -> PacingLimiter:
        limiter = pacer(time)
        if seeded and saved is not None:
            allowed, count, holds_until = saved
            limiter.seed(allowed, count + seed_margin(concurrency, allowed), holds_until)
        return limiter

    limiter = fresh()
    in_flight: list[tuple[float, int]] = []  # (answer at, ticket); ticket -1: the process was killed
    next_kill = life

    async def drive() -> None:
        nonlocal limiter, next_kill, saved
        while time.now < until:
            for answer_at, ticket in [f for f in in_flight if f[0] <= time.now]:
                in_flight.remove((answer_at, ticket))
                answer = platform.answer(answer_at - latency / 2)
                if ticket >= 0:
                    limiter.answered(ticket, answer)
                    reported = read_platform_count(answer)
                    assert reported is not None
                    if reported.count * 2 >= 285:  # saved when it matters (the spacing aside)
                        saved = (reported.allowed, reported.count, time.now + reported.reset)
            if time.now >= next_kill:
                in_flight[:] = [(a, -1) for a, _ in in_flight]
                limiter = fresh()
                next_kill += life
            busy = sum(1 for _, t in in_flight if t >= 0)
            while busy < concurrency and limiter.delay() == 0:
                in_flight.append((time.now + latency, await limiter.acquire()))
                busy += 1
            time.now += step

    asyncio.run(drive())
    return platform


@pytest.mark.parametrize("life", [1.0, 2.7])
def test_lives_seeded_with_the_saved_count_are_never_refused(life: float) -> None:
    platform = simulate_lives(life, seeded=True)
    assert platform.refused == 0
    assert platform.served >= 0.8 * 300 * 240 / 60, platform.served


def test_the_same_lives_unseeded_are_refused() -> None:
    """The simulation can fail: each unseeded life sends its first request blind into a full window."""
    assert simulate_lives(1.0, seeded=False).refused > 0
