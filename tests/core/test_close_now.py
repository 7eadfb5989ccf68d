"""`rules.close_now`: the policy of an operator's "close now" — every rule at once, the guards still."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from session_reaper.core.rules import DEFAULT_RULES, Action, Policy, RulePolicy, close_now, evaluate
from tests.helpers.snapshots import NOW, acd, agent, chat, customer, idle_chat, with_participant

DEFAULT = Policy()


def test_a_conversation_not_yet_due_closes_now_under_its_rule() -> None:
    fresh = idle_chat(2)
    assert evaluate(fresh, NOW, DEFAULT).action is Action.SKIP
    verdict = evaluate(fresh, NOW, close_now(DEFAULT))
    assert (verdict.rule, verdict.action) == ("idle", Action.CLOSE)
    assert verdict.targets == ("agent",)


def test_close_now_never_warns_first_nor_waits_for_approval_or_a_disabled_rule() -> None:
    strict = replace(
        DEFAULT,
        warn_before=timedelta(minutes=5),
        rules={**DEFAULT_RULES, "idle": RulePolicy(timedelta(minutes=30), enabled=False, approval=True)},
    )
    verdict = evaluate(idle_chat(2), NOW, close_now(strict))
    assert (verdict.rule, verdict.action) == ("idle", Action.CLOSE)
    assert not close_now(strict).rule("idle").approval


def test_the_guards_still_hold_under_close_now() -> None:
    exempt = with_participant(idle_chat(2), "customer", attributes={"reaper.exempt": "true"})
    verdict = evaluate(exempt, NOW, close_now(DEFAULT))
    assert verdict.action is Action.SKIP and verdict.reason.startswith("exempt")
    out_of_scope = evaluate(idle_chat(2, channel="sms"), NOW, close_now(DEFAULT))
    assert out_of_scope.action is Action.SKIP
    gone = chat(customer("disconnected", 2), acd(), agent("disconnected", 3))
    assert evaluate(gone, NOW, close_now(DEFAULT)).action is not Action.CLOSE


def test_a_teardown_the_policy_forbids_is_not_done_by_close_now() -> None:
    nobody = chat(customer("disconnected", 2), acd("connected"), agent("disconnected", 3))
    forbidden = replace(DEFAULT, allow_teardown=False)
    assert evaluate(nobody, NOW, close_now(forbidden)).action is not Action.TEARDOWN
    assert evaluate(nobody, NOW, close_now(DEFAULT)).action is Action.TEARDOWN
