"""`off_loop`: a journal call in a worker thread, run to its end if its caller is cancelled (`read_of`: a
read, given up at once), taking turns on the journal's call lock."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from datetime import UTC, datetime
from typing import cast

import pytest

from session_reaper.core.vocabulary import own_activity
from session_reaper.engine.off_loop import journalled, read_of
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.ports import JournalPort
from session_reaper.ledger import Ledger
from tests.helpers.loop_turns import loop_turns


class SlowJournal:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.done: list[str] = []
        self.threads: set[str] = set()

    def write(self, what: str) -> str:
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        self.done.append(what)
        return what


def test_a_call_runs_in_a_worker_and_the_loop_runs_on() -> None:
    journal = SlowJournal(0.3)

    async def main() -> tuple[str, int]:
        async with loop_turns() as turns:
            result = await journalled(journal.write, "intent")
        return result, turns.counted

    result, ticks = asyncio.run(main())
    assert result == "intent"
    assert ticks >= 5  # the loop ran while the write slept (it would be 0 on the loop's own thread)
    assert journal.threads and threading.main_thread().name not in journal.threads


def test_a_cancelled_caller_goes_on_only_once_its_call_is_over() -> None:
    journal = SlowJournal(0.3)

    async def main() -> list[str]:
        async def act() -> None:
            await journalled(journal.write, "intent")
            await journalled(journal.write, "never: cancelled before this one")

        task = asyncio.create_task(act())
        await asyncio.sleep(0.05)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return list(journal.done)  # what the journal holds when the cancellation is seen
        raise AssertionError("not cancelled")

    assert asyncio.run(main()) == ["intent"]  # committed, and nothing after it


def test_calls_on_an_in_memory_sqlite_ledger_take_turns_on_its_one_connection() -> None:
    ledger = Ledger.open("sqlite://")
    assert ledger.call_lock is not None and ledger.for_org("x").call_lock is ledger.call_lock

    async def main() -> list[int]:
        return await asyncio.gather(*(journalled(ledger.start_sweep, True, owner=f"o{i}") for i in range(40)))

    with ledger:
        ids = asyncio.run(main())
    assert sorted(ids) == list(range(min(ids), min(ids) + 40))


class GatedJournal:
    """A journal whose `reaper_messages` waits for `gate`: opened by the test, or 1 s on (a blocked loop)."""

    def __init__(self) -> None:
        self.call_lock: threading.Lock | None = threading.Lock()  # as an SQLite ledger's
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.threads: list[str] = []

    def reaper_messages(self, conversation_id: str) -> dict[str, str]:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.gate.wait(1.0)
        return {"m-1": "warning"}


def test_own_texts_of_an_unloaded_conversation_are_read_off_the_loop() -> None:
    """`explain` and the console's acts ask the journal per conversation: the loop goes on meanwhile."""
    journal = GatedJournal()
    own = OwnMessages(cast(JournalPort, journal))

    async def main() -> tuple[object, int]:
        async with loop_turns(journal.gate, journal.entered) as turns:
            kinds = own.kinds("c-1")
            found = await kinds if inspect.isawaitable(kinds) else kinds  # kinds was synchronous once
        return found, turns.counted

    found, ticks = asyncio.run(main())
    assert found == {"m-1": own_activity("warning")}
    assert ticks >= 5, "the loop stood still while the journal was read"
    assert journal.threads and threading.main_thread().name not in journal.threads


def test_own_texts_of_an_unloaded_conversation_take_turns_on_the_call_lock() -> None:
    journal = GatedJournal()
    journal.gate.set()
    lock = journal.call_lock
    assert lock is not None
    own = OwnMessages(cast(JournalPort, journal))

    async def main() -> bool:
        async def read() -> object:
            kinds = own.kinds("c-1")
            return await kinds if inspect.isawaitable(kinds) else kinds

        with lock:  # another thread's call in progress
            task = asyncio.create_task(read())
            await asyncio.sleep(0.2)
            waited = not journal.threads
        await task
        return waited

    assert asyncio.run(main()), "the journal was read while another call held its lock"
    assert journal.threads


def test_loaded_own_texts_are_answered_without_the_journal_and_unloaded_ones_are_refused() -> None:
    journal = GatedJournal()
    own = OwnMessages(cast(JournalPort, journal))
    with pytest.raises(RuntimeError, match="not loaded"):
        own.loaded_kinds("c-1")  # the events port's frames: never a journal call on the loop
    journal.gate.set()

    class Since(GatedJournal):
        def reaper_messages_since(self, since: object) -> dict[str, dict[str, str]]:
            return {"c-1": {"m-2": "closing"}}

    loaded = OwnMessages(cast(JournalPort, Since()))
    asyncio.run(loaded.load(datetime.now(UTC)))
    assert loaded.loaded_kinds("c-1") == {"m-2": own_activity("closing")}
    assert loaded.loaded_kinds("c-2") == {}


def test_a_read_of_takes_the_journals_turn_and_a_cancelled_caller_does_not_wait_for_it() -> None:
    """`read_of`: the readiness probe's and the console's reads; a probe that times out answers at once."""
    ledger = Ledger.open("sqlite://")
    lock = ledger.call_lock
    assert lock is not None

    async def main() -> tuple[float, str | None]:
        with lock:
            started = time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await read_of(ledger, Ledger.schema_revision)
                raise AssertionError("read while another call held the lock")
            gave_up = time.monotonic() - started
        return gave_up, await read_of(ledger, Ledger.schema_revision)

    with ledger:
        gave_up, revision = asyncio.run(main())
    assert gave_up < 0.5
    assert revision is not None


def test_the_org_leases_take_turns_with_the_ledgers_calls() -> None:
    with Ledger.open("sqlite://") as ledger, Ledger.open("sqlite://") as other:
        assert ledger.org_leases.call_lock is ledger.call_lock is not None
        assert ledger.for_org("x").org_leases.call_lock is ledger.call_lock
        assert other.call_lock is not ledger.call_lock  # one lock per ledger
