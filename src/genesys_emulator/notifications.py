"""The Notifications API's state: channels, their topics, the events waiting to be sent, socket faults.

Plain data under the world's lock; `sockets.py` moves the bytes. A channel belongs to the OAuth client
that created it, lives 24 h on the virtual clock (a subscription extends it), holds at most 1,000
topics, and a client keeps at most 20 (a 21st removes the oldest unused one, channels without a socket
first). Events are kept only while a socket subscribed to their topic is connected, until the virtual
clock reaches their due time (the change's time plus the conversation's propagation delay): nothing is
ever buffered for a channel without a socket, so nothing is replayed.
"""

from __future__ import annotations

import heapq
import itertools
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from genesys_emulator import assumptions as A
from genesys_emulator.clock import iso
from genesys_emulator.errors import PlatformError, bad_request, not_found

CHANNEL_LIFETIME = timedelta(hours=24)
MAX_CHANNELS_PER_CLIENT = 20
MAX_TOPICS_PER_CHANNEL = 1000
DEFAULT_HEARTBEAT_SECONDS = 30.0
DEFAULT_SEND_QUEUE_LIMIT = 10_000  # frames waiting for one socket; beyond, it is closed [MODEL]
DEFAULT_CLOSE_AFTER_SECONDS = 1.0  # socket_closing -> close, for the admin fault
EXPIRED_CLOSE_AFTER_SECONDS = 2.0  # socket_closing -> close, for an expired or removed channel [MODEL]
QUEUE_VIEW = A.QUEUE_VIEW_PERMISSION
QUEUE_TOPIC = re.compile(r"^v2\.routing\.queues\.([A-Za-z0-9_-]+)\.conversations\.messages$")
USER_TOPIC = re.compile(r"^v2\.users\.([A-Za-z0-9_-]+)\.conversations\.messages$")
FAULT_TYPES = ("disconnect", "socket_closing", "silence", "drop", "delay")
SUBSCRIBED = "/api/v2/notifications/channels/{}/subscriptions"


def queue_topic(queue_id: str) -> str:
    return f"v2.routing.queues.{queue_id}.conversations.messages"


@dataclass(slots=True)
class Channel:
    id: str
    client_id: str
    expires: datetime
    last_used: datetime
    topics: dict[str, None] = field(default_factory=dict)  # permitted topics, in subscription order
    connected: bool = False
    events_sent: int = 0
    events_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clientId": self.client_id,
            "expires": iso(self.expires),
            "connected": self.connected,
            "topics": list(self.topics),
            "eventsSent": self.events_sent,
            "eventsDropped": self.events_dropped,
        }


@dataclass(slots=True)
class SocketFault:
    """A standing fault on matching sockets: `silence` until cleared, `drop`/`delay` for `times` events."""

    type: str
    channel_id: str | None = None
    client_id: str | None = None
    times: int = 1
    delay_seconds: float = 0.0

    def matches(self, channel: Channel) -> bool:
        return (self.channel_id is None or self.channel_id == channel.id) and (
            self.client_id is None or self.client_id == channel.client_id
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "channelId": self.channel_id,
            "clientId": self.client_id,
            "times": self.times,
            "delaySeconds": self.delay_seconds,
        }


