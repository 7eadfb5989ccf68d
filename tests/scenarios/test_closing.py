"""SCENARIOS.md rows 1-13: what the reaper closes, what it leaves alone, and how."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers.scenarios import (
    acd,
    agent,
    customer,
    ended,
    idle_chat,
    participants_by_purpose,
    state_of,
    unended_ids,
    writes,
)


def test_row1_idle_conversation_is_closed_by_disconnecting_the_agent(emulator, reaper, conversation_view):
    created = emulator.create_conversation(idle_chat(45))
    cid = created["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("idle", "close", "done")
    # The platform clock comes from the Date header (whole seconds): it may read up to 1 s early.
    assert re.search(r"no message for 4[45]m \(threshold 30m\)", line["reason"]), line["reason"]
    assert line["steps"] == ["annotate", "closing-text", "disconnect:agent", "verify"]
    view = conversation_view(cid)
    assert ended(view)
    (agent_leg,) = participants_by_purpose(view, "agent")
    (customer_leg,) = participants_by_purpose(view, "customer")
    assert state_of(agent_leg) == "disconnected"
    assert customer_leg["attributes"]["reaper.rule"] == "idle"
    assert customer_leg["attributes"]["reaper.reason"]
    assert customer_leg["attributes"]["reaper.closedAt"]
    assert cid not in unended_ids(emulator)
    patches = [r for r in writes(emulator.requests(), cid) if r["method"] == "PATCH"]
    assert [r["path"] for r in patches if r["path"].endswith(agent_leg["id"])] == [
        f"/api/v2/conversations/messages/{cid}/participants/{agent_leg['id']}"
    ]
    assert run.summary is not None and run.summary["closed"] == 1


def test_row2_customer_wrote_recently_is_skipped_without_any_write(emulator, reaper):
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago="2m")
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests()) == []


def test_row3_any_message_resets_the_clock(emulator, reaper):
    spec = idle_chat(50)
    spec["participants"][2] = agent(ago="1m")
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests()) == []


def test_row4_customer_left_agent_still_attached(emulator, reaper, conversation_view):
    spec = {
        "messageType": "webmessaging",
        "participants": [
            customer(state="disconnected", ago="12m", endedAgo="10m"),
            acd(),
            agent(ago="11m"),
        ],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("customer-left", "close", "done")
    view = conversation_view(cid)
    assert state_of(participants_by_purpose(view, "agent")[0]) == "disconnected"
    assert ended(view)


def test_row5_abandoned_in_queue_is_closed_with_one_patch_on_the_conversation(
    emulator, reaper, conversation_view
):
    spec = {
        "messageType": "webmessaging",
        "queueId": "queue-sales",
        "participants": [customer(ago="40m"), acd(state="connected", startedAgo="41m")],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("queue-abandoned", "close", "done")
    assert ended(conversation_view(cid))
    on_conversation = [
        r
        for r in writes(emulator.requests(), cid)
        if r["method"] == "PATCH" and r["path"] == f"/api/v2/conversations/messages/{cid}"
    ]
    assert len(on_conversation) == 1
    assert not [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/disconnect")]


def test_row6_stuck_in_flow_is_closed(emulator, reaper, conversation_view):
    spec = {
        "messageType": "webmessaging",
        "participants": [
            customer(ago="90m"),
            {"purpose": "workflow", "state": "connected", "startedAgo": "95m", "messages": [{"ago": "91m"}]},
        ],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("flow-stuck", "close", "done")
    assert ended(conversation_view(cid))


def test_row7_orphaned_zombie_is_torn_down(emulator, reaper, conversation_view):
    spec = {
        "messageType": "webmessaging",
        "participants": [
            customer(state="disconnected", ago="25m", endedAgo="20m"),
            acd(state="connected", startedAgo="30m"),
            agent(state="disconnected", ago="24m", endedAgo="20m"),
        ],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("orphaned", "teardown", "done")
    teardowns = [
        r for r in writes(emulator.requests(), cid) if r["path"] == f"/api/v2/conversations/{cid}/disconnect"
    ]
    assert len(teardowns) == 1 and teardowns[0]["method"] == "POST"
    assert ended(conversation_view(cid))
    assert cid not in unended_ids(emulator)


def test_row8_exempt_participant_is_never_touched(emulator, reaper):
    spec = idle_chat(45)
    spec["participants"][0]["attributes"] = {"reaper.exempt": "true"}
    cid = emulator.create_conversation(spec)["id"]

    first = reaper.sweep()
    emulator.advance(6 * 3600)
    second = reaper.sweep()

    assert first.line(cid)["decision"] == "skip"
    assert second.line(cid)["decision"] == "skip"
    assert writes(emulator.requests()) == []


def test_row9_platform_timer_running_defers_to_the_platform(emulator, reaper):
    now = emulator.now()
    timer = (now.timestamp() + 300) * 1000
    from datetime import UTC, datetime

    due = datetime.fromtimestamp(timer / 1000, UTC).isoformat().replace("+00:00", "Z")
    cid = emulator.create_conversation(idle_chat(45, inactivityTimeout=due))["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["decision"] == "defer"
    assert line["outcome"] == "deferred"
    assert writes(emulator.requests()) == []


def test_row10_customer_writes_just_before_the_action_cancels_it(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    # The customer writes right before the reaper's first write reaches the platform.
    emulator.trigger(
        method="PATCH",
        path=f"/api/v2/conversations/messages/{cid}/.*",
        times=1,
        action={"type": "message", "conversationId": cid, "from": "customer"},
    )

    run = reaper.sweep()

    line = run.line(cid)
    assert line["outcome"] == "cancelled", line
    assert "disconnect:agent" not in line["steps"]
    view = conversation_view(cid)
    assert state_of(participants_by_purpose(view, "agent")[0]) == "connected"
    disconnects = [
        r
        for r in writes(emulator.requests(), cid)
        if r["method"] == "PATCH" and not r["path"].endswith("/attributes")
    ]
    assert disconnects == []


def test_row10_message_during_the_decision_read_means_no_write_at_all(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    emulator.trigger(
        method="GET",
        path=f".*/conversations/.*{cid}$",
        times=1,
        action={"type": "message", "conversationId": cid, "from": "customer"},
    )

    run = reaper.sweep()

    assert run.line(cid)["outcome"] in ("skipped", "cancelled")
    assert writes(emulator.requests()) == []


def test_row11_only_the_connected_agent_is_disconnected(emulator, reaper, conversation_view):
    spec = {
        "messageType": "webmessaging",
        "participants": [
            customer(ago="40m"),
            acd(),
            agent(state="disconnected", ago="55m", endedAgo="50m", disconnectType="transfer"),
            agent(ago="41m"),
        ],
    }
    created = emulator.create_conversation(spec)
    cid = created["id"]
    agents = [p for p in created["participants"] if p["purpose"] == "agent"]
    gone, present = agents[0]["id"], agents[1]["id"]

    run = reaper.sweep()

    assert run.line(cid)["outcome"] == "done"
    paths = [r["path"] for r in writes(emulator.requests(), cid) if r["method"] == "PATCH"]
    assert f"/api/v2/conversations/messages/{cid}/participants/{present}" in paths
    assert not [p for p in paths if p.endswith(f"/participants/{gone}")]
    assert ended(conversation_view(cid))


def _acw_conversation(**agent_extra: Any) -> dict[str, Any]:
    return {
        "messageType": "webmessaging",
        "participants": [
            customer(state="disconnected", ago="5m", endedAgo="3m", disconnectType="peer"),
            acd(),
            agent(
                state="disconnected",
                ago="4m",
                endedAgo="3m",
                wrapupRequired=True,
                acwStartedAgo="3m",
                **agent_extra,
            ),
        ],
    }


def test_row12_after_call_work_gets_the_wrapup_only_after_its_threshold(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(_acw_conversation())["id"]
    config = {"close": {"wrapup_code": "code-abandoned"}}

    early = reaper.sweep(config=config)

    assert early.line(cid)["decision"] == "skip"
    assert writes(emulator.requests()) == []

    emulator.advance(12 * 60)  # 15m since after-call work began
    later = reaper.sweep(config=config)

    line = later.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("acw-stuck", "wrapup", "done")
    (agent_leg,) = participants_by_purpose(conversation_view(cid), "agent")
    wrapup = agent_leg.get("wrapup") or agent_leg["messages"][0].get("wrapup")
    assert wrapup["code"] == "code-abandoned"
    assert cid not in unended_ids(emulator)


def test_row13_an_agents_own_wrapup_is_never_overwritten(emulator, reaper, conversation_view):
    spec = _acw_conversation(wrapup={"code": "agent-chosen", "notes": "customer will call back"})
    cid = emulator.create_conversation(spec)["id"]
    emulator.advance(30 * 60)

    run = reaper.sweep(config={"close": {"wrapup_code": "code-abandoned"}})

    assert run.code == 0, run.stderr
    assert not [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/wrapup")]
    (agent_leg,) = participants_by_purpose(conversation_view(cid), "agent")
    wrapup = agent_leg.get("wrapup") or agent_leg["messages"][0].get("wrapup")
    assert wrapup["code"] == "agent-chosen"
    assert wrapup["notes"] == "customer will call back"


def test_verify_escalates_at_once_when_a_queue_leg_keeps_the_conversation_open(
    emulator, reaper, conversation_view
):
    spec = {
        "messageType": "webmessaging",
        "participants": [customer(ago="45m"), acd(state="connected", startedAgo="50m"), agent(ago="46m")],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep(config={"sweep": {"verify_timeout": "60s"}})

    line = run.line(cid)
    assert (line["rule"], line["outcome"]) == ("idle", "done"), line
    assert line["steps"] == [
        "annotate",
        "closing-text",
        "disconnect:agent",
        "disconnect:conversation",
        "verify",
    ]
    assert ended(conversation_view(cid))
    on_conversation = [
        r for r in writes(emulator.requests(), cid) if r["path"] == f"/api/v2/conversations/messages/{cid}"
    ]
    assert len(on_conversation) == 1
    # Escalated at once: one decision read and one verify read per disconnect, not a poll every
    # couple of seconds for the whole 60 s verify timeout.
    generic_reads = [
        r for r in emulator.requests() if r["method"] == "GET" and r["path"] == f"/api/v2/conversations/{cid}"
    ]
    assert len(generic_reads) <= 4, len(generic_reads)
