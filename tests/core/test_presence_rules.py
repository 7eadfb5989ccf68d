"""Issue 14 as pure rules: who is there, since when, and which changes are the reaper's own.

- `Conversation.customer` is the connected customer leg whatever the order of the legs;
- idle counts from the later of the last message and the moment the guest and agents arrived;
  parked and offered agents are not idle agents; `parked` is its own (opt-in) rule;
- every rule's clock starts when its condition began (customer-left: when the guest left);
- the re-check discounts the reaper's own disconnects and what the platform does because of them,
  and nothing else.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from session_reaper.core.model import Activity, Role
from session_reaper.core.plan import CloseSettings, StepKind, plan
from session_reaper.core.rules import (
    DEFAULT_RULES,
    RULE_ORDER,
    Action,
    Policy,
    RulePolicy,
    changed_since,
    evaluate,
)
from tests.helpers.snapshots import NOW, Leg, acd, agent, chat, customer, with_participant

DEFAULT = Policy()
PARKED_ON = Policy(rules={**DEFAULT_RULES, "parked": RulePolicy(timedelta(hours=72))})


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


def silent_agent(state: str = "connected", **extra: object) -> Leg:
    """An agent leg that never wrote (one only offered the chat, one who just joined)."""
    extra.setdefault("id", "agent")
    return Leg("agent", state=state, wrote=(), **extra)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- the customer


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_customer_is_the_connected_leg_whatever_the_order(order):
    legs = [
        customer("disconnected", 200, id="old-1", ended=190),
        customer("disconnected", 120, id="old-2", ended=110),
        customer("connected", 6, id="new", connected=100),
    ]
    conversation = chat(*(legs[i] for i in order), agent("connected", 50))

    assert conversation.customer is not None and conversation.customer.id == "new"
    verdict = evaluate(conversation, NOW, DEFAULT)
    assert (verdict.rule, verdict.action) == ("idle", Action.SKIP)  # wrote 6 minutes ago


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
def test_with_every_guest_leg_gone_the_latest_to_leave_is_the_customer(order):
    legs = [
        customer("disconnected", 60, id="first", ended=50),
        customer("disconnected", 40, id="last", ended=8),
    ]
    conversation = chat(*(legs[i] for i in order), agent("connected", 41))

    assert conversation.customer is not None and conversation.customer.id == "last"
    verdict = evaluate(conversation, NOW, DEFAULT)
    assert (verdict.rule, verdict.action) == ("customer-left", Action.CLOSE)  # left 8 min ago


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
def test_customer_left_never_fires_while_a_new_guest_leg_is_connected(order):
    legs = [
        customer("disconnected", 60, id="old", ended=50),
        customer("connected", 40, id="new", connected=45),
    ]
    conversation = chat(*(legs[i] for i in order), agent("connected", 41))

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action) == ("idle", Action.CLOSE)
    annotate = plan(conversation, verdict, CloseSettings())[0]
    assert (annotate.kind, annotate.participant_id) == (StepKind.ANNOTATE, "new")


def test_a_guest_leg_that_connected_recently_restarts_the_idle_clock():
    conversation = chat(customer("connected", 90, connected=4), agent("connected", 91))

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action) == ("idle", Action.SKIP)
    assert verdict.eligible_at == NOW - minutes(4) + minutes(30)


# ------------------------------------------------------------------------------- idle and arrival


@pytest.mark.parametrize(("accepted", "action"), [(1, Action.SKIP), (29, Action.SKIP), (31, Action.CLOSE)])
def test_idle_counts_from_the_agent_accepting(accepted, action):
    conversation = chat(
        customer("connected", 90), acd("disconnected", ended=accepted), agent("connected", connected=accepted)
    )
    conversation = replace(
        conversation, activities=tuple(a for a in conversation.activities if a.role is Role.CUSTOMER)
    )

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action) == ("idle", action)
    if action is Action.SKIP:
        assert verdict.eligible_at == NOW - minutes(accepted) + minutes(30)


def test_a_resume_restarts_the_idle_clock_and_a_second_agent_joining_too():
    resumed = chat(customer("connected", 90), agent("connected", 91, connected=95, parked=80, resumed=3))
    joined = chat(
        customer("connected", 90),
        agent("connected", 91, id="a", connected=95),
        silent_agent(id="b", connected=2),
    )

    assert evaluate(resumed, NOW, DEFAULT).action is Action.SKIP
    assert evaluate(joined, NOW, DEFAULT).action is Action.SKIP


@pytest.mark.parametrize("state", ["alerting", "offering", "contacting", "dialing"])
def test_an_offered_agent_is_not_there_and_queue_abandoned_applies(state):
    conversation = chat(customer("connected", 25), acd("connected"), silent_agent(state, started=1))

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action, verdict.targets) == ("queue-abandoned", Action.CLOSE, ())
    assert plan(conversation, verdict, CloseSettings())[1].kind is StepKind.DISCONNECT_CONVERSATION


@pytest.mark.parametrize("state", ["alerting", "offering"])
def test_a_stale_transfer_targets_both_agents_and_writes_through_the_connected_one(state):
    conversation = chat(
        customer("connected", 50),
        agent("connected", 51, id="here", communication_id="comm-here"),
        silent_agent(state, id="offered", started=40, communication_id="comm-offered"),
    )

    verdict = evaluate(conversation, NOW, DEFAULT)
    steps = plan(conversation, verdict, CloseSettings())

    assert (verdict.rule, verdict.action, verdict.targets) == ("idle", Action.CLOSE, ("here", "offered"))
    (text,) = [s for s in steps if s.kind is StepKind.CLOSING_TEXT]
    assert text.communication_id == "comm-here"
    assert [s.participant_id for s in steps if s.kind is StepKind.DISCONNECT_AGENT] == ["here", "offered"]


def test_a_transfer_offered_recently_is_someones_doing():
    conversation = chat(
        customer("connected", 50),
        agent("connected", 51, id="here"),
        silent_agent("alerting", id="o", started=3),
    )

    assert evaluate(conversation, NOW, DEFAULT).action is Action.SKIP


# ----------------------------------------------------------------------------------------- parked


@pytest.mark.parametrize("parked", [10, 60 * 24, 60 * 100])
def test_a_parked_conversation_is_never_idle_and_parked_is_off_by_default(parked):
    conversation = chat(customer("connected", parked), agent("parked", parked + 1, parked=parked))

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert verdict.action is Action.SKIP and verdict.rule != "idle"
    assert not DEFAULT.rule("parked").enabled


def test_a_parked_agent_beside_a_connected_one_keeps_the_conversation_from_idle():
    conversation = chat(
        customer("connected", 300), agent("connected", 301, id="a"), agent("parked", 302, id="b", parked=290)
    )

    assert evaluate(conversation, NOW, DEFAULT).rule != "idle"
    assert evaluate(conversation, NOW, DEFAULT).action is Action.SKIP


@pytest.mark.parametrize(("parked", "action"), [(60 * 73, Action.CLOSE), (60 * 71, Action.SKIP)])
def test_rule_parked_counts_from_the_park(parked, action):
    conversation = chat(customer("connected", 60 * 100), agent("parked", 60 * 100 + 1, parked=parked))

    verdict = evaluate(conversation, NOW, PARKED_ON)

    assert (verdict.rule, verdict.action) == ("parked", action)
    if action is Action.CLOSE:
        kinds = [s.kind for s in plan(conversation, verdict, CloseSettings())]
        assert kinds == [StepKind.ANNOTATE, StepKind.CLOSING_TEXT, StepKind.DISCONNECT_AGENT, StepKind.VERIFY]


def test_parked_is_in_every_list_of_rules():
    assert "parked" in RULE_ORDER and "parked" in DEFAULT_RULES
    assert RULE_ORDER.index("customer-left") < RULE_ORDER.index("parked")


# --------------------------------------------------------------------------------------- re-check


def conference():
    return chat(
        customer("connected", 45),
        agent("connected", 46, id="a", wrapup_required=True),
        agent("connected", 47, id="b", wrapup_required=True),
    )


def test_the_reapers_own_disconnect_is_not_someone_elses_activity():
    before = conference()
    after = with_participant(before, "a", state="disconnected", ended_at=NOW, acw_started_at=NOW)

    assert changed_since(before, after) is not None  # without knowing it was ours: a change
    assert changed_since(before, after, disconnected_by_reaper={"a"}) is None
    # not yet visible (the platform propagates with a delay): no change either
    assert changed_since(before, before, disconnected_by_reaper={"a"}) is None


@pytest.mark.parametrize(
    "change",
    [
        {"participant": "b", "state": "parked"},
        {"participant": "b", "state": "disconnected"},
        {"participant": "a", "state": "parked"},
        {"participant": "b", "attributes": {"crm": "1"}},
    ],
)
def test_any_other_state_change_still_cancels(change):
    before = conference()
    after = with_participant(before, "a", state="disconnected", ended_at=NOW)
    changes = {k: v for k, v in change.items() if k != "participant"}
    target = change["participant"]
    if target == "a":
        after = with_participant(before, "a", **changes)
    else:
        after = with_participant(after, target, **changes)

    assert changed_since(before, after, disconnected_by_reaper={"a"}) is not None


def test_a_message_or_a_new_participant_after_the_reapers_disconnect_still_cancels():
    before = conference()
    after = with_participant(before, "a", state="disconnected", ended_at=NOW)
    guest = before.participants[0]
    wrote = replace(after, activities=(*after.activities, Activity(NOW, guest.id, Role.CUSTOMER)))
    joined = replace(
        after, participants=(*after.participants, replace(after.participants[1], id="supervisor"))
    )

    assert changed_since(before, wrote, disconnected_by_reaper={"a"}) == "new message from the customer"
    assert changed_since(before, joined, disconnected_by_reaper={"a"}) == "agent participant added"


def test_the_guest_leaving_with_the_last_agent_is_the_platforms_consequence():
    before = chat(customer("connected", 45), acd("disconnected"), agent("connected", 46, id="a"))
    after = with_participant(before, "a", state="disconnected", ended_at=NOW)
    after = with_participant(after, "customer", state="disconnected", ended_at=NOW, disconnect_type="peer")
    alone = with_participant(before, "customer", state="disconnected", ended_at=NOW)

    assert changed_since(before, after, disconnected_by_reaper={"a"}) is None
    assert changed_since(before, alone, disconnected_by_reaper={"a"}) is not None  # a is still there


def test_the_two_views_words_for_an_offer_are_the_same_state():
    before = chat(customer("connected", 45), agent("connected", 46, id="a"), silent_agent("alerting", id="o"))
    after = with_participant(before, "o", state="offering")

    assert changed_since(before, after) is None
    assert changed_since(before, with_participant(before, "o", state="connected")) is not None