class Notifications:
    """Channels, subscriptions and pending events of one world. Callers hold the world's lock."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.subscribers: dict[str, set[str]] = {}  # topic -> channel ids
        self.connected = 0  # channels with a socket: no socket anywhere, no event is ever built
        self.pending: list[tuple[datetime, int, str, str]] = []  # (due, seq, topic, frame)
        self._seq = itertools.count()
        self.heartbeat_seconds = DEFAULT_HEARTBEAT_SECONDS
        self.send_queue_limit = DEFAULT_SEND_QUEUE_LIMIT
        self.faults: list[SocketFault] = []

    # --- channels -----------------------------------------------------------------------------------

    def create(self, client_id: str, now: datetime) -> Channel:
        self.purge(now)
        own = [c for c in self.channels.values() if c.client_id == client_id]
        if len(own) >= MAX_CHANNELS_PER_CLIENT:
            # the oldest last use goes first, and a channel without a socket before any with one
            victim = min(own, key=lambda c: (c.connected, c.last_used))
            self.remove(victim.id)
        channel = Channel(f"streaming-0-{uuid.uuid4().hex}", client_id, now + CHANNEL_LIFETIME, now)
        self.channels[channel.id] = channel
        return channel

    def live(self, channel_id: str, now: datetime) -> Channel | None:
        channel = self.channels.get(channel_id)
        return channel if channel is not None and channel.expires > now else None

    def owned(self, channel_id: str, client_id: str, now: datetime) -> Channel:
        """The client's own live channel; 404 for an unknown, expired or other client's channel."""
        channel = self.live(channel_id, now)
        if channel is None or channel.client_id != client_id:
            raise not_found("channel")
        return channel

    def remove(self, channel_id: str) -> None:
        channel = self.channels.pop(channel_id, None)
        if channel is not None:
            self._drop_topics(channel, list(channel.topics))
            self.set_connected(channel, False)

    def set_connected(self, channel: Channel, connected: bool) -> None:
        if channel.connected != connected:
            self.connected += 1 if connected else -1
            channel.connected = connected

    def purge(self, now: datetime) -> None:
        for channel_id in [c.id for c in self.channels.values() if c.expires <= now]:
            self.remove(channel_id)

    # --- subscriptions ------------------------------------------------------------------------------

    def subscribe(
        self,
        channel: Channel,
        topics: list[str],
        allows: Callable[[str], bool],
        now: datetime,
        *,
        replace: bool = False,
    ) -> list[dict[str, Any]]:
        """Add (or replace with) `topics`; returns the listing's entries for them. 400 over the limit."""
        entries = [self._judge(channel, topic, allows) for topic in dict.fromkeys(topics)]
        permitted = [e["id"] for e in entries if e["state"] == "Permitted"]
        kept = [] if replace else [t for t in channel.topics if t not in permitted]
        if len(kept) + len(permitted) > MAX_TOPICS_PER_CHANNEL:
            raise PlatformError(
                400,
                "notification.channel.topic.limit.exceeded",
                f"A channel can hold at most {MAX_TOPICS_PER_CHANNEL} topics; this request would make it "
                f"{len(kept) + len(permitted)}.",
                {"limit": str(MAX_TOPICS_PER_CHANNEL)},
            )
        if replace:
            self._drop_topics(channel, [t for t in channel.topics if t not in permitted])
        for topic in permitted:
            channel.topics[topic] = None
            self.subscribers.setdefault(topic, set()).add(channel.id)
        channel.expires = now + CHANNEL_LIFETIME
        channel.last_used = now
        return entries

    def unsubscribe_all(self, channel: Channel) -> None:
        self._drop_topics(channel, list(channel.topics))

    def _drop_topics(self, channel: Channel, topics: Iterable[str]) -> None:
        for topic in topics:
            channel.topics.pop(topic, None)
            watchers = self.subscribers.get(topic)
            if watchers is not None:
                watchers.discard(channel.id)
                if not watchers:
                    del self.subscribers[topic]

    def listing(self, channel: Channel) -> dict[str, Any]:
        return {"entities": [self._entry(channel, t, "Permitted") for t in channel.topics]}

    def _entry(
        self,
        channel: Channel,
        topic: str,
        state: str,
        reason: str | None = None,
        missing: list[str] | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": topic, "state": state, "selfUri": SUBSCRIBED.format(channel.id)}
        if reason is not None:
            entry["rejectionReason"] = reason
        if missing:
            entry["missingPermissions"] = missing
        return entry

    def _judge(self, channel: Channel, topic: str, allows: Callable[[str], bool]) -> dict[str, Any]:
        # [MODEL] which topics a client-credentials client may watch is undocumented: queue topics with
        # the queue's view permission, user topics never (they need a user), anything else is unknown
        if QUEUE_TOPIC.match(topic):
            if allows(QUEUE_VIEW):
                return self._entry(channel, topic, "Permitted")
            return self._entry(
                channel, topic, "Rejected", f"Missing permission {QUEUE_VIEW} for this topic.", [QUEUE_VIEW]
            )
        if USER_TOPIC.match(topic):
            return self._entry(
                channel,
                topic,
                "Rejected",
                "This topic requires a user (requiresCurrentUser): a client-credentials token has none.",
            )
        return self._entry(channel, topic, "Rejected", f"Unknown topic {topic!r}.")

    # --- events ---------------------------------------------------------------------------------------

    def watched(self, topics: Iterable[str]) -> list[str]:
        """Those of `topics` some connected channel subscribes to."""
        found = []
        for topic in topics:
            watchers = self.subscribers.get(topic)
            if watchers and any(self.channels[c].connected for c in watchers):
                found.append(topic)
        return found

    def enqueue(self, due: datetime, topic: str, frame: str) -> None:
        heapq.heappush(self.pending, (due, next(self._seq), topic, frame))

    def take_due(self, now: datetime) -> list[tuple[str, str]]:
        """The events due by `now`, in due order, as (topic, frame)."""
        due = []
        while self.pending and self.pending[0][0] <= now:
            _, _, topic, frame = heapq.heappop(self.pending)
            due.append((topic, frame))
        return due

    # --- faults ---------------------------------------------------------------------------------------

    def add_fault(self, body: dict[str, Any]) -> SocketFault:
        kind = body.get("type")
        if kind not in FAULT_TYPES:
            raise bad_request(f"type must be one of {list(FAULT_TYPES)}, not {kind!r}")
        unknown = set(body) - {"type", "channelId", "clientId", "times", "delaySeconds", "closeAfterSeconds"}
        if unknown:
            raise bad_request(f"unknown field(s) {sorted(unknown)}")
        for name in ("channelId", "clientId"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise bad_request(f"{name} must be a string")
        times = body.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1_000_000:
            raise bad_request(f"times must be an integer from 1 to 1000000, not {times!r}")
        for name in ("delaySeconds", "closeAfterSeconds"):
            value = body.get(name, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 3600:
                raise bad_request(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")
        return SocketFault(
            kind, body.get("channelId"), body.get("clientId"), times, float(body.get("delaySeconds", 0))
        )

    def fault_for(self, channel: Channel, kind: str, *, take: bool = True) -> SocketFault | None:
        """The first standing fault of `kind` on the channel; `take` counts one event against it."""
        for fault in self.faults:
            if fault.type == kind and fault.matches(channel):
                if take and kind != "silence":
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "heartbeatSeconds": self.heartbeat_seconds,
            "sendQueueLimit": self.send_queue_limit,
            "channels": [c.to_json() for c in self.channels.values()],
            "faults": [f.to_json() for f in self.faults],
        }
