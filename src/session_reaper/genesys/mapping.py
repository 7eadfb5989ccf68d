"""Platform JSON -> the vendor-neutral ``model.Conversation`` the rules read.

The source is the generic view, ``GET /api/v2/conversations/{id}``: it is the one that carries the
communication ids (needed to send a message or apply a wrap-up), each communication's state, the
per-message times, wrap-up and after-call work. The media view (``GET /api/v2/conversations/messages/
{id}``, where a participant's ``messages`` are the message details themselves) is accepted too.

Liberal in what it accepts where a field is only informative: fields may be missing, enums may come
in any case, timestamps with or without fractions; such a field becomes None. Strict where a wrong
reading would close a conversation in use: the participants list, each participant's state (an
unknown state means someone may be there) and the conversation's id. Those raise
``MalformedResponse``, and the sweep fails that one conversation without acting on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from session_reaper.core.model import Activity, ActivityKind, Conversation, Participant, Role, Wrapup
from session_reaper.genesys.errors import MalformedResponse

_ROLES: Mapping[str, Role] = {
    "customer": Role.CUSTOMER,
    "agent": Role.AGENT,
    "acd": Role.QUEUE,
    "workflow": Role.FLOW,
    "botflow": Role.FLOW,
    "bot": Role.FLOW,
}

# Participant keys holding communications, and the media each stands for. Order = precedence when a
# conversation mixes media (a message conversation with a co-browse stays a message conversation).
_MEDIA_KEYS: Sequence[tuple[str, str]] = (
    ("messages", "message"),
    ("calls", "voice"),
    ("callbacks", "callback"),
    ("chats", "chat"),
    ("emails", "email"),
    ("videos", "video"),
    ("socialExpressions", "social"),
    ("cobrowsesessions", "cobrowse"),
    ("screenshares", "screenshare"),
    ("internalMessages", "internalmessage"),
)

_ENDED = frozenset({"disconnected", "terminated"})
# Every participant/communication state the platform's SDK names. Any other value is a state this
# reaper does not understand: the conversation is not acted on rather than guessed at.
KNOWN_STATES = frozenset(
    {
        "alerting",
        "dialing",
        "contacting",
        "offering",
        "connected",
        "disconnected",
        "terminated",
        "converting",
        "uploading",
        "transmitting",
        "parked",
        "scheduled",
        "none",
    }
)
# Far beyond any real conversation; a longer list is a broken answer, refused before it costs time.
MAX_PARTICIPANTS = 500
MAX_MESSAGES = 20_000
# After-call work states in which nothing is owed any more [SDK AfterCallWork.state].
_ACW_DONE = frozenset({"complete", "skipped", "notapplicable"})


def role_for(purpose: str | None) -> Role:
    return _ROLES.get((purpose or "").strip().lower(), Role.OTHER)


def to_conversation(
    view: Mapping[str, Any],
    own_messages: Mapping[str, ActivityKind] | None = None,
    *,
    conversation_id: str | None = None,
) -> Conversation:
    """Build the snapshot. ``own_messages`` maps the ids of messages the reaper sent to their kind;
    ``conversation_id``, when given, is the id that was asked for (an answer about another is refused).

    Raises ``MalformedResponse`` when the answer cannot be read safely (see the module's docstring).
    """
    try:
        return _conversation(view, own_messages or {}, conversation_id)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a shape nobody foresaw
        raise _malformed(conversation_id or "?", type(exc).__name__) from None


def _conversation(
    view: Mapping[str, Any], own: Mapping[str, ActivityKind], conversation_id: str | None
) -> Conversation:
    label = conversation_id or _str(view.get("id")) or "?"
    found_id = _str(view.get("id"))
    if not found_id or (conversation_id is not None and found_id != conversation_id):
        raise _malformed(label, f"the answer is about conversation {found_id!r}")
    raw_participants = view.get("participants")
    if not isinstance(raw_participants, list):
        what = "missing" if raw_participants is None else f"a {type(raw_participants).__name__}"
        raise _malformed(label, f"participants is {what}, not a list")
    if len(raw_participants) > MAX_PARTICIPANTS:
        raise _malformed(label, f"{len(raw_participants)} participants (more than {MAX_PARTICIPANTS})")
    if not all(_is_object(raw) for raw in raw_participants):
        raise _malformed(label, "a participant is not a JSON object")
    participants: list[Participant] = []
    activities: list[Activity] = []
    seen_messages: set[str] = set()
    media = ""
    channel = ""
    for raw in raw_participants:
        participant, comm_media, comm_channel, details = _participant(raw)
        if participant.state not in KNOWN_STATES:
            raise _malformed(
                label,
                f"participant {participant.id or '?'} ({participant.purpose or 'no purpose'}) is in "
                f"state {participant.state!r}, which the reaper does not know: someone may be there",
            )
        if len(details) > MAX_MESSAGES:
            raise _malformed(label, f"{len(details)} messages on one participant (more than {MAX_MESSAGES})")
        participants.append(participant)
        if not media and comm_media:
            media = comm_media
        if not channel and comm_media == "message" and comm_channel:
            channel = comm_channel
        for detail in details:
            at = parse_time(detail.get("messageTime"))
            if at is None:
                continue
            message_id = _str(detail.get("messageId")) or _str(detail.get("id"))
            if message_id is not None:
                if message_id in seen_messages:
                    continue
                seen_messages.add(message_id)
            kind = own.get(message_id, ActivityKind.MESSAGE) if message_id else ActivityKind.MESSAGE
            activities.append(Activity(at, participant.id, participant.role, ActivityKind(kind), message_id))
    if media == "message" and not channel:
        channel = "unknown"
    if media != "message":
        channel = ""
    activities.sort(key=lambda a: a.at)
    return Conversation(
        id=_str(view.get("id")) or "",
        channel=channel,
        media=media,
        participants=tuple(participants),
        activities=tuple(activities),
        started_at=parse_time(view.get("startTime")),
        ended_at=parse_time(view.get("endTime")),
        inactivity_timeout=parse_time(view.get("inactivityTimeout")),
    )


def _participant(raw: Mapping[str, Any]) -> tuple[Participant, str, str, list[Mapping[str, Any]]]:
    """One participant, its media and message type, and the message details it sent."""
    purpose = (_str(raw.get("purpose")) or "").lower()
    media = ""
    communications: list[Mapping[str, Any]] = []
    for key, key_media in _MEDIA_KEYS:
        items = list(_dicts(raw.get(key)))
        if items:
            media, communications = key_media, items
            break
    details: list[Mapping[str, Any]] = []
    if media == "message" and _is_media_view(communications):
        # Media view: the participant is its own (single) communication; ``messages`` are the details.
        details, communications = communications, [raw]
    elif media == "message":
        for comm in communications:
            details.extend(_dicts(comm.get("messages")))
    comm = _primary(communications)
    acw_raw = comm.get("afterCallWork")
    after_call_work: Mapping[str, Any] = acw_raw if isinstance(acw_raw, Mapping) else {}
    state = _state(comm.get("state")) or _state(raw.get("state"))
    ended_at = parse_time(raw.get("endTime")) or parse_time(comm.get("disconnectedTime"))
    if not state:
        # No state at all: ended if the platform says when it ended, else unknown (never "gone").
        state = "disconnected" if ended_at else "missing"
    wrapup = _wrapup(raw.get("wrapup")) or _wrapup(comm.get("wrapup"))
    acw_state = _lower(after_call_work.get("state"))
    acw_ended_at = (
        parse_time(raw.get("endAcwTime"))
        or parse_time(after_call_work.get("endTime"))
        or (ended_at if acw_state in _ACW_DONE else None)
    )
    wrapup_required = _bool(raw.get("wrapupRequired")) or _bool(comm.get("afterCallWorkRequired"))
    if acw_state == "notapplicable":
        wrapup_required = False
    participant = Participant(
        id=_str(raw.get("id")) or _str(raw.get("participantId")) or "",
        role=role_for(purpose),
        state=state,
        purpose=purpose,
        name=_str(raw.get("name")),
        user_id=_str(raw.get("userId")) or _ref_id(raw.get("user")),
        queue_id=_str(raw.get("queueId")) or _ref_id(raw.get("queue")),
        communication_id=_str(comm.get("id")) if comm is not raw else None,
        started_at=parse_time(raw.get("startTime")) or parse_time(comm.get("connectedTime")),
        # The media view has these on the participant, the generic view on its communication.
        connected_at=_time(raw, comm, "connectedTime"),
        ended_at=ended_at,
        parked_at=_time(raw, comm, "parkTime"),
        resumed_at=_time(raw, comm, "resumeTime"),
        disconnect_type=_lower(comm.get("disconnectType")) or _lower(raw.get("disconnectType")),
        attributes=_attributes(raw.get("attributes")),
        wrapup_required=wrapup_required,
        wrapup=wrapup,
        acw_started_at=parse_time(raw.get("startAcwTime")) or parse_time(after_call_work.get("startTime")),
        acw_ended_at=acw_ended_at,
    )
    channel = _lower(comm.get("type")) or _lower(raw.get("type")) or ""
    return participant, media, channel, details


def _time(raw: Mapping[str, Any], comm: Mapping[str, Any], key: str) -> datetime | None:
    return parse_time(raw.get(key)) or parse_time(comm.get(key))


def _is_media_view(items: Sequence[Mapping[str, Any]]) -> bool:
    return any(("messageId" in i or "messageTime" in i) and "state" not in i for i in items)


def _primary(communications: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The communication that says where the participant stands: the live one, else the latest."""
    live = [c for c in communications if (_lower(c.get("state")) or "") not in _ENDED]
    if live:
        return live[-1]
    if communications:
        return communications[-1]
    return _EMPTY


_EMPTY: Mapping[str, Any] = {}


def _wrapup(raw: object) -> Wrapup | None:
    if not isinstance(raw, Mapping):
        return None
    code = _str(raw.get("code"))
    notes = _str(raw.get("notes"))
    if code is None and notes is None:
        return None
    return Wrapup(code=code, notes=notes)


def _ref_id(value: object) -> str | None:
    return _str(value.get("id")) if isinstance(value, Mapping) else None


def _attributes(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp as aware UTC; naive ones are UTC (the platform writes ``Z``)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dicts(value: object) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list | tuple):
        return [v for v in value if _is_object(v)]
    return []


def _is_object(value: object) -> bool:
    """A JSON object: a dict as parsed, checked first, since `isinstance` on the `Mapping` ABC costs
    ~5x more and runs for every participant and message of every event."""
    return type(value) is dict or isinstance(value, Mapping)


def _str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _state(value: object) -> str | None:
    """A state as the platform spells it; any other type is a state nobody can read."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    return _lower(value)


def _malformed(conversation_id: str, why: str) -> MalformedResponse:
    return MalformedResponse(
        f"the platform's answer for conversation {conversation_id} could not be read: {why}"
    )


def _lower(value: object) -> str | None:
    text = _str(value)
    return text.lower() if text else None


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
