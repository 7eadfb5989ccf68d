"""The demo's events act: `serve` in events mode, and a live close seconds after a threshold.

The same `Service` as `serve` with `[sweep] mode = "events"` (its Notifications channel, socket, picture
and timers, its reconciliation sweep at start), on the demo's emulator and ledger. Once it listens, a
guest and an agent in a queue go quiet just short of the idle threshold; the emulator's clock runs at
real speed, so the threshold passes a few real seconds later, with no clock jump and no sweep: the
conversation is closed by the timer the events armed, re-checked with one read. Every figure printed
is measured here, from the emulator's own state and request log, not from the reaper's word.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from session_reaper.commands.demo.recording import credentials, demo_settings
from session_reaper.commands.runtime import open_runtime
from session_reaper.commands.serve.service import Service
from session_reaper.core.schedule import format_span
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from genesys_emulator.state import World

QUEUE = "queue-support"  # one without the platform's own inactivity timer
LEAD = timedelta(seconds=6)  # the guest goes quiet this long short of the threshold
WAIT = 60.0  # real seconds the act waits for each thing it shows before it gives up


@dataclass(frozen=True, slots=True)
class EventsShow:
    conversation_id: str
    eligible_at: datetime  # platform time the idle threshold passed
    closed_after: float | None  # platform seconds from the threshold to the end on the platform
    requests: int  # platform requests about that conversation, all of them
    other_reads: int  # reads of any other conversation while it was being watched
    watched: int  # unended conversations in scope while listening


async def _until(condition: object, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


def _listening(world: World) -> bool:
    with world.lock:
        return any(channel.connected and channel.topics for channel in world.notifications.channels.values())


def _reads(world: World, conversation_id: str) -> tuple[int, int]:
    """(requests about `conversation_id`, reads of other conversations) in the log since the act began."""
    with world.lock:
        entries = list(world.requests)
    mine = sum(1 for e in entries if conversation_id in e["path"])
    others = sum(
        1
        for e in entries
        if e["method"] == "GET"
        and e["path"].startswith("/api/v2/conversations/")
        and conversation_id not in e["path"]
    )
    return mine, others


async def events_act(
    console: Console, world: World, base_url: str, ledger: Ledger, ledger_url: str
) -> EventsShow:
    settings = demo_settings(
        ledger_url,
        sweep={"apply": True, "mode": "events"},
        events={"clock_sync": "1s", "heartbeat_timeout": "20s"},
    )
    after = settings.rules.idle.after
    console.rule("[bold]4. Events mode: a close seconds after the threshold")
    async with open_runtime(settings, environ=credentials(base_url), ledger=ledger) as runtime:
        service = Service(runtime, Metrics(), apply=True)
        serving = asyncio.create_task(service.run(), name="demo-events")
        try:
            if not await _until(lambda: _listening(world) and service.passes >= 1):
                raise RuntimeError("events mode did not start listening within a minute")
            with world.lock:
                watched = len(world.open_ids)
                world.requests.clear()  # the day's figures are the ledger's: the log counts this act alone
                quiet = after - LEAD
                conv = world.create_conversation(
                    {
                        "messageType": "webmessaging",
                        "queueId": QUEUE,
                        "participants": [
                            {
                                "purpose": "customer",
                                "state": "connected",
                                "messages": [{"ago": f"{int(quiet.total_seconds()) + 60}s"}],
                            },
                            {
                                "purpose": "acd",
                                "state": "disconnected",
                                "queueId": QUEUE,
                                "startedAgo": f"{int(quiet.total_seconds()) + 90}s",
                                "endedAgo": f"{int(quiet.total_seconds()) + 60}s",
                            },
                            {
                                "purpose": "agent",
                                "state": "connected",
                                "queueId": QUEUE,
                                "messages": [{"ago": f"{int(quiet.total_seconds())}s"}],
                            },
                        ],
                    }
                )
                eligible_at = world.clock.now() + LEAD
            console.print(
                f'serve listens ([bold]mode = "events"[/]: a Notifications channel, one topic per queue, '
                f"a timer per conversation). {watched} conversations are open. A guest in {QUEUE} and the "
                f"agent went quiet {format_span(quiet)} ago: idle passes its {format_span(after)} in "
                f"{LEAD.total_seconds():.0f} s.",
                markup=True,
                highlight=False,
            )
            ended = await _until(lambda: conv.id not in world.open_ids)
            with world.lock:
                closed_after = (world.clock.now() - eligible_at).total_seconds() if ended else None
        finally:
            service.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(30):  # not wait_for: gh-86296
                    await serving
    mine, others = _reads(world, conv.id)
    show = EventsShow(conv.id, eligible_at, closed_after, mine, others, watched)
    if closed_after is None:
        console.print(f"[red]It was not closed within {WAIT:.0f} s of the threshold.[/]")
    else:
        console.print(
            f"Closed [bold]{closed_after:.1f} s[/] after the threshold passed, with {mine} platform requests "
            f"for it (the re-check read included), no sweep, no poll. The other {watched} open conversations "
            f"were read {others} times meanwhile: their events showed nothing to do.",
            markup=True,
            highlight=False,
        )
    return show
