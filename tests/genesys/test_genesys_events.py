"""The Notifications adapter against the emulator over real WebSockets: channels, topics, the socket,
and event bodies read into the same model as a read of the conversation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from session_reaper.core.model import ActivityKind, DiscoveryScope
from session_reaper.engine.ports import Connected, ConversationEvent, Disconnected, EventIgnored, EventSignal
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.errors import NotFound
from session_reaper.genesys.event_mapping import to_signal
from session_reaper.genesys.events import GenesysEvents
from session_reaper.genesys.mapping import to_conversation
from session_reaper.genesys.regions import resolve

T = TypeVar("T")
DEFAULT_CLIENT = ("emulator", "emulator-secret")
QUEUE = "queue-support"
TOPIC = f"v2.routing.queues.{QUEUE}.conversations.messages"


def scope(*include: str) -> DiscoveryScope:
    return DiscoveryScope(("webmessaging",), include, (), timedelta(days=180))


def run(emulator: Any, work: Callable[[GenesysApi], Awaitable[T]]) -> T:
    async def main() -> T:
        async with GenesysApi.connect(resolve(None, emulator.base_url), *DEFAULT_CLIENT) as api:
            return await work(api)

    return asyncio.run(main())


def no_own(_: str) -> dict[str, ActivityKind]:
    return {}


def chat() -> dict[str, Any]:
    return {
        "messageType": "webmessaging",
        "queueId": QUEUE,
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": "5m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "20m", "endedAgo": "15m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": "6m"}]},
        ],
    }


async def take(signals: Any, count: int, kinds: tuple[type, ...], timeout: float = 10.0) -> list[EventSignal]:
    found: list[EventSignal] = []
    async with asyncio.timeout(timeout):
        async for signal in signals:
            if isinstance(signal, kinds):
                found.append(signal)
                if len(found) == count:
                    return found
    return found


def test_more_than_1000_queues_take_two_channels(emulator: Any) -> None:
    queues = [f"q-{n:04d}" for n in range(1001)]

    async def work(api: GenesysApi) -> Any:
        events = GenesysEvents(api)
        subscribed = await events.subscribe(scope(*queues))
        return subscribed, events.channel_ids

    subscribed, channel_ids = run(emulator, work)
    assert subscribed.channels == 2 and len(channel_ids) == 2
    assert subscribed.permitted == frozenset(queues) and not subscribed.rejected
    topics = [len(c["topics"]) for c in emulator.notifications()["channels"]]
    assert sorted(topics) == [1, 1000]


def test_an_event_body_reads_as_the_conversation_does(emulator: Any) -> None:
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)
    cid = emulator.create_conversation(chat())["id"]

    async def work(api: GenesysApi) -> Any:
        events = GenesysEvents(api, heartbeat_timeout=2.0)
        await events.subscribe(scope())  # every queue, listed
        signals = events.signals(no_own)
        try:
            (opened,) = await take(signals, 1, (Connected,))
            await asyncio.to_thread(emulator.message, cid, "agent", "still there?")
            (event,) = await take(signals, 1, (ConversationEvent,))
            read = to_conversation(await api.get_message_conversation(cid))
            return opened, event, read
        finally:
            await signals.aclose()
            await events.aclose()

    opened, event, read = run(emulator, work)
    assert isinstance(opened, Connected) and not opened.reconnect
    assert isinstance(event, ConversationEvent) and event.topic == TOPIC
    seen = event.conversation
    assert seen.id == cid and seen.channel == "webmessaging" and seen.media == "message"
    assert [(p.id, p.role, p.state) for p in seen.participants] == [
        (p.id, p.role, p.state) for p in read.participants
    ]
    # each participant's latest message is kept (all the rules read), with its id for the own texts
    latest = {
        p.id: max(a.at for a in read.activities if a.participant_id == p.id)
        for p in read.participants
        if any(a.participant_id == p.id for a in read.activities)
    }
    assert {a.participant_id: a.at for a in seen.activities} == latest
    assert seen.last_activity == read.last_activity
    assert all(a.message_id for a in seen.activities)
    assert event.changed_at == seen.activities[-1].at


def test_the_socket_comes_back_after_a_drop_and_says_it_was_a_gap(emulator: Any) -> None:
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)

    async def work(api: GenesysApi) -> list[EventSignal]:
        events = GenesysEvents(api, heartbeat_timeout=1.0, backoff_base=0.05)
        await events.subscribe(scope(QUEUE))
        signals = events.signals(no_own)
        try:
            first = await take(signals, 1, (Connected,))
            await asyncio.to_thread(emulator.socket_fault, "disconnect")
            later = await take(signals, 2, (Connected, Disconnected))
            await asyncio.to_thread(emulator.socket_fault, "silence")  # dead: no heartbeat any more
            dead = await take(signals, 1, (Disconnected,))
            await asyncio.to_thread(emulator.clear_socket_faults)
            back = await take(signals, 1, (Connected,))
            return first + later + dead + back
        finally:
            await signals.aclose()
            await events.aclose()

    signals = run(emulator, work)
    assert [type(s).__name__ for s in signals] == [
        "Connected",
        "Disconnected",
        "Connected",
        "Disconnected",
        "Connected",
    ]
    assert [s.reconnect for s in signals if isinstance(s, Connected)] == [False, True, True]
    assert "no frame for 1s" in signals[3].reason  # type: ignore[union-attr]


def test_a_malformed_event_is_ignored_with_a_reason_never_raised() -> None:
    frames: list[dict[str, Any]] = [
        {"topicName": TOPIC},
        {"topicName": TOPIC, "eventBody": []},
        {"topicName": TOPIC, "eventBody": {"participants": []}},
        {"topicName": TOPIC, "eventBody": {"id": "c-1", "participants": "none"}},
        {
            "topicName": TOPIC,
            "eventBody": {"id": "c-1", "participants": [{"purpose": "agent", "state": "?"}]},
        },
        {"topicName": "v2.users.u-1.conversations.messages", "eventBody": {"id": "c-1", "participants": []}},
        {"topicName": "", "unreadable": True},
    ]
    signals = [to_signal(frame, no_own) for frame in frames]
    assert all(isinstance(s, EventIgnored) and s.reason for s in signals)


def test_an_event_keeps_the_last_message_and_the_reapers_own_texts_since() -> None:
    body = {
        "id": "c-1",
        "participants": [
            {
                "id": "p-agent",
                "purpose": "agent",
                "state": "connected",
                "type": "webmessaging",
                "messages": [
                    {
                        "message": {"id": "m-1"},
                        "messageTime": "2026-11-21T10:00:00Z",
                        "messageStatus": "sent",
                    },
                    {
                        "message": {"id": "m-2"},
                        "messageTime": "2026-11-21T10:05:00Z",
                        "messageStatus": "sent",
                    },
                ],
            }
        ],
    }
    own = {"m-2": ActivityKind.REAPER_WARNING, "m-3": ActivityKind.REAPER_CLOSING}
    signal = to_signal({"topicName": TOPIC, "eventBody": body}, lambda cid: own if cid == "c-1" else {})
    assert isinstance(signal, ConversationEvent)
    assert [a.kind for a in signal.conversation.activities] == [
        ActivityKind.MESSAGE,
        ActivityKind.REAPER_WARNING,
    ]


def test_a_queue_created_later_is_added_to_the_open_channel(emulator: Any) -> None:
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)

    async def work(api: GenesysApi) -> Any:
        events = GenesysEvents(api, heartbeat_timeout=2.0)
        first = await events.subscribe(scope())
        signals = events.signals(no_own)
        try:
            await take(signals, 1, (Connected,))
            await asyncio.to_thread(emulator.add_queue, "queue-late")
            again = await events.subscribe(scope())  # what each reconciliation does
            created = await asyncio.to_thread(
                emulator.create_conversation, {**chat(), "queueId": "queue-late"}
            )
            await asyncio.to_thread(emulator.message, created["id"], "customer")
            (event,) = await take(signals, 1, (ConversationEvent,))
            return first, again, event, events.channel_ids
        finally:
            await signals.aclose()
            await events.aclose()

    first, again, event, channel_ids = run(emulator, work)
    assert first.permitted == {QUEUE} and again.permitted == {QUEUE, "queue-late"}
    assert len(channel_ids) == 1 and again.channels == 1
    assert event.topic == "v2.routing.queues.queue-late.conversations.messages"
    (channel,) = emulator.notifications()["channels"]
    assert sorted(channel["topics"]) == sorted([TOPIC, "v2.routing.queues.queue-late.conversations.messages"])


def test_a_channel_gone_before_its_first_subscribe_is_replaced_by_a_new_one(emulator: Any) -> None:
    # The subscribe of a channel just created answers 404: it expired or was evicted meanwhile. A
    # refused subscribe (5xx, timeout) is tried again on the same channel; a gone one cannot be.
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.2)
    subscriptions = r"^/api/v2/notifications/channels/[^/]+/subscriptions$"
    emulator.fault(method="PUT", path=subscriptions, status=404, times=1)

    async def work(api: GenesysApi) -> Any:
        events = GenesysEvents(api, heartbeat_timeout=2.0)
        with pytest.raises(NotFound):  # the 404 fails this set-up
            await events.subscribe(scope())
        again = await events.subscribe(scope())  # the next set-up
        signals = events.signals(no_own)
        try:
            (connected,) = await take(signals, 1, (Connected,))
            return again, connected, events.channel_ids
        finally:
            await signals.aclose()
            await events.aclose()

    again, connected, channel_ids = run(emulator, work)
    assert again.permitted == {QUEUE} and again.channels == 1
    requests = emulator.requests()
    made = [r for r in requests if r["method"] == "POST" and r["path"] == "/api/v2/notifications/channels"]
    assert len(made) == 2  # a new channel for the second set-up, not the gone one subscribed again
    puts = [r["path"].split("/")[-2] for r in requests if r["method"] == "PUT"]
    (channel_id,) = channel_ids
    assert len(puts) == 2 and puts[0] != channel_id and puts[1] == channel_id
    assert connected.channel_id == channel_id
    topics = {c["id"]: c["topics"] for c in emulator.notifications()["channels"]}
    assert topics == {puts[0]: [], channel_id: [TOPIC]}  # the emulator kept the "gone" one: a fault said 404


def _sent_all(emulator: Any, count: int) -> None:
    """Until the emulator has sent `count` events on its one channel, on the caller's thread."""
    deadline = time.monotonic() + 10.0
    while emulator.notifications()["channels"][0]["eventsSent"] < count:
        assert time.monotonic() < deadline, "the emulator did not send the burst"


