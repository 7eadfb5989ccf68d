"""The Notifications WebSocket on the emulator: heartbeats, ping, subscribing over the socket, one
connection per channel, expiry, reset, and every socket fault. Real WebSockets over loopback."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers.channels import (
    CHANNELS,
    frame,
    is_metadata,
    listen,
    next_event,
    next_matching,
    open_channel,
    queue_topic,
)

HEARTBEAT = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
QUEUE = "queue-sockets"


def _conversation(emulator: Any, queue: str = QUEUE) -> str:
    created = emulator.create_conversation(
        {
            "queueId": queue,
            "participants": [{"purpose": "customer", "messages": [{"ago": "1m"}]}, {"purpose": "acd"}],
        }
    )
    conversation_id: str = created["id"]
    return conversation_id


def _closed(ws: Any) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=10)
    return closed.value


def test_heartbeats_come_every_heartbeat_seconds(emulator: Any) -> None:
    emulator.set_heartbeat(0.2)
    assert emulator.notifications()["heartbeatSeconds"] == 0.2
    with listen(open_channel(emulator.platform)) as ws:
        assert frame(ws) == HEARTBEAT
        assert frame(ws) == HEARTBEAT


def test_a_ping_is_answered_with_a_pong(emulator: Any) -> None:
    with listen(open_channel(emulator.platform)) as ws:
        ws.send('{"message":"ping"}')
        assert frame(ws) == {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}


def test_subscribing_over_the_socket_adds_topics_and_events_follow(emulator: Any) -> None:
    channel = open_channel(emulator.platform)
    with listen(channel) as ws:
        ws.send(f'{{"message":"subscribe","topics":["{queue_topic(QUEUE)}"],"correlationId":"c-1"}}')
        assert frame(ws) == {"result": "200", "status": "subscribed", "correlationId": "c-1"}
        listing = emulator.platform.get(f"{CHANNELS}/{channel['id']}/subscriptions").json()
        assert [e["id"] for e in listing["entities"]] == [queue_topic(QUEUE)]
        conversation_id = _conversation(emulator)
        assert next_event(ws)["eventBody"]["id"] == conversation_id


def test_subscribing_over_the_socket_of_an_expired_channel_is_a_404_then_it_closes(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as ws:
        emulator.advance(24 * 3600 + 1)
        closing = next_matching(ws, lambda v: v.get("topicName") == "v2.system.socket_closing")
        assert closing["eventBody"]["message"]
        ws.send(f'{{"message":"subscribe","topics":["{queue_topic(QUEUE)}"],"correlationId":"c-2"}}')
        answer = frame(ws)
        assert answer["result"] == "404" and answer["correlationId"] == "c-2"
        _closed(ws)
    assert emulator.platform.head(f"{CHANNELS}/{channel['id']}").status_code == 404


def test_a_second_connection_to_a_channel_drops_the_first(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as first, listen(channel) as second:
        _closed(first)
        conversation_id = _conversation(emulator)
        assert next_event(second)["eventBody"]["id"] == conversation_id
        assert emulator.notifications()["channels"][0]["connected"] is True


def test_an_unknown_channel_is_refused_with_4004(emulator: Any) -> None:
    channel = open_channel(emulator.platform)
    with listen({"connectUri": channel["connectUri"].replace(channel["id"], "streaming-0-nope")}) as ws:
        closed = _closed(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 4004


def test_a_reset_closes_every_socket_and_channel(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as ws:
        emulator.reset()
        _closed(ws)
    assert emulator.notifications()["channels"] == []
    assert emulator.platform.head(f"{CHANNELS}/{channel['id']}").status_code == 404


def test_fault_disconnect_drops_the_matching_socket_only(emulator: Any) -> None:
    hit = open_channel(emulator.platform, [queue_topic(QUEUE)])
    spared = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(hit) as a, listen(spared) as b:
        assert emulator.socket_fault("disconnect", channelId=hit["id"]) == 1
        _closed(a)
        conversation_id = _conversation(emulator)
        assert next_event(b)["eventBody"]["id"] == conversation_id
    # the channel itself survives a dropped socket: the client reconnects to it
    assert emulator.platform.head(f"{CHANNELS}/{hit['id']}").status_code == 200


def test_fault_socket_closing_warns_then_closes(emulator: Any) -> None:
    with listen(open_channel(emulator.platform)) as ws:
        assert emulator.socket_fault("socket_closing", closeAfterSeconds=0.2) == 1
        warning = next_matching(ws, lambda v: not is_metadata(v))
        assert warning["topicName"] == "v2.system.socket_closing"
        assert set(warning) == {"topicName", "version", "eventBody", "metadata"}
        assert "CorrelationId" in warning["metadata"]
        _closed(ws)


def test_fault_silence_keeps_the_socket_open_but_sends_nothing_until_cleared(emulator: Any) -> None:
    emulator.set_heartbeat(0.1)
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as ws:
        assert frame(ws) == HEARTBEAT
        emulator.socket_fault("silence", channelId=channel["id"])
        silenced = _conversation(emulator)
        ws.send('{"message":"ping"}')
        # a dead socket: no event, no pong, no heartbeat for many heartbeat periods (drain what was
        # already on its way before the fault)
        with pytest.raises(TimeoutError):
            while True:
                ws.recv(timeout=0.6)
        emulator.clear_socket_faults()
        after = _conversation(emulator)
        event = next_event(ws)
        assert event["eventBody"]["id"] == after  # the silenced change is never replayed
    state = emulator.notifications()["channels"][0]
    assert state["eventsDropped"] == 1 and state["eventsSent"] == 1
    assert silenced != after


def test_fault_drop_loses_the_next_events_of_the_matching_channel(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as ws:
        emulator.socket_fault("drop", clientId="emulator", times=2)
        _conversation(emulator)
        _conversation(emulator)
        third = _conversation(emulator)
        assert next_event(ws)["eventBody"]["id"] == third
    state = emulator.notifications()
    assert state["channels"][0]["eventsDropped"] == 2 and state["faults"] == []


def test_fault_delay_holds_the_matching_channels_events_only(emulator: Any) -> None:
    delayed = open_channel(emulator.platform, [queue_topic(QUEUE)])
    prompt = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(delayed) as slow, listen(prompt) as fast:
        emulator.socket_fault("delay", channelId=delayed["id"], delaySeconds=2.5)
        conversation_id = _conversation(emulator)
        assert next_event(fast)["eventBody"]["id"] == conversation_id
        with pytest.raises(TimeoutError):  # still held, seconds before it is due
            slow.recv(timeout=0.1)
        assert next_event(slow)["eventBody"]["id"] == conversation_id


def test_a_client_too_slow_for_its_events_loses_its_socket_and_knows_it(emulator: Any) -> None:
    emulator.notification_settings(sendQueueLimit=2)
    channel = open_channel(emulator.platform, [queue_topic(QUEUE)])
    with listen(channel) as ws:
        # the sender holds the first event; two more fill the queue; the fourth overflows it
        emulator.socket_fault("delay", delaySeconds=30)
        for _ in range(4):
            _conversation(emulator)
        closed = _closed(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1013
    state = emulator.notifications()["channels"][0]
    assert state["eventsDropped"] >= 1 and state["connected"] is False


def test_a_bad_socket_fault_is_a_400_naming_the_field(emulator: Any) -> None:
    from genesys_emulator.client import AdminError

    for bad, named in (({"type": "explode"}, "type"), ({"type": "drop", "times": 0}, "times")):
        with pytest.raises(AdminError) as error:
            emulator._call("POST", "/notifications/faults", bad)
        assert error.value.status == 400 and named in error.value.message


def test_a_full_send_queue_goes_out_one_frame_per_loop_turn() -> None:
    """A sender draining 10,000 queued frames in one loop turn kept writing into a socket whose peer
    was gone before the loop could notice (the soak logged "socket.send() raised exception." 39,000
    times in a virtual day) and held the API meanwhile. Between two frames the loop must get a turn:
    here a callback scheduled before the drain runs before the second frame is written."""
    import asyncio

    from genesys_emulator.server import build_world
    from genesys_emulator.sockets import Connection, SocketHub

    class Peer:  # a WebSocket whose send never suspends, as uvicorn's does while its buffer has room
        def __init__(self) -> None:
            self.sent: list[str] = []
            self.turns_seen: list[int] = []
            self.turns = 0

        async def send_text(self, text: str) -> None:
            self.sent.append(text)
            self.turns_seen.append(self.turns)

    async def main() -> Peer:
        world = build_world(rate_limit=300, seed="none", analytics_lag=0.0)
        hub = SocketHub(world)
        peer = Peer()
        channel = world.notifications.create("emulator", world.clock.now())
        conn = Connection(hub, peer, channel, 0.0, 100)  # type: ignore[arg-type]
        for n in range(50):
            conn.offer(f"frame-{n}", is_event=True)

        def tick() -> None:
            peer.turns += 1
            if len(peer.sent) < 50:
                asyncio.get_running_loop().call_soon(tick)

        asyncio.get_running_loop().call_soon(tick)
        while len(peer.sent) < 50:
            await asyncio.sleep(0.001)
        conn.sender.cancel()
        return peer

    peer = asyncio.run(main())
    assert peer.sent == [f"frame-{n}" for n in range(50)]
    assert peer.turns_seen[-1] >= 40, peer.turns_seen  # the loop turned between the frames
