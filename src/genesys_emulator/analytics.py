"""`POST /api/v2/analytics/conversations/details/query`: validation, filters, ordering and paging.

A conversation is selected when it started on a day (UTC) the interval touches and every filter holds:
the platform's details "only include conversations that started on a day touched by the interval"
(PLATFORM.md), so an interval from 10:00 includes a conversation started at 09:00 that day. Conversation
filters test conversation dimensions; a segment filter holds when one segment satisfies it (all the
predicates of an `and`, any of an `or`), which is how the platform matches segment predicates. Answers
are cached per world epoch: paging through an unchanged world costs a slice and a join."""

from __future__ import annotations

import json
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from genesys_emulator import assumptions as A
from genesys_emulator.clock import iso, parse_iso
from genesys_emulator.errors import bad_request
from genesys_emulator.state import World
from genesys_emulator.views import AnalyticsRecord

CONVERSATION_DIMENSIONS = frozenset(
    {
        "conversationId",
        "conversationStart",
        "conversationEnd",
        "originatingDirection",
        "divisionId",
        "inactivityTimeout",
    }
)
SEGMENT_DIMENSIONS = frozenset(
    {
        "mediaType",
        "messageType",
        "queueId",
        "purpose",
        "segmentStart",
        "segmentEnd",
        "segmentType",
        "userId",
        "participantId",
        "participantName",
        "sessionId",
        "direction",
        "disconnectType",
        "wrapUpCode",
    }
)
Dims = Mapping[str, str]
Test = Callable[[Dims], bool]


def _predicate(raw: Any, allowed: frozenset[str], where: str) -> Test:
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: a predicate must be an object")
    kind = str(raw.get("type", "dimension")).lower()
    if kind != "dimension":
        raise bad_request(f"{where}: predicate type {raw.get('type')!r} is not supported (use 'dimension')")
    # enum values are accepted in any case, as everywhere in the platform's request bodies
    canonical = {name.lower(): name for name in allowed}
    dimension = canonical.get(str(raw.get("dimension", "")).lower())
    if dimension is None:
        raise bad_request(f"{where}: unknown dimension {raw.get('dimension')!r}; one of {sorted(allowed)}")
    operator = str(raw.get("operator", "matches")).lower()
    value = raw.get("value")
    if operator == "matches":
        if not isinstance(value, str):
            raise bad_request(f"{where}: operator 'matches' needs a string value for {dimension}")
        return lambda dims: dims.get(dimension) == value
    if operator == "exists":
        return lambda dims: dimension in dims
    if operator == "notexists":
        return lambda dims: dimension not in dims
    raise bad_request(
        f"{where}: unknown operator {raw.get('operator')!r}; one of ['exists', 'matches', 'notExists']"
    )


def _combine(kind: str, tests: list[Test]) -> Test:
    if kind == "or":
        return lambda dims: any(t(dims) for t in tests)
    return lambda dims: all(t(dims) for t in tests)


def _filter(raw: Any, allowed: frozenset[str], where: str) -> Test:
    if not isinstance(raw, dict):
        raise bad_request(f"{where}: a filter must be an object")
    kind = str(raw.get("type", "")).lower()
    if kind not in ("and", "or"):
        raise bad_request(f"{where}: filter type must be 'and' or 'or', not {raw.get('type')!r}")
    tests = [
        _predicate(p, allowed, f"{where}.predicates[{i}]") for i, p in enumerate(raw.get("predicates") or [])
    ]
    for i, clause in enumerate(raw.get("clauses") or []):
        tests.append(_filter(clause, allowed, f"{where}.clauses[{i}]"))
    if not tests:
        raise bad_request(f"{where}: a filter needs predicates or clauses")
    return _combine(kind, tests)


def _interval(raw: Any) -> tuple[str, str]:
    if not isinstance(raw, str) or raw.count("/") != 1:
        raise bad_request(
            "interval is required, as 'start/end' in ISO-8601"
            " (e.g. 2026-11-01T00:00:00Z/2026-11-21T00:00:00Z)"
        )
    first, second = raw.split("/")
    try:
        start, end = parse_iso(first), parse_iso(second)
    except ValueError as exc:
        raise bad_request(f"interval: {exc}") from None
    if end <= start:
        raise bad_request("interval: the end must be after the start")
    if end - start > timedelta(days=A.MAX_INTERVAL_DAYS):
        raise bad_request(f"interval: at most {A.MAX_INTERVAL_DAYS} days per query")
    return iso(start), iso(end)


