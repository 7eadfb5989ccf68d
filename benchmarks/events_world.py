"""The reaper in events mode (`engine.watch.Watch` over the real Notifications socket) on the stepped clock.

Polling hands over at its pacer or its next sweep (`AsyncBatonSleep`); a watch waits on many things at
once (its timers, the socket, the clock check, the next reconciliation), so here the whole asyncio loop
runs on the world's virtual clock instead:

- `VirtualLoop.time()` is the world's clock, so every `asyncio.sleep`, `wait_for` and timer of the watch,
  the socket's heartbeat timeout, the pacer and httpx's timeouts count virtual seconds.
- Its selector never blocks for real while the reaper waits on a timer: once nothing is runnable and
  nothing is in transit (`InTransit`: no HTTP request on the wire, no socket handshake under way, no
  event due on the emulator's side that the reaper has not read yet), it hands the time it waits for to
  the driver through the `Baton` (to the millisecond) and the driver plays the world up to then.
- Everything else is real: HTTP and the WebSocket over loopback to the emulator, its pump, the event
  bodies it builds. The benchmark only counts (it wraps `to_signal` and `connect`, changing nothing).

The driver moves the clock in steps as fine as the watch asks (its timer loop ticks every 0.25 s) but
plays guests and agents only on the 10-second grid all worlds share (`GridHands`), so the traffic stays
identical to the other worlds'.
"""

from __future__ import annotations

import asyncio
import math
import re
import selectors
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from benchmarks.common import Baton, CountingTransport, WatchedHands
from genesys_emulator.state import World
from session_reaper.config import Settings
from session_reaper.core.results import DecisionLine
from session_reaper.engine.watch import Watch
from session_reaper.genesys import events as events_module
from session_reaper.genesys import socket as socket_module
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.events import GenesysEvents
from session_reaper.genesys.http import PlatformHttp
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger

STUCK_SECONDS = 3.0  # wall seconds something may stay in transit before time moves on regardless
HTTP_STUCK_SECONDS = 60.0  # a request is always answered (a big analytics page can take seconds here)


class InTransit:
    """Whether anything the reaper must see before time moves is still on its way."""

    def __init__(self, world: World, hub: Any, transport: CountingTransport) -> None:
        self.world, self.hub, self.transport = world, hub, transport
        self.events: GenesysEvents | None = None
        self.connecting = 0
        self.frames = 0  # event frames the reaper took in (to_signal calls)
        self.sent: dict[str, int] = {}  # the emulator's events_sent per channel, highest seen
        self.forgiven = 0
        self.lost = 0
        self.stuck: Counter[str] = Counter()  # hand-overs made although something was still in transit
        self._stuck_since: float | None = None

    def install(self) -> InTransit:
        to_signal, connect = events_module.to_signal, socket_module.connect

        def counting_to_signal(*args: Any, **kwargs: Any) -> Any:
            self.frames += 1
            return to_signal(*args, **kwargs)

        async def counting_connect(*args: Any, **kwargs: Any) -> Any:
            self.connecting += 1
            try:
                return await connect(*args, **kwargs)
            finally:
                self.connecting -= 1

        events_module.to_signal = counting_to_signal  # type: ignore[assignment]
        socket_module.connect = counting_connect  # type: ignore[assignment,misc]
        return self

    def busy(self) -> bool:
        reason = self._reason()
        if reason is None:
            self._stuck_since = None
            return False
        now = time.monotonic()
        if self._stuck_since is None:
            self._stuck_since = now
            return True
        if now - self._stuck_since <= (HTTP_STUCK_SECONDS if reason == "http" else STUCK_SECONDS):
            return True
        # Stuck: a frame sent into a socket dropped meanwhile, or a wait that needs time to pass (a close
        # handshake's timeout). Let time move on, and say how often it happened.
        self.stuck[reason] += 1
        self._stuck_since = None
        if reason == "frames":
            missing = sum(self.sent.values()) - self.forgiven - self.frames
            self.lost += missing
            self.forgiven += missing
        return False

    def _reason(self) -> str | None:
        if self.transport.in_flight:
            return "http"
        if self.connecting:
            return "connecting"
        notifications = self.world.notifications
        pending = notifications.pending
        if pending and pending[0][0] <= self.world.clock.now():
            return "due"  # the emulator's pump sends it within a few milliseconds
        for conn in list(self.hub.connections.values()):
            if conn.queue.qsize():
                return "queued"
        channels = dict(notifications.channels)
        if self.events is not None:
            for mine in self.events._channels:  # open here, not yet registered there: events would be lost
                there = channels.get(mine.id)
                if mine.socket is not None and there is not None and not there.connected:
                    return "registering"
        for cid, channel in channels.items():
            self.sent[cid] = max(self.sent.get(cid, 0), channel.events_sent)
        if sum(self.sent.values()) - self.forgiven - self.frames > 0:
            return "frames"
        return None


class BatonSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Real `select`, except that a wait on a timer becomes a hand-over of virtual time to the driver."""

    def __init__(self, baton: Baton, transit: InTransit) -> None:
        super().__init__()
        self.baton, self.transit = baton, transit
        self.handovers = 0

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout <= 0:
            return super().select(0)
        quiet = 0
        while quiet < 2:  # quiet twice in a row: a frame between the emulator's queue and its counter
            ready = super().select(0)
            if ready:
                return ready
            if self.transit.busy():
                quiet = 0
                ready = super().select(0.002)
                if ready:
                    return ready
                continue
            quiet += 1
            ready = super().select(0.0003)
            if ready:
                return ready
        wait = 3600.0 if timeout is None else timeout
        target = math.ceil((self.baton.now() + wait) * 1000) / 1000  # the world's clock has milliseconds
        self.handovers += 1
        self.baton.wait_until(target)
        return super().select(0)


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, baton: Baton, selector: BatonSelector) -> None:
        super().__init__(selector)
        self._baton = baton
        self._clock_resolution = 0.001

    def time(self) -> float:
        return self._baton.now()


class GridHands(WatchedHands):
    """Guests and agents that move the clock to the shared 10-second grid, even when the driver has
    already moved it part of the way for the watch (the other worlds' `advance` adds the tick)."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.grid: datetime = world.clock.now()

    def advance(self, seconds: float) -> None:
        with self.world.lock:
            self.grid += timedelta(seconds=seconds)
            if self.grid > self.world.clock.now():
                self.world.clock.set(self.grid)  # type: ignore[attr-defined]
            self.world.tick()


def events_settings(base: Settings) -> Settings:
    sweep = base.sweep.model_copy(update={"mode": "events"})
    return base.model_copy(update={"sweep": sweep})


def run_watch(
    baton: Baton,
    base_url: str,
    settings: Settings,
    client: tuple[str, str],
    sweeps: list[dict[str, Any]],
    out: dict[str, Any],
) -> None:
    """The tool thread of the events world: a `Watch` on a `VirtualLoop` until the day is over.

    `out` brings the world and the emulator's socket hub in, and takes the watch's pieces out for the
    figures; `sweeps` gets one entry per reconciliation sweep, as the polling reaper's sweeps.
    """
    transport = CountingTransport()
    transit = InTransit(out["world"], out["hub"], transport).install()
    selector = BatonSelector(baton, transit)
    loop = VirtualLoop(baton, selector)
    lines: Counter[str] = Counter()
    out.update(transit=transit, selector=selector, lines=lines)

    def on_line(line: DecisionLine) -> None:
        lines[f"{line.rule or '-'} {line.decision} {line.outcome.value}"] += 1

    async def main() -> None:
        http = PlatformHttp(
            resolve("us-east-1", base_url, None),
            client_id=client[0],
            client_secret=client[1],
            requests_per_minute=settings.sweep.requests_per_minute,
            transport=transport,
            monotonic=baton.now,
        )
        ledger = Ledger.open(settings.sweep.ledger)
        async with http:
            api = GenesysApi(http)
            out["api"] = api
            await http.authenticate()
            events = GenesysEvents(
                api,
                heartbeat_timeout=settings.events.heartbeat_timeout.total_seconds(),
                clock_sync=settings.events.clock_sync.total_seconds(),
                monotonic=baton.now,
            )
            transit.events = events
            watch = Watch(GenesysPlatform(api), ledger, events, settings, apply=True, on_line=on_line)
            out["watch"] = watch
            plain = watch.run_sweep

            async def recorded(*args: Any) -> object:
                began = baton.now()
                result: Any = await plain(*args)
                s = result.summary
                sweeps.append(
                    {
                        "began": began,
                        "ended": baton.now(),
                        "closed": s.closed,
                        "tornDown": s.torn_down,
                        "scanned": s.scanned,
                        "requests": s.api_requests,
                    }
                )
                return result

            watch.run_sweep = recorded
            await watch.run()

    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
    finally:
        asyncio.set_event_loop(None)


# ------------------------------------------------------------------------------------- what was spent

_CONVERSATION = re.compile(r"^/api/v2/conversations/(?:messages/|chats/|emails/)?([0-9A-Za-z][0-9A-Za-z_-]+)")
_CLOSE_WRITES = (
    re.compile(r"^PATCH /api/v2/conversations/messages/[^/]+/participants/[^/]+$"),
    re.compile(r"^PATCH /api/v2/conversations/messages/[^/]+$"),
    re.compile(r"^POST /api/v2/conversations/[^/]+/disconnect$"),
    re.compile(r"^POST /api/v2/conversations/messages/[^/]+/participants/[^/]+/communications/[^/]+/wrapup$"),
)


def conversation_of(path: str) -> str | None:
    found = _CONVERSATION.match(path)
    if found is None or found.group(1) in ("messages", "chats", "emails"):
        return None
    return found.group(1)


def spent(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests by conversation named in the path, which conversations were written to, double acts."""
    per: Counter[str] = Counter()
    written: set[str] = set()
    closes: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for entry in entries:
        path, method = entry["path"], entry["method"]
        cid = conversation_of(path)
        if cid is None:
            other[f"{method} {re.sub(r'streaming-0-[0-9a-f]+', '{id}', path)}"] += 1
            continue
        per[cid] += 1
        if method in ("PATCH", "POST", "PUT", "DELETE") and entry["status"] < 300:
            written.add(cid)
            key = f"{method} {path}"
            if any(p.match(key) for p in _CLOSE_WRITES):
                closes[key] += 1
    doubles = {k: v for k, v in closes.items() if v > 1}
    return {"per": per, "written": written, "other": other, "doubles": doubles}


def drop_times(seed: int, start: float, end: float, count: int) -> list[float]:
    """`count` moments at random in the day (seeded), none in its first or last ten minutes."""
    import random

    rng = random.Random(seed)
    return sorted(rng.uniform(start + 600, end - 600) for _ in range(count))


def disconnect(base_url: str) -> int:
    """The emulator's socket fault `disconnect`: every socket dropped now, without a word."""
    import httpx

    answer = httpx.post(f"{base_url}/emulator/v1/notifications/faults", json={"type": "disconnect"})
    answer.raise_for_status()
    return int(answer.json().get("sockets", 0))


def topic_visible(world: World, conversation_id: str) -> bool:
    conv = world.conversations.get(conversation_id)
    return conv is not None and any(leg.queue_id for leg in conv.legs)
