"""Queue-topic events on the emulator: one for every change the world makes (admin routes, the
platform API's writes, the platform's own timers, the traffic generator), the whole conversation as
of the change, after the propagation delay, never replayed, never for a conversation still in a flow.
"""

from __future__ import annotations

from typing import Any

from genesys_emulator.server import EmulatorServer
from genesys_emulator.traffic import TrafficGenerator
from tests.helpers.channels import listen, next_event, open_channel, participant, queue_topic

QUEUE = "queue-events"
MESSAGES = "/api/v2/conversations/messages"


def _chat(emulator: Any, queue: str = QUEUE, **extra: Any) -> dict[str, Any]:
    spec = {
        "queueId": queue,
        "participants": [
            {"id": "customer-1", "purpose": "customer", "messages": [{"ago": "2m"}]},
            {"id": "agent-1", "purpose": "agent", "wrapupRequired": True, "messages": [{"ago": "1m"}]},
        ],
        **extra,
    }
    created: dict[str, Any] = emulator.create_conversation(spec)
    return created


def _agent_communication(emulator: Any, conversation_id: str) -> str:
    view = emulator.platform.get(f"/api/v2/conversations/{conversation_id}").json()
    agent = next(p for p in view["participants"] if p["id"] == "agent-1")
    communication: str = agent["messages"][0]["id"]
    return communication


def test_every_kind_of_change_is_an_event_with_the_whole_conversation(emulator: Any) -> None:
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        cid = _chat(emulator)["id"]
        created = next_event(ws)
        assert created["topicName"] == queue_topic(QUEUE) and created["version"] == "2"
        assert created["eventBody"]["id"] == cid
        assert {p["purpose"] for p in created["eventBody"]["participants"]} == {"customer", "agent"}

        emulator.message(cid, "customer", "hello?")
        customer = participant(next_event(ws)["eventBody"], "customer")
        assert len(customer["messages"]) == 2 and customer["messages"][-1]["messageStatus"] == "received"

        emulator.set_state(cid, "agent-1", "parked")
        assert "parkTime" in participant(next_event(ws)["eventBody"], "agent")

        emulator.platform.patch(
            f"{MESSAGES}/{cid}/participants/customer-1/attributes", json={"attributes": {"k": "v"}}
        ).raise_for_status()
        assert participant(next_event(ws)["eventBody"], "customer")["attributes"] == {"k": "v"}

        comm = _agent_communication(emulator, cid)
        emulator.platform.post(
            f"{MESSAGES}/{cid}/communications/{comm}/messages", json={"textBody": "still there?"}
        ).raise_for_status()
        agent = participant(next_event(ws)["eventBody"], "agent")
        assert agent["messages"][-1]["messageStatus"] == "sent"

        # the reaper's own close: PATCH the agent disconnected; the customer leaves with it
        emulator.platform.patch(
            f"{MESSAGES}/{cid}/participants/agent-1", json={"state": "disconnected"}
        ).raise_for_status()
        closed = next_event(ws)["eventBody"]
        agent = participant(closed, "agent")
        assert agent["state"] == "disconnected" and agent["disconnectType"] == "client"
        assert "startAcwTime" in agent and "endAcwTime" not in agent
        assert participant(closed, "customer")["state"] == "disconnected"

        emulator.platform.post(
            f"/api/v2/conversations/messages/{cid}/participants/agent-1/communications/{comm}/wrapup",
            json={"code": "code-resolved", "notes": "done"},
        ).raise_for_status()
        wrapped = participant(next_event(ws)["eventBody"], "agent")
        assert wrapped["wrapup"]["code"] == "code-resolved" and "endAcwTime" in wrapped


def test_joins_leaves_teardown_and_the_agents_own_wrapup_are_events(emulator: Any) -> None:
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        cid = _chat(emulator)["id"]
        next_event(ws)
        second = emulator.join(cid, {"purpose": "agent", "queueId": QUEUE, "wrapupRequired": True})
        assert any(p["id"] == second for p in next_event(ws)["eventBody"]["participants"])
        emulator.leave(cid, "agent-1", "transfer")
        assert participant(next_event(ws)["eventBody"], "agent")["state"] == "connected"  # the new one
        emulator.agent_wrapup(cid, "agent-1", "code-resolved")
        next_event(ws)
        emulator.platform.post(f"/api/v2/conversations/{cid}/disconnect").raise_for_status()
        torn = next_event(ws)["eventBody"]
        assert all(p["state"] == "disconnected" for p in torn["participants"])
        assert {p["disconnectType"] for p in torn["participants"] if p["id"] == second} == {"system"}


