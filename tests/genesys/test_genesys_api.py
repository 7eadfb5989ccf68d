"""Typed calls, discovery and mapping against the emulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from session_reaper.core.model import ActivityKind, Role
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.discovery import DiscoveredConversation, discover, windows
from session_reaper.genesys.mapping import to_conversation
from session_reaper.genesys.regions import resolve

T = TypeVar("T")
DEFAULT_CLIENT = ("emulator", "emulator-secret")


def chat(queue: str = "q-support", message_type: str = "webmessaging", **extra: Any) -> dict[str, Any]:
    return {
        "messageType": message_type,
        "queueId": queue,
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": "45m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "50m", "endedAgo": "46m"},
            {"purpose": "agent", "state": "connected", "wrapupRequired": True, "messages": [{"ago": "44m"}]},
        ],
        **extra,
    }


def run(emulator: Any, work: Callable[[GenesysApi], Awaitable[T]]) -> T:
    async def main() -> T:
        async with GenesysApi.connect(resolve(None, emulator.base_url), *DEFAULT_CLIENT) as api:
            return await work(api)

    return asyncio.run(main())


def test_a_live_conversation_maps_to_the_model(emulator: Any) -> None:
    created = emulator.create_conversation(chat())
    cid = created["id"]
    platform_now = emulator.now()

    conversation = run(emulator, lambda api: api.get_conversation(cid))
    snapshot = to_conversation(conversation)

    assert snapshot.id == cid and snapshot.media == "message" and snapshot.channel == "webmessaging"
    assert [(p.role, p.state) for p in snapshot.participants] == [
        (Role.CUSTOMER, "connected"),
        (Role.QUEUE, "disconnected"),
        (Role.AGENT, "connected"),
    ]
    agent = snapshot.with_role(Role.AGENT)[0]
    assert agent.communication_id and agent.wrapup_required
    assert [a.role for a in snapshot.activities] == [Role.CUSTOMER, Role.AGENT]
    last = snapshot.last_activity
    assert last is not None
    assert abs((platform_now - last.at) - timedelta(minutes=44)) < timedelta(seconds=5)


def test_typed_calls_do_what_they_say(emulator: Any) -> None:
    emulator.add_queue("q-support", name="Support")
    emulator.add_queue("q-sales", name="Sales", inactivityTimeoutSeconds=600)
    created = emulator.create_conversation(chat())
    cid = created["id"]
    customer = next(p for p in created["participants"] if p["purpose"] == "customer")["id"]

    async def work(api: GenesysApi) -> dict[str, Any]:
        view = to_conversation(await api.get_conversation(cid))
        agent = view.with_role(Role.AGENT)[0]
        assert agent.communication_id is not None
        await api.set_participant_attributes(cid, customer, {"reaper.rule": "idle"})
        sent = await api.send_message(
            cid, agent.communication_id, "This chat was closed because it was inactive."
        )
        codes = await api.wrapup_codes(cid, agent.id)
        await api.disconnect_participant(cid, agent.id)
        await api.apply_wrapup(
            cid, agent.id, agent.communication_id, codes[0]["id"], "Closed by session-reaper"
        )
        after = to_conversation(await api.get_conversation(cid), {sent["id"]: ActivityKind.REAPER_CLOSING})
        queues = [q async for q in api.list_queues(page_size=1)]
        return {
            "sent": sent,
            "codes": codes,
            "after": after,
            "queues": queues,
            "queue": await api.get_queue("q-support"),
            "media": await api.get_message_conversation(cid),
            "me": await api.token_info(),
        }

    result = run(emulator, work)
    after = result["after"]
    assert after.customer is not None and after.customer.attributes.get("reaper.rule") == "idle"
    assert (
        after.activities[-1].kind is ActivityKind.REAPER_CLOSING
    )  # the reaper's text never resets the clock
    assert after.last_activity is not None and after.last_activity.kind is ActivityKind.MESSAGE
    agent = after.with_role(Role.AGENT)[0]
    assert agent.ended and agent.wrapup is not None and agent.wrapup.code == result["codes"][0]["id"]
    assert all(p.ended for p in after.participants)
    assert sorted(q["id"] for q in result["queues"]) == ["q-sales", "q-support"]
    assert result["queue"]["id"] == "q-support"
    sales = next(q for q in result["queues"] if q["id"] == "q-sales")
    assert sales["mediaSettings"]["message"]["enableInactivityTimeout"] is True
    assert result["media"]["id"] == cid and result["me"]["organization"]


def test_disconnect_conversation_and_teardown(emulator: Any) -> None:
    queued = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "connected", "messages": [{"ago": "40m"}]},
                {"purpose": "acd", "state": "connected", "startedAgo": "40m"},
            ]
        }
    )["id"]
    orphan = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "disconnected", "startedAgo": "30m", "endedAgo": "20m"},
                {"purpose": "acd", "state": "connected", "startedAgo": "30m"},
            ]
        }
    )["id"]

    async def work(api: GenesysApi) -> tuple[bool, bool]:
        await api.disconnect_conversation(queued)
        await api.teardown(orphan)
        one = to_conversation(await api.get_conversation(queued))
        two = to_conversation(await api.get_conversation(orphan))
        return all(p.ended for p in one.participants), all(p.ended for p in two.participants)

    assert run(emulator, work) == (True, True)
    writes = [(r["method"], r["path"]) for r in emulator.requests() if r["method"] in ("PATCH", "POST")]
    assert ("PATCH", f"/api/v2/conversations/messages/{queued}") in writes
    assert ("POST", f"/api/v2/conversations/{orphan}/disconnect") in writes


def test_discovery_pages_and_windows_over_the_analytics_query(emulator: Any) -> None:
    recent = emulator.create_conversations([chat() for _ in range(130)])
    older = emulator.create_conversations([chat(startedAgo="40d") for _ in range(5)])
    excluded = emulator.create_conversations([chat(queue="q-vip") for _ in range(3)])
    sms = emulator.create_conversations([chat(message_type="sms") for _ in range(2)])
    emulator.create_conversations([chat(mediaType="voice") for _ in range(2)])
    ended = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "disconnected", "startedAgo": "9m", "endedAgo": "5m"},
                {"purpose": "agent", "state": "disconnected", "startedAgo": "9m", "endedAgo": "5m"},
            ]
        }
    )["id"]
    emulator.clear_requests()

    looked_at: list[datetime] = []

    async def work(api: GenesysApi) -> list[DiscoveredConversation]:
        looked_at.append(api.clock.now())
        return [
            found
            async for found in discover(
                api,
                channels=["webmessaging"],
                queue_exclude=["q-vip"],
                lookback=timedelta(days=45),
                now=looked_at[0],
            )
        ]

    found = run(emulator, work)
    ids = [f.conversation_id for f in found]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(recent) | set(older)
    assert not set(ids) & (set(excluded) | set(sms) | {ended})
    assert all(f.queue_ids == frozenset({"q-support"}) for f in found)
    queries = [r for r in emulator.requests() if r["path"] == "/api/v2/analytics/conversations/details/query"]
    assert all(r["status"] == 200 for r in queries)
    # Each window is probed (a page of size 1), then read 100 a page, last first, if it holds anything.
    # The recent one holds 133 in-scope-or-excluded hits + sms: two pages. The 14 days older than it
    # are one or two windows, by where the fixed 31-day blocks fall on today's calendar: the one touching the
    # 40-day-old conversations' day is read in one page, any other is probed empty.
    pages = [(r["pageSize"], r["pageNumber"]) for r in queries]
    looks = [
        pages[i : next((j for j in range(i + 1, len(pages)) if pages[j] == (1, 1)), len(pages))]
        for i, page in enumerate(pages)
        if page == (1, 1)
    ]
    assert len(looks) == len(windows(looked_at[0], timedelta(days=45)))
    assert looks[0] == [(1, 1), (100, 2), (100, 1)]  # backwards: see test_genesys_discovery
    assert all(look in ([(1, 1)], [(1, 1), (100, 1)]) for look in looks[1:]), looks
    assert [(1, 1), (100, 1)] in looks[1:]


def test_discovery_can_be_narrowed_to_included_queues(emulator: Any) -> None:
    wanted = emulator.create_conversations([chat(queue="q-a") for _ in range(3)])
    emulator.create_conversations([chat(queue="q-b") for _ in range(3)])

    async def work(api: GenesysApi) -> set[str]:
        return {
            found.conversation_id
            async for found in discover(
                api,
                channels=["webmessaging"],
                queue_include=["q-a"],
                lookback=timedelta(days=1),
                now=api.clock.now(),
            )
        }

    assert run(emulator, work) == set(wanted)


def test_discovery_loses_none_while_conversations_end_and_start_between_its_pages(emulator: Any) -> None:
    # Probe E's misses over real HTTP: between two pages of one scan, conversations on pages already
    # read end (the reaper's re-checks close them, guests leave) and new ones start. Paged forwards, each
    # end moved a later conversation onto a page already read, never listed.
    def plain(**extra: Any) -> dict[str, Any]:  # one disconnect ends it: no wrap-up to wait for
        return {**chat(**extra), "participants": [{"purpose": "customer", "state": "connected"}]}

    opened = emulator.create_conversations([plain(startedAgo=f"{300 - i // 2}m") for i in range(350)])
    ended: list[str] = []
    joined: list[str] = []

    class Moving:
        def __init__(self, api: GenesysApi) -> None:
            self.api = api

        async def query_conversation_details(self, query: Any, *, attempts: int | None = None) -> Any:
            answer = await self.api.query_conversation_details(query, attempts=attempts)
            if query["paging"]["pageSize"] > 1:
                listed = [c["conversationId"] for c in answer.get("conversations", [])]
                still = [c for c in opened if c not in ended]
                # from the page just read, and from the oldest and the middle of what is still open
                for cid in dict.fromkeys(
                    [*listed[:8], *still[:4], *still[len(still) // 2 : len(still) // 2 + 4]]
                ):
                    await self.api.disconnect_conversation(cid)
                    ended.append(cid)
                joined.extend(emulator.create_conversations([plain() for _ in range(6)]))
            return answer

    async def work(api: GenesysApi) -> list[str]:
        moving = Moving(api)
        now = api.clock.now()
        return [
            f.conversation_id
            async for f in discover(moving, channels=["webmessaging"], lookback=timedelta(days=2), now=now)
        ]

    found = run(emulator, work)
    assert ended and joined
    assert len(found) == len(set(found))
    missed = set(opened) - set(ended) - set(found)
    assert not missed, f"{len(missed)} open throughout were never listed"
    assert set(found) <= set(opened) | set(joined)
