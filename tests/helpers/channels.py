"""Notification channels on the emulator for tests: create, subscribe, listen over a real WebSocket.

Frames are read with a timeout (never a sleep): a test waits for what it expects, and fails with what
arrived instead when it does not come.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHANNELS = "/api/v2/notifications/channels"
WAIT = 10.0  # seconds a test waits for a frame it expects before failing


def queue_topic(queue_id: str) -> str:
    return f"v2.routing.queues.{queue_id}.conversations.messages"


def open_channel(platform: httpx.Client, topics: Iterable[str] = ()) -> dict[str, Any]:
    """A new channel of the platform client's OAuth client, subscribed to `topics`."""
    answer = platform.post(CHANNELS)
    assert answer.status_code == 200, answer.text
    channel: dict[str, Any] = answer.json()
    topics = list(topics)
    if topics:
        subscribed = platform.post(
            f"{CHANNELS}/{channel['id']}/subscriptions", json=[{"id": t} for t in topics]
        )
        assert subscribed.status_code == 200, subscribed.text
    return channel


def listen(channel: dict[str, Any]) -> ClientConnection:
    # an unbounded receive queue: a test that stops reading early must still see the close handshake
    # (a full queue stops the client reading its socket, so the server's close frame would wait)
    return connect(channel["connectUri"], open_timeout=WAIT, close_timeout=2, max_queue=None)


def frame(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return value


def is_metadata(value: dict[str, Any]) -> bool:
    return value.get("topicName") == "channel.metadata"


def next_matching(
    ws: ClientConnection, wanted: Callable[[dict[str, Any]], bool], timeout: float = WAIT
) -> dict[str, Any]:
    """The next frame `wanted` accepts; the frames skipped on the way must be heartbeats only."""
    while True:
        value = frame(ws, timeout)
        if wanted(value):
            return value
        assert is_metadata(value), f"an unexpected frame before the one awaited: {value}"


def next_event(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    """The next envelope that is not the channel's own metadata (heartbeats, pongs)."""
    return next_matching(ws, lambda v: not is_metadata(v) and "topicName" in v, timeout)


def participant(body: dict[str, Any], purpose: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in reversed(body["participants"]) if p["purpose"] == purpose)
    return found