def _touched_days(start: str, end: str) -> tuple[str, str]:
    """[first day, day after the last) the interval touches, as prefixes that sort with iso() times."""
    last = parse_iso(end) - timedelta(milliseconds=1)  # an end at midnight does not touch that day
    return start[:10], iso(last + timedelta(days=1))[:10]


def _paging(raw: Any) -> tuple[int, int]:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise bad_request("paging must be an object {pageSize, pageNumber}")
    size, number = raw.get("pageSize", A.DEFAULT_PAGE_SIZE), raw.get("pageNumber", 1)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= A.MAX_PAGE_SIZE:
        raise bad_request(f"paging.pageSize must be between 1 and {A.MAX_PAGE_SIZE}, not {size!r}")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise bad_request(f"paging.pageNumber must be 1 or more, not {number!r}")
    return size, number


class Query:
    def __init__(self, body: Any, organization: str = A.DEFAULT_ORGANIZATION) -> None:
        self.organization = organization  # the asking client's: no other organization's conversation shows
        if not isinstance(body, dict):
            raise bad_request("the query must be a JSON object")
        self.start, self.end = _interval(body.get("interval"))
        self.first_day, self.after_last_day = _touched_days(self.start, self.end)
        self.size, self.number = _paging(body.get("paging"))
        order = str(body.get("order", "asc")).lower()
        if order not in ("asc", "desc"):
            raise bad_request(f"order must be 'asc' or 'desc', not {body.get('order')!r}")
        self.descending = order == "desc"
        self.order_by = str(body.get("orderBy", "conversationStart"))
        if self.order_by not in ("conversationStart", "conversationEnd"):
            raise bad_request(
                f"orderBy {self.order_by!r} is not supported (conversationStart, conversationEnd)"
            )
        self.conversation_tests = [
            _filter(f, CONVERSATION_DIMENSIONS, f"conversationFilters[{i}]")
            for i, f in enumerate(body.get("conversationFilters") or [])
        ]
        self.segment_tests = [
            _filter(f, SEGMENT_DIMENSIONS, f"segmentFilters[{i}]")
            for i, f in enumerate(body.get("segmentFilters") or [])
        ]
        # only unended conversations can match: the index of open conversations is enough
        self.only_open = any(_only_open(f) for f in body.get("conversationFilters") or [])
        self.filter_key = json.dumps(
            [organization, body.get("conversationFilters"), body.get("segmentFilters")], sort_keys=True
        )

    def selects(self, record: AnalyticsRecord) -> bool:
        return self.first_day <= record.start < self.after_last_day and self.filters(record)

    def filters(self, record: AnalyticsRecord) -> bool:
        if not all(test(record.dims) for test in self.conversation_tests):
            return False
        return all(any(test(segment) for segment in record.segments) for test in self.segment_tests)


def _only_open(raw: Any) -> bool:
    if not isinstance(raw, dict) or str(raw.get("type", "")).lower() != "and":
        return False
    return any(
        isinstance(p, dict)
        and str(p.get("dimension", "")).lower() == "conversationend"
        and str(p.get("operator", "")).lower() == "notexists"
        for p in raw.get("predicates") or []
    )


def _candidates(world: World, query: Query, now: datetime) -> Iterable[str]:
    if not query.only_open:
        return world.conversations
    if not world.analytics_lag:
        return world.open_ids
    ids = list(world.open_ids)
    if world.analytics_lag:
        horizon = now - world.analytics_lag
        while world.recently_ended and world.recently_ended[0][0] <= horizon:
            world.recently_ended.popleft()
        ids.extend(cid for _, cid in world.recently_ended)
    return ids


