"""How the platform shows a conversation: the media view, the generic view and the analytics record.

Shapes and enum values follow the SDK's models (`MessageConversation`, `Conversation`,
`AnalyticsConversationWithoutAttributes`), so the official SDK deserializes every answer; absent
values are omitted, as the platform does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genesys_emulator import assumptions as A
from genesys_emulator.clock import iso

if TYPE_CHECKING:
    from genesys_emulator.entities import Conversation, Leg

MESSENGER_TYPES = frozenset(
    {"sms", "facebook", "twitter", "whatsapp", "webmessaging", "instagram", "open", "apple"}
)

# The generic view's `Message.state` knows fewer states than the participant does.
_MESSAGE_STATE = {
    "connected": "connected",
    "parked": "parked",
    "disconnected": "disconnected",
    "terminated": "disconnected",
}
# Analytics spells disconnect types in camelCase.
_ANALYTICS_DISCONNECT = {
    "transfer.conference": "conferenceTransfer",
    "transfer.consult": "consultTransfer",
    "transfer.forward": "forwardTransfer",
    "transfer.noanswer": "noAnswerTransfer",
    "transfer.notavailable": "notAvailableTransfer",
    "transfer.donotdisturb": "dndTransfer",
    "endpoint.donotdisturb": "dndEndpoint",
    "transport.failure": "transportFailure",
    "session.expired": "sessionExpired",
}
# Other media know fewer disconnect types than messaging (no `inactivity`, for instance).
_OTHER_MEDIA_DISCONNECT = frozenset(
    {"endpoint", "client", "system", "transfer", "peer", "other", "error", "timeout"}
)
_MEDIA_KEY = {"voice": "calls", "chat": "chats", "email": "emails"}

DIVISION = {
    "division": {
        "id": A.DIVISION_ID,
        "name": A.DIVISION_NAME,
        "selfUri": f"/api/v2/authorization/divisions/{A.DIVISION_ID}",
    },
    "entities": [],
}


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _clean(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def _details(leg: Leg) -> list[dict[str, Any]]:
    return [{"messageId": w.id, "messageStatus": w.status, "messageTime": iso(w.at)} for w in leg.messages]


def _wrapup(leg: Leg) -> dict[str, Any] | None:
    return _clean(dict(leg.wrapup)) if leg.wrapup is not None else None


def _times(leg: Leg) -> dict[str, Any]:
    return {
        "startTime": iso(leg.start),
        "connectedTime": iso(leg.connected) if leg.connected else None,
        "endTime": iso(leg.end) if leg.end else None,
        "startAcwTime": iso(leg.acw_start) if leg.acw_start else None,
        "endAcwTime": iso(leg.acw_end) if leg.acw_end else None,
    }


def _parking(leg: Leg) -> dict[str, Any]:
    return {
        "parkTime": iso(leg.park) if leg.park else None,
        "resumeTime": iso(leg.resume) if leg.resume else None,
    }


def media_dict(conv: Conversation) -> dict[str, Any]:
    participants = []
    for leg in conv.legs:
        participant = {
            "id": leg.id,
            "name": leg.name,
            **_times(leg),
            **_parking(leg),
            "purpose": leg.purpose,
            "state": leg.state,
            "direction": leg.direction,
            "disconnectType": leg.disconnect_type,
            "held": False,
            "wrapupRequired": leg.wrapup_required,
            "wrapupTimeoutMs": leg.wrapup_timeout_ms,
            "wrapup": _wrapup(leg),
            "user": {"id": leg.user_id, "selfUri": f"/api/v2/users/{leg.user_id}"} if leg.user_id else None,
            "queue": {"id": leg.queue_id, "selfUri": f"/api/v2/routing/queues/{leg.queue_id}"}
            if leg.queue_id
            else None,
            "attributes": dict(leg.attributes),
            "messages": _details(leg),
            "type": conv.message_type if conv.media == "message" else None,
        }
        participants.append(_clean(participant))
    return _clean(
        {
            "id": conv.id,
            "participants": participants,
            "recentTransfers": [],
            "inactivityTimeout": iso(conv.inactivity_timeout) if conv.inactivity_timeout else None,
            "divisions": [DIVISION],
            "selfUri": f"/api/v2/conversations/messages/{conv.id}",
        }
    )


def media_bytes(conv: Conversation) -> bytes:
    return _dump(media_dict(conv))


def _communication(conv: Conversation, leg: Leg) -> dict[str, Any]:
    if conv.media != "message":
        disconnect = leg.disconnect_type
        if disconnect is not None and disconnect not in _OTHER_MEDIA_DISCONNECT:
            disconnect = "other"
        return _clean(
            {
                "id": leg.communication_id,
                "state": "disconnected" if not leg.active else ("connected" if leg.connected else "alerting"),
                "direction": leg.direction,
                "disconnectType": disconnect,
                "connectedTime": iso(leg.connected) if leg.connected else None,
                "disconnectedTime": iso(leg.end) if leg.end else None,
            }
        )
    acw: dict[str, Any] | None = None
    if leg.purpose == "agent":
        if not leg.wrapup_required:
            acw = {"state": "notApplicable"}
        elif leg.acw_start is not None:
            acw = _clean(
                {
                    "startTime": iso(leg.acw_start),
                    "endTime": iso(leg.acw_end) if leg.acw_end else None,
                    "state": "complete" if leg.acw_end else "pending",
                }
            )
    return _clean(
        {
            "id": leg.communication_id,
            "state": _MESSAGE_STATE.get(leg.state, "alerting"),
            "held": False,
            "direction": leg.direction,
            "disconnectType": leg.disconnect_type,
            "connectedTime": iso(leg.connected) if leg.connected else None,
            "disconnectedTime": iso(leg.end) if leg.end else None,
            **_parking(leg),
            "type": conv.message_type,
            "messages": _details(leg),
            "wrapup": _wrapup(leg),
            "afterCallWork": acw,
            "afterCallWorkRequired": leg.wrapup_required if leg.purpose == "agent" else None,
        }
    )


def generic_dict(conv: Conversation) -> dict[str, Any]:
    key = _MEDIA_KEY.get(conv.media, "messages")
    participants = []
    for leg in conv.legs:
        participant = {
            "id": leg.id,
            **_times(leg),
            "name": leg.name,
            "userId": leg.user_id,
            "queueId": leg.queue_id,
            "purpose": leg.purpose,
            "participantType": "External" if leg.purpose in A.CUSTOMER_PURPOSES else "Internal",
            "wrapupRequired": leg.wrapup_required,
            "wrapupTimeoutMs": leg.wrapup_timeout_ms,
            "wrapup": _wrapup(leg),
            "attributes": dict(leg.attributes),
            key: [_communication(conv, leg)],
        }
        participants.append(_clean(participant))
    return _clean(
        {
            "id": conv.id,
            "startTime": iso(conv.start),
            "endTime": iso(conv.end) if conv.end else None,
            "participants": participants,
            "recordingState": "NONE",
            "state": "disconnected" if conv.end else "connected",
            "divisions": [DIVISION],
            "recentTransfers": [],
            "inactivityTimeout": iso(conv.inactivity_timeout) if conv.inactivity_timeout else None,
            "selfUri": f"/api/v2/conversations/{conv.id}",
        }
    )


def generic_bytes(conv: Conversation) -> bytes:
    return _dump(generic_dict(conv))


@dataclass(slots=True)
class AnalyticsRecord:
    """One conversation as the details query sees it: its JSON and the dimensions filters test."""

    conversation_id: str
    start: str  # ISO, sorts like time
    end: str | None
    dims: dict[str, str]  # conversation-level dimensions
    segments: list[dict[str, str]]  # one flat dict of dimensions per segment
    fragment: str  # the conversation's JSON, ready to splice into a page


def _segments(conv: Conversation, leg: Leg) -> list[dict[str, Any]]:
    start = leg.connected or leg.start
    disconnect = leg.disconnect_type
    main = _clean(
        {
            "segmentStart": iso(start),
            "segmentEnd": iso(leg.end) if leg.end else None,
            "queueId": leg.queue_id,
            "segmentType": "interact",
            "disconnectType": _ANALYTICS_DISCONNECT.get(disconnect, disconnect) if disconnect else None,
        }
    )
    segments = [main]
    if leg.connected and leg.connected > leg.start:
        segments.insert(
            0,
            _clean(
                {
                    "segmentStart": iso(leg.start),
                    "segmentEnd": iso(leg.connected),
                    "queueId": leg.queue_id,
                    "segmentType": "alert",
                }
            ),
        )
    if leg.acw_start is not None:
        wrapup = leg.wrapup or {}
        segments.append(
            _clean(
                {
                    "segmentStart": iso(leg.acw_start),
                    "segmentEnd": iso(leg.acw_end) if leg.acw_end else None,
                    "queueId": leg.queue_id,
                    "segmentType": "wrapup",
                    "wrapUpCode": wrapup.get("code"),
                    "wrapUpNote": wrapup.get("notes"),
                }
            )
        )
    return segments


def analytics_record(conv: Conversation) -> AnalyticsRecord:
    participants = []
    flat: list[dict[str, str]] = []
    for leg in conv.legs:
        session = _clean(
            {
                "mediaType": conv.media,
                "messageType": conv.message_type if conv.media == "message" else None,
                "sessionId": leg.communication_id,
                "direction": leg.direction,
                "segments": _segments(conv, leg),
            }
        )
        participant = _clean(
            {
                "participantId": leg.id,
                "participantName": leg.name,
                "purpose": leg.purpose,
                "userId": leg.user_id,
                "sessions": [session],
            }
        )
        participants.append(participant)
        base = {k: v for k, v in participant.items() if isinstance(v, str)}
        base.update({k: v for k, v in session.items() if isinstance(v, str)})
        for segment in session["segments"]:
            flat.append({**base, **segment})
    body = _clean(
        {
            "conversationId": conv.id,
            "conversationStart": iso(conv.start),
            "conversationEnd": iso(conv.end) if conv.end else None,
            "originatingDirection": "inbound",
            "divisionIds": [A.DIVISION_ID],
            "inactivityTimeout": iso(conv.inactivity_timeout) if conv.inactivity_timeout else None,
            "participants": participants,
        }
    )
    dims = {k: v for k, v in body.items() if isinstance(v, str)}
    dims["divisionId"] = A.DIVISION_ID
    return AnalyticsRecord(
        conversation_id=conv.id,
        start=body["conversationStart"],
        end=body.get("conversationEnd"),
        dims=dims,
        segments=flat,
        fragment=json.dumps(body, separators=(",", ":")),
    )