def test_the_platforms_inactivity_timer_is_an_event_without_any_request(
    emulator: Any, emulator_server: EmulatorServer
) -> None:
    emulator.add_queue(QUEUE, "Events", inactivityTimeoutSeconds=600)
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        cid = _chat(emulator)["id"]
        assert "inactivityTimeout" in next_event(ws)["eventBody"]
        emulator.clear_requests()
        # the clock moves in-process, as real time would: no request applies the timer, the socket's pump does
        emulator_server.world.clock.advance(601)
        ended = next_event(ws)["eventBody"]
        assert ended["id"] == cid and "inactivityTimeout" not in ended
        assert {p["disconnectType"] for p in ended["participants"]} >= {"inactivity"}
    assert emulator.requests() == []  # the event came from the platform's timer, not from a read


def test_an_after_call_work_timeout_is_an_event(emulator: Any) -> None:
    spec = {
        "queueId": QUEUE,
        "participants": [
            {"purpose": "customer", "state": "disconnected", "messages": [{"ago": "5m"}]},
            {
                "id": "agent-1",
                "purpose": "agent",
                "state": "disconnected",
                "wrapupRequired": True,
                "wrapupTimeoutMs": 60_000,
                "endedAgo": "30s",
            },
        ],
    }
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        emulator.create_conversation(spec)
        assert "endAcwTime" not in participant(next_event(ws)["eventBody"], "agent")
        emulator.advance(31)
        agent = participant(next_event(ws)["eventBody"], "agent")
        assert "endAcwTime" in agent and agent["wrapup"]["code"]


def test_a_conversation_still_in_a_flow_or_a_call_shows_on_no_queue_topic(emulator: Any) -> None:
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        bot = emulator.create_conversation(
            {"queueId": QUEUE, "participants": [{"purpose": "customer"}, {"purpose": "workflow"}]}
        )
        emulator.message(bot["id"], "customer", "hi bot")
        # the topic is for message conversations: a call on the queue is not on it
        emulator.create_conversation(
            {
                "mediaType": "voice",
                "queueId": QUEUE,
                "participants": [{"purpose": "customer"}, {"purpose": "acd"}],
            }
        )
        marker = _chat(emulator)["id"]
        assert next_event(ws)["eventBody"]["id"] == marker  # events come in order: the bot's made none
        # once it reaches a queue, it shows
        emulator.join(bot["id"], {"purpose": "acd", "queueId": QUEUE})
        assert next_event(ws)["eventBody"]["id"] == bot["id"]


def test_only_the_conversations_queues_topics_carry_it(emulator: Any) -> None:
    with listen(open_channel(emulator.platform, [queue_topic("other-queue")])) as ws:
        _chat(emulator)
        mine = _chat(emulator, queue="other-queue")["id"]
        event = next_event(ws)
        assert event["eventBody"]["id"] == mine and event["topicName"] == queue_topic("other-queue")


def test_events_missed_while_no_socket_was_open_are_never_replayed(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    cid = _chat(emulator)["id"]
    with listen(channel) as ws:
        emulator.message(cid, "customer", "first")
        assert next_event(ws)["eventBody"]["id"] == cid
    emulator.message(cid, "customer", "in the gap")
    with listen(channel) as ws:
        emulator.message(cid, "customer", "after")
        body = next_event(ws)["eventBody"]
        assert len(participant(body, "customer")["messages"]) == 4  # the latest change, not the gap's
    assert emulator.notifications()["channels"][0]["eventsSent"] == 2


def test_an_event_waits_for_the_propagation_delay_and_a_clock_jump_sends_all_in_order(emulator: Any) -> None:
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        slow = _chat(emulator, propagationDelaySeconds=30)["id"]
        assert next_event(ws)["eventBody"]["id"] == slow  # created: visible at once, as reads see it
        emulator.message(slow, "customer", "one")
        emulator.advance(5)
        emulator.message(slow, "customer", "two")
        marker = _chat(emulator)["id"]
        assert next_event(ws)["eventBody"]["id"] == marker  # not yet 30 s: the slow ones wait
        emulator.advance(60)
        first, second = next_event(ws)["eventBody"], next_event(ws)["eventBody"]
        assert [len(participant(b, "customer")["messages"]) for b in (first, second)] == [2, 3]


def test_the_traffic_generator_makes_events_for_the_conversations_it_queues(emulator: Any) -> None:
    from genesys_emulator.demo_seed import DEMO_QUEUES

    topics = [queue_topic(q) for q, *_ in DEMO_QUEUES]
    with listen(open_channel(emulator.platform, topics)) as ws:
        generator = TrafficGenerator(emulator, seed=7, arrivals_per_hour=600)
        generator.step(120, tick=30)
        seen = {next_event(ws)["eventBody"]["id"] for _ in range(5)}
    assert seen <= set(generator.created) and seen
