"""Pending decisions (rules with approval = true) in the ledger, shared by replicas: on both back ends.

Two `Ledger` objects on one database stand for two replicas: they pend a conversation once, see the
same decision, and only one of an approval and a rejection can win.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from session_reaper.ledger import Ledger
from tests.ledger.conftest import T0

TTL = timedelta(hours=1)


def pend(ledger: Ledger, cid: str = "conv-1", *, at: timedelta = timedelta(0), rule: str = "idle") -> object:
    return ledger.pend(
        cid, rule=rule, decision="close", reason="no message for 41m", queue_id="q1", now=T0 + at, ttl=TTL
    )


def test_two_replicas_pend_a_conversation_once_and_see_one_decision(ledger_url: str) -> None:
    with Ledger.open(ledger_url, owner="a") as a, Ledger.open(ledger_url, owner="b") as b:
        first = a.pend("conv-1", rule="idle", decision="close", reason="r", queue_id="q1", now=T0, ttl=TTL)
        again = b.pend(
            "conv-1",
            rule="idle",
            decision="close",
            reason="r",
            queue_id="q1",
            now=T0 + timedelta(minutes=1),
            ttl=TTL,
        )
        assert again.decision_id == first.decision_id and again.status == "pending"
        assert again.expires_at == T0 + TTL
        assert [p.decision_id for p in a.pending_decisions(T0)] == [first.decision_id]
        assert [p.decision_id for p in b.pending_decisions(T0)] == [first.decision_id]
        # b approves; a's rejection comes second and changes nothing
        won, approved = b.resolve_pending(first.decision_id, approve=True, operator="Grace", now=T0)
        lost, after = a.resolve_pending(first.decision_id, approve=False, operator="Ada", now=T0)
        assert won and not lost
        assert approved is not None and after is not None
        assert (after.status, after.operator) == ("approved", "Grace")
        assert a.pending_decisions(T0) == []
        a.settle_pending(first.decision_id, "done")
        assert b.pending_decision(first.decision_id).outcome == "done"  # type: ignore[union-attr]


def test_replicas_pending_at_the_same_moment_insert_one_row(ledger_url: str) -> None:
    replicas = [Ledger.open(ledger_url, owner=f"r{n}") for n in range(4)]
    ids: list[str] = []
    barrier = threading.Barrier(len(replicas))

    def work(ledger: Ledger) -> None:
        barrier.wait()
        ids.append(
            ledger.pend(
                "conv-9", rule="idle", decision="close", reason="r", queue_id=None, now=T0, ttl=TTL
            ).decision_id
        )

    threads = [threading.Thread(target=work, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(ids) == 4 and len(set(ids)) == 1
        assert len(replicas[0].pending_decisions(T0)) == 1
    finally:
        for r in replicas:
            r.close()


def test_a_pending_decision_expires_after_its_ttl_and_can_no_longer_be_approved(ledger: Ledger) -> None:
    first = pend(ledger)
    late = T0 + TTL + timedelta(seconds=1)
    won, row = ledger.resolve_pending(first.decision_id, approve=True, operator="Grace", now=late)  # type: ignore[attr-defined]
    assert not won and row is not None and row.status == "expired" and row.operator is None
    assert ledger.pending_decisions(late) == []
    # still eligible later: a new decision waits, under a new id
    renewed = pend(ledger, at=TTL + timedelta(minutes=1))
    assert renewed.decision_id != first.decision_id and renewed.status == "pending"  # type: ignore[attr-defined]


def test_a_rejection_holds_for_that_decision_and_is_never_pended_again_until_it_would_have_expired(
    ledger: Ledger,
) -> None:
    first = pend(ledger)
    won, row = ledger.resolve_pending(first.decision_id, approve=False, operator="Ada", now=T0)  # type: ignore[attr-defined]
    assert won and row is not None and row.status == "rejected"
    again = pend(ledger, at=timedelta(minutes=5))
    assert again.decision_id == first.decision_id and again.status == "rejected"  # type: ignore[attr-defined]
    assert ledger.pending_decisions(T0 + timedelta(minutes=5)) == []
    other_rule = pend(ledger, at=timedelta(minutes=5), rule="customer-left")
    assert other_rule.status == "pending"  # type: ignore[attr-defined]


def test_unknown_words_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown decision"):
        ledger.pend("c", rule="idle", decision="closed", reason="r", queue_id=None, now=T0, ttl=TTL)
    with pytest.raises(ValueError, match="unknown console action"):
        ledger.record_console_action("Ada", "delete", "c")


def test_an_approval_carried_out_is_not_asked_again_but_a_cancelled_one_is(ledger: Ledger) -> None:
    first = pend(ledger)
    ledger.resolve_pending(first.decision_id, approve=True, operator="Grace", now=T0)  # type: ignore[attr-defined]
    # a pass that read the conversation before the approved close: the same approval, no new question
    assert pend(ledger, at=timedelta(seconds=5)).status == "approved"  # type: ignore[attr-defined]
    ledger.settle_pending(first.decision_id, "done")  # type: ignore[attr-defined]
    assert pend(ledger, at=timedelta(seconds=6)).status == "approved"  # type: ignore[attr-defined]
    second = pend(ledger, "conv-2")
    ledger.resolve_pending(second.decision_id, approve=True, operator="Grace", now=T0)  # type: ignore[attr-defined]
    ledger.settle_pending(second.decision_id, "cancelled")  # type: ignore[attr-defined]
    renewed = pend(ledger, "conv-2", at=timedelta(minutes=1))
    assert renewed.status == "pending" and renewed.decision_id != second.decision_id  # type: ignore[attr-defined]
