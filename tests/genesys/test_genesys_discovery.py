"""Discovery: windows of at most 31 days over the lookback, pages of 100 until totalHits, each id once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_reaper.core.schedule import CLOCK_SKEW
from session_reaper.genesys.discovery import (
    OLDER_WINDOWS_EVERY,
    DiscoveredConversation,
    WindowBook,
    build_query,
    discover,
    windows,
)
from session_reaper.genesys.errors import GenesysError, PermissionMissing, ServerError

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def parse_interval(interval: str) -> tuple[datetime, datetime]:
    start, end = interval.split("/")
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


class FakeAnalytics:
    """Answers the details query from (id, start, queue, message type) tuples, by interval and page."""

    def __init__(self, conversations: list[tuple[str, datetime, str, str]]) -> None:
        self.conversations = conversations
        self.queries: list[dict[str, Any]] = []

    async def query_conversation_details(
        self, query: Mapping[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]:
        self.queries.append(dict(query))
        start, end = parse_interval(query["interval"])
        hits = sorted((c for c in self.conversations if start <= c[1] < end), key=lambda c: c[1])
        size, number = query["paging"]["pageSize"], query["paging"]["pageNumber"]
        page = hits[(number - 1) * size : number * size]
        return {
            "totalHits": len(hits),
            "conversations": [
                {
                    "conversationId": cid,
                    "conversationStart": started.isoformat().replace("+00:00", "Z"),
                    "participants": [
                        {
                            "purpose": "acd",
                            "sessions": [
                                {
                                    "mediaType": "message",
                                    "messageType": kind,
                                    "segments": [{"queueId": queue}],
                                }
                            ],
                        }
                    ],
                }
                for cid, started, queue, kind in page
            ],
        }


def run(analytics: FakeAnalytics, *, at: datetime = NOW, **kwargs: Any) -> list[DiscoveredConversation]:
    async def collect() -> list[DiscoveredConversation]:
        return [found async for found in discover(analytics, now=at, **kwargs)]

    return asyncio.run(collect())


def test_windows_cover_the_lookback_in_at_most_31_days_newest_first() -> None:
    for days in (1, 31, 32, 70, 180, 365):
        spans = windows(NOW, timedelta(days=days))
        assert spans[0].end > NOW and spans[-1].start == NOW - timedelta(days=days)
        assert spans[0].key is None and all(s.key for s in spans[1:])
        for span in spans:
            assert timedelta(0) < span.end - span.start <= timedelta(days=31)
        for newer, older in itertools.pairwise(spans):
            assert older.end == newer.start  # contiguous: no gap, no overlap


def test_more_than_a_page_over_several_windows_each_conversation_once() -> None:
    conversations = [(f"c{i:03d}", NOW - timedelta(hours=i * 5), "q1", "webmessaging") for i in range(250)]
    analytics = FakeAnalytics(conversations)
    found = run(analytics, channels=["webmessaging"], lookback=timedelta(days=60))
    assert sorted(f.conversation_id for f in found) == sorted(c[0] for c in conversations)
    assert len(found) == len({f.conversation_id for f in found})
    assert found[0].queue_ids == frozenset({"q1"}) and found[0].message_types == frozenset({"webmessaging"})
    for query in analytics.queries:
        start, end = parse_interval(query["interval"])
        assert end - start <= timedelta(days=31)
    # 250 conversations over 52 days: 148 in the recent window (a probe of size 1, 2 pages of 100, the
    # last first), the other 102 in older windows (each: a probe, then its pages, backwards).
    by_window: dict[str, list[tuple[int, int]]] = {}
    for q in analytics.queries:
        by_window.setdefault(q["interval"], []).append((q["paging"]["pageSize"], q["paging"]["pageNumber"]))
    recent, *older = by_window.values()
    assert recent == [(1, 1), (100, 2), (100, 1)]
    for pages in older:
        assert pages[0] == (1, 1) and pages[1:] == [(100, n) for n in range(len(pages) - 1, 0, -1)]
    assert sum(len(pages) - 1 for pages in older) >= 2


def test_the_query_asks_for_unended_message_conversations_in_scope() -> None:
    query = build_query(NOW - timedelta(days=1), NOW, channels=["webmessaging", "sms"], queue_include=["q1"])
    assert query["order"] == "asc" and query["orderBy"] == "conversationStart"
    assert query["conversationFilters"] == [
        {
            "type": "and",
            "predicates": [{"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}],
        }
    ]
    media, channels, queues = query["segmentFilters"]
    assert media["predicates"][0] == {
        "type": "dimension",
        "dimension": "mediaType",
        "operator": "matches",
        "value": "message",
    }
    assert channels["type"] == "or" and [p["value"] for p in channels["predicates"]] == [
        "webmessaging",
        "sms",
    ]
    assert queues["type"] == "or" and [p["value"] for p in queues["predicates"]] == ["q1"]
    assert query["interval"] == "2026-11-20T10:00:00.000Z/2026-11-21T10:00:00.000Z"


def test_excluded_queues_and_other_channels_are_dropped_even_if_the_platform_returns_them() -> None:
    analytics = FakeAnalytics(
        [
            ("keep", NOW - timedelta(hours=1), "q1", "webmessaging"),
            ("excluded", NOW - timedelta(hours=2), "q2", "webmessaging"),
            ("sms", NOW - timedelta(hours=3), "q1", "sms"),
        ]
    )
    found = run(analytics, channels=["webmessaging"], queue_exclude=["q2"], lookback=timedelta(days=1))
    assert [f.conversation_id for f in found] == ["keep"]


def test_no_channel_in_scope_means_no_query() -> None:
    analytics = FakeAnalytics([])
    assert run(analytics, channels=[], lookback=timedelta(days=1)) == []
    assert analytics.queries == []


class FailingProbes(FakeAnalytics):
    """Every query of page size 1 (a probe) raises `error`; the scans answer."""

    def __init__(self, conversations: list[tuple[str, datetime, str, str]], error: Exception) -> None:
        super().__init__(conversations)
        self.error = error

    async def query_conversation_details(
        self, query: Mapping[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]:
        if query["paging"]["pageSize"] == 1:
            self.queries.append(dict(query))
            assert attempts == 1  # a probe is tried once: the scan is its fallback
            raise self.error
        return await super().query_conversation_details(query, attempts=attempts)


ZOMBIES = [(f"z{d}", NOW - timedelta(days=d, minutes=7), "q1", "webmessaging") for d in (0, 20, 40, 100, 179)]
HALF_YEAR = {"channels": ["webmessaging"], "lookback": timedelta(days=180)}


def ids(found: list[DiscoveredConversation]) -> set[str]:
    return {f.conversation_id for f in found}


def test_a_book_holds_back_older_windows_until_their_cadence_has_passed() -> None:
    book = WindowBook()
    assert ids(run(FakeAnalytics(ZOMBIES), book=book, **HALF_YEAR)) == {z[0] for z in ZOMBIES}
    assert book.skipped == [] and len(book.changed) == len(windows(NOW, timedelta(days=180))) - 1

    just_before = OLDER_WINDOWS_EVERY - timedelta(seconds=1)
    for later, everything in ((just_before, False), (OLDER_WINDOWS_EVERY, True)):
        book = WindowBook(dict(book.scanned))
        found = ids(run(FakeAnalytics(ZOMBIES), at=NOW + later, book=book, **HALF_YEAR))
        expected = {z[0] for z in ZOMBIES} if everything else {"z0", "z20"}
        assert found == expected
        assert (book.skipped == []) is everything
        # what a skipped window holds is "not looked at", never "gone"
        for cid, started, *_ in ZOMBIES:
            assert book.not_looked_at(started) is (not everything and cid not in expected)


def test_a_clock_that_went_back_looks_at_every_window_again() -> None:
    book = WindowBook()
    run(FakeAnalytics(ZOMBIES), book=book, **HALF_YEAR)
    earlier = NOW - timedelta(minutes=5)
    assert ids(run(FakeAnalytics(ZOMBIES), at=earlier, book=book, **HALF_YEAR)) == {z[0] for z in ZOMBIES}


def test_failed_probes_scan_every_window_but_a_missing_permission_stops() -> None:
    for error in (ServerError("503 service.unavailable"), GenesysError("timed out")):
        analytics = FailingProbes(ZOMBIES, error)
        assert ids(run(analytics, **HALF_YEAR)) == {z[0] for z in ZOMBIES}
        probed = [q["interval"] for q in analytics.queries if q["paging"]["pageSize"] == 1]
        scanned = [q["interval"] for q in analytics.queries if q["paging"]["pageSize"] == 100]
        assert probed == scanned  # each window probed, and scanned after its probe failed
    with pytest.raises(PermissionMissing):
        run(FailingProbes(ZOMBIES, PermissionMissing("403")), **HALF_YEAR)


def test_an_empty_window_costs_its_probe_only() -> None:
    analytics = FakeAnalytics([])
    assert run(analytics, **HALF_YEAR) == []
    probes = [q["paging"]["pageSize"] for q in analytics.queries]
    assert probes == [1] * len(windows(NOW, timedelta(days=180)))


def test_a_few_seconds_of_disagreement_between_two_estimates_is_not_a_clock_gone_back() -> None:
    # A process that ran slowly under load estimates the platform's time later than the next one does.
    book = WindowBook()
    run(FakeAnalytics(ZOMBIES), book=book, **HALF_YEAR)
    for earlier in (timedelta(seconds=2), timedelta(seconds=30), CLOCK_SKEW):
        later_book = WindowBook(dict(book.scanned))
        found = ids(run(FakeAnalytics(ZOMBIES), at=NOW - earlier, book=later_book, **HALF_YEAR))
        assert found == {"z0", "z20"}, earlier


class MovingAnalytics(FakeAnalytics):
    """The analytics answer of a world that moves while discovery pages through it: after every answer,
    the next move ends some of the open conversations (anywhere in the order: listed already or not) and
    starts new ones (which start last)."""

    def __init__(self, count: int, moves: list[tuple[list[int], int]]) -> None:
        super().__init__(
            [
                (f"c{i:04d}", NOW - timedelta(hours=5) + timedelta(seconds=i), "q1", "webmessaging")
                for i in range(count)
            ]
        )
        self.moves = list(moves)
        self.ever = {c[0] for c in self.conversations}
        self.ended: set[str] = set()
        self.born = itertools.count()

    async def query_conversation_details(
        self, query: Mapping[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]:
        answer = await super().query_conversation_details(query, attempts=attempts)
        if self.moves:
            ends, arrivals = self.moves.pop(0)
            for position in sorted(
                {p % len(self.conversations) for p in ends} if self.conversations else (), reverse=True
            ):
                self.ended.add(self.conversations.pop(position)[0])
            for _ in range(arrivals):
                cid = f"n{next(self.born):04d}"
                self.conversations.append((cid, NOW - timedelta(seconds=30), "q1", "webmessaging"))
                self.ever.add(cid)
        return answer


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(0, 450),
    moves=st.lists(st.tuples(st.lists(st.integers(0, 10_000), max_size=40), st.integers(0, 30)), max_size=8),
)
def test_a_world_that_moves_while_paged_loses_none_open_throughout(
    count: int, moves: list[tuple[list[int], int]]
) -> None:
    # The class of probe E's misses: conversations end (the reaper's own closes, guests leaving) and new
    # ones start between the pages of one scan. Every conversation open from the first query to the last
    # is listed; none twice; none that never existed.
    analytics = MovingAnalytics(count, moves)
    found = [f.conversation_id for f in run(analytics, channels=["webmessaging"], lookback=timedelta(days=1))]
    assert len(found) == len(set(found))
    open_throughout = {f"c{i:04d}" for i in range(count)} - analytics.ended
    assert open_throughout <= set(found), sorted(open_throughout - set(found))[:5]
    assert set(found) <= analytics.ever
    # in the platform's order: oldest first
    started = {c[0]: c[1] for c in analytics.conversations}
    still = [started[c] for c in found if c in started]
    assert still == sorted(still)
