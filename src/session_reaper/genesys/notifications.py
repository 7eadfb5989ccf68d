"""The Notifications API's REST side: channels, their subscriptions, the channel check, available topics.

Paths and JSON as PLATFORM.md "Notifications (push)" gives them [SDK NotificationsApi]. Every call
goes through the usual transport (token, pacing, retries, the Date header that sets the clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from session_reaper.genesys.api import GenesysApi, _decode, _seg
from session_reaper.genesys.errors import MalformedResponse, NotFound
from session_reaper.genesys.mapping import parse_time

_CHANNELS = "/api/v2/notifications/channels"
MAX_TOPICS = 1_000  # per channel; the platform answers 400 beyond [HELP]
QUEUE_TOPIC = "v2.routing.queues.{}.conversations.messages"
QUEUE_TOPIC_PREFIX, QUEUE_TOPIC_SUFFIX = "v2.routing.queues.", ".conversations.messages"


def queue_topic(queue_id: str) -> str:
    return QUEUE_TOPIC.format(queue_id)


def queue_of(topic: str) -> str | None:
    """The queue id of a queue messages topic; None for any other topic."""
    if topic.startswith(QUEUE_TOPIC_PREFIX) and topic.endswith(QUEUE_TOPIC_SUFFIX):
        middle = topic[len(QUEUE_TOPIC_PREFIX) : -len(QUEUE_TOPIC_SUFFIX)]
        return middle or None
    return None


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    connect_uri: str
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class TopicState:
    topic: str
    permitted: bool
    reason: str = ""  # why it was rejected: the platform's rejectionReason and missing permissions


@dataclass(frozen=True, slots=True)
class Subscribed:
    topics: tuple[TopicState, ...] = field(default_factory=tuple)

    @property
    def rejected(self) -> dict[str, str]:
        return {t.topic: t.reason for t in self.topics if not t.permitted}


class NotificationsApi:
    def __init__(self, api: GenesysApi) -> None:
        self.api = api

    async def create_channel(self) -> Channel:
        """``POST /api/v2/notifications/channels`` -> ``Channel{id, connectUri, expires}``."""
        body = await self._json("POST", _CHANNELS, "postNotificationsChannels", idempotent=False)
        channel_id, uri = body.get("id"), body.get("connectUri")
        if not isinstance(channel_id, str) or not channel_id or not isinstance(uri, str) or not uri:
            raise MalformedResponse("the platform's new channel has no id or connectUri", path=_CHANNELS)
        return Channel(channel_id, uri, parse_time(body.get("expires")))

    async def subscribe(self, channel_id: str, topics: Iterable[str], *, replace: bool = True) -> Subscribed:
        """``PUT`` (replace) or ``POST`` (add) the channel's subscriptions; each topic's state.

        Either one extends the channel's life by its full span [HELP].
        """
        path = f"{_CHANNELS}/{_seg(channel_id)}/subscriptions"
        body = [{"id": topic} for topic in topics]
        method, operation = (
            ("PUT", "putNotificationsChannelSubscriptions")
            if replace
            else ("POST", "postNotificationsChannelSubscriptions")
        )
        listing = await self._json(method, path, operation, json=body, idempotent=True)
        return Subscribed(tuple(_topic_state(e) for e in _entities(listing)))

    async def subscriptions(self, channel_id: str) -> Subscribed:
        path = f"{_CHANNELS}/{_seg(channel_id)}/subscriptions"
        listing = await self._json("GET", path, "getNotificationsChannelSubscriptions")
        return Subscribed(tuple(_topic_state(e) for e in _entities(listing)))

    async def channel_exists(self, channel_id: str) -> bool:
        """``HEAD /api/v2/notifications/channels/{id}``: 200 alive, 404 gone or expired.

        The cheapest request there is: `clock_sync` uses it to keep the platform clock fresh.
        """
        try:
            await self.api.http.request(
                "HEAD", f"{_CHANNELS}/{_seg(channel_id)}", operation="headNotificationsChannel"
            )
        except NotFound:
            return False
        return True

    async def available_topics(self) -> list[dict[str, Any]]:
        """``GET /api/v2/notifications/availabletopics``: ``{"entities": [AvailableTopic...]}``."""
        body = await self._json(
            "GET", "/api/v2/notifications/availabletopics", "getNotificationsAvailabletopics"
        )
        return _entities(body)

    async def _json(
        self, method: str, path: str, operation: str, *, json: Any = None, idempotent: bool | None = None
    ) -> dict[str, Any]:
        response = await self.api.http.request(
            method, path, operation=operation, json=json, idempotent=idempotent
        )
        body = _decode(response, method, path)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise MalformedResponse(
                "the platform's answer could not be read: a JSON object was expected, got "
                f"{type(body).__name__}",
                method=method,
                path=path,
            )
        return body


def _entities(listing: Mapping[str, Any]) -> list[dict[str, Any]]:
    entities = listing.get("entities")
    return [e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []


def _topic_state(entry: Mapping[str, Any]) -> TopicState:
    topic = str(entry.get("id") or "")
    state = str(entry.get("state") or "Permitted").strip().lower()
    if state != "rejected":
        return TopicState(topic, True)
    reason = str(entry.get("rejectionReason") or "rejected by the platform")
    missing = [str(p) for p in entry.get("missingPermissions") or [] if p]
    if missing:
        reason = f"{reason} (missing permission: {', '.join(missing)})"
    return TopicState(topic, False, reason)
