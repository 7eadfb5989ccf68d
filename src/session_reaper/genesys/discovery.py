"""Find the unended message conversations in scope with the analytics details query.

Windows of at most 31 days (the platform's limit) walk back from now over the lookback: the recent
window (the last 31 days), then older ones aligned on fixed 31-day blocks of the calendar, so that a
window keeps its identity from one sweep to the next. Each window is first probed (one page of size 1:
its ``totalHits``); an empty window is not scanned, a non-empty one is read 100 conversations a page
(the platform's maximum) until ``totalHits`` is exhausted, oldest first. The recent window is looked at
every sweep; an older one (zombies months old) only every ``OLDER_WINDOWS_EVERY``, remembered in a
``WindowBook`` that the sweep keeps in the ledger so that the cadence holds across one-shot runs too.
A probe that fails is no answer: the window is scanned, never skipped. The platform includes every
conversation that started on a day the interval touches, so contiguous windows never miss a day.

Filters: ``conversationEnd notExists``; segments of media ``message`` whose ``messageType`` is one of
the channels in scope; ``queueId`` one of the included queues when the include list is not empty.
Exclusions, and a second check of media and channel, are applied here on the answer, so that a platform
filter that is broader than asked can never widen the scope.

A window is paged **backwards**, last page first. Each page is answered on the set as it is then, and
the set changes while we read it: conversations end anywhere in it (guests leave, the reaper's own
re-checks close), and new ones join at its far end (they started last: the order is ``conversationStart``
ascending). Paged forwards, every conversation on a page already read that ends moves a later one onto
that page, never to be listed: 40 of 500 in ``benchmarks/discovery_page_shift.py``, and thousands a pass
in the soak, pass after pass. Paged backwards, an end below the page being read moves conversations
already listed down into it (listed twice, yielded once) and an end above it moves nothing not yet read;
a newcomer joins above it. So nothing open when the probe counted is skipped. What is yielded keeps the
platform's order, oldest first, and a conversation is never yielded twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from session_reaper.core.model import DiscoveredConversation
from session_reaper.core.schedule import CLOCK_SKEW
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    GenesysError,
    MalformedResponse,
    PermissionMissing,
)
from session_reaper.genesys.mapping import parse_time
from session_reaper.telemetry import logs

MAX_WINDOW = timedelta(days=31)
MAX_PAGE_SIZE = 100
# The end of the newest window is a little after "now": our estimate of the platform's clock can lag
# it by up to a second (Date headers have whole seconds), and a conversation must not fall between.
_END_SLACK = timedelta(minutes=1)
# A runaway guard: a platform answer that never runs out must not page forever.
_MAX_PAGES = 10_000
DETAILS_QUERY_PATH = "/api/v2/analytics/conversations/details/query"  # named in what cannot be read
# Windows older than the recent one are looked at this often: zombies months old can wait an hour,
# and a sweep a minute must not pay 5 extra queries each time to find them.
OLDER_WINDOWS_EVERY = timedelta(hours=1)
PROBE_PAGE_SIZE = 1  # the cheapest answer that carries `totalHits`
# A probe is tried once: its failure costs nothing but the scan that follows (which retries as usual).
_PROBE_ATTEMPTS = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)

_log = logs.get_logger()


class ConversationQuerier(Protocol):
    async def query_conversation_details(
        self, query: Mapping[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]: ...


class Window(NamedTuple):
    """One analytics interval; ``key`` names an older window across sweeps (None: the recent one)."""

    start: datetime
    end: datetime
    key: str | None


@dataclass
class WindowBook:
    """When each older window was last looked at (probed empty or scanned to its end).

    The sweep loads it from the ledger and saves ``changed`` back, so `serve` and cron runs alike look
    at an older window once per ``every``. Windows skipped in a pass are kept in ``skipped``: what they
    hold was not seen, which is not the same as gone.
    """

    scanned: dict[str, datetime] = field(default_factory=dict)
    every: timedelta = OLDER_WINDOWS_EVERY
    changed: dict[str, datetime] = field(default_factory=dict)
    skipped: list[Window] = field(default_factory=list)

    def due(self, key: str, now: datetime) -> bool:
        last = self.scanned.get(key)
        # a last look "in the future" means the platform's clock went back: look again
        return last is None or last > now + CLOCK_SKEW or now - last >= self.every

    def looked(self, key: str, at: datetime) -> None:
        self.scanned[key] = self.changed[key] = at

    def not_looked_at(self, started_at: datetime | None) -> bool:
        """True when a conversation that started then lies in a window this pass skipped."""
        if started_at is None:
            return False
        return any(_touches(w.start, w.end, started_at) for w in self.skipped)


def windows(now: datetime, lookback: timedelta, max_window: timedelta = MAX_WINDOW) -> list[Window]:
    """Contiguous intervals of at most ``max_window`` covering ``[now - lookback, now + slack)``.

    Newest first: the recent window (``key`` None), then the older ones, each cut at the edge of a
    fixed block of ``max_window`` counted from 1970, whose start names it.
    """
    end = now + _END_SLACK
    start_limit = now - lookback
    recent_start = max(start_limit, end - max_window)
    result = [Window(recent_start, end, None)]
    end = recent_start
    while end > start_limit:
        block = _EPOCH + ((end - timedelta(microseconds=1) - _EPOCH) // max_window) * max_window
        start = max(start_limit, block)
        result.append(Window(start, end, _iso(block)))
        end = start
    return result


def _touches(start: datetime, end: datetime, started_at: datetime) -> bool:
    """Whether the platform's answer for [start, end) includes a conversation started then (whole days)."""
    day = _EPOCH + ((started_at - _EPOCH) // _DAY) * _DAY
    return day < end and day + _DAY > start


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
    book: WindowBook | None = None,
) -> AsyncIterator[DiscoveredConversation]:
    """Every unended message conversation in scope, each once.

    Without a ``book`` every window is looked at (a dry run, ``explain``); with one, older windows
    looked at less than ``book.every`` ago are skipped and listed in ``book.skipped``.
    """
    channel_list = [c.strip().lower() for c in channels if c.strip()]
    if not channel_list:
        return
    include = [q for q in queue_include if q]
    exclude = frozenset(q for q in queue_exclude if q)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    seen: set[str] = set()
    now = now.astimezone(UTC)
    scope = _scope(channel_list, include)
    for window in windows(now, lookback, min(max_window, MAX_WINDOW)):
        key = f"{scope}/{window.key}" if window.key is not None else None
        if key is not None and book is not None and not book.due(key, now):
            book.skipped.append(window)
            continue

        def query(page: int, size: int, start: datetime = window.start, end: datetime = window.end) -> Any:
            return build_query(
                start, end, channels=channel_list, queue_include=include, page=page, page_size=size
            )

        total = await _probe(api, query(1, PROBE_PAGE_SIZE))
        if total == 0:
            if key is not None and book is not None:
                book.looked(key, now)
            continue
        pages: list[list[Mapping[str, Any]]] = []
        if total is None:  # the probe failed: the first page tells how many, and is read again last
            answer = await api.query_conversation_details(query(1, page_size))
            total = _count(answer)
            if total is None:  # no count at all: no way to page backwards; read forwards to the end
                async for raw in _forwards(api, query, page_size, answer):
                    if (found := _admit(raw, seen, channel_list, include, exclude)) is not None:
                        yield found
                if key is not None and book is not None:
                    book.looked(key, now)
                continue
            if total <= page_size:  # one page: nothing after it to shift
                pages.append(_page(answer, 0))
                total = 0
        last = min(-(-total // page_size), _MAX_PAGES)
        for page in range(last, 0, -1):
            answer = await api.query_conversation_details(query(page, page_size))
            pages.append(_page(answer, (page - 1) * page_size))
        for conversations in reversed(pages):  # the platform's order: oldest first
            for raw in conversations:
                if (found := _admit(raw, seen, channel_list, include, exclude)) is not None:
                    yield found
        if key is not None and book is not None:
            book.looked(key, now)


def _admit(
    raw: Mapping[str, Any],
    seen: set[str],
    channels: Sequence[str],
    include: Sequence[str],
    exclude: frozenset[str],
) -> DiscoveredConversation | None:
    """The conversation to yield: readable, not yielded before, and in scope."""
    found = _summary(raw)
    if found is None or found.conversation_id in seen:
        return None
    seen.add(found.conversation_id)
    return found if _in_scope(found, raw, channels, include, exclude) else None


async def _forwards(
    api: ConversationQuerier, query: Any, page_size: int, first: Mapping[str, Any]
) -> AsyncIterator[Mapping[str, Any]]:
    """A window whose answers carry no ``totalHits``: pages read forwards until a short one."""
    answer, page = first, 1
    while True:
        conversations = _page(answer, 0)
        for raw in conversations:
            yield raw
        if len(conversations) < page_size or page >= _MAX_PAGES:
            return
        page += 1
        answer = await api.query_conversation_details(query(page, page_size))


def _count(answer: Mapping[str, Any]) -> int | None:
    total = answer.get("totalHits")
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None


def _page(answer: Mapping[str, Any], returned: int) -> list[Mapping[str, Any]]:
    """The conversations of one page, or MalformedResponse: a spoiled page must never read as "no
    more conversations" (the rest of the window would go unseen and look closed to nobody)."""
    raw = answer.get("conversations")
    total = answer.get("totalHits")
    if raw is None:
        if isinstance(total, int) and not isinstance(total, bool) and total > returned:
            raise _unreadable(f"'totalHits' is {total} but the page has no 'conversations'")
        return []
    if not isinstance(raw, list):
        raise _unreadable(f"'conversations' is {type(raw).__name__}, not a list")
    if not all(isinstance(c, Mapping) for c in raw):
        raise _unreadable("an entry of 'conversations' is not an object")
    return raw


def _unreadable(why: str) -> MalformedResponse:
    return MalformedResponse(
        f"the platform's answer to the conversation details query could not be read: {why}",
        method="POST",
        path=DETAILS_QUERY_PATH,
    )


async def _probe(api: ConversationQuerier, probe: Mapping[str, Any]) -> int | None:
    """How many the window holds, by the platform's `totalHits`; None when the probe failed or did not
    say (then the window is scanned all the same: a failed probe is no answer)."""
    try:
        answer = await api.query_conversation_details(probe, attempts=_PROBE_ATTEMPTS)
    except (AuthenticationFailed, PermissionMissing):
        raise  # the scan could not do better, and the sweep must stop on these
    except GenesysError as exc:
        _log.info("discovery probe failed; scanning the window", error=str(exc))
        return None
    return _count(answer)


def _scope(channels: Sequence[str], include: Sequence[str]) -> str:
    """What a window's last look depends on: a look under another scope says nothing."""
    text = json.dumps([sorted(channels), sorted(include)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
