"""The platform's last count of an OAuth client: saved by one process, read by the next (both back ends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from session_reaper.engine.off_loop import TakesTurns, journalled
from session_reaper.ledger import Ledger
from session_reaper.ledger.platform_counts import SavedCount

from .conftest import T0


def count(n: int, *, seen_after: float = 0.0, holds: float = 30.0) -> SavedCount:
    seen = T0 + timedelta(seconds=seen_after)
    return SavedCount(300, n, seen + timedelta(seconds=holds), seen)


def test_a_saved_count_is_read_back_by_another_process(ledger: Ledger, ledger_url: str) -> None:
    assert ledger.platform_counts.load("client-a") is None
    ledger.platform_counts.save("client-a", count(290))
    with Ledger.open(ledger_url, owner="replica-b") as successor:
        assert successor.platform_counts.load("client-a") == count(290)
        assert successor.platform_counts.load("client-b") is None  # one row per client


def test_the_count_seen_latest_wins(ledger: Ledger, ledger_url: str) -> None:
    counts = ledger.platform_counts
    counts.save("client-a", count(200, seen_after=1))
    counts.save("client-a", count(295, seen_after=5))
    assert counts.load("client-a") == count(295, seen_after=5)
    # a replica's save of a count it saw earlier, landing later, leaves the newer one
    with Ledger.open(ledger_url, owner="replica-b") as replica:
        replica.platform_counts.save("client-a", count(150, seen_after=3))
    assert counts.load("client-a") == count(295, seen_after=5)
    counts.save("client-a", count(160, seen_after=9, holds=2))
    assert counts.load("client-a") == count(160, seen_after=9, holds=2)


def test_its_calls_off_the_loop_take_turns_with_the_ledgers(ledger: Ledger) -> None:
    counts = ledger.platform_counts
    assert isinstance(counts, TakesTurns)
    assert counts.call_lock is ledger.call_lock  # SQLite: a lock; PostgreSQL: None

    async def main() -> SavedCount | None:
        await journalled(counts.save, "client-a", count(290))
        return await journalled(counts.load, "client-a")

    assert asyncio.run(main()) == count(290)
