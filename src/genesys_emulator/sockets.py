"""The Notifications WebSocket at a channel's `connectUri`, and the pump that feeds every socket.

One socket per channel (a second connection closes the first). A pump on the server's event loop runs
every few milliseconds while any socket is open: it applies the world's timers (so the inactivity timer
fires without a request), sends every event whose due time the virtual clock has reached, in due
order (a clock jump delivers all of them at once, oldest first), sends heartbeats every
`heartbeatSeconds` wall seconds, and closes the sockets of channels that expired or were removed.

Each socket has a bounded send queue and its own sender task: a client too slow to keep up loses the
event that overflows its queue (counted as dropped) and its socket, so that it knows it has a gap,
rather than slowing the pump or the API; requests never wait for a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.websockets import WebSocket

from genesys_emulator import events
from genesys_emulator.errors import PlatformError
from genesys_emulator.notifications import EXPIRED_CLOSE_AFTER_SECONDS, Channel, Notifications
from genesys_emulator.state import World

logger = logging.getLogger(__name__)
PUMP_SECONDS = 0.02
CLOSE_UNKNOWN_CHANNEL = 4004
CLOSE_NORMAL = 1000
CLOSE_DROPPED = 1011
CLOSE_TRY_AGAIN = 1013


class Connection:
    """One open socket: its channel, its send queue and the task that drains it."""

    def __init__(
        self, hub: SocketHub, websocket: WebSocket, channel: Channel, started: float, limit: int
    ) -> None:
        self.hub = hub
        self.websocket = websocket
        self.channel = channel
        self.queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue(limit)
        self.last_heartbeat = started
        self.closing = False
        self.doomed = False  # told socket_closing, closes soon
        self.overflowed = False  # its queue overflowed: it is being closed, nothing more for it
        self.sender = asyncio.create_task(self._send_loop())

    def offer(self, frame: str, is_event: bool = False) -> bool:
        try:
            self.queue.put_nowait((frame, is_event))
        except asyncio.QueueFull:
            return False
        return True

    async def _send_loop(self) -> None:
        notifications = self.hub.world.notifications
        lock = self.hub.world.lock
        while True:
            frame, is_event = await self.queue.get()
            if notifications.faults:  # the common case, no fault anywhere, takes no lock
                with lock:
                    delay = notifications.fault_for(self.channel, "delay") if is_event else None
                if delay is not None:
                    await asyncio.sleep(delay.delay_seconds)
                with lock:
                    silenced = notifications.fault_for(self.channel, "silence", take=False) is not None
                    if silenced and is_event:
                        self.channel.events_dropped += 1
                if silenced:
                    continue
            try:
                await self.websocket.send_text(frame)
            except Exception:  # the client went away: the receive side cleans up
                return
            if is_event:
                self.channel.events_sent += 1  # only this event loop writes it
            # Neither a non-empty queue nor the send suspends: without a yield a full queue would go
            # out in one loop turn, into a socket whose peer is gone before the loop can say so (one
            # "socket.send() raised exception." per frame, 10,000 at a time), with the API waiting.
            await asyncio.sleep(0)

    async def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.sender.cancel()
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)


class SocketHub:
    """The open sockets of one emulator, by channel id, and the pump that feeds them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.connections: dict[str, Connection] = {}
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def notifications(self) -> Notifications:
        return self.world.notifications

    # --- one socket ---------------------------------------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        channel_id = str(websocket.path_params["channel_id"])
        world = self.world
        with world.lock:
            now = world.clock.now()
            channel = self.notifications.live(channel_id, now)
            if channel is not None:
                # connected from the handshake on: a channel the client is opening is never the
                # "unused" one a 21st channel evicts
                self.notifications.set_connected(channel, True)
                channel.last_used = now
        try:
            await websocket.accept()
        except Exception:
            self._unmark(channel_id, channel)
            return
        if channel is None:
            await websocket.close(CLOSE_UNKNOWN_CHANNEL, "No such channel: unknown, expired or removed.")
            return
        loop = asyncio.get_running_loop()
        previous = self.connections.pop(channel_id, None)
        if previous is not None:  # one connection per channel: the newest wins
            await previous.close(CLOSE_NORMAL, "Another connection took over this channel.")
        conn = Connection(self, websocket, channel, loop.time(), self.notifications.send_queue_limit)
        self.connections[channel_id] = conn
        self._start_pump()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                if text:
                    self._handle(conn, text)
        except Exception:  # a broken socket ends like a closed one
            pass
        finally:
            conn.closing = True
            conn.sender.cancel()
            if self.connections.get(channel_id) is conn:
                del self.connections[channel_id]
                self._unmark(channel_id, channel)

    def _unmark(self, channel_id: str, channel: Channel | None) -> None:
        """The channel has no socket any more (unless a newer connection holds it, or it is gone)."""
        with self.world.lock:
            if (
                channel is not None
                and channel_id not in self.connections
                and self.notifications.channels.get(channel_id) is channel
            ):
                self.notifications.set_connected(channel, False)

    def _handle(self, conn: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return  # the platform ignores what it does not understand [MODEL]
        if not isinstance(message, dict):
            return
        kind = message.get("message")
        if kind == "ping":
            with self.world.lock:
                silenced = self.notifications.fault_for(conn.channel, "silence", take=False)
            if silenced is None:
                conn.offer(events.PONG)
        elif kind == "subscribe":
            conn.offer(self._subscribe(conn, message))

    def _subscribe(self, conn: Connection, message: dict[str, Any]) -> str:
        correlation = message.get("correlationId")
        raw = message.get("topics")
        if not isinstance(raw, list):
            return events.subscribe_result("400", correlation, "'topics' must be a list of topic names.")
        topics = [t.get("id") if isinstance(t, dict) else t for t in raw]
        names = [t for t in topics if isinstance(t, str) and t]
        if len(names) != len(topics):
            return events.subscribe_result("400", correlation, "Each topic must be a topic name.")
        world = self.world
        with world.lock:
            now = world.clock.now()
            channel = self.notifications.live(conn.channel.id, now)
            if channel is not conn.channel or self.connections.get(channel.id) is not conn:
                return events.subscribe_result(
                    "404", correlation, "The channel has expired or was replaced: create a new one."
                )
            client = world.registry.clients.get(channel.client_id)
            try:
                self.notifications.subscribe(
                    channel, names, client.allows if client else (lambda _: False), now
                )
            except PlatformError as error:
                return events.subscribe_result(str(error.status), correlation, error.message)
        return events.subscribe_result("200", correlation)

    # --- the pump -----------------------------------------------------------------------------------

    def _start_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        while True:
            await asyncio.sleep(PUMP_SECONDS)
            if self.connections:
                try:
                    self.pump_once()
                except Exception:  # one bad round must not silence every socket for good
                    logger.exception("the notifications pump failed a round")

    def pump_once(self) -> None:
        world, loop_now = self.world, asyncio.get_running_loop().time()
        gone: list[Connection] = []
        overflowed: list[Connection] = []
        with world.lock:
            now = world.tick()
            notifications = self.notifications
            notifications.purge(now)
            for channel_id, conn in self.connections.items():
                if notifications.channels.get(channel_id) is not conn.channel:
                    if not conn.doomed:
                        gone.append(conn)  # expired or evicted (a reset closes its sockets itself)
                elif loop_now - conn.last_heartbeat >= notifications.heartbeat_seconds:
                    conn.last_heartbeat = loop_now
                    if notifications.fault_for(conn.channel, "silence", take=False) is None:
                        conn.offer(events.HEARTBEAT)
            for topic, frame in notifications.take_due(now):
                for channel_id in notifications.subscribers.get(topic, ()):
                    target = self.connections.get(channel_id)
                    if target is None or target.closing or target.overflowed:
                        continue  # never buffered for a channel without a socket
                    if notifications.fault_for(target.channel, "drop") is not None:
                        target.channel.events_dropped += 1
                    elif not target.offer(frame, is_event=True):
                        # a client too slow to keep up: it loses the event and its socket, so that
                        # it knows it has a gap to fill [MODEL]
                        target.channel.events_dropped += 1
                        target.overflowed = True
                        overflowed.append(target)
        for conn in overflowed:
            self._spawn(conn.close(CLOSE_TRY_AGAIN, "The client did not keep up with its events."))
        for conn in gone:
            # the platform says socket_closing before an intentional close; meanwhile a subscribe
            # over the socket is answered 404 (the channel is gone)
            conn.doomed = True
            conn.offer(events.socket_closing("The channel has expired or was removed."))
            self._spawn(self._close_later(conn, EXPIRED_CLOSE_AFTER_SECONDS))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- faults (admin) ------------------------------------------------------------------------------

    def matching(self, channel_id: str | None, client_id: str | None) -> list[Connection]:
        return [
            conn
            for conn in self.connections.values()
            if (channel_id is None or conn.channel.id == channel_id)
            and (client_id is None or conn.channel.client_id == client_id)
        ]

    async def disconnect(self, channel_id: str | None, client_id: str | None) -> int:
        """Drop the matching sockets now, without a word."""
        found = self.matching(channel_id, client_id)
        for conn in found:
            await conn.close(CLOSE_DROPPED, "Dropped by an injected fault.")
        return len(found)

    async def close_all(self, reason: str) -> None:
        for conn in list(self.connections.values()):
            await conn.close(CLOSE_NORMAL, reason)

    def socket_closing(self, channel_id: str | None, client_id: str | None, close_after: float) -> int:
        """Say `v2.system.socket_closing` on the matching sockets, then close them `close_after` later."""
        found = self.matching(channel_id, client_id)
        for conn in found:
            conn.doomed = True
            conn.offer(events.socket_closing())
            self._spawn(self._close_later(conn, close_after))
        return len(found)

    async def _close_later(self, conn: Connection, seconds: float) -> None:
        await asyncio.sleep(seconds)
        # let what was queued before (the socket_closing warning) go out first, for a moment at most
        for _ in range(50):
            if conn.queue.empty() or conn.sender.done():
                break
            await asyncio.sleep(0.01)
        await conn.close(CLOSE_NORMAL, "The platform closed the socket.")


async def channel_socket(websocket: WebSocket) -> None:
    """The WebSocket route at `/channels/{channel_id}` (a channel's connectUri)."""
    hub: SocketHub = websocket.app.state.sockets
    await hub.serve(websocket)
