"""Issue 14, class 1: a close that takes several writes of its own.

A conference (two or three connected agents), a transfer in progress (one agent connected, one
offered) or an escalation needs more than one write. The re-check before each write must tell the
reaper's own earlier writes (annotation, closing text, the first agent's disconnect and what the
platform does because of it) from anyone else's: every idle agent is disconnected and the
conversation ends, with exactly one closing text; someone else's activity between two of the
reaper's writes still cancels. Judged on the platform's state and the emulator's request log.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.scenarios import acd, agent, customer, ended, participants_by_purpose, state_of, writes

MESSAGES = "/api/v2/conversations/messages"


def conference(agents: int, *, silent: int = 45, **extra: Any) -> dict[str, Any]:
    """A guest and `agents` connected agents, nobody wrote for `silent` minutes."""
    return {
        "queueId": "queue-support",
        "participants": [
            customer(ago=f"{silent}m"),
            acd(),
            *(agent(ago=f"{silent + 1 + i}m", id=f"agent-{i}") for i in range(agents)),
        ],
        **extra,
    }


def closing_texts(requests: list[dict[str, Any]], cid: str) -> list[dict[str, Any]]:
    return [r for r in writes(requests, cid) if r["method"] == "POST" and r["path"].endswith("/messages")]


def agent_disconnects(requests: list[dict[str, Any]], cid: str) -> list[str]:
    prefix = f"{MESSAGES}/{cid}/participants/"
    return [
        r["path"].removeprefix(prefix)
        for r in writes(requests, cid)
        if r["method"] == "PATCH"
        and r["path"].startswith(prefix)
        and "/" not in r["path"].removeprefix(prefix)
    ]


def agent_states(view: dict[str, Any]) -> list[str]:
    return [state_of(p) for p in participants_by_purpose(view, "agent")]


@pytest.mark.parametrize("agents", [2, 3])
def test_a_conference_whose_every_agent_is_idle_ends_completely(emulator, reaper, conversation_view, agents):
    cid = emulator.create_conversation(conference(agents, id=f"conference-{agents}"))["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("idle", "close", "done"), line
    assert line["steps"] == ["annotate", "closing-text", *["disconnect:agent"] * agents, "verify"]
    view = conversation_view(cid)
    assert ended(view)
    assert agent_states(view) == ["disconnected"] * agents
    requests = emulator.requests()
    assert len(closing_texts(requests, cid)) == 1
    assert sorted(agent_disconnects(requests, cid)) == [f"agent-{i}" for i in range(agents)]
    (guest,) = participants_by_purpose(view, "customer")
    assert guest["attributes"]["reaper.rule"] == "idle"


def test_a_conference_with_wrap_up_required_ends_despite_after_call_work_appearing(
    emulator, reaper, conversation_view
):
    # The first agent's disconnect puts them in after-call work: the reaper's doing, not a wrap-up.
    spec = conference(2)
    for leg in spec["participants"][2:]:
        leg["wrapupRequired"] = True
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["outcome"] == "done", line
    assert agent_states(conversation_view(cid)) == ["disconnected", "disconnected"]
    assert len(agent_disconnects(emulator.requests(), cid)) == 2


@pytest.mark.parametrize("recent", ["agent-0", "agent-1", "customer"])
def test_a_conference_where_someone_wrote_recently_is_left_alone(emulator, reaper, recent):
    spec = conference(2)
    for leg in spec["participants"]:
        if leg.get("id") == recent or (recent == "customer" and leg["purpose"] == "customer"):
            leg["messages"] = [{"ago": "4m"}]
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []


def test_a_conference_with_a_queue_leg_still_connected_escalates_to_the_conversation(
    emulator, reaper, conversation_view
):
    spec = conference(2)
    spec["participants"][1] = acd("connected")
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["outcome"] == "done", line
    assert line["steps"][-2:] == ["disconnect:conversation", "verify"], line["steps"]
    assert ended(conversation_view(cid))
    assert len(closing_texts(emulator.requests(), cid)) == 1


# Someone else's activity between the first and the second disconnect: the trigger fires just before
# the platform serves the first agent's disconnect, so the re-check before the second one sees it.
OTHERS = {
    "guest message": {"type": "message", "from": "customer"},
    "other agent message": {"type": "message", "from": "agent-1"},
    "agent parks": {"type": "state", "participantId": "agent-1", "state": "parked"},
    "supervisor joins": {"type": "join", "participant": {"purpose": "agent", "name": "Supervisor"}},
}


@pytest.mark.parametrize("activity", list(OTHERS), ids=list(OTHERS))
def test_someone_elses_activity_between_two_disconnects_cancels(
    emulator, reaper, conversation_view, activity
):
    cid = emulator.create_conversation(conference(2, id=f"race-{activity.replace(' ', '-')}"))["id"]
    emulator.trigger(
        method="PATCH",
        path="/participants/agent-0$",
        action={**OTHERS[activity], "conversationId": cid},
    )

    run = reaper.sweep()

    line = run.line(cid)
    assert line["outcome"] == "cancelled", line
    view = conversation_view(cid)
    assert not ended(view)
    assert agent_disconnects(emulator.requests(), cid) == ["agent-0"]  # never the second one
    second = next(p for p in view["participants"] if p["id"] == "agent-1")
    assert state_of(second) in ("connected", "parked")


@pytest.mark.parametrize("offered", ["alerting", "offering"])
def test_a_stale_transfer_in_progress_ends_both_legs(emulator, reaper, conversation_view, offered):
    spec = {
        "queueId": "queue-support",
        "participants": [
            customer(ago="50m"),
            agent(ago="51m", id="agent-0"),
            agent(offered, ago=None, id="agent-1", startedAgo="40m"),
        ],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["outcome"]) == ("idle", "done"), line
    view = conversation_view(cid)
    assert ended(view)
    texts = closing_texts(emulator.requests(), cid)
    assert len(texts) == 1
    # The closing text goes through the agent who is there, never the one only offered the chat.
    comm = next(p for p in view["participants"] if p["id"] == "agent-0")["messages"][0]["id"]
    assert f"/communications/{comm}/" in texts[0]["path"]


@pytest.mark.parametrize("offered_ago", ["2m", "25m"])
def test_a_transfer_offered_recently_is_activity(emulator, reaper, offered_ago):
    spec = {
        "participants": [
            customer(ago="50m"),
            agent(ago="51m", id="agent-0"),
            agent("alerting", ago=None, id="agent-1", startedAgo=offered_ago),
        ]
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"]) == ("idle", "skip"), line
    assert writes(emulator.requests(), cid) == []