def test_leaving_the_signals_amid_a_burst_of_frames_stops_every_notification_task(emulator: Any) -> None:
    # The burst is sent while the reaper's event loop is held (`_sent_all` on the loop's own thread), so
    # that the socket reads it in one go: when the first event is taken and the signals are left, the
    # next frame is already buffered and the socket task's receive of it is complete as its cancel
    # arrives. Such a cancel once went unseen (`wait_for` returned the frame), and the task listened
    # on: the stop waited all of `STOP_WAIT` and left the task running.
    emulator.add_queue(QUEUE)
    burst = 10

    def ours() -> set[asyncio.Task[Any]]:
        names = {"GenesysEvents._keep_open", "GenesysEvents._keep_fresh"}
        return {t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") in names}

    async def work(api: GenesysApi) -> tuple[int, list[bool]]:
        events = GenesysEvents(api)
        await events.subscribe(scope())
        signals = events.signals(no_own)
        try:
            await take(signals, 1, (Connected,))
            await asyncio.to_thread(emulator.create_conversations, [chat() for _ in range(burst)])
            _sent_all(emulator, burst)
            await take(signals, 1, (ConversationEvent,))
            tasks = ours()
        finally:
            await signals.aclose()
        try:
            return len(tasks), [t.done() for t in tasks]
        finally:
            await events.aclose()

    count, done = run(emulator, work)
    assert count == 2 and all(done)  # the channel's socket task and the clock's, both ended by the stop
