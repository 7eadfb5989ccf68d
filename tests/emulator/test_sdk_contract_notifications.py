"""Contract tests of the Notifications API: the official SDK against the emulator.

The SDK's `NotificationsApi` creates a channel, subscribes and reads the available topics; every event
body of a realistic day on a queue, read off a real WebSocket, deserializes with the SDK's `ApiClient`
into `QueueConversationMessageEventTopicMessageConversation`, with no `outdated_sdk_version` anywhere
and no key the model lacks (the same `walk`/`covered` checks as the REST contract test).
"""

from __future__ import annotations

import json
from typing import Any

import PureCloudPlatformClientV2 as gc
import pytest
from PureCloudPlatformClientV2.rest import ApiException

from tests.emulator.test_sdk_contract import _Response, check
from tests.helpers.channels import CHANNELS, listen, next_event, open_channel, queue_topic

QUEUE = "queue-contract"
EVENT_MODEL = "QueueConversationMessageEventTopicMessageConversation"


@pytest.fixture
def sdk(emulator: Any) -> gc.ApiClient:
    client = gc.api_client.ApiClient(host=emulator.base_url)
    return client.get_client_credentials_token("emulator", "emulator-secret")


def _topic(name: str) -> gc.ChannelTopic:
    topic = gc.ChannelTopic()
    topic.id = name
    return topic


def test_the_sdk_creates_a_channel_subscribes_and_reads_the_topics(emulator: Any, sdk: gc.ApiClient) -> None:
    api = gc.NotificationsApi(sdk)
    channel = check(api.post_notifications_channels())
    assert channel.id and channel.connect_uri.endswith(channel.id) and channel.expires is not None
    topics = [_topic(queue_topic(QUEUE)), _topic("v2.users.u1.conversations.messages")]
    added = check(
        api.post_notifications_channel_subscriptions(channel.id, topics),
        emulator.platform.post(
            f"{CHANNELS}/{channel.id}/subscriptions",
            json=[{"id": queue_topic(QUEUE)}, {"id": "v2.users.u1.conversations.messages"}],
        ).json(),
    )
    assert [t.state for t in added.entities] == ["Permitted", "Rejected"]
    assert added.entities[1].rejection_reason
    listing = check(
        api.get_notifications_channel_subscriptions(channel.id),
        emulator.platform.get(f"{CHANNELS}/{channel.id}/subscriptions").json(),
    )
    assert [t.id for t in listing.entities] == [queue_topic(QUEUE)]
    replaced = check(api.put_notifications_channel_subscriptions(channel.id, [_topic(queue_topic("other"))]))
    assert [t.id for t in replaced.entities] == [queue_topic("other")]
    api.head_notifications_channel(channel.id)  # 200: no exception
    channels = check(api.get_notifications_channels(), emulator.platform.get(CHANNELS).json())
    assert [c.id for c in channels.entities] == [channel.id]
    available = check(
        api.get_notifications_availabletopics(),
        emulator.platform.get("/api/v2/notifications/availabletopics").json(),
    )
    assert {t.id for t in available.entities} >= {
        "v2.routing.queues.{id}.conversations.messages",
        "v2.users.{id}.conversations.messages",
    }
    api.delete_notifications_channel_subscriptions(channel.id)
    assert check(api.get_notifications_channel_subscriptions(channel.id)).entities == []
    emulator.advance(25 * 3600)
    sdk.get_client_credentials_token("emulator", "emulator-secret")  # the day outlived the token too
    try:
        api.head_notifications_channel(channel.id)
    except ApiException as gone:
        assert gone.status == 404
    else:
        raise AssertionError("an expired channel must be a 404")


def _day_on_a_queue(emulator: Any) -> str:
    """Conversations on one queue through every state the reaper meets; returns the last one's id."""
    emulator.add_queue(QUEUE, "Contract", inactivityTimeoutSeconds=900, actionType="SEND_TO_ARCHITECT_FLOW")
    parked = emulator.create_conversation(
        {
            "queueId": QUEUE,
            "messageType": "whatsapp",
            "participants": [
                {"id": "c1", "purpose": "customer", "attributes": {"a": "b"}, "messages": [{"ago": "5m"}]},
                {"purpose": "acd", "state": "disconnected", "startedAgo": "9m", "endedAgo": "8m"},
                {"id": "a1", "purpose": "agent", "wrapupRequired": True, "wrapupTimeoutMs": 60000},
            ],
        }
    )["id"]
    emulator.set_state(parked, "a1", "parked")
    emulator.message(parked, "customer", "back again")  # resumes the parked agent
    emulator.leave(parked, "a1", "client")  # the agent ends it: after-call work starts
    emulator.advance(61)  # the platform's own wrap-up when ACW runs out
    offered = emulator.create_conversation(
        {
            "queueId": QUEUE,
            "participants": [
                {"purpose": "customer", "messages": [{"ago": "1m"}]},
                {"id": "a2", "purpose": "agent", "state": "alerting"},
                {"purpose": "agent", "state": "contacting"},
            ],
        }
    )["id"]
    emulator.set_state(offered, "a2", "connected")
    emulator.agent_wrapup(offered, "a2", "code-resolved", "notes")
    emulator.join(offered, {"purpose": "agent", "queueId": QUEUE, "wrapupRequired": True})
    emulator.platform.post(f"/api/v2/conversations/{offered}/disconnect").raise_for_status()
    emulator.advance(900)  # the idle one below runs out: a flow takes it
    idle = emulator.create_conversation(
        {
            "queueId": QUEUE,
            "participants": [
                {"id": "c3", "purpose": "customer", "messages": [{"ago": "20m"}]},
                {"id": "a3", "purpose": "agent", "wrapupRequired": True, "messages": [{"ago": "16m"}]},
            ],
            "inactivityTimeout": "2000-01-01T00:00:00Z",
        }
    )["id"]
    emulator.advance(1)
    emulator.platform.patch(
        f"/api/v2/conversations/messages/{idle}/participants/c3/attributes",
        json={"attributes": {"reaper.rule": "idle"}},
    )
    return idle


def test_every_event_body_of_a_day_deserializes_into_the_sdks_model(emulator: Any) -> None:
    bodies: list[dict[str, Any]] = []
    with listen(open_channel(emulator.platform, [queue_topic(QUEUE)])) as ws:
        last = _day_on_a_queue(emulator)
        while True:
            envelope = next_event(ws)
            bodies.append(envelope["eventBody"])
            if envelope["eventBody"]["id"] == last and any(
                p.get("attributes", {}).get("reaper.rule") for p in envelope["eventBody"]["participants"]
            ):
                break
    assert len(bodies) >= 12
    seen: set[str] = set()
    for raw in bodies:
        model = check(gc.ApiClient().deserialize(_Response(json.dumps(raw)), EVENT_MODEL), raw)
        assert type(model).__name__ == EVENT_MODEL and model.id == raw["id"]
        for participant in model.participants:
            seen.update(
                field
                for field in (
                    "park_time",
                    "resume_time",
                    "start_acw_time",
                    "end_acw_time",
                    "wrapup",
                    "disconnect_type",
                    "messages",
                    "queue",
                    "user",
                    "attributes",
                )
                if getattr(participant, field)
            )
            for message in participant.messages or []:
                assert message.message_time is not None and message.message_status
    # the day showed every field the reaper reads, somewhere
    assert seen == {
        "park_time",
        "resume_time",
        "start_acw_time",
        "end_acw_time",
        "wrapup",
        "disconnect_type",
        "messages",
        "queue",
        "user",
        "attributes",
    }
