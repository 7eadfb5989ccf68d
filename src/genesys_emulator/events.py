"""The events the platform pushes on a queue's conversation topic, and the socket's own frames.

A body is the SDK's `QueueConversationMessageEventTopicMessageConversation`: the whole conversation as
of the change (its field names and enum values, nothing the model lacks: the SDK drops an unknown key
without a word and marks an unknown enum value `outdated_sdk_version`). It is serialized once per
change; each topic's envelope wraps the same bytes.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import TYPE_CHECKING, Any

from genesys_emulator import assumptions as A
from genesys_emulator.clock import iso as _format_iso
from genesys_emulator.notifications import queue_topic

if TYPE_CHECKING:
    from genesys_emulator.entities import Conversation, Leg

# A body repeats every time of the conversation (each message's among them) at every change: formatting
# them was most of an event's cost, and the same instants come back change after change.
iso = functools.lru_cache(maxsize=1 << 16)(_format_iso)

_DIVISIONS = [
    {
        "division": {"id": A.DIVISION_ID, "selfUri": f"/api/v2/authorization/divisions/{A.DIVISION_ID}"},
        "entities": [],
    }
]
# the event model's message types (no `unknown` from the emulator: it always knows the channel)
_EVENT_MESSAGE_TYPES = frozenset(
    {
        "sms",
        "twitter",
        "facebook",
        "line",
        "viber",
        "wechat",
        "whatsapp",
        "telegram",
        "kakao",
        "webmessaging",
        "open",
        "instagram",
        "apple",
    }
)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def queue_topics(conv: Conversation) -> list[str]:
    """The queue topics that show this conversation: one per queue any acd or agent leg had.

    A conversation still in a flow or bot has no such leg, so no queue topic shows it [MODEL]; the
    topic is for message conversations only.
    """
    if conv.media != "message":
        return []
    seen = dict.fromkeys(leg.queue_id for leg in conv.legs if leg.queue_id)
    return [queue_topic(q) for q in seen if q]


def _participant(conv: Conversation, leg: Leg) -> dict[str, Any]:
    wrapup = None
    if leg.wrapup is not None:
        wrapup = {
            k: v
            for k, v in leg.wrapup.items()
            if k in ("code", "notes", "tags", "durationSeconds", "endTime") and v is not None
        }
    participant = {
        "id": leg.id,
        "name": leg.name,
        "startTime": iso(leg.start),
        "connectedTime": iso(leg.connected) if leg.connected else None,
        "endTime": iso(leg.end) if leg.end else None,
        "purpose": leg.purpose,
        "state": leg.state,
        "direction": leg.direction,
        "disconnectType": leg.disconnect_type,
        "held": False,
        "wrapupRequired": leg.wrapup_required,
        "wrapupTimeoutMs": leg.wrapup_timeout_ms,
        "user": {"id": leg.user_id} if leg.user_id else None,
        "queue": {"id": leg.queue_id} if leg.queue_id else None,
        "attributes": dict(leg.attributes),
        "wrapup": wrapup,
        "startAcwTime": iso(leg.acw_start) if leg.acw_start else None,
        "endAcwTime": iso(leg.acw_end) if leg.acw_end else None,
        "parkTime": iso(leg.park) if leg.park else None,
        "resumeTime": iso(leg.resume) if leg.resume else None,
        "messages": [
            {"message": {"id": w.id}, "messageTime": iso(w.at), "messageStatus": w.status}
            for w in leg.messages
        ],
        "type": conv.message_type if conv.message_type in _EVENT_MESSAGE_TYPES else None,
    }
    return {k: v for k, v in participant.items() if v is not None}


def conversation_body(conv: Conversation) -> dict[str, Any]:
    """`QueueConversationMessageEventTopicMessageConversation` for the conversation as it is now."""
    body: dict[str, Any] = {
        "id": conv.id,
        "participants": [_participant(conv, leg) for leg in conv.legs],
        "divisions": _DIVISIONS,
    }
    if conv.inactivity_timeout is not None:
        body["inactivityTimeout"] = iso(conv.inactivity_timeout)
    return body


def envelope(topic: str, body: str) -> str:
    """A topic's frame around an already serialized body."""
    return (
        f'{{"topicName":{json.dumps(topic)},"version":"2","eventBody":{body},'
        f'"metadata":{{"CorrelationId":"{uuid.uuid4()}"}}}}'
    )


def conversation_frames(conv: Conversation, topics: list[str]) -> list[tuple[str, str]]:
    body = _dump(conversation_body(conv))
    return [(topic, envelope(topic, body)) for topic in topics]


def metadata(message: str) -> str:
    return _dump({"topicName": "channel.metadata", "eventBody": {"message": message}})


HEARTBEAT = metadata("WebSocket Heartbeat")
PONG = metadata("pong")


def socket_closing(message: str = "The socket will close shortly: reconnect.") -> str:
    return envelope("v2.system.socket_closing", _dump({"message": message}))


def subscribe_result(status: str, correlation_id: Any, message: str | None = None) -> str:
    if status == "200":
        return _dump({"result": "200", "status": "subscribed", "correlationId": correlation_id})
    return _dump({"result": status, "message": message, "correlationId": correlation_id})
