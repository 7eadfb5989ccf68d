"""The Notifications API's REST side on the emulator: channels, subscriptions, limits, expiry, access.

Judged through the platform API itself (and the request log); expiry by moving the virtual clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from genesys_emulator.client import platform_client
from genesys_emulator.clock import parse_iso
from tests.helpers.channels import CHANNELS, listen, open_channel, queue_topic

PLATFORM_ERROR_KEYS = {
    "message",
    "code",
    "status",
    "messageWithParams",
    "messageParams",
    "contextId",
    "details",
    "errors",
}


def _subscriptions(channel_id: str) -> str:
    return f"{CHANNELS}/{channel_id}/subscriptions"


def test_a_channel_lives_a_day_on_the_emulators_own_port(emulator: Any) -> None:
    now = emulator.now()
    answer = emulator.platform.post(CHANNELS)
    assert answer.status_code == 200
    channel = answer.json()
    assert set(channel) == {"id", "connectUri", "expires"}
    assert (
        channel["connectUri"] == f"ws://{emulator.base_url.removeprefix('http://')}/channels/{channel['id']}"
    )
    lifetime = parse_iso(channel["expires"]) - now
    assert timedelta(hours=24) <= lifetime < timedelta(hours=24, minutes=1)
    assert emulator.platform.head(f"{CHANNELS}/{channel['id']}").status_code == 200
    logged = [(r["method"], r["path"], r["status"]) for r in emulator.requests()]
    assert ("POST", CHANNELS, 200) in logged
    assert ("HEAD", f"{CHANNELS}/{channel['id']}", 200) in logged
    assert emulator.notifications()["channels"][0]["clientId"] == "emulator"


def test_queue_topics_are_permitted_and_user_and_unknown_topics_rejected(emulator: Any) -> None:
    channel = open_channel(emulator.platform)
    topics = [queue_topic("q1"), "v2.users.u1.conversations.messages", "v2.no.such.topic"]
    answer = emulator.platform.post(_subscriptions(channel["id"]), json=[{"id": t} for t in topics])
    assert answer.status_code == 200
    entries = {e["id"]: e for e in answer.json()["entities"]}
    assert entries[queue_topic("q1")]["state"] == "Permitted"
    user = entries["v2.users.u1.conversations.messages"]
    assert user["state"] == "Rejected" and "requiresCurrentUser" in user["rejectionReason"]
    assert entries["v2.no.such.topic"]["state"] == "Rejected"
    listing = emulator.platform.get(_subscriptions(channel["id"])).json()["entities"]
    assert [e["id"] for e in listing] == [queue_topic("q1")]  # only what was permitted is held


def test_without_the_queue_view_permission_a_queue_topic_is_rejected_naming_it(emulator: Any) -> None:
    emulator.add_client("no-queues", "s3cret-no-queues", ["analytics:conversationDetail:view"])
    with platform_client(emulator.base_url, "no-queues", "s3cret-no-queues") as platform:
        channel = open_channel(platform)
        answer = platform.post(_subscriptions(channel["id"]), json=[{"id": queue_topic("q1")}])
    entry = answer.json()["entities"][0]
    assert entry["state"] == "Rejected"
    assert entry["missingPermissions"] == ["routing:queue:view"]


def test_put_replaces_delete_clears_and_a_bad_body_is_a_400(emulator: Any) -> None:
    channel = open_channel(emulator.platform, [queue_topic("a"), queue_topic("b")])
    path = _subscriptions(channel["id"])
    assert emulator.platform.put(path, json=[{"id": queue_topic("c")}]).status_code == 200
    assert [e["id"] for e in emulator.platform.get(path).json()["entities"]] == [queue_topic("c")]
    assert emulator.platform.delete(path).status_code == 204
    assert emulator.platform.get(path).json() == {"entities": []}
    for bad in ({"id": queue_topic("a")}, [{"name": "x"}], ["plain"]):
        answer = emulator.platform.post(path, json=bad)
        assert answer.status_code == 400 and set(answer.json()) == PLATFORM_ERROR_KEYS


def test_a_thousand_topics_fit_and_one_more_is_a_400(emulator: Any) -> None:
    channel = open_channel(emulator.platform)
    path = _subscriptions(channel["id"])
    thousand = [{"id": queue_topic(f"q{i}")} for i in range(1000)]
    assert emulator.platform.post(path, json=thousand).status_code == 200
    assert emulator.platform.post(path, json=thousand[:10]).status_code == 200  # already held: no growth
    one_more = emulator.platform.post(path, json=[{"id": queue_topic("q1000")}])
    assert one_more.status_code == 400
    assert set(one_more.json()) == PLATFORM_ERROR_KEYS and "1000" in one_more.json()["message"]
    too_many = emulator.platform.put(path, json=[*thousand, {"id": queue_topic("q1000")}])
    assert too_many.status_code == 400
    assert len(emulator.platform.get(path).json()["entities"]) == 1000


def test_a_channel_expires_after_a_day_and_a_subscription_extends_it(emulator: Any) -> None:
    kept = open_channel(emulator.platform)
    lapsed = open_channel(emulator.platform)
    emulator.advance(23 * 3600)
    renewed = emulator.platform.post(_subscriptions(kept["id"]), json=[{"id": queue_topic("q1")}])
    assert renewed.status_code == 200
    emulator.advance(2 * 3600)
    assert emulator.platform.head(f"{CHANNELS}/{kept['id']}").status_code == 200
    assert emulator.platform.head(f"{CHANNELS}/{lapsed['id']}").status_code == 404
    assert emulator.platform.get(_subscriptions(lapsed["id"])).status_code == 404
    assert [c["id"] for c in emulator.notifications()["channels"]] == [kept["id"]]


def test_another_clients_channel_is_not_found(emulator: Any) -> None:
    channel = open_channel(emulator.platform)
    emulator.add_client("other", "other-secret", ["*"])
    with platform_client(emulator.base_url, "other", "other-secret") as other:
        assert other.head(f"{CHANNELS}/{channel['id']}").status_code == 404
        assert other.get(_subscriptions(channel["id"])).status_code == 404
        assert other.get(CHANNELS).json() == {"entities": []}
    assert [c["id"] for c in emulator.platform.get(CHANNELS).json()["entities"]] == [channel["id"]]


def test_a_21st_channel_removes_the_oldest_unused_one_sparing_a_connected_one(emulator: Any) -> None:
    channels = [open_channel(emulator.platform) for _ in range(20)]
    with listen(channels[0]):  # the oldest, but it has a socket
        newest = open_channel(emulator.platform)
        heads = {c["id"]: emulator.platform.head(f"{CHANNELS}/{c['id']}").status_code for c in channels}
    assert heads[channels[0]["id"]] == 200
    assert heads[channels[1]["id"]] == 404  # the oldest without a socket went
    assert [k for k, v in heads.items() if v == 404] == [channels[1]["id"]]
    assert emulator.platform.head(f"{CHANNELS}/{newest['id']}").status_code == 200
    assert len(emulator.notifications()["channels"]) == 20


def test_available_topics_offer_the_queue_and_user_message_topics(emulator: Any) -> None:
    answer = emulator.platform.get("/api/v2/notifications/availabletopics")
    assert answer.status_code == 200
    topics = {t["id"]: t for t in answer.json()["entities"]}
    queue = topics["v2.routing.queues.{id}.conversations.messages"]
    assert queue["requiresPermissions"] == ["routing:queue:view"]
    assert topics["v2.users.{id}.conversations.messages"]["requiresCurrentUser"] is True


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", CHANNELS), ("HEAD", f"{CHANNELS}/x"), ("GET", "/api/v2/notifications/availabletopics")],
)
def test_the_routes_need_a_token(emulator: Any, method: str, path: str) -> None:
    import httpx

    answer = httpx.request(method, emulator.base_url + path)
    assert answer.status_code == 401
    assert (method, path, 401) in [(r["method"], r["path"], r["status"]) for r in emulator.requests()]


def test_the_routes_count_against_the_rate_limit_and_take_injected_faults(emulator: Any) -> None:
    emulator.add_client("slow", "slow-secret", ["*"], rateLimitPerMinute=2)
    with platform_client(emulator.base_url, "slow", "slow-secret") as slow:
        channel = open_channel(slow)
        assert slow.head(f"{CHANNELS}/{channel['id']}").status_code == 200
        limited = slow.post(CHANNELS)
        assert limited.status_code == 429
        assert limited.headers["inin-ratelimit-count"] == "2" and "retry-after" in limited.headers
    emulator.fault(method="POST", path="/subscriptions$", status=503, times=1)
    channel = open_channel(emulator.platform)
    failed = emulator.platform.post(_subscriptions(channel["id"]), json=[{"id": queue_topic("q")}])
    assert failed.status_code == 503
    assert (
        emulator.platform.post(_subscriptions(channel["id"]), json=[{"id": queue_topic("q")}]).status_code
        == 200
    )
