"""Journal writes do not stop the event loop: a slow ledger slows one conversation, not all of them.

The ledger is made slow on purpose (a SQLAlchemy hook sleeps before every INSERT of a step's intent),
then a pass over several conversations runs against the emulator with one worker per conversation.
What a user sees: the pass's wall time (on PostgreSQL the intents of different conversations are
written at once, so the pass takes far less than the sum of the writes), and how long the loop was
ever kept from running anything else (what serve's /healthz, the notification socket's heartbeats
and every other conversation wait for). Before the journal calls ran in worker threads, each write
held the loop for its whole round trip: the pass took at least the sum, and the loop stalled for
each write's delay. The thresholds compare orders of magnitude, not close timings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from session_reaper.config import Settings
from session_reaper.core.results import Outcome
from session_reaper.engine.selection import Selection
from session_reaper.engine.sweep import Sweep, SweepResult
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import steps
from tests.engine.test_reconcile_alone import chat
from tests.helpers.loop_turns import loop_turns
from tests.ledger.conftest import postgres_base, postgres_url  # noqa: F401  (fixtures)


def slowed(ledger: Ledger, delay: float) -> None:
    """Every INSERT into the steps table (a step's intent) waits `delay` seconds first, in its thread."""

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def _slow(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STEPS"):
            time.sleep(delay)


def sweep_with_ticker(
    emulator: Any, ledger: Ledger, settings: Settings, ids: list[str]
) -> tuple[float, list[float]]:
    """Run one applied pass over `ids`; (its wall time, each time the loop was kept from its next turn).

    Judged by how many stalls last a write's time, not by the longest: a write on the loop stalls it
    once per write (60 and 9 times here), where a loaded machine (CI at -n 3 on two CPUs) may starve the
    loop's thread once or twice (a 545 ms stall seen with every write off the loop)."""

    async def main() -> tuple[SweepResult, float, list[float]]:
        async with GenesysApi.connect(resolve(None, emulator.base_url), "emulator", "emulator-secret") as api:
            sweep = Sweep(
                GenesysPlatform(api), ledger, settings, apply=True, selection=Selection(only=tuple(ids))
            )
            async with loop_turns() as turns:
                started = time.monotonic()
                result = await sweep.run()
                elapsed = time.monotonic() - started
            return result, elapsed, turns.stalls

    result, elapsed, stalls = asyncio.run(main())
    assert result.aborted is None and result.unfinished is None
    assert [line.outcome for line in result.lines] == [Outcome.DONE] * len(ids)
    return elapsed, stalls


def intents(ledger: Ledger) -> int:
    with ledger.engine.connect() as connection:
        return len(connection.execute(select(steps.c.id)).all())


def settings_for(url: str, workers: int) -> Settings:
    return Settings.model_validate(
        {
            "sweep": {
                "ledger": url,
                "verify_timeout": "5s",
                "concurrency": workers,
                "max_closes": 100,
            }
        }
    )


@pytest.fixture
def closable(emulator: Any) -> Iterator[Any]:
    def make(count: int) -> list[str]:
        return [emulator.create_conversation(chat(45))["id"] for _ in range(count)]

    yield make


DELAY = 0.2


@pytest.mark.postgres
def test_slow_intent_writes_of_concurrent_conversations_overlap_on_postgresql(
    emulator: Any,
    closable: Any,
    postgres_url: str,  # noqa: F811
) -> None:
    ids = closable(20)
    settings = settings_for(postgres_url, len(ids))
    with Ledger.open(postgres_url) as ledger:
        slowed(ledger, DELAY)
        elapsed, stalls = sweep_with_ticker(emulator, ledger, settings, ids)
        serial = intents(ledger) * DELAY  # what the writes alone take one after another (20 x 3 x 200 ms)
    assert serial >= 20 * 3 * DELAY
    assert elapsed < 0.5 * serial, f"pass {elapsed:.1f} s, the intents' writes alone {serial:.1f} s"
    long = [round(s * 1000) for s in stalls if s >= DELAY]
    assert len(long) <= 2, f"the loop stalled a write's time {len(long)} times (ms: {long[:10]})"


def test_slow_journal_writes_on_sqlite_never_stall_the_loop(
    emulator: Any, closable: Any, tmp_path: Path
) -> None:
    ids = closable(3)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    delay = 0.5
    with Ledger.open(url) as ledger:
        slowed(ledger, delay)
        _, stalls = sweep_with_ticker(emulator, ledger, settings_for(url, len(ids)), ids)
    # SQLite writes one at a time (the pass takes the writes' sum), but the loop runs on meanwhile.
    long = [round(s * 1000) for s in stalls if s >= delay / 2]
    assert len(long) <= 1, f"the loop stalled half a write's time {len(long)} times (ms: {long})"
