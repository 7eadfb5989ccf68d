"""Sweeps, decisions and steps: intents before requests, outcomes after, open intents for recovery."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from session_reaper.ledger import Ledger

from .conftest import T0, FakeClock


def test_a_new_ledger_is_created_at_the_newest_schema(ledger: Ledger) -> None:
    assert ledger.schema_revision() == "0009"


def test_a_close_is_journalled_intent_first_then_outcome(ledger: Ledger, clock: FakeClock) -> None:
    sweep = ledger.start_sweep(True)
    decision = ledger.record_decision(
        sweep,
        "conv-1",
        decision="close",
        rule="idle",
        reason="no message for 41m (threshold 30m)",
        queue_id="q-1",
        channel="webmessaging",
        threshold_seconds=1800,
        idle_seconds=2460,
        platform_now=T0,
    )
    step = ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1")

    # The intent is committed on return, so another connection (a restarted process) already sees it.
    [pending] = Ledger(ledger.engine).pending_steps()
    assert (pending.step_id, pending.decision_id, pending.sweep_id) == (step, decision, sweep)
    assert (pending.conversation_id, pending.kind, pending.participant_id) == (
        "conv-1",
        "disconnect:agent",
        "agent-1",
    )
    assert (pending.owner, pending.intent_at) == ("replica-a", T0)

    clock.advance(seconds=1)
    assert ledger.step_outcome(step, "done", http_status=202, context_id="ctx-1", request_count=1)
    ledger.set_decision_outcome(decision, "done")
    ledger.finish_sweep(sweep, {"closed": 1, "apiRequests": 6})
    assert ledger.pending_steps() == []


def test_the_first_outcome_stands(ledger: Ledger) -> None:
    decision = ledger.record_decision(ledger.start_sweep(True), "conv-1", decision="close")
    step = ledger.step_intent(decision, "conv-1", "annotate", "cust-1")
    assert ledger.step_outcome(step, "resolved-done")
    assert not ledger.step_outcome(step, "failed", http_status=500)
    assert not ledger.completed_step("conv-1", "annotate", "cust-2")
    assert ledger.completed_step("conv-1", "annotate", "cust-1")


def test_pending_steps_can_be_limited_to_one_owner(ledger: Ledger) -> None:
    mine = ledger.record_decision(ledger.start_sweep(True), "conv-1", decision="close")
    theirs = ledger.record_decision(ledger.start_sweep(True, owner="replica-b"), "conv-2", decision="close")
    ledger.step_intent(mine, "conv-1", "closing-text", "agent-1")
    ledger.step_intent(theirs, "conv-2", "disconnect:conversation")
    assert [p.conversation_id for p in ledger.pending_steps()] == ["conv-1", "conv-2"]
    assert [p.conversation_id for p in ledger.pending_steps(owner="replica-b")] == ["conv-2"]


def test_completed_step_sees_only_effective_outcomes_since_the_given_time(
    ledger: Ledger, clock: FakeClock
) -> None:
    decision = ledger.record_decision(ledger.start_sweep(True), "conv-1", decision="close")
    failed = ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1")
    ledger.step_outcome(failed, "failed", http_status=503, error_code="service.unavailable")
    assert not ledger.completed_step("conv-1", "disconnect:agent", "agent-1")

    clock.advance(minutes=1)
    done = ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1")
    ledger.step_outcome(done, "already-done", http_status=400)
    assert ledger.completed_step("conv-1", "disconnect:agent", "agent-1", since=clock.now)
    # A step from before the latest activity belongs to an earlier closing cycle: do it again.
    assert not ledger.completed_step(
        "conv-1", "disconnect:agent", "agent-1", since=clock.now + timedelta(seconds=1)
    )

    whole = ledger.step_intent(decision, "conv-1", "disconnect:conversation")
    ledger.step_outcome(whole, "done")
    assert ledger.completed_step("conv-1", "disconnect:conversation", None)
    assert not ledger.completed_step("conv-1", "disconnect:conversation", "agent-1")


def test_buffered_decisions_are_written_in_bulk_at_the_end_of_the_sweep(ledger: Ledger) -> None:
    sweep = ledger.start_sweep(False)
    for n in range(5):
        ledger.buffer_decision(
            sweep, f"conv-{n}", decision="skip", outcome="skipped", reason="customer wrote 2m ago"
        )
    assert ledger.closes_by("rule", T0) == []
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 0
    ledger.finish_sweep(sweep, {"skipped": 5})
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 5


def test_the_buffer_flushes_itself_when_full(ledger: Ledger) -> None:
    sweep = ledger.start_sweep(False)
    for n in range(250):
        ledger.buffer_decision(sweep, f"conv-{n}", decision="defer", outcome="deferred")
    with ledger.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar() == 200
    assert ledger.flush() == 50


@pytest.mark.parametrize(
    "call",
    [
        lambda lg, s, d, st: lg.record_decision(s, "c", decision="nuke"),
        lambda lg, s, d, st: lg.set_decision_outcome(d, "finished"),
        lambda lg, s, d, st: lg.step_outcome(st, "ok"),
        lambda lg, s, d, st: lg.record_reaper_message("c", "m", "reminder"),
    ],
)
def test_unknown_words_are_refused(ledger: Ledger, call: object) -> None:
    sweep = ledger.start_sweep(True)
    decision = ledger.record_decision(sweep, "c", decision="close")
    step = ledger.step_intent(decision, "c", "verify")
    with pytest.raises(ValueError, match="unknown"):
        call(ledger, sweep, decision, step)  # type: ignore[operator]


def test_naive_datetimes_are_refused(ledger: Ledger) -> None:
    with pytest.raises(Exception, match="aware"):
        ledger.start_sweep(True, at=T0.replace(tzinfo=None))


def test_one_ledger_is_shared_by_threads(ledger: Ledger) -> None:
    sweep = ledger.start_sweep(True)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(10):
                cid = f"conv-{worker}-{n}"
                decision = ledger.record_decision(sweep, cid, decision="close", rule="idle")
                step = ledger.step_intent(decision, cid, "disconnect:agent", "agent")
                ledger.step_outcome(step, "done")
                ledger.set_decision_outcome(decision, "done")
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ledger.closes_by("rule", T0) == [("idle", 80)]
    assert ledger.pending_steps() == []


def test_prune_drops_old_inaction_and_keeps_the_audit_trail(ledger: Ledger, clock: FakeClock) -> None:
    sweep = ledger.start_sweep(True)
    for n, outcome in enumerate(["skipped", "deferred", "dry-run"]):
        ledger.buffer_decision(sweep, f"old-{n}", decision="skip", outcome=outcome)
    closed = ledger.record_decision(sweep, "old-closed", decision="close", rule="idle")
    ledger.step_outcome(ledger.step_intent(closed, "old-closed", "disconnect:agent", "a"), "done")
    ledger.set_decision_outcome(closed, "done")
    cancelled = ledger.record_decision(sweep, "old-cancelled", decision="close", outcome="cancelled")
    clock.advance(days=30)
    ledger.buffer_decision(sweep, "recent", decision="skip", outcome="skipped")

    assert ledger.prune(T0 + timedelta(days=7)) == 3
    with ledger.engine.connect() as connection:
        kept = set(connection.exec_driver_sql("SELECT id FROM decisions").scalars())
    assert closed in kept and cancelled in kept and len(kept) == 3
