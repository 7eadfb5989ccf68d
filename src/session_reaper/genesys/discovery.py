"""Find the unended message conversations in scope with the analytics details query.

One query per window of at most 31 days (the platform's limit), walking back from now over the
lookback, 100 conversations a page (the platform's maximum) until ``totalHits`` is exhausted, oldest
first within a window. Filters: ``conversationEnd notExists``; segments of media ``message`` whose
``messageType`` is one of the channels in scope; ``queueId`` one of the included queues when the
include list is not empty. Exclusions, and a second check of media and channel, are applied here on
the answer, so that a platform filter that is broader than asked can never widen the scope.

Paging over a set that changes while we read it (conversations end meanwhile) can skip a few: they
are found on the next sweep, and a conversation is never yielded twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from session_reaper.genesys.mapping import parse_time

MAX_WINDOW = timedelta(days=31)
MAX_PAGE_SIZE = 100
# The end of the newest window is a little after "now": our estimate of the platform's clock can lag
# it by up to a second (Date headers have whole seconds), and a conversation must not fall between.
_END_SLACK = timedelta(minutes=1)
# A runaway guard: a platform answer that never runs out must not page forever.
_MAX_PAGES = 10_000


class ConversationQuerier(Protocol):
    async def query_conversation_details(self, query: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DiscoveredConversation:
    conversation_id: str
    started_at: datetime | None
    queue_ids: frozenset[str]
    message_types: frozenset[str]
    # Who is in the conversation and which of their segments have ended, as analytics sees it. Every
    # change that can make a rule act sooner (a guest leaving, an agent joining or leaving) changes
    # it; messages do not, and need not: they only push every rule's clock later.
    participants_fingerprint: str | None = None


def windows(
    now: datetime, lookback: timedelta, max_window: timedelta = MAX_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Intervals of at most ``max_window`` covering ``[now - lookback, now + slack)``, newest first."""
    end = now + _END_SLACK
    start_limit = now - lookback
    result: list[tuple[datetime, datetime]] = []
    while end > start_limit:
        start = max(start_limit, end - max_window)
        result.append((start, end))
        end = start
    return result


def build_query(
    start: datetime,
    end: datetime,
    *,
    channels: Sequence[str],
    queue_include: Sequence[str] = (),
    page: int = 1,
    page_size: int = MAX_PAGE_SIZE,
) -> dict[str, Any]:
    """The ``ConversationQuery`` for one page of one window."""
    segment_filters: list[dict[str, Any]] = [
        {"type": "and", "predicates": [_dimension("mediaType", "message")]},
        {"type": "or", "predicates": [_dimension("messageType", c) for c in channels]},
    ]
    if queue_include:
        segment_filters.append(
            {"type": "or", "predicates": [_dimension("queueId", q) for q in queue_include]}
        )
    return {
        "interval": f"{_iso(start)}/{_iso(end)}",
        "order": "asc",
        "orderBy": "conversationStart",
        "paging": {"pageSize": page_size, "pageNumber": page},
        "conversationFilters": [
            {
                "type": "and",
                "predicates": [
                    {"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}
                ],
            }
        ],
        "segmentFilters": segment_filters,
    }


async def discover(
    api: ConversationQuerier,
    *,
    channels: Iterable[str],
    queue_include: Iterable[str] = (),
    queue_exclude: Iterable[str] = (),
    lookback: timedelta,
    now: datetime,
    page_size: int = MAX_PAGE_SIZE,
    max_window: timedelta = MAX_WINDOW,
) -> AsyncIterator[DiscoveredConversation]:
    """Every unended message conversation in scope, each once."""
    channel_list = [c.strip().lower() for c in channels if c.strip()]
    if not channel_list:
        return
    include = [q for q in queue_include if q]
    exclude = frozenset(q for q in queue_exclude if q)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    seen: set[str] = set()
    for start, end in windows(now.astimezone(UTC), lookback, min(max_window, MAX_WINDOW)):
        page = 1
        returned = 0
        while True:
            query = build_query(
                start, end, channels=channel_list, queue_include=include, page=page, page_size=page_size
            )
            answer = await api.query_conversation_details(query)
            conversations = [c for c in answer.get("conversations") or [] if isinstance(c, Mapping)]
            returned += len(conversations)
            for raw in conversations:
                found = _summary(raw)
                if found is None or found.conversation_id in seen:
                    continue
                seen.add(found.conversation_id)
                if _in_scope(found, raw, channel_list, include, exclude):
                    yield found
            total = answer.get("totalHits")
            if not conversations or page >= _MAX_PAGES:
                break
            if isinstance(total, int) and not isinstance(total, bool):
                if returned >= total:
                    break
            elif len(conversations) < page_size:
                break
            page += 1


def _summary(raw: Mapping[str, Any]) -> DiscoveredConversation | None:
    conversation_id = raw.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id:
        return None
    queue_ids: set[str] = set()
    message_types: set[str] = set()
    for session in _sessions(raw):
        message_type = session.get("messageType")
        if isinstance(message_type, str) and message_type:
            message_types.add(message_type.lower())
        for segment in session.get("segments") or []:
            if isinstance(segment, Mapping) and isinstance(segment.get("queueId"), str):
                queue_ids.add(segment["queueId"])
    return DiscoveredConversation(
        conversation_id,
        parse_time(raw.get("conversationStart")),
        frozenset(queue_ids),
        frozenset(message_types),
        _participants_fingerprint(raw),
    )


def _participants_fingerprint(raw: Mapping[str, Any]) -> str | None:
    participants = raw.get("participants")
    if not isinstance(participants, list):
        return None
    shape = sorted(
        (
            str(p.get("participantId")),
            str(p.get("purpose")),
            [
                [str(seg.get("segmentType")), str(seg.get("segmentEnd"))]
                for session in p.get("sessions") or []
                if isinstance(session, Mapping)
                for seg in session.get("segments") or []
                if isinstance(seg, Mapping)
            ],
        )
        for p in participants
        if isinstance(p, Mapping)
    )
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:24]


def _in_scope(
    found: DiscoveredConversation,
    raw: Mapping[str, Any],
    channels: Sequence[str],
    include: Sequence[str],
    exclude: frozenset[str],
) -> bool:
    if found.queue_ids & exclude:
        return False
    if include and found.queue_ids and not found.queue_ids & set(include):
        return False
    media = {s.get("mediaType") for s in _sessions(raw) if isinstance(s.get("mediaType"), str)}
    if media and "message" not in {str(m).lower() for m in media}:
        return False
    return not found.message_types or bool(found.message_types & set(channels))


def _sessions(raw: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for participant in raw.get("participants") or []:
        if not isinstance(participant, Mapping):
            continue
        for session in participant.get("sessions") or []:
            if isinstance(session, Mapping):
                yield session


def _dimension(dimension: str, value: str) -> dict[str, str]:
    return {"type": "dimension", "dimension": dimension, "operator": "matches", "value": value}


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