class FilterIndex:
    """The conversations one filter set selects, sorted by start, kept up to date change by change.

    Built once from the candidates; afterwards only the conversations changed since (the world's change
    log) are tested again, so a page costs a few bisections and a slice even while the world moves.
    """

    REBUILD_AFTER = 5_000  # this many changes since the last look: cheaper to start over

    def __init__(self, world: World, query: Query) -> None:
        self.entries: list[tuple[str, str]] = []  # (conversationStart, conversationId), sorted
        self.records: dict[str, AnalyticsRecord] = {}
        now = world.clock.now()
        for cid in _candidates(world, query, now):
            conv = world.conversations[cid]
            if conv.organization != query.organization:
                continue
            record = world.analytics_view(conv, now)
            if record is not None and query.filters(record):
                self.records[cid] = record
                self.entries.append((record.start, cid))
        self.entries.sort()
        self.seen = len(world.changes)

    def catch_up(self, world: World, query: Query) -> bool:
        """Apply the changes since the last look; False when rebuilding would be cheaper."""
        pending = world.changes[self.seen :]
        if len(pending) > self.REBUILD_AFTER:
            return False
        now = world.clock.now()
        for cid in dict.fromkeys(pending):
            old = self.records.pop(cid, None)
            if old is not None:
                del self.entries[bisect_left(self.entries, (old.start, cid))]
            conv = world.conversations.get(cid)
            if conv is None or conv.organization != query.organization:
                continue
            record = world.analytics_view(conv, now)
            if record is not None and query.filters(record):
                self.records[cid] = record
                insort(self.entries, (record.start, cid))
        self.seen = len(world.changes)
        return True

    def window(self, query: Query) -> list[tuple[str, str]]:
        low = bisect_left(self.entries, (query.first_day,))
        high = bisect_left(self.entries, (query.after_last_day,))
        return self.entries[low:high]


def _index(world: World, query: Query) -> FilterIndex:
    index: FilterIndex | None = world.analytics_indexes.get(query.filter_key)
    if index is None or not index.catch_up(world, query):
        if len(world.analytics_indexes) > 16:
            world.analytics_indexes.clear()
        index = world.analytics_indexes[query.filter_key] = FilterIndex(world, query)
    _compact(world)
    return index


def _compact(world: World, keep: int = 100_000) -> None:
    """Drop the part of the change log every index has already applied, so it never grows unbounded."""
    if len(world.changes) <= keep:
        return
    applied = min(index.seen for index in world.analytics_indexes.values())
    if applied:
        del world.changes[:applied]
        for index in world.analytics_indexes.values():
            index.seen -= applied


def _afresh(world: World, query: Query) -> list[str]:
    """Every answer evaluated from scratch: with an analytics lag it depends on the time itself."""
    now = world.clock.now()
    records = []
    for cid in dict.fromkeys(_candidates(world, query, now)):
        conv = world.conversations[cid]
        if conv.organization != query.organization:
            continue
        record = world.analytics_view(conv, now)
        if record is not None and query.selects(record):
            records.append(record)
    if query.order_by == "conversationEnd":
        records.sort(key=lambda r: (r.end or "~", r.conversation_id), reverse=query.descending)
    else:
        records.sort(key=lambda r: (r.start, r.conversation_id), reverse=query.descending)
    return [r.fragment for r in records]


def run(world: World, body: Any, organization: str = A.DEFAULT_ORGANIZATION) -> bytes:
    """Answer one details query of a client of `organization` (the caller holds the world's lock and
    has ticked the clock)."""
    query = Query(body, organization)
    first = (query.number - 1) * query.size
    if world.analytics_lag or query.order_by != "conversationStart":  # rare: no index
        fragments = _afresh(world, query)
        total, page = len(fragments), fragments[first : first + query.size]
    else:
        index = _index(world, query)
        window = index.window(query)
        total = len(window)
        if query.descending:
            chosen = window[::-1][first : first + query.size]
        else:
            chosen = window[first : first + query.size]
        page = [index.records[cid].fragment for _, cid in chosen]
    if not page:  # the platform omits `conversations` when there are none
        return b'{"totalHits":%d}' % total
    return b'{"conversations":[%s],"totalHits":%d}' % (",".join(page).encode(), total)
