"""One WebSocket to a notification channel's `connectUri`, until it ends, and why it ended.

The platform sends a heartbeat about every 30 s and answers `{"message":"ping"}` with a pong [SDK Java
sendPing]; a socket that shows no frame at all for `heartbeat_timeout` is dead, even when its TCP
connection looks open (so application pings, not protocol pings: a frozen server still answers
those). `v2.system.socket_closing` means the platform is about to close it: the caller reconnects now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

log = logging.getLogger("session_reaper.genesys")

SOCKET_CLOSING = "v2.system.socket_closing"
METADATA = "channel.metadata"
_GONE_CODES = frozenset({4004, 4001})  # the channel is unknown or expired: create a new one [MODEL]
MAX_FRAME = 8 * 1024 * 1024  # a conversation with many participants and messages is large, not unbounded


@dataclass(frozen=True, slots=True)
class Ended:
    """How a socket ended: `opened` (it was connected at all), `gone` (the channel no longer exists:
    create another), `closing` (the platform said so: reconnect at once), and a reason for the log."""

    reason: str
    opened: bool
    gone: bool = False
    closing: bool = False


Frame = Mapping[str, Any]


async def listen(
    uri: str,
    *,
    heartbeat_timeout: float,
    on_open: Callable[[Any], None],
    on_frame: Callable[[Frame], None],
    open_timeout: float = 10.0,
) -> Ended:
    """Connect, hand every frame but the metadata ones to `on_frame`, and return once the socket ends."""
    try:
        socket = await connect(
            uri, open_timeout=open_timeout, ping_interval=None, close_timeout=1.0, max_size=MAX_FRAME
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        return Ended(f"connection refused with HTTP {status}", False, gone=status in (403, 404, 410))
    except (OSError, TimeoutError, WebSocketException) as exc:
        return Ended(f"cannot connect: {type(exc).__name__}: {exc}", False)
    pinger: asyncio.Task[None] | None = None
    try:
        on_open(socket)
        pinger = asyncio.create_task(_ping(socket, max(0.05, heartbeat_timeout / 3)))
        while True:
            try:
                # `timeout`, not `wait_for`: on Python 3.11 a cancel arriving as the receive completes
                # (a frame already buffered) is lost, `wait_for` returning the frame instead, and the
                # socket listens on after its keeper was told to stop [cpython gh-86296]
                async with asyncio.timeout(heartbeat_timeout):
                    raw = await socket.recv()
            except TimeoutError:
                return Ended(f"dead: no frame for {heartbeat_timeout:g}s", True)
            frame = _parse(raw)
            if frame is None:
                on_frame({"topicName": "", "unreadable": True})
                continue
            topic = frame.get("topicName")
            if topic == SOCKET_CLOSING:
                return Ended(
                    "the platform announced it closes the socket (socket_closing)", True, closing=True
                )
            if topic == METADATA or "result" in frame:
                continue  # heartbeat, pong, or the answer to a subscribe over the socket
            on_frame(frame)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
        return Ended(f"closed by the platform (code {code})", True, gone=code in _GONE_CODES)
    finally:
        if pinger is not None:
            pinger.cancel()
            # `wait`, not `await pinger` under suppress(CancelledError): a cancel of this task arriving
            # here must go on up, or the channel's keeper reconnects forever and its host never stops
            await asyncio.wait([pinger])
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):  # `timeout`, not `wait_for`: see the receive
                await socket.close()


async def _ping(socket: Any, every: float) -> None:
    """`{"message":"ping"}` every `every` seconds: an open socket always shows a frame (the pong)."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.sleep(every)
            await socket.send(json.dumps({"message": "ping"}))


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    # orjson: every event is a frame of ~2 KB, and the standard decoder was ~9 % of `serve`'s loop
    # thread in the events mode (py-spy, 2,500 open chats at 120x); orjson reads the same JSON ~4x faster
    try:
        frame = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return None
    return frame if isinstance(frame, dict) else None
