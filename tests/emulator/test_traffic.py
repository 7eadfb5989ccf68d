"""The demo seed and the synthetic traffic generator, judged through the platform API."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from genesys_emulator import views
from genesys_emulator.client import Emulator
from genesys_emulator.server import EmulatorServer, build_world
from genesys_emulator.traffic import TrafficGenerator, demo_specs

QUERY = "/api/v2/analytics/conversations/details/query"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def situation(view: dict[str, Any], now: datetime) -> str:
    """What SCENARIOS.md would call this conversation, read from the generic view."""
    legs = view["participants"]
    media = next(k for k in ("messages", "calls", "chats", "emails") if k in legs[0])
    if media != "messages":
        return f"media:{media}"
    if view.get("endTime"):
        return "ended"
    active = {p["purpose"] for p in legs if p[media][0]["state"] != "disconnected"}
    channel = legs[0][media][0]["type"]
    times = [parse(m["messageTime"]) for p in legs for m in p[media][0].get("messages", [])]
    silent = now - max(times) if times else timedelta(0)
    if any(p.get("attributes", {}).get("reaper.exempt") == "true" for p in legs):
        return "exempt"
    if view.get("inactivityTimeout") and parse(view["inactivityTimeout"]) > now:
        return "platform-timer"
    if channel != "webmessaging":
        return f"channel:{channel}"
    if not active:
        return "after-call-work"
    if active == {"customer", "agent"}:
        return "idle" if silent > timedelta(minutes=30) else "active"
    if active == {"agent"}:
        return "customer-left"
    if active == {"customer", "acd"}:
        return "queue-abandoned"
    if active == {"customer", "workflow"}:
        return "flow-stuck"
    if "customer" not in active and "agent" not in active:
        return "zombie"
    return "other"


def test_the_demo_seed_covers_every_situation() -> None:
    with EmulatorServer(seed="demo", rate_limit=100_000) as server:
        emulator = Emulator(server.base_url)
        now = emulator.now()
        start = (now - timedelta(days=2)).isoformat().replace("+00:00", "Z")
        end = (now + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        ids: list[str] = []
        page = 1
        while True:
            body = emulator.platform.post(
                QUERY, json={"interval": f"{start}/{end}", "paging": {"pageSize": 100, "pageNumber": page}}
            ).json()
            ids += [c["conversationId"] for c in body.get("conversations", [])]
            if len(ids) >= body["totalHits"]:
                break
            page += 1
        seen = Counter(
            situation(emulator.platform.get(f"/api/v2/conversations/{cid}").json(), now) for cid in ids
        )
        queues = emulator.platform.get("/api/v2/routing/queues").json()
        emulator.close()

    assert len(ids) >= 300
    expected = {
        "active",
        "idle",
        "customer-left",
        "queue-abandoned",
        "flow-stuck",
        "zombie",
        "after-call-work",
        "exempt",
        "platform-timer",
        "channel:sms",
        "channel:whatsapp",
        "media:calls",
        "media:chats",
        "media:emails",
        "ended",
    }
    assert expected <= set(seen), f"missing {expected - set(seen)}; seen {seen}"
    assert queues["total"] >= 4
    timed = [q for q in queues["entities"] if q["mediaSettings"]["message"]["enableInactivityTimeout"]]
    assert timed and len(timed) < queues["total"]


def test_the_seed_is_deterministic() -> None:
    assert demo_specs(7) == demo_specs(7)
    assert demo_specs(7) != demo_specs(8)


def test_the_generator_plays_guests_and_agents_over_http(emulator: Any) -> None:
    generator = TrafficGenerator(emulator, seed=3, arrivals_per_hour=200)

    created = generator.step(2700, tick=120)

    assert emulator.requests() == []  # guests and agents act through the admin API only
    now = emulator.now()
    seen = Counter(
        situation(emulator.platform.get(f"/api/v2/conversations/{cid}").json(), now) for cid in created
    )
    assert len(created) > 100
    assert {"ended", "customer-left", "after-call-work", "active"} <= set(seen), seen
    assert seen["ended"] >= 10


def test_the_generator_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[tuple[str, str | None, int]]:
        world = build_world()
        world.clock.set(datetime(2030, 1, 1, tzinfo=UTC))
        created = TrafficGenerator(world, seed=seed, arrivals_per_hour=300).step(3600)
        return [
            (cid, conv.end and conv.end.isoformat()[:16], len(conv.legs))
            for cid in created
            for conv in [world.conversations[cid]]
        ]

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_hours_of_traffic_leave_every_kind_of_loose_end() -> None:
    world = build_world()
    created = TrafficGenerator(world, seed=5, arrivals_per_hour=200).step(3 * 3600)
    now = world.clock.now()

    seen = Counter(situation(views.generic_dict(world.conversations[cid]), now) for cid in created)

    loose_ends = {"idle", "customer-left", "queue-abandoned", "flow-stuck", "zombie", "after-call-work"}
    assert loose_ends | {"ended", "active", "exempt", "platform-timer"} <= set(seen), seen
