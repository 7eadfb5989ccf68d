"""What the `report` command reads: closes by rule, queue and hour; failures; requests per close."""

from __future__ import annotations

from datetime import timedelta

from session_reaper.ledger import Ledger

from .conftest import T0, FakeClock


def _close(ledger: Ledger, sweep: int, cid: str, rule: str, queue: str | None, outcome: str = "done") -> int:
    decision = ledger.record_decision(sweep, cid, decision="close", rule=rule, queue_id=queue)
    ledger.set_decision_outcome(decision, outcome)
    return decision


def test_closes_are_counted_by_rule_queue_and_hour(ledger: Ledger, clock: FakeClock) -> None:
    sweep = ledger.start_sweep(True)
    _close(ledger, sweep, "old", "idle", "q-1")  # before the report's period
    clock.advance(hours=1)
    _close(ledger, sweep, "c1", "idle", "q-1")
    _close(ledger, sweep, "c2", "idle", "q-2")
    clock.advance(minutes=70)
    _close(ledger, sweep, "c3", "customer-left", None)
    _close(ledger, sweep, "c4", "idle", "q-1", outcome="cancelled")
    ledger.record_decision(sweep, "c5", decision="skip", outcome="skipped", rule="idle", queue_id="q-1")
    td = ledger.record_decision(sweep, "c6", decision="teardown", rule="orphaned", queue_id="q-2")
    ledger.set_decision_outcome(td, "done")

    since = T0 + timedelta(minutes=30)
    assert ledger.closes_by("rule", since) == [("idle", 2), ("customer-left", 1), ("orphaned", 1)]
    assert ledger.closes_by("queue", since) == [
        ("q-2", 2),
        ("(no queue)", 1),
        ("q-1", 1),
    ]  # no queue: a labelled bucket
    assert ledger.closes_by("hour", since) == [("2026-11-21T11:00Z", 2), ("2026-11-21T12:00Z", 2)]


def test_failures_come_with_their_last_failed_step(ledger: Ledger, clock: FakeClock) -> None:
    sweep = ledger.start_sweep(True)
    failed = ledger.record_decision(sweep, "conv-f", decision="close", rule="idle")
    first = ledger.step_intent(failed, "conv-f", "disconnect:agent", "agent-1")
    ledger.step_outcome(
        first, "failed", http_status=503, context_id="ctx-1", error_code="service.unavailable"
    )
    second = ledger.step_intent(failed, "conv-f", "disconnect:conversation")
    ledger.step_outcome(
        second, "failed", http_status=403, context_id="ctx-2", error_code="missing.permissions"
    )
    ledger.set_decision_outcome(
        failed, "failed", error="missing permission conversation:communication:disconnect"
    )
    clock.advance(minutes=1)
    bare = ledger.record_decision(sweep, "conv-g", decision="teardown", rule="orphaned")
    ledger.set_decision_outcome(bare, "failed", error="still not ended after 30s")
    _close(ledger, sweep, "conv-ok", "idle", None)

    newest, oldest = ledger.failures(T0)
    assert (newest.conversation_id, newest.step_kind, newest.error) == (
        "conv-g",
        None,
        "still not ended after 30s",
    )
    assert (oldest.conversation_id, oldest.rule, oldest.step_kind) == (
        "conv-f",
        "idle",
        "disconnect:conversation",
    )
    assert (oldest.http_status, oldest.error_code, oldest.context_id) == (403, "missing.permissions", "ctx-2")
    assert oldest.decided_at == T0


def test_requests_per_close_come_from_the_applied_sweeps_summaries(ledger: Ledger, clock: FakeClock) -> None:
    for apply, summary in [
        (True, {"closed": 3, "tornDown": 1, "apiRequests": 30}),
        (True, {"closed": 0, "tornDown": 0, "apiRequests": 4}),
        (False, {"closed": 0, "apiRequests": 50}),  # a dry run closes nothing: not part of the cost
    ]:
        ledger.finish_sweep(ledger.start_sweep(apply), summary)
        clock.advance(minutes=1)
    ledger.start_sweep(True)  # still running: no summary yet
    cost = ledger.request_cost(T0)
    assert (cost.sweeps, cost.api_requests, cost.closes, cost.per_close) == (2, 34, 4, 8.5)
    assert ledger.request_cost(T0 + timedelta(hours=1)).per_close is None
