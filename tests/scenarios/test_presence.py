"""Issue 14, classes 2 and 3: idle means a person is actually there, for the whole `after`.

- a parked conversation is never idle; rule `parked` (off by default) closes it when enabled;
- an agent only offered the chat (alerting, offering, contacting, dialing) is not there: the chat
  still waits for an agent, and `queue-abandoned` applies, on the guest's silence;
- an agent who accepted a minute ago after a long silent wait is idle for a minute;
- a guest who came back on a new customer leg is the guest, whatever order the legs are listed in.
Judged on the platform's state and the emulator's request log.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.helpers.scenarios import acd, agent, customer, ended, participants_by_purpose, state_of, writes

SATURDAY_NOON = "2026-11-21T12:00:00Z"  # outside the default business hours (mon-fri 08:00-18:00 UTC)
TUESDAY_NOON = "2026-11-24T12:00:00Z"


def parked_chat(parked_ago: str, *, silent: str | None = None) -> dict[str, Any]:
    silent = silent or parked_ago
    return {
        "queueId": "queue-support",
        "participants": [
            customer(ago=silent, startedAgo="200h"),
            acd(startedAgo="200h", endedAgo="199h"),
            agent("parked", ago=silent, connectedAgo="199h", parkedAgo=parked_ago),
        ],
    }


def texts_sent(emulator: Any, cid: str) -> list[dict[str, Any]]:
    return [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/messages")]


# ------------------------------------------------------------------------------------------ parked


@pytest.mark.parametrize("parked_ago", ["45m", "5h", "100h"])
def test_a_parked_conversation_is_never_closed_by_default(emulator, reaper, parked_ago):
    cid = emulator.create_conversation(parked_chat(parked_ago))["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    line = run.line(cid)
    assert line["decision"] == "skip" and line["rule"] != "idle", line
    assert writes(emulator.requests(), cid) == []


@pytest.mark.parametrize(
    ("parked_ago", "closes"), [("80h", True), ("73h", True), ("70h", False), ("2h", False)]
)
def test_rule_parked_when_enabled_closes_after_its_threshold(
    emulator, reaper, conversation_view, parked_ago, closes
):
    cid = emulator.create_conversation(parked_chat(parked_ago))["id"]

    run = reaper.sweep(config={"rules.parked": {"enabled": True}})

    line = run.line(cid)
    assert line["rule"] == "parked", line
    view = conversation_view(cid)
    if closes:
        assert (line["decision"], line["outcome"]) == ("close", "done"), line
        assert line["steps"] == ["annotate", "closing-text", "disconnect:agent", "verify"]
        assert ended(view)
        assert len(texts_sent(emulator, cid)) == 1
    else:
        assert line["decision"] == "skip"
        assert writes(emulator.requests(), cid) == []
        (held,) = participants_by_purpose(view, "agent")
        assert state_of(held) == "parked"


def test_the_parked_clock_starts_at_the_park_not_the_last_message(emulator, reaper):
    # Silent for 100h, but parked only 10h ago: the park was the agent's last act.
    cid = emulator.create_conversation(parked_chat("10h", silent="100h"))["id"]

    run = reaper.sweep(config={"rules.parked": {"enabled": True}})

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []


@pytest.mark.parametrize(("moment", "closes"), [(SATURDAY_NOON, True), (TUESDAY_NOON, False)])
def test_rule_parked_has_its_after_hours_threshold(emulator, reaper, moment, closes):
    emulator.set_clock(moment)
    cid = emulator.create_conversation(parked_chat("5h"))["id"]

    run = reaper.sweep(config={"rules.parked": {"enabled": True, "after": "72h", "after_hours": "4h"}})

    line = run.line(cid)
    assert line["rule"] == "parked"
    assert line["decision"] == ("close" if closes else "skip"), line
    assert bool(writes(emulator.requests(), cid)) is closes


def test_a_parked_agent_who_resumed_is_idle_only_from_the_resume(emulator, reaper):
    spec = parked_chat("100h")
    spec["participants"][2] = agent(ago="100h", connectedAgo="199h", parkedAgo="100h", resumedAgo="10m")
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["decision"]) == ("idle", "skip"), line
    assert writes(emulator.requests(), cid) == []


def test_a_guest_reply_resumes_a_parked_chat(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(parked_chat("100h"))["id"]
    emulator.message(cid, "customer", "I'm back")

    (held,) = participants_by_purpose(conversation_view(cid), "agent")
    assert state_of(held) == "connected"
    run = reaper.sweep(config={"rules.parked": {"enabled": True}})
    assert run.line(cid)["decision"] == "skip"


# ------------------------------------------------------------------------------------------ offered


@pytest.mark.parametrize("offered", ["alerting", "offering", "contacting", "dialing"])
@pytest.mark.parametrize(("silent", "closes"), [("45m", True), ("21m", True), ("10m", False)])
def test_an_agent_only_offered_the_chat_leaves_it_to_queue_abandoned(
    emulator, reaper, conversation_view, offered, silent, closes
):
    spec = {
        "queueId": "queue-support",
        "participants": [customer(ago=silent), acd("connected"), agent(offered, ago=None, startedAgo="1m")],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["rule"] == "queue-abandoned", line
    if closes:
        assert (line["decision"], line["outcome"]) == ("close", "done"), line
        assert ended(conversation_view(cid))
        assert texts_sent(emulator, cid) == []  # nobody there to send a closing text through
    else:
        assert line["decision"] == "skip"
        assert writes(emulator.requests(), cid) == []


@pytest.mark.parametrize(
    ("accepted_ago", "closes"), [("1m", False), ("29m", False), ("31m", True), ("45m", True)]
)
def test_an_agent_who_accepted_after_a_long_silent_wait_is_idle_from_the_accept(
    emulator, reaper, conversation_view, accepted_ago, closes
):
    spec = {
        "queueId": "queue-support",
        "participants": [
            customer(ago="90m", startedAgo="91m"),
            acd(startedAgo="90m", endedAgo=accepted_ago),
            agent(ago=None, startedAgo="60m", connectedAgo=accepted_ago),
        ],
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["rule"] == "idle", line
    assert line["decision"] == ("close" if closes else "skip"), line
    assert ended(conversation_view(cid)) is closes
    assert bool(writes(emulator.requests(), cid)) is closes


def test_an_offer_accepted_between_decision_and_write_cancels(emulator, reaper, conversation_view):
    spec = {
        "queueId": "queue-support",
        "participants": [customer(ago="45m"), acd("connected"), agent("alerting", ago=None, id="offered")],
    }
    cid = emulator.create_conversation(spec)["id"]
    emulator.trigger(
        method="GET",
        path=f"/api/v2/conversations/messages/{cid}$",
        action={"type": "state", "conversationId": cid, "participantId": "offered", "state": "connected"},
    )

    run = reaper.sweep()

    assert run.line(cid)["outcome"] == "cancelled"
    assert not ended(conversation_view(cid))


# ------------------------------------------------------------------------------------ customer-left


@pytest.mark.parametrize(("left_ago", "closes"), [("3m", False), ("6m", True)])
def test_customer_left_counts_from_when_the_guest_left(emulator, reaper, left_ago, closes):
    spec = {
        "participants": [
            customer("disconnected", ago="60m", endedAgo=left_ago),
            agent(ago="61m"),
        ]
    }
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert line["rule"] == "customer-left", line
    assert line["decision"] == ("close" if closes else "skip")


# ------------------------------------------------------------------------------------ returning guest


def returning(order: tuple[int, ...], *, new_silent: str, legs: int = 2) -> dict[str, Any]:
    """Old guest legs (disconnected) and the new one (connected, last), listed in `order`."""
    old = [
        customer(
            "disconnected", ago=f"{300 - 60 * i}m", startedAgo=f"{310 - 60 * i}m", endedAgo=f"{290 - 60 * i}m"
        )
        for i in range(legs - 1)
    ]
    new = customer(ago=new_silent, startedAgo="100m", connectedAgo="100m", id="new-leg")
    guests = [*old, new]
    return {
        "queueId": "queue-support",
        "participants": [
            *(guests[i] for i in order),
            agent(ago="120m", connectedAgo="130m", startedAgo="130m"),
        ],
    }


ORDERS_2 = list(itertools.permutations(range(2)))
ORDERS_3 = list(itertools.permutations(range(3)))


@pytest.mark.parametrize("order", ORDERS_2 + ORDERS_3, ids=str)
def test_a_guest_who_came_back_and_wrote_recently_never_gets_a_closing_text(emulator, reaper, order):
    cid = emulator.create_conversation(returning(order, new_silent="6m", legs=len(order)))["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    line = run.line(cid)
    assert line["decision"] == "skip", line
    assert line["rule"] != "customer-left"
    assert writes(emulator.requests(), cid) == []


@pytest.mark.parametrize("order", ORDERS_2 + ORDERS_3, ids=str)
def test_a_guest_who_came_back_and_went_silent_is_closed_on_the_connected_leg(
    emulator, reaper, conversation_view, order
):
    cid = emulator.create_conversation(returning(order, new_silent="40m", legs=len(order)))["id"]

    run = reaper.sweep()

    line = run.line(cid)
    assert (line["rule"], line["outcome"]) == ("idle", "done"), line
    view = conversation_view(cid)
    assert ended(view)
    annotated = [
        p["id"] for p in participants_by_purpose(view, "customer") if "reaper.rule" in p.get("attributes", {})
    ]
    assert annotated == ["new-leg"]


def test_a_new_guest_leg_that_connected_recently_without_writing_is_not_idle(emulator, reaper):
    spec = returning((1, 0), new_silent="200m")
    spec["participants"][0]["connectedAgo"] = "5m"
    spec["participants"][0]["startedAgo"] = "5m"
    spec["participants"][0]["messages"] = []
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []
