"""An act's journal calls that carry its lease: one round trip where there were two, the same guarantees.

Each of these folds a lease statement into the write it guards (benchmarks/journal_calls.py: 27 journal
calls per close before, 14 after). What must still hold: no intent is journalled, and no attempt marked on
its way, for an owner that lost the lease; a step another look settled is never marked; the text's id and
the step's outcome are one transaction; the lease goes with the decision's outcome.
"""

from __future__ import annotations

from datetime import timedelta

from session_reaper.ledger import Ledger

from .conftest import T0, FakeClock

TTL = timedelta(minutes=2)


def _decision(ledger: Ledger, cid: str = "conv-1", decision: str = "close") -> int:
    return ledger.record_decision(ledger.start_sweep(True), cid, decision=decision, rule="idle")


def test_an_intent_is_journalled_only_while_its_owner_holds_the_lease(
    ledger: Ledger, clock: FakeClock
) -> None:
    decision = _decision(ledger)
    assert ledger.claim("conv-1", "reaper-a", ttl=TTL, now=T0)
    step = ledger.held_step_intent(
        decision,
        "conv-1",
        "closing-text",
        "agent-1",
        owner="reaper-a",
        ttl=TTL,
        at=T0 + timedelta(seconds=90),
    )
    assert step is not None
    # renewed with the intent: at T0 + 3 min another owner still finds it held (claimed till T0 + 2 min)
    assert not ledger.claim("conv-1", "reaper-b", ttl=TTL, now=T0 + timedelta(minutes=3))
    # expired and taken by another reaper: the stalled act's next intent is refused, nothing journalled
    assert ledger.claim("conv-1", "reaper-b", ttl=TTL, now=T0 + timedelta(minutes=4))
    refused = ledger.held_step_intent(
        decision,
        "conv-1",
        "disconnect:agent",
        "agent-1",
        owner="reaper-a",
        ttl=TTL,
        at=T0 + timedelta(minutes=4),
    )
    assert refused is None
    assert [p.kind for p in ledger.pending_steps()] == ["closing-text"]


def test_an_attempt_is_marked_on_its_way_only_with_the_lease_and_an_open_step(ledger: Ledger) -> None:
    decision = _decision(ledger)
    assert ledger.claim("conv-1", "reaper-a", ttl=TTL, now=T0)
    step = ledger.held_step_intent(decision, "conv-1", "teardown", None, owner="reaper-a", ttl=TTL, at=T0)
    assert step is not None
    until = T0 + timedelta(seconds=30)
    assert ledger.step_attempt(step, "conv-1", "reaper-a", ttl=TTL, now=T0, until=until) == "sending"
    [pending] = ledger.pending_steps()
    assert pending.in_flight_until is not None

    # the lease lost to a live owner: nothing changes, and the caller must not send
    later = T0 + timedelta(minutes=5)
    assert ledger.claim("conv-1", "reaper-b", ttl=TTL, now=later)
    assert ledger.step_attempt(step, "conv-1", "reaper-a", ttl=TTL, now=later, until=until) == "not-held"
    assert ledger.lease_holder("conv-1") == ("reaper-b", later + TTL)

    # another look settled the step meanwhile: never marked again, never sent
    assert ledger.release("conv-1", "reaper-b")
    assert ledger.step_settled(step, "resolved-not-sent", in_flight_until=pending.in_flight_until)
    assert ledger.step_attempt(step, "conv-1", "reaper-a", ttl=TTL, now=later, until=until) == "settled"


def test_a_text_s_id_is_journalled_with_its_step_s_outcome(ledger: Ledger) -> None:
    decision = _decision(ledger)
    step = ledger.step_intent(decision, "conv-1", "closing-text", "agent-1")
    assert ledger.step_outcome(step, "done", reaper_message=("conv-1", "msg-1", "closing"))
    assert ledger.reaper_messages("conv-1") == {"msg-1": "closing"}
    assert ledger.completed_steps("conv-1") == {("closing-text", "agent-1")}
    # the first outcome stands, and the message is not recorded twice
    assert not ledger.step_outcome(step, "failed", reaper_message=("conv-1", "msg-1", "closing"))
    assert ledger.reaper_messages("conv-1") == {"msg-1": "closing"}


def test_completed_steps_are_those_with_an_effect_in_place_since_the_time_given(
    ledger: Ledger, clock: FakeClock
) -> None:
    decision = _decision(ledger)
    done = ledger.step_intent(decision, "conv-1", "annotate", "cust-1")
    ledger.step_outcome(done, "done")
    failed = ledger.step_intent(decision, "conv-1", "closing-text", "agent-1")
    ledger.step_outcome(failed, "failed", http_status=400)
    ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1")  # open: not in place
    clock.advance(seconds=60)
    later = ledger.step_intent(decision, "conv-1", "disconnect:conversation", None)
    ledger.step_outcome(later, "already-done")
    assert ledger.completed_steps("conv-1") == {("annotate", "cust-1"), ("disconnect:conversation", None)}
    assert ledger.completed_steps("conv-1", since=clock.now) == {("disconnect:conversation", None)}
    assert ledger.completed_steps("conv-2") == set()


def test_the_lease_goes_back_with_the_decision_s_outcome(ledger: Ledger) -> None:
    decision = _decision(ledger)
    assert ledger.claim("conv-1", "reaper-a", ttl=TTL, now=T0)
    ledger.set_decision_outcome(decision, "done", release=("conv-1", "reaper-a"))
    assert ledger.lease_holder("conv-1") is None
    # another owner's lease is not given back by this one's outcome
    assert ledger.claim("conv-1", "reaper-b", ttl=TTL, now=T0)
    ledger.set_decision_outcome(decision, "done", release=("conv-1", "reaper-a"))
    assert ledger.lease_holder("conv-1") == ("reaper-b", T0 + TTL)


def test_an_act_taking_the_lease_reads_the_conversation_s_steps_once(
    ledger: Ledger, clock: FakeClock
) -> None:
    warned = _decision(ledger, decision="warn")
    text = ledger.step_intent(warned, "conv-1", "warning-text", "agent-1")
    ledger.step_outcome(text, "done")
    ledger.set_decision_outcome(warned, "done")
    clock.advance(seconds=60)
    closing = _decision(ledger)
    sent = ledger.step_intent(closing, "conv-1", "closing-text", "agent-1")
    ledger.step_outcome(sent, "done")
    left_open = ledger.step_intent(closing, "conv-1", "disconnect:agent", "agent-1")
    ledger.step_intent(_decision(ledger, "conv-2"), "conv-2", "teardown", None)  # another conversation's

    steps = ledger.conversation_steps("conv-1", since=T0)
    assert [p.step_id for p in steps.open] == [left_open]
    assert steps.in_place == {("warning-text", "agent-1"), ("closing-text", "agent-1")}
    assert steps.finished == {"warn"}  # the close's act is still under way: not finished

    ledger.step_outcome(left_open, "done")
    ledger.set_decision_outcome(closing, "done")
    later = ledger.conversation_steps("conv-1", since=clock.now)  # a cycle that began after the warning
    assert later.open == ()
    assert later.in_place == {("closing-text", "agent-1"), ("disconnect:agent", "agent-1")}
    assert later.finished == {"close"}
