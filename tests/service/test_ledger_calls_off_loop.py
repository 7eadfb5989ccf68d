"""serve's own ledger calls — a console act's read schedule, /readyz, the console's reads, the org
leases — run off the event loop and, on SQLite, take turns with the engine's on the ledger's call lock.

In process, over an in-memory SQLite ledger (one connection, which two threads must never use at once):
the test holds `call_lock` as an engine call in a worker would, and the caller must wait for it; or a
ledger call waits for a gate while the loop's heartbeat is counted.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from session_reaper.commands.console.api import ConsoleApi
from session_reaper.commands.runtime import Runtime
from session_reaper.commands.serve import service as service_module
from session_reaper.commands.serve.service import Service
from session_reaper.commands.serve.shard import Shard
from session_reaper.config import Settings
from session_reaper.core.model import ScheduledRead
from session_reaper.engine.read_schedule import policy_fingerprint
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics
from tests.helpers.loop_turns import loop_turns


class Gated(Ledger):
    """An SQLite ledger whose `save_read_schedule` says which thread called it, then waits for `gate`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.threads: list[str] = []
        self.fail = False

    def save_read_schedule(self, *args: Any, **kwargs: Any) -> None:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.gate.wait(1.0)  # a timer's second at most: a loop blocked here cannot open it
        if self.fail:
            raise RuntimeError("database is locked")
        super().save_read_schedule(*args, **kwargs)


@pytest.fixture
def ledger() -> Iterator[Gated]:
    with Gated.open("sqlite://") as opened:
        yield opened


def service_on(ledger: Ledger) -> Service:
    settings = Settings.model_validate({"sweep": {"ledger": "sqlite://"}})
    clock = SimpleNamespace(now=lambda: datetime.now(UTC))

    async def authenticate() -> None:
        return None

    api = SimpleNamespace(clock=clock, authenticate=authenticate)
    runtime = Runtime(settings, cast(Any, api), ledger, cast(Any, SimpleNamespace(now=clock.now)))
    return Service(runtime, Metrics(), apply=False)


async def settled(result: object) -> object:
    """Await what a caller returned, if anything (read_again was synchronous once)."""
    return await result if inspect.isawaitable(result) else result


async def waits_for_the_lock(lock: threading.Lock, call: Callable[[], object]) -> bool:
    """Whether `call()` stayed unfinished while `lock` was held (as by an engine call in a worker)."""
    with lock:
        task = asyncio.ensure_future(settled(call()))
        await asyncio.sleep(0.2)
        waited = not task.done()
    await task
    return waited


def test_a_console_acts_read_again_saves_the_schedule_off_the_loop(ledger: Gated) -> None:
    ledger.gate.clear()
    service = service_on(ledger)

    async def main() -> int:
        async with loop_turns(ledger.gate, ledger.entered) as turns:
            await settled(service.read_again("c-1"))
        return turns.counted

    ticks = asyncio.run(main())
    assert ticks >= 5, "the loop stood still while the read schedule was saved"
    assert ledger.threads and threading.main_thread().name not in ledger.threads
    assert service.not_before.until.get("c-1") is None  # the next pass reads it


def test_read_again_takes_turns_on_the_sqlite_call_lock(ledger: Gated) -> None:
    lock = ledger.call_lock
    assert lock is not None
    policy = policy_fingerprint(service_on(ledger).settings)
    later = datetime.now(UTC).replace(year=2100)
    ledger.save_read_schedule(policy, datetime.now(UTC), {"c-1": ScheduledRead(later)}, set())
    assert "c-1" in ledger.read_schedule(policy, datetime.now(UTC))
    service = service_on(ledger)

    async def main() -> bool:
        return await waits_for_the_lock(lock, lambda: service.read_again("c-1"))

    assert asyncio.run(main()), "the read schedule was written while another call held the ledger"
    assert "c-1" not in ledger.read_schedule(policy, datetime.now(UTC))  # and then it was forgotten


def test_a_read_again_that_fails_is_only_logged(ledger: Gated) -> None:
    ledger.fail = True
    service = service_on(ledger)
    asyncio.run(settled(service.read_again("c-1")))  # an optimisation: the backstop re-read comes anyway
    assert ledger.threads


def test_the_readiness_checks_ledger_waits_its_turn_and_answers_within_its_timeout(
    ledger: Gated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "CHECK_TIMEOUT", 0.3)
    lock = ledger.call_lock
    assert lock is not None
    service = service_on(ledger)

    async def main() -> tuple[dict[str, str], float, dict[str, str]]:
        with lock:
            started = time.monotonic()
            busy = await service.readiness()
            took = time.monotonic() - started
        return busy, took, await service.readiness()

    busy, took, free = asyncio.run(main())
    assert busy["ledger"].startswith("no answer within"), busy
    assert took < 1.0  # the probe answers at its timeout: it does not wait for the read it gave up
    assert free["ledger"] == "ok"


@pytest.mark.parametrize("read", ["history", "pending"])
def test_the_consoles_ledger_reads_take_turns_on_the_sqlite_call_lock(ledger: Gated, read: str) -> None:
    lock = ledger.call_lock
    assert lock is not None
    api = ConsoleApi(service_on(ledger), auth=cast(Any, None))
    handler: Callable[[Any, Any], Awaitable[object]] = getattr(api, read)
    request = SimpleNamespace(query_params={})

    async def main() -> bool:
        return await waits_for_the_lock(lock, lambda: handler(request, None))

    assert asyncio.run(main()), f"the console's {read} read the ledger while another call held it"


def test_the_org_leases_take_turns_on_the_sqlite_call_lock(ledger: Gated) -> None:
    lock = ledger.call_lock
    assert lock is not None
    shard = Shard([], ledger, Metrics(), apply=False)

    async def main() -> bool:
        return await waits_for_the_lock(lock, shard.tick)  # the replica's heartbeat

    assert asyncio.run(main()), "the org leases were written while another call held the ledger"
    assert shard.replicas == [shard.owner]
