"""A notification frame -> the engine's signal: a conversation event, or a frame counted and ignored.

The body of `v2.routing.queues.{id}.conversations.messages` is the SDK's
`QueueConversationMessageEventTopicMessageConversation`: the whole conversation as of the change,
participants in the media view's shape (each participant its own communication, `messages` the
message details). `mapping.to_conversation` reads it; the message ids are moved (the event gives
`message.id` where the media view gives `messageId`) so that the reaper's own texts are known, and
only each participant's latest messages are kept (`_latest_messages`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from session_reaper.core.model import ActivityKind, Conversation
from session_reaper.engine.ports import ConversationEvent, EventIgnored
from session_reaper.genesys.errors import MalformedResponse
from session_reaper.genesys.mapping import to_conversation
from session_reaper.genesys.notifications import queue_of

OwnKinds = Callable[[str], Mapping[str, ActivityKind]]


def to_signal(frame: Mapping[str, Any], own: OwnKinds) -> ConversationEvent | EventIgnored:
    topic = frame.get("topicName")
    topic = topic if isinstance(topic, str) else ""
    if frame.get("unreadable"):
        return EventIgnored(topic, "not a JSON object")
    if queue_of(topic) is None:
        return EventIgnored(topic, "not a topic the reaper subscribed to")
    body = frame.get("eventBody")
    if not isinstance(body, Mapping):
        return EventIgnored(topic, "no eventBody object")
    conversation_id = body.get("id")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        return EventIgnored(topic, "the eventBody has no conversation id")
    kinds = own(conversation_id)
    try:
        conversation = to_conversation(_latest_messages(body, kinds), kinds)
    except MalformedResponse as exc:
        return EventIgnored(topic, str(exc))
    return ConversationEvent(topic, conversation, latest_time(conversation))


def latest_time(conversation: Conversation) -> datetime | None:
    """The latest platform time the snapshot shows: when its last change happened, at the earliest."""
    times = [a.at for a in conversation.activities]
    for p in conversation.participants:
        for moment in (p.started_at, p.connected_at, p.ended_at, p.parked_at, p.resumed_at):
            if moment is not None:
                times.append(moment)
        if p.acw_ended_at is not None:
            times.append(p.acw_ended_at)
    return max(times, default=None)


def _latest_messages(body: Mapping[str, Any], own: Mapping[str, ActivityKind]) -> Mapping[str, Any]:
    """The body with each participant's messages cut to its last one by a person or bot, and the
    reaper's own texts after it, each with its `messageId`.

    The rules read a conversation's latest message and its latest warning since then, nothing older
    (`Conversation.last_activity`, `last_warning`); a long chat's earlier messages would only cost
    time and memory for every event and every conversation held. The platform lists a participant's
    messages oldest first [MODEL: the SDK does not say; the emulator does].
    """
    participants = body.get("participants")
    if not isinstance(participants, list):
        return body  # to_conversation says what is wrong with it
    fixed = []
    for raw in participants:
        if isinstance(raw, Mapping) and isinstance(raw.get("messages"), list):
            raw = {**raw, "messages": _since_last_message(raw["messages"], own)}
        fixed.append(raw)
    return {**body, "participants": fixed}


def _since_last_message(details: list[Any], own: Mapping[str, ActivityKind]) -> list[Any]:
    kept: list[Any] = []
    for detail in reversed(details):
        detail = _message(detail)
        kept.append(detail)
        message_id = detail.get("messageId") if isinstance(detail, Mapping) else None
        timed = isinstance(detail, Mapping) and detail.get("messageTime")
        if timed and (not isinstance(message_id, str) or message_id not in own):
            break  # the participant's latest message by a person or bot: nothing older matters
    kept.reverse()
    return kept


def _message(detail: object) -> object:
    if not isinstance(detail, Mapping) or "messageId" in detail:
        return detail
    ref = detail.get("message")
    if isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        return {**detail, "messageId": ref["id"]}
    return detail
