"""The analytics details query: validation, predicates, paging, and the analytics lag."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from genesys_emulator.client import Emulator
from genesys_emulator.server import EmulatorServer

QUERY = "/api/v2/analytics/conversations/details/query"
UNENDED = [
    {
        "type": "and",
        "predicates": [{"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}],
    }
]


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def interval(emulator: Any, days: int = 30) -> str:
    now = emulator.now()
    return f"{z(now - timedelta(days=days))}/{z(now + timedelta(seconds=1))}"


def segment(dimension: str, value: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "and",
            "predicates": [
                {"type": "dimension", "dimension": dimension, "operator": "matches", "value": value}
            ],
        }
    ]


def conversation(
    message_type: str = "webmessaging", queue: str = "q-a", ago: str = "45m", **extra: Any
) -> dict[str, Any]:
    return {
        "messageType": message_type,
        "queueId": queue,
        "participants": [
            {"purpose": "customer", "messages": [{"ago": ago}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": ago, "endedAgo": "1m"},
            {"purpose": "agent"},
        ],
        **extra,
    }


def query(emulator: Any, **body: Any) -> Any:
    body.setdefault("interval", interval(emulator))
    return emulator.platform.post(QUERY, json=body)


def test_unended_message_conversations_are_found_with_their_segments(emulator: Any) -> None:
    open_id = emulator.create_conversation(conversation())["id"]
    ended = emulator.create_conversation(conversation())
    agent = next(p for p in ended["participants"] if p["purpose"] == "agent")
    emulator.platform.patch(
        f"/api/v2/conversations/messages/{ended['id']}/participants/{agent['id']}",
        json={"state": "disconnected"},
    )
    emulator.create_conversation(conversation(mediaType="voice"))

    body = query(
        emulator,
        conversationFilters=UNENDED,
        segmentFilters=segment("mediaType", "message"),
        paging={"pageSize": 100},
    ).json()

    assert body["totalHits"] == 1
    (found,) = body["conversations"]
    assert found["conversationId"] == open_id
    assert "conversationEnd" not in found
    purposes = {p["purpose"] for p in found["participants"]}
    assert purposes == {"customer", "acd", "agent"}
    acd = next(p for p in found["participants"] if p["purpose"] == "acd")
    (session,) = acd["sessions"]
    assert (session["mediaType"], session["messageType"]) == ("message", "webmessaging")
    assert session["segments"][-1]["queueId"] == "q-a" and session["segments"][-1]["segmentEnd"]
    everything = query(emulator).json()
    assert everything["totalHits"] == 3
    ended_view = next(c for c in everything["conversations"] if c["conversationId"] == ended["id"])
    assert ended_view["conversationEnd"]


def test_segment_predicates_select_channel_and_queue(emulator: Any) -> None:
    web = emulator.create_conversation(conversation("webmessaging", "q-a"))["id"]
    sms = emulator.create_conversation(conversation("sms", "q-b"))["id"]

    def ids(filters: list[dict[str, Any]]) -> set[str]:
        return {
            c["conversationId"]
            for c in query(emulator, segmentFilters=filters).json().get("conversations", [])
        }

    assert ids(segment("messageType", "sms")) == {sms}
    assert ids(segment("queueId", "q-a")) == {web}
    either = [
        {
            "type": "or",
            "predicates": [
                {"dimension": "queueId", "value": "q-a"},
                {"dimension": "queueId", "value": "q-b"},
            ],
        }
    ]
    assert ids(either) == {web, sms}
    assert ids(segment("queueId", "q-none")) == set()
    shouting = [
        {"type": "AND", "predicates": [{"dimension": "messagetype", "operator": "MATCHES", "value": "sms"}]}
    ]
    assert ids(shouting) == {sms}
    assert "conversations" not in query(emulator, segmentFilters=segment("queueId", "q-none")).json()


def test_paging_is_stable_and_counts_total_hits(emulator: Any) -> None:
    ids = emulator.create_conversations([conversation(ago=f"{40 + i}m") for i in range(7)])

    pages = [query(emulator, paging={"pageSize": 3, "pageNumber": n}).json() for n in (1, 2, 3, 4)]

    assert [p["totalHits"] for p in pages] == [7] * 4
    seen = [c["conversationId"] for p in pages for c in p.get("conversations", [])]
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    starts = [c["conversationStart"] for p in pages for c in p.get("conversations", [])]
    assert starts == sorted(starts)
    newest_first = query(emulator, order="desc", paging={"pageSize": 1}).json()["conversations"][0]
    assert newest_first["conversationStart"] == starts[-1]


def test_answers_follow_every_change_between_queries(emulator: Any) -> None:
    first = emulator.create_conversation(conversation(ago="50m"))["id"]
    second = emulator.create_conversation(conversation(ago="40m"))["id"]

    def unended() -> list[str]:
        body = query(
            emulator, conversationFilters=UNENDED, segmentFilters=segment("mediaType", "message")
        ).json()
        return [c["conversationId"] for c in body.get("conversations", [])]

    assert unended() == [first, second]
    emulator.platform.patch(f"/api/v2/conversations/messages/{first}", json={"state": "disconnected"})
    third = emulator.create_conversation(conversation(ago="45m"))["id"]
    assert unended() == [third, second]
    emulator.message(second, "customer", "still here")
    page = query(
        emulator, conversationFilters=UNENDED, order="desc", paging={"pageSize": 1, "pageNumber": 2}
    ).json()
    assert [c["conversationId"] for c in page["conversations"]] == [third] and page["totalHits"] == 2


def test_the_interval_selects_by_conversation_start(emulator: Any) -> None:
    emulator.create_conversation(conversation(ago="3d"))
    recent = emulator.create_conversation(conversation(ago="1h"))["id"]
    now = emulator.now()

    body = query(emulator, interval=f"{z(now - timedelta(days=1))}/{z(now)}").json()

    assert [c["conversationId"] for c in body["conversations"]] == [recent]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"paging": {"pageSize": 101}}, "pageSize"),
        ({"paging": {"pageNumber": 0}}, "pageNumber"),
        ({"interval": "yesterday"}, "interval"),
        ({"interval": "2026-11-02T00:00:00Z/2026-11-01T00:00:00Z"}, "after the start"),
        ({"interval": "2026-01-01T00:00:00Z/2026-03-01T00:00:00Z"}, "31 days"),
        (
            {"segmentFilters": [{"type": "and", "predicates": [{"dimension": "colour", "value": "x"}]}]},
            "colour",
        ),
        ({"conversationFilters": [{"type": "xor", "predicates": []}]}, "type"),
        (
            {
                "segmentFilters": [
                    {"type": "and", "predicates": [{"dimension": "queueId", "operator": "near"}]}
                ]
            },
            "near",
        ),
    ],
)
def test_bad_queries_are_400_saying_why(emulator: Any, body: dict[str, Any], named: str) -> None:
    answer = query(emulator, **body)

    assert answer.status_code == 400
    assert named in answer.json()["message"]
    assert answer.json()["code"] == "bad.request"


def test_a_body_that_is_not_json_is_400(emulator: Any) -> None:
    answer = emulator.platform.post(QUERY, content=b"{not json", headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert "JSON" in answer.json()["message"]


def test_analytics_sees_changes_only_after_the_lag() -> None:
    with EmulatorServer(analytics_lag=30) as server:
        emulator = Emulator(server.base_url)
        cid = emulator.create_conversation(conversation())["id"]
        assert cid in {
            c["conversationId"] for c in query(emulator, conversationFilters=UNENDED).json()["conversations"]
        }
        emulator.platform.patch(f"/api/v2/conversations/messages/{cid}", json={"state": "disconnected"})

        lagging = query(emulator, conversationFilters=UNENDED).json()
        emulator.advance(31)
        caught_up = query(emulator, conversationFilters=UNENDED).json()

        assert [c["conversationId"] for c in lagging["conversations"]] == [cid]
        assert caught_up == {"totalHits": 0}
        view = emulator.platform.get(f"/api/v2/conversations/messages/{cid}").json()
        assert {p["state"] for p in view["participants"]} == {"disconnected"}  # reads are not lagged
        emulator.close()


@pytest.mark.parametrize(
    ("window", "included"),
    [
        # [10:00, 11:00) on the 21st touches the 21st only: the whole of that day, nothing of the 20th
        (("2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"), {"day21-early", "day21-late"}),
        # an end at midnight touches no part of the day it opens
        (("2026-11-20T23:00:00Z", "2026-11-21T00:00:00Z"), {"day20-late"}),
        # one millisecond past midnight touches the 21st
        (("2026-11-20T23:00:00Z", "2026-11-21T00:00:00.001Z"), {"day20-late", "day21-early", "day21-late"}),
        (("2026-11-19T12:00:00Z", "2026-11-20T00:30:00Z"), {"day19", "day20-late"}),
    ],
)
def test_the_interval_includes_every_conversation_started_on_a_day_it_touches(
    emulator: Any, window: tuple[str, str], included: set[str]
) -> None:
    # PLATFORM.md [USE peer]: details "only include conversations that started on a day touched by
    # the interval" -- by whole days, whatever the times inside the interval.
    emulator.set_clock("2026-11-22T12:00:00Z")
    starts = {
        "day19": "2026-11-19T01:00:00Z",
        "day20-late": "2026-11-20T23:59:00Z",
        "day21-early": "2026-11-21T00:00:00Z",
        # not 23:59:59: each start is `now` (read once, above) minus an age, so it moves later by the
        # real time the creations take; a second of that would carry it into the 22nd
        "day21-late": "2026-11-21T23:58:00Z",
        "day22": "2026-11-22T00:01:00Z",
    }
    now = emulator.now()
    for name, started in starts.items():
        ago = (now - datetime.fromisoformat(started)).total_seconds()
        emulator.create_conversation({**conversation(ago=f"{int(ago)}s"), "id": name})

    body = query(emulator, interval="/".join(window)).json()

    found = {c["conversationId"] for c in body.get("conversations", [])}
    assert found == included
    assert body["totalHits"] == len(included)
