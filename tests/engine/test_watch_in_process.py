"""`Watch` built by hand, as a benchmark would: the emulator over loopback, a real SQLite ledger, the
Notifications adapter over a real WebSocket, no `serve` around it, hooks of our own counting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from session_reaper.config import Settings, parse_settings
from session_reaper.core.results import DecisionLine
from session_reaper.engine.watch import Watch
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.events import GenesysEvents
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import decisions, sweeps

QUEUE = "queue-support"


class Counting:
    def __init__(self) -> None:
        self.events = 0
        self.opens: list[bool] = []
        self.rejected: Mapping[str, str] = {}

    def event(self, topic: str, lag_seconds: float | None) -> None:
        self.events += 1

    def ignored(self, topic: str) -> None:
        pass

    def connected(self, reconnect: bool) -> None:
        self.opens.append(reconnect)

    def disconnected(self, reason: str) -> None:
        pass

    def fallback(self, rejected: Mapping[str, str]) -> None:
        self.rejected = rejected

    def armed(self, timers: int) -> None:
        pass


def chat(idle_minutes: int) -> dict[str, Any]:
    return {
        "messageType": "webmessaging",
        "queueId": QUEUE,
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": f"{idle_minutes}m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "90m", "endedAgo": "80m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{idle_minutes + 1}m"}]},
        ],
    }


def ended(emulator: Any, cid: str) -> bool:
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    return all(
        str((p.get("messages") or [p])[0].get("state", "")).lower() == "disconnected"
        for p in view["participants"]
    )


@contextlib.asynccontextmanager
async def watching(
    emulator: Any, ledger: Ledger, settings: Settings, lines: list[DecisionLine], hooks: Counting
) -> AsyncIterator[Watch]:
    """A watch over the emulator, once its socket is open and its first reconciliation done; stopped
    (and awaited) on leaving. The caller's waits run under the same 20 s bound."""
    async with GenesysApi.connect(resolve(None, emulator.base_url), "emulator", "emulator-secret") as api:
        events = GenesysEvents(api, heartbeat_timeout=2.0, clock_sync=0.5)
        platform = GenesysPlatform(api)
        watch = Watch(platform, ledger, events, settings, apply=True, on_line=lines.append, hooks=hooks)
        running = asyncio.create_task(watch.run())
        async with asyncio.timeout(20):
            while not (hooks.opens and lines):  # the socket open, the first reconciliation done
                await asyncio.sleep(0.05)
            yield watch
        watch.stop()
        await running


def test_a_watch_built_by_hand_closes_on_its_timer_and_journals_it(emulator: Any, tmp_path: Path) -> None:
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)
    idle_soon = emulator.create_conversation(chat(25))["id"]
    lines: list[DecisionLine] = []
    hooks = Counting()
    settings = parse_settings(f'[sweep]\nledger = "sqlite:///{tmp_path}/l.db"\nverify_timeout = "5s"\n')
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> None:
        async with watching(emulator, ledger, settings, lines, hooks):
            assert [line.decision for line in lines] == ["skip"]  # 25 minutes idle: not yet
            await asyncio.to_thread(emulator.advance, 6 * 60)  # 31 minutes: the timer fires
            while not any(line.decision == "close" and line.outcome == "done" for line in lines):
                await asyncio.sleep(0.05)

    asyncio.run(main())
    try:
        assert ended(emulator, idle_soon)
        assert hooks.opens == [False] and hooks.rejected == {} and hooks.events >= 1
        closes = [line for line in lines if line.decision == "close"]
        assert [(line.rule, line.outcome) for line in closes] == [("idle", "done")]
        with ledger.engine.connect() as connection:
            journalled = connection.execute(select(decisions.c.decision, decisions.c.outcome)).all()
            rows = connection.execute(select(sweeps.c.id, sweeps.c.finished_at)).all()
        assert ("close", "done") in journalled
        assert len(rows) >= 2 and all(finished is not None for _, finished in rows)  # the window too
    finally:
        ledger.close()


def test_a_re_check_that_loses_the_ledger_is_looked_at_again_and_closes(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the week's soak: PostgreSQL restarted under the ledger while timers fired, and each
    re-check's task died with the driver's error ("Task exception was never retrieved", a traceback
    apiece) and its timer with it, so nothing looked at those conversations again until the next
    reconciliation. One conversation's trouble: said in one line, looked at again in a minute."""
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)
    idle_soon = emulator.create_conversation(chat(25))["id"]
    lines: list[DecisionLine] = []
    hooks = Counting()
    settings = parse_settings(
        f'[sweep]\nledger = "sqlite:///{tmp_path}/l.db"\nverify_timeout = "5s"\n'
        '[events]\nreconcile_interval = "6h"\n'  # no reconciliation comes to the rescue
    )
    ledger = Ledger.open(settings.sweep.ledger)
    pending_steps = ledger.pending_steps
    lost: list[str] = []

    def ledger_restarting(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("conversation_id") and not lost:  # the timer's re-check: the server goes away
            lost.append(kwargs["conversation_id"])
            raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
        return pending_steps(*args, **kwargs)

    ledger.pending_steps = ledger_restarting  # type: ignore[method-assign]
    unretrieved: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: unretrieved.append(context))
        async with watching(emulator, ledger, settings, lines, hooks):
            await asyncio.to_thread(emulator.advance, 6 * 60)  # the timer fires: the ledger is lost
            while not lost:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(emulator.advance, 61)  # a minute on: looked at again
            while not any(line.decision == "close" and line.outcome == "done" for line in lines):
                await asyncio.sleep(0.05)

    asyncio.run(main())
    try:
        assert lost == [idle_soon]
        assert ended(emulator, idle_soon)
        assert unretrieved == []
    finally:
        ledger.close()
