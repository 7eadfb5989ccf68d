"""`serve` in events mode as a real process against the emulator, over real WebSockets on loopback.

Thresholds are in the emulator's virtual time: each test moves the clock past one and then WAITS (a
bounded poll) for the platform's state; none sleeps through a threshold. `clock_sync = "1s"` makes the
reaper see a clock jump within a second; heartbeats come every 0.3 s, so a silent socket is dead after
`heartbeat_timeout = "2s"` where the test wants one.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from serve_harness import Serve

from session_reaper.genesys.capabilities import known_permissions

QUEUE = "queue-support"
TOPIC = f"v2.routing.queues.{QUEUE}.conversations.messages"
# A generous heartbeat_timeout where a dead socket is not the point: a starved machine must not fake one.
EVENTS = {"clock_sync": "1s", "heartbeat_timeout": "10s", "ready_after_down": "1s"}


def chat(idle_minutes: float) -> dict[str, Any]:
    """Customer and agent connected in QUEUE; the customer wrote last, `idle_minutes` ago."""
    return {
        "messageType": "webmessaging",
        "queueId": QUEUE,
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": f"{idle_minutes}m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "60m", "endedAgo": "50m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{idle_minutes + 1}m"}]},
        ],
    }


def state(participant: dict[str, Any]) -> str:
    communications = participant.get("messages") or []
    return str(communications[0]["state"] if communications else participant.get("state", "")).lower()


def view(emulator: Any, conversation_id: str) -> dict[str, Any]:
    answer = emulator.platform.get(f"/api/v2/conversations/{conversation_id}")
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def ended(emulator: Any, conversation_id: str) -> bool:
    participants = view(emulator, conversation_id)["participants"]
    return all(state(p) in ("disconnected", "terminated") for p in participants)


def reads_of(emulator: Any, conversation_id: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == "GET" and conversation_id in r["path"]]


def decisions(serve: Serve, **match: str) -> list[dict[str, Any]]:
    return [
        line
        for line in serve.log_lines()
        if line.get("event") == "decided" and all(line.get(k) == v for k, v in match.items())
    ]


def wait_closed(serve: Serve, emulator: Any, conversation_id: str, rule: str) -> list[dict[str, Any]]:
    """Wait (bounded) for the conversation to end on the platform and its close to be logged."""
    serve.wait_until(lambda: ended(emulator, conversation_id), f"{conversation_id} closed", timeout=30)
    found = {"conversation_id": conversation_id, "rule": rule, "decision": "close", "outcome": "done"}
    return serve.wait_until(lambda: decisions(serve, **found), f"its {rule} close logged")  # type: ignore[no-any-return]


@pytest.fixture
def world(emulator: Any) -> Any:
    emulator.add_queue(QUEUE)
    emulator.set_heartbeat(0.3)
    return emulator


def start(serve: Serve, *args: str, **events: str) -> Serve:
    serve.start("--apply", *args, sweep={"mode": "events"}, tables={"events": {**EVENTS, **events}})
    serve.wait_ready()
    serve.wait_metric("session_reaper_sweeps_total", 1, outcome="ok")  # the first reconciliation
    return serve


def test_a_live_close_seconds_after_the_threshold_from_events(world: Any, serve: Serve) -> None:
    cid = world.create_conversation(chat(20))["id"]  # idle's threshold (30m) passes in 10 virtual minutes
    start(serve)
    world.advance(9 * 60)
    world.message(cid, "customer")  # an event: the timer moves to 30 minutes from now
    serve.wait_until(lambda: serve.metric("session_reaper_events_received_total", topic=TOPIC) >= 1, "event")
    world.advance(25 * 60)  # 25 minutes after the customer wrote: not idle yet
    world.advance(6 * 60)  # 31 minutes: past the threshold
    closed = wait_closed(serve, world, cid, "idle")
    assert [line["trigger"] for line in closed] == ["event"]  # the timer, not a sweep (every 10m)
    assert serve.metric("session_reaper_sweeps_total", outcome="ok") == 1
    assert serve.metric("session_reaper_event_lag_seconds_count") >= 1
    assert serve.metric("session_reaper_socket_up") == 1
    assert serve.metric("session_reaper_socket_reconnects_total") == 0
    assert ("session_reaper_timers_armed", frozenset()) in serve.metrics()
    ready = serve.get("/readyz").json()
    assert ready["checks"]["events"] == "ok" and ready["events"]["socket"] == "connected"
    assert ready["events"]["polling"] == {}


def test_a_healthy_chat_gets_zero_reads_from_events_alone(world: Any, serve: Serve) -> None:
    cid = world.create_conversation(chat(5))["id"]
    start(serve)
    world.clear_requests()
    for _ in range(6):  # an hour of virtual time, someone writing every 10 minutes: never idle
        world.advance(10 * 60)
        world.message(cid, "customer")
        world.message(cid, "agent")
    serve.wait_until(
        lambda: serve.metric("session_reaper_events_received_total", topic=TOPIC) >= 12, "12 events"
    )
    serve.wait_until(lambda: any(r["method"] == "HEAD" for r in world.requests()), "a clock sync")
    assert reads_of(world, cid) == []
    assert not ended(world, cid)
    assert serve.metric("session_reaper_timers_armed") == 1


def test_out_of_order_and_duplicate_events_never_close_a_live_chat(world: Any, serve: Serve) -> None:
    cid = world.create_conversation(chat(25))["id"]
    start(serve)
    world.socket_fault("delay", times=1, delaySeconds=1.5)  # the next event is overtaken by the one after
    world.message(cid, "agent")  # held back
    world.advance(60)
    world.message(cid, "customer")  # arrives first
    serve.wait_until(lambda: serve.metric("session_reaper_events_received_total", topic=TOPIC) >= 2, "both")
    world.advance(10 * 60)  # the first message alone would not be idle yet either; the stale view would
    world.advance(19 * 60)  # 30 minutes after the agent wrote, 29 after the customer: not idle
    serve.wait_until(lambda: serve.metric("session_reaper_timers_armed") == 1, "a timer")
    assert not ended(world, cid)
    assert decisions(serve, decision="close") == []
    world.advance(90)  # now 30 minutes after the customer's message: idle
    assert len(wait_closed(serve, world, cid, "idle")) == 1


@pytest.mark.parametrize("fault", ["disconnect", "socket_closing", "silence"])
def test_a_socket_gap_is_reconciled_and_a_close_missed_in_it_happens(
    world: Any, serve: Serve, fault: str
) -> None:
    cid = world.create_conversation(chat(20))["id"]
    start(serve, heartbeat_timeout="2s")
    guest = next(p["id"] for p in view(world, cid)["participants"] if p["purpose"] == "customer")
    sweeps = serve.metric("session_reaper_sweeps_total", outcome="ok")
    if fault == "silence":
        world.socket_fault("silence")  # nothing more arrives, heartbeats included: a dead socket
    else:
        world.socket_fault("drop", times=1)  # the guest leaving is never told ...
    world.leave(cid, guest)  # customer-left (5m) now applies, sooner than idle (10m more)
    if fault != "silence":
        world.socket_fault(fault, closeAfterSeconds=0.2)  # ... and then the socket goes
    serve.wait_until(lambda: serve.metric("session_reaper_socket_reconnects_total") >= 1, "a reconnect")
    world.clear_socket_faults()
    serve.wait_until(
        lambda: serve.metric("session_reaper_sweeps_total", outcome="ok") > sweeps, "a reconciliation"
    )
    world.advance(6 * 60)  # past customer-left's 5 minutes, well before idle's 30
    wait_closed(serve, world, cid, "customer-left")  # the close missed during the gap
    assert serve.metric("session_reaper_socket_reconnects_total") >= 1


def test_a_rejected_topic_falls_back_to_polling_loudly(world: Any, serve: Serve) -> None:
    permissions = [p for p in known_permissions() if p != "routing:queue:view"]
    client_id = f"no-queue-view-{uuid.uuid4().hex[:8]}"  # clients outlive the per-test reset
    world.add_client(client_id, "no-queue-view-secret", permissions)
    serve.client_id, serve.client_secret = client_id, "no-queue-view-secret"
    cid = world.create_conversation(chat(45))["id"]
    serve.start(
        "--apply",
        sweep={"mode": "events"},
        tables={"sweep.queues": {"include": [QUEUE]}, "events": EVENTS},
    )
    serve.wait_ready()
    serve.wait_until(lambda: ended(world, cid), "the polled queue's chat closed")
    # polled every [sweep] interval (1 s), not every reconcile_interval (10 m)
    serve.wait_until(lambda: serve.metric("session_reaper_sweeps_total", outcome="ok") >= 3, "polls")
    warned = [line for line in serve.log_lines() if line.get("event", "").startswith("queue topic rejected")]
    assert [line["queue_id"] for line in warned] == [QUEUE]
    assert "routing:queue:view" in warned[0]["reason"] and warned[0]["level"] == "warning"
    assert serve.metric("session_reaper_polling_fallback_queues") == 1
    ready = serve.get("/readyz").json()
    assert ready["status"] == "ready" and "routing:queue:view" in ready["events"]["polling"][QUEUE]


def test_the_channel_is_renewed_before_it_expires(world: Any, serve: Serve) -> None:
    start(serve)
    (channel,) = world.notifications()["channels"]
    world.advance(23 * 3600 + 30 * 60)  # half an hour before it would expire
    serve.wait_until(
        lambda: world.notifications()["channels"][0]["expires"] > channel["expires"], "the renewal"
    )
    world.advance(3600)  # past the first expiry
    serve.wait_until(lambda: any(r["method"] == "HEAD" for r in world.requests()[-5:]), "a later check")
    (after,) = world.notifications()["channels"]
    assert after["id"] == channel["id"] and after["connected"]
    assert serve.metric("session_reaper_socket_reconnects_total") == 0
    assert re.search(r"renewed", serve.stderr())


def test_readyz_fails_while_the_socket_is_down_and_recovers(world: Any, serve: Serve) -> None:
    start(serve)
    world.fault(method="POST", path=r"^/api/v2/notifications/channels$", status=503)
    world.advance(25 * 3600)  # the channel expires at once: its socket closes, no new one can be made
    serve.wait_until(lambda: serve.get("/readyz").status_code == 503, "/readyz 503")
    answer = serve.get("/readyz").json()
    assert answer["checks"]["events"].startswith("notification socket down for")
    assert serve.metric("session_reaper_socket_up") == 0
    world.clear_faults()
    serve.wait_until(lambda: serve.get("/readyz").status_code == 200, "/readyz 200 again", timeout=40)
    assert serve.metric("session_reaper_socket_reconnects_total") >= 1


def test_sigterm_stops_the_listening_service_cleanly(world: Any, serve: Serve) -> None:
    start(serve)
    serve.signal()
    assert serve.wait_exit(timeout=20) == 0
    assert not world.notifications()["channels"][0]["connected"]  # the socket was closed on the way out


def test_when_no_channel_can_be_made_it_polls_then_listens_again(world: Any, serve: Serve) -> None:
    cid = world.create_conversation(chat(45))["id"]
    # a 500 on a POST is not repeated (it may have taken effect): listening fails at once
    world.fault(method="POST", path=r"^/api/v2/notifications/channels$", status=500, times=1)
    serve.start("--apply", sweep={"mode": "events"}, tables={"events": EVENTS})
    wait_closed(serve, world, cid, "idle")  # by a poll pass meanwhile
    serve.wait_until(lambda: serve.metric("session_reaper_socket_up") == 1, "listening again", timeout=40)
    failed = [line for line in serve.log_lines() if line["event"].startswith("events mode failed")]
    assert failed and failed[0]["level"] == "error" and "500" in failed[0]["error"]
    assert "Traceback" not in serve.stderr()


def test_a_conversation_no_topic_shows_is_closed_on_the_timer_its_reconciliation_read_armed(
    world: Any, serve: Serve
) -> None:
    stuck = {  # still in the inbound flow: no queue participant, so no queue topic shows it [MODEL]
        "messageType": "webmessaging",
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": "50m"}]},
            {"purpose": "workflow", "state": "connected", "startedAgo": "55m", "messages": [{"ago": "51m"}]},
        ],
    }
    cid = world.create_conversation(stuck)["id"]  # flow-stuck (60m) passes in 10 virtual minutes
    start(serve)
    world.advance(11 * 60)
    closed = wait_closed(serve, world, cid, "flow-stuck")
    assert [line["trigger"] for line in closed] == ["event"]  # its timer, not the next reconciliation
    assert serve.metric("session_reaper_sweeps_total", outcome="ok") == 1
    assert serve.metric("session_reaper_events_received_total", topic=TOPIC) == 0


def test_a_refused_queue_lookup_polls_meanwhile_then_listens_again_without_a_storm(
    world: Any, serve: Serve
) -> None:
    refusals = 8  # more than one set-up's retries (6 attempts): the first set-up fails, a later one works
    queues = r"^/api/v2/routing/queues$"
    world.fault(method="GET", path=queues, status=429, retryAfter=1, times=refusals)
    cid = world.create_conversation(chat(20))["id"]  # idle's threshold (30m) passes in 10 virtual minutes
    serve.start("--apply", sweep={"mode": "events"}, tables={"events": EVENTS})
    serve.wait_until(lambda: serve.metric("session_reaper_socket_up") == 1, "listening again", timeout=60)
    (channel,) = world.notifications()["channels"]  # one channel: no half-made ones left behind
    assert channel["connected"] and channel["topics"] == [TOPIC]
    failed = [line for line in serve.log_lines() if line["event"].startswith("events mode failed")]
    assert failed and "429" in failed[0]["error"] and "Traceback" not in serve.stderr()
    back = [line for line in serve.log_lines() if line["event"] == "events mode listening again"]
    assert len(back) == 1 and back[0]["failed_attempts"] == len(failed)
    assert serve.metric("session_reaper_sweeps_total", outcome="ok") >= 1  # it polled meanwhile
    serve.wait_until(lambda: serve.metric("session_reaper_timers_armed") == 1, "the chat's timer")
    world.advance(11 * 60)
    closed = wait_closed(serve, world, cid, "idle")
    assert [line["trigger"] for line in closed] == ["event"]  # the timer of the events mode, not a poll
    # no storm: every refusal answered once, then one lookup that worked (no reconciliation since)
    lookups = [r for r in world.requests() if r["method"] == "GET" and re.match(queues, r["path"])]
    assert [r["status"] for r in lookups] == [429] * refusals + [200]
    ready = serve.get("/readyz").json()
    assert ready["checks"]["events"] == "ok" and ready["events"]["polling"] == {}
    assert serve.metric("session_reaper_polling_fallback_queues") == 0


@pytest.mark.parametrize(
    ("refusal", "refusals"),
    # A 5xx storm; answers slower than the 1 s request_timeout. One more refusal than a set-up's
    # attempts at the PUT (6 on a 5xx, 4 without an answer; RetryPolicy): the first set-up fails after
    # its channel was created, and the next one too meets a refusal on that channel before it works.
    [({"status": 503}, 7), ({"latencyMs": 1500}, 5)],
    ids=["5xx", "timeout"],
)
def test_a_refused_subscription_is_tried_again_on_the_same_channel(
    world: Any, serve: Serve, refusal: dict[str, Any], refusals: int
) -> None:
    subscriptions = r"^/api/v2/notifications/channels/[^/]+/subscriptions$"
    world.fault(method="PUT", path=subscriptions, times=refusals, **refusal)
    # every refusal is retried as always, after short waits: the attempts count here, not their spacing
    sweep = {"mode": "events", "request_timeout": "1s", "retry_backoff": "20ms"}
    serve.start("--apply", sweep=sweep, tables={"events": EVENTS})
    serve.wait_until(lambda: serve.metric("session_reaper_socket_up") == 1, "listening", timeout=90)
    # one channel made, subscribed at last: none left behind per attempt (a 21st channel of the client
    # would evict its oldest, another replica's)
    (channel,) = world.notifications()["channels"]
    assert channel["connected"] and channel["topics"] == [TOPIC]
    made = [
        r for r in world.requests() if r["method"] == "POST" and r["path"] == "/api/v2/notifications/channels"
    ]
    assert len(made) == 1

    def puts() -> list[dict[str, Any]]:
        return [r for r in world.requests() if r["method"] == "PUT" and re.match(subscriptions, r["path"])]

    # a PUT that timed out is logged when the emulator answers it, up to 0.5 s after the one that worked
    serve.wait_until(lambda: len(puts()) >= refusals + 1, "every PUT logged", timeout=5)
    assert len(puts()) == refusals + 1 and {r["path"] for r in puts()} == {
        f"/api/v2/notifications/channels/{channel['id']}/subscriptions"
    }
    assert any(line["event"].startswith("events mode failed") for line in serve.log_lines())
    assert "Traceback" not in serve.stderr()
