"""The Notifications API's REST operations: channels, their subscriptions, the topics on offer.

Served through the same path as every platform operation (app.endpoint: faults, token, rate limit,
request log); the WebSocket at a channel's `connectUri` is sockets.py's.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from genesys_emulator import notifications as N
from genesys_emulator.auth import Client
from genesys_emulator.clock import iso
from genesys_emulator.errors import bad_request
from genesys_emulator.state import World

JSON = "application/json"
CHANNELS = "/api/v2/notifications/channels"
CHANNEL = CHANNELS + "/{channel_id}"
SUBSCRIPTIONS = CHANNEL + "/subscriptions"
AVAILABLE_TOPICS = "/api/v2/notifications/availabletopics"


def _ok(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, separators=(",", ":")), status_code=status, media_type=JSON)


def _channel(world: World, request: Request, client: Client) -> N.Channel:
    return world.notifications.owned(
        str(request.path_params["channel_id"]), client.client_id, world.clock.now()
    )


def _topics(body: bytes) -> list[str]:
    """The `[{"id": topic}, ...]` body (ChannelTopic list)."""
    try:
        value = json.loads(body) if body.strip() else None
    except ValueError as exc:
        raise bad_request(f"Unable to parse the request body as JSON: {exc}") from None
    if not isinstance(value, list):
        raise bad_request(
            'The body must be a list of topics: [{"id": "v2.routing.queues.{id}.conversations.messages"}].'
        )
    topics = []
    for index, item in enumerate(value):
        topic = item.get("id") if isinstance(item, dict) else None
        if not isinstance(topic, str) or not topic:
            raise bad_request(f"[{index}].id: each topic needs an 'id' (a topic name).")
        topics.append(topic)
    if len(topics) > N.MAX_TOPICS_PER_CHANNEL:
        raise bad_request(
            f"At most {N.MAX_TOPICS_PER_CHANNEL} topics per channel, not {len(topics)}.",
            "notification.channel.topic.limit.exceeded",
        )
    return topics


def connect_uri(request: Request, channel_id: str) -> str:
    """The socket on the emulator's own host and port (the platform's is wss://streaming.<domain>)."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}/channels/{channel_id}"


def create_channel(world: World, request: Request, client: Client, body: bytes) -> Response:
    channel = world.notifications.create(client.client_id, world.clock.now())
    return _ok(
        {"id": channel.id, "connectUri": connect_uri(request, channel.id), "expires": iso(channel.expires)}
    )


def list_channels(world: World, request: Request, client: Client, body: bytes) -> Response:
    now = world.clock.now()
    world.notifications.purge(now)
    own = [c for c in world.notifications.channels.values() if c.client_id == client.client_id]
    entities = [
        {"id": c.id, "connectUri": connect_uri(request, c.id), "expires": iso(c.expires)} for c in own
    ]
    return _ok({"entities": entities})


def head_channel(world: World, request: Request, client: Client, body: bytes) -> Response:
    _channel(world, request, client)
    return Response(status_code=200)


def get_subscriptions(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(world.notifications.listing(_channel(world, request, client)))


def _subscribe(world: World, request: Request, client: Client, body: bytes, replace: bool) -> Response:
    channel = _channel(world, request, client)
    entries = world.notifications.subscribe(
        channel, _topics(body), client.allows, world.clock.now(), replace=replace
    )
    return _ok({"entities": entries})


def post_subscriptions(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _subscribe(world, request, client, body, replace=False)


def put_subscriptions(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _subscribe(world, request, client, body, replace=True)


def delete_subscriptions(world: World, request: Request, client: Client, body: bytes) -> Response:
    world.notifications.unsubscribe_all(_channel(world, request, client))
    return Response(status_code=204)


def _available(topic: str, description: str, permissions: list[str], current_user: bool) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    if permissions:
        details.append({"type": "requiresPermissions", "permissions": permissions, "enforced": True})
    if current_user:
        details.append({"type": "requiresCurrentUser", "allowsCurrentUser": True, "enforced": True})
    return {
        "id": topic,
        "description": description,
        "requiresPermissions": permissions,
        "permissionDetails": details,
        "requiresCurrentUser": current_user,
        "requiresCurrentUserOrPermission": False,
        "requiresDivisionPermissions": False,
        "enforced": True,
        "visibility": "Public",
        "transports": ["Websocket"],
        "topicParameters": ["id"],
    }


AVAILABLE = {
    "entities": [
        _available(
            "v2.routing.queues.{id}.conversations.messages",
            "Message conversations of a queue",
            [N.QUEUE_VIEW],
            False,
        ),
        _available(
            "v2.users.{id}.conversations.messages",
            "Message conversations of a user",
            [],
            True,
        ),
    ]
}


def available_topics(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(AVAILABLE)


ROUTES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    (CHANNELS, "POST", create_channel, ()),
    (CHANNELS, "GET", list_channels, ()),
    (CHANNEL, "HEAD", head_channel, ()),
    (SUBSCRIPTIONS, "GET", get_subscriptions, ()),
    (SUBSCRIPTIONS, "POST", post_subscriptions, ()),
    (SUBSCRIPTIONS, "PUT", put_subscriptions, ()),
    (SUBSCRIPTIONS, "DELETE", delete_subscriptions, ()),
    (AVAILABLE_TOPICS, "GET", available_topics, ()),
]
