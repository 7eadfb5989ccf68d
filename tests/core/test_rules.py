"""The rules, table-driven: every guard, every rule, and each SCENARIOS.md situation as a snapshot."""

from __future__ import annotations

import ast
import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from session_reaper.core import plan as plan_module
from session_reaper.core import rules as rules_module
from session_reaper.core import schedule as schedule_module
from session_reaper.core.model import Activity, Role, Wrapup
from session_reaper.core.rules import DEFAULT_RULES, Action, Policy, RulePolicy, changed_since, evaluate
from session_reaper.core.schedule import Schedule
from tests.helpers.snapshots import (
    NOW,
    acd,
    agent,
    chat,
    customer,
    flow,
    idle_chat,
    minutes,
    with_participant,
)

DEFAULT = Policy()


def policy(**changes: object) -> Policy:
    return replace(DEFAULT, **changes)  # type: ignore[arg-type]


def rules_with(**per_rule: RulePolicy) -> dict[str, RulePolicy]:
    return {**DEFAULT_RULES, **{name.replace("_", "-"): rule for name, rule in per_rule.items()}}


# ------------------------------------------------------------------------------------------- guards


@pytest.mark.parametrize(
    ("conversation", "pol", "reason"),
    [
        pytest.param(
            idle_chat(120, media="voice", channel=""), DEFAULT, "not a message conversation", id="voice"
        ),
        pytest.param(
            idle_chat(120, media="chat", channel=""), DEFAULT, "not a message conversation", id="chat"
        ),
        pytest.param(
            idle_chat(120, media="email", channel=""), DEFAULT, "not a message conversation", id="email"
        ),
        pytest.param(idle_chat(120, channel="sms"), DEFAULT, "channel 'sms' not in scope", id="sms"),
        pytest.param(
            idle_chat(120), policy(queue_include=frozenset({"other"})), "queue not in scope", id="include"
        ),
        pytest.param(
            idle_chat(120),
            policy(queue_exclude=frozenset({"queue-support"})),
            "queue queue-support excluded",
            id="exclude",
        ),
        pytest.param(
            chat(customer("connected", 45, attributes={"reaper.exempt": "TRUE"}), agent()),
            DEFAULT,
            "exempt: customer participant has reaper.exempt=true",
            id="exempt-customer",
        ),
        pytest.param(
            chat(customer(), agent(attributes={"vip": " true "})),
            policy(exempt_attribute="vip"),
            "exempt: agent participant has vip=true",
            id="exempt-agent-own-attribute",
        ),
        pytest.param(
            chat(customer("disconnected", 50), agent("disconnected", 49)),
            DEFAULT,
            "already ended",
            id="ended",
        ),
        pytest.param(chat(), DEFAULT, "already ended", id="no-participants"),
    ],
)
def test_guards_skip_and_never_predict(conversation, pol, reason):
    verdict = evaluate(conversation, NOW, pol)

    assert (verdict.action, verdict.reason, verdict.rule) == (Action.SKIP, reason, None)
    assert verdict.eligible_at is None  # nothing will change on its own


def test_exempt_attribute_other_than_true_is_not_exempt():
    conversation = chat(customer("connected", 45, attributes={"reaper.exempt": "false"}), agent())

    assert evaluate(conversation, NOW, DEFAULT).action is Action.CLOSE


def test_listed_channel_is_in_scope_and_include_matches_any_queue():
    pol = policy(channels=frozenset({"webmessaging", "sms"}), queue_include=frozenset({"queue-support"}))

    assert evaluate(idle_chat(45, channel="sms"), NOW, pol).action is Action.CLOSE


def test_a_running_platform_timer_defers_to_the_platform():
    verdict = evaluate(idle_chat(45, timer_in=5), NOW, DEFAULT)

    assert verdict.action is Action.DEFER
    assert verdict.eligible_at == NOW + minutes(5)
    assert verdict.reason == "left to the platform's inactivity timer, due in 5m"


def test_a_past_platform_timer_or_not_respecting_it_lets_the_rules_decide():
    assert evaluate(idle_chat(45, timer_in=-1), NOW, DEFAULT).action is Action.CLOSE
    assert (
        evaluate(idle_chat(45, timer_in=5), NOW, policy(respect_platform_timer=False)).action is Action.CLOSE
    )


def test_exempt_wins_over_every_other_guard_that_would_defer():
    conversation = chat(customer("connected", 45, attributes={"reaper.exempt": "true"}), agent(), timer_in=5)

    assert evaluate(conversation, NOW, DEFAULT).action is Action.SKIP


# ------------------------------------------------------------------------------------------- rules

SCENARIO_ROWS = [
    # (SCENARIOS.md row, snapshot, expected rule, action, targets, reason)
    ("1 idle 45m", idle_chat(45), "idle", Action.CLOSE, ("agent",), "no message for 45m (threshold 30m)"),
    (
        "2 customer wrote 2m ago",
        idle_chat(2),
        "idle",
        Action.SKIP,
        (),
        "last message 2m ago (idle after 30m)",
    ),
    (
        "3 customer silent 50m, agent wrote 1m ago",
        chat(customer("connected", 50), acd(), agent("connected", 1)),
        "idle",
        Action.SKIP,
        (),
        "last message 1m ago (idle after 30m)",
    ),
    (
        "4 customer left 10m ago",
        chat(customer("disconnected", 12, ended=10), acd(), agent("connected", 13)),
        "customer-left",
        Action.CLOSE,
        ("agent",),
        "customer left 10m ago; agent still connected (threshold 5m)",
    ),
    (
        "5 in queue, customer silent 40m",
        chat(customer("connected", 40), acd("connected")),
        "queue-abandoned",
        Action.CLOSE,
        (),
        "waiting in queue with no agent; silent for 40m (threshold 20m)",
    ),
    (
        "6 in a flow, customer silent 90m",
        chat(customer("connected", 90), flow("connected")),
        "flow-stuck",
        Action.CLOSE,
        (),
        "still in a message flow; silent for 1h30m (threshold 1h)",
    ),
    (
        "7 zombie: customer and agent gone 20m ago, acd connected",
        chat(customer("disconnected", 25, ended=20), acd("connected"), agent("disconnected", 24, ended=20)),
        "orphaned",
        Action.TEARDOWN,
        (),
        "no customer or agent connected, yet not ended, for 20m (threshold 15m)",
    ),
    (
        "11 two agents, one transferred away",
        chat(
            customer("connected", 40),
            acd(),
            agent("disconnected", 55, id="gone", ended=50),
            agent("connected", 41, id="present"),
        ),
        "idle",
        Action.CLOSE,
        ("present",),
        "no message for 40m (threshold 30m)",
    ),
]


@pytest.mark.parametrize(
    ("conversation", "rule", "action", "targets", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in SCENARIO_ROWS],
)
def test_scenarios_as_snapshots(conversation, rule, action, targets, reason):
    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action, verdict.targets, verdict.reason) == (rule, action, targets, reason)


def test_row1_reports_the_threshold_and_when_it_decided():
    verdict = evaluate(idle_chat(45), NOW, DEFAULT)

    assert verdict.threshold == minutes(30)
    assert verdict.decided_at == NOW
    assert verdict.eligible_at is None


def test_row2_skip_predicts_when_to_look_again():
    verdict = evaluate(idle_chat(2), NOW, DEFAULT)

    assert verdict.eligible_at == NOW - minutes(2) + minutes(30)


def test_customer_left_clock_restarts_on_a_later_message():
    # The agent wrote after the customer left: the clock runs from that message, not from the leave.
    conversation = chat(customer("disconnected", 12, ended=10), agent("connected", 3))

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert verdict.action is Action.SKIP
    assert verdict.eligible_at == NOW - minutes(3) + minutes(5)


def test_customer_left_names_every_lingering_agent():
    conversation = chat(
        customer("disconnected", 20, ended=10),
        agent("connected", 30, id="a1"),
        agent("connected", 30, id="a2"),
    )

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert verdict.targets == ("a1", "a2")
    assert "2 agents still connected" in verdict.reason


def test_idle_without_any_message_counts_from_the_start():
    conversation = chat(customer("connected", 0, started=40), agent("connected", 0, started=39))
    conversation = replace(conversation, activities=())

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert (verdict.rule, verdict.action) == ("idle", Action.CLOSE)  # started 60m ago (chat default)


def test_queue_abandoned_needs_no_agent_and_flow_stuck_needs_no_queue():
    with_agent = chat(customer("connected", 40), acd("connected"), agent("alerting", 41))
    flow_and_queue = chat(customer("connected", 90), flow("connected"), acd("connected"))

    # an agent only offered the chat (alerting) is not there yet: it still waits in queue
    assert evaluate(with_agent, NOW, DEFAULT).rule == "queue-abandoned"
    assert evaluate(flow_and_queue, NOW, DEFAULT).rule == "queue-abandoned"


def test_orphaned_clock_starts_at_the_last_participant_end():
    conversation = chat(
        customer("disconnected", 30, ended=30), acd("connected"), agent("disconnected", 40, ended=10)
    )

    verdict = evaluate(conversation, NOW, DEFAULT)

    assert verdict.action is Action.SKIP
    assert verdict.eligible_at == NOW - minutes(10) + minutes(15)


def test_orphaned_respects_allow_teardown():
    zombie = chat(
        customer("disconnected", 25, ended=20), acd("connected"), agent("disconnected", 24, ended=20)
    )

    verdict = evaluate(zombie, NOW, policy(allow_teardown=False))

    assert (verdict.action, verdict.reason, verdict.eligible_at) == (
        Action.SKIP,
        "teardown not allowed",
        None,
    )


def test_a_lone_connected_customer_is_left_alone():
    lone = chat(customer("connected", 300), acd("disconnected"), agent("disconnected", 301, ended=290))

    verdict = evaluate(lone, NOW, DEFAULT)

    assert verdict.action is Action.SKIP
    assert verdict.rule is None and verdict.eligible_at is None
    assert verdict.reason.startswith("no rule applies")


def test_disabled_rule_never_acts():
    pol = policy(rules=rules_with(idle=RulePolicy(minutes(30), enabled=False)))

    verdict = evaluate(idle_chat(300), NOW, pol)

    assert (verdict.action, verdict.rule, verdict.eligible_at) == (Action.SKIP, None, None)


# ----------------------------------------------------------------------------------- after-call work


def acw_chat(acw_minutes: float, **agent_extra: object):
    leg = agent(
        "disconnected",
        acw_minutes + 1,
        ended=acw_minutes,
        acw_started=acw_minutes,
        wrapup_required=True,
        **agent_extra,
    )
    return chat(customer("disconnected", acw_minutes + 2, ended=acw_minutes), acd(), leg)


def test_row12_after_call_work_waits_for_its_threshold_then_gets_the_wrapup():
    pol = policy(wrapup_code="code-abandoned")

    early = evaluate(acw_chat(3), NOW, pol)
    later = evaluate(acw_chat(15), NOW, pol)

    assert (early.rule, early.action, early.eligible_at) == ("acw-stuck", Action.SKIP, NOW + minutes(7))
    assert (later.rule, later.action, later.targets) == ("acw-stuck", Action.WRAPUP, ("agent",))
    assert later.reason == "agent in after-call work for 15m without wrap-up (threshold 10m)"


def test_each_agent_in_after_call_work_has_its_own_clock():
    conversation = chat(
        customer("disconnected", 40, ended=30),
        acd(),
        agent("disconnected", 31, id="early", ended=15, acw_started=15, wrapup_required=True),
        agent("disconnected", 20, id="late", ended=2, acw_started=2, wrapup_required=True),
    )

    verdict = evaluate(conversation, NOW, policy(wrapup_code="c"))

    assert (verdict.action, verdict.targets) == (Action.WRAPUP, ("early",))  # "late" is still writing notes


def test_after_call_work_without_a_wrapup_code_is_left_to_the_agent():
    verdict = evaluate(acw_chat(30), NOW, DEFAULT)

    assert (verdict.action, verdict.reason) == (
        Action.SKIP,
        "after-call work open; no wrapup_code configured",
    )
    assert verdict.eligible_at is None


def test_row13_an_agents_own_wrapup_is_not_after_call_work():
    conversation = acw_chat(30, wrapup=Wrapup("agent-chosen", "customer will call back"))

    verdict = evaluate(conversation, NOW, policy(wrapup_code="code-abandoned"))

    assert verdict.action is Action.SKIP and verdict.rule != "acw-stuck"


def test_after_call_work_alone_is_never_orphaned():
    assert evaluate(acw_chat(300), NOW, policy(wrapup_code="")).rule != "orphaned"


def test_acw_is_decided_before_orphaned_and_orphaned_still_applies_without_a_code():
    zombie_with_acw = chat(
        customer("disconnected", 25, ended=20),
        acd("connected"),
        agent("disconnected", 24, ended=20, acw_started=20, wrapup_required=True),
    )

    assert evaluate(zombie_with_acw, NOW, policy(wrapup_code="c")).action is Action.WRAPUP
    assert evaluate(zombie_with_acw, NOW, DEFAULT).action is Action.TEARDOWN


def test_acw_without_a_communication_cannot_be_wrapped_up():
    verdict = evaluate(acw_chat(30, communication_id=""), NOW, policy(wrapup_code="c"))

    assert (verdict.action, verdict.reason) == (
        Action.SKIP,
        "after-call work open; no communication to apply a wrap-up to",
    )


def test_acw_clock_falls_back_to_the_end_of_the_interaction():
    conversation = acw_chat(15)
    conversation = with_participant(conversation, "agent", acw_started_at=None)

    assert evaluate(conversation, NOW, policy(wrapup_code="c")).action is Action.WRAPUP


# ------------------------------------------------------------------------------------------ warnings

WARN = policy(warn_before=minutes(2))


def test_row20_first_pass_warns():
    verdict = evaluate(idle_chat(35), NOW, WARN)

    assert (verdict.rule, verdict.action, verdict.targets) == ("idle", Action.WARN, ("agent",))


def test_row20_after_the_warning_wait_then_close_if_still_silent():
    waiting = evaluate(idle_chat(36, warned=1), NOW, WARN)
    closing = evaluate(idle_chat(38, warned=3), NOW, WARN)

    assert (waiting.action, waiting.eligible_at) == (Action.SKIP, NOW + minutes(1))
    assert (closing.action, closing.rule) == (Action.CLOSE, "idle")
    assert "warned 3m ago" in closing.reason


def test_row20_an_answer_after_the_warning_resets_everything():
    answered = chat(customer("connected", 38, 0.5), acd(), agent("connected", 39), warned=2)

    verdict = evaluate(answered, NOW, WARN)

    assert verdict.action is Action.SKIP
    assert verdict.eligible_at == NOW - minutes(0.5) + minutes(30)


def test_a_warning_before_the_last_message_does_not_count():
    # Warned long ago, the customer answered, then went silent again: warn afresh.
    conversation = chat(customer("connected", 40), acd(), agent("connected", 41), warned=50)

    assert evaluate(conversation, NOW, WARN).action is Action.WARN


def test_the_reapers_own_texts_never_reset_a_clock():
    conversation = idle_chat(45, closing_text=1)

    assert evaluate(conversation, NOW, DEFAULT).action is Action.CLOSE


def test_no_warning_without_an_agent_communication():
    in_queue = chat(customer("connected", 40), acd("connected"))
    agent_without_channel = chat(customer("connected", 45), agent("connected", 46, communication_id=""))

    assert evaluate(in_queue, NOW, WARN).action is Action.CLOSE
    assert evaluate(agent_without_channel, NOW, WARN).action is Action.CLOSE


def test_waiting_out_a_warning_still_respects_other_rules_lower_bounds():
    conversation = chat(
        customer("connected", 36),
        agent("connected", 37, id="talking"),
        agent("disconnected", 40, id="notes", ended=5, acw_started=5, wrapup_required=True),
        warned=1,
    )

    verdict = evaluate(conversation, NOW, replace(WARN, wrapup_code="c"))

    assert verdict.action is Action.SKIP
    assert verdict.eligible_at == NOW + minutes(1)  # the warning ends before the ACW threshold (5m)


# ----------------------------------------------------------------------------------- business hours

LA = Schedule.parse("America/Los_Angeles", "mon-fri 08:00-18:00")
LA_POLICY = policy(schedule=LA, rules=rules_with(idle=RulePolicy(minutes(30), after_hours=minutes(10))))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("platform_time", "expected"),
    [
        pytest.param("2026-11-04T06:00:00Z", Action.CLOSE, id="Tue 22:00 PST, after the DST change"),
        pytest.param("2026-11-04T01:30:00Z", Action.SKIP, id="Tue 17:30 PST: open (fixed UTC-7 says 18:30)"),
        pytest.param("2026-10-28T05:00:00Z", Action.CLOSE, id="Tue 22:00 PDT, before the change"),
        pytest.param("2026-10-27T14:30:00Z", Action.CLOSE, id="Tue 07:30 PDT: not yet open"),
        pytest.param("2026-10-27T15:30:00Z", Action.SKIP, id="Tue 08:30 PDT: open (fixed UTC-8 says 07:30)"),
        pytest.param("2026-11-07T19:00:00Z", Action.CLOSE, id="Sat 11:00 PST: weekend"),
    ],
)
def test_row21_after_hours_threshold_in_los_angeles_across_dst(platform_time, expected):
    now = utc(platform_time)

    verdict = evaluate(idle_chat(15, now=now), now, LA_POLICY)

    assert verdict.action is expected
    if expected is Action.CLOSE:
        assert verdict.threshold == minutes(10)
        assert verdict.reason == "no message for 15m (threshold 10m after hours)"
    else:
        # Open: 30m applies, and the office stays open until then.
        assert verdict.eligible_at == now + minutes(15)


def test_row21_prediction_while_open_is_the_closing_time_when_that_comes_first():
    now = utc("2026-11-04T01:50:00Z")  # Tue 17:50 PST: 30m would be 18:05, but at 18:00 the 10m applies

    verdict = evaluate(idle_chat(15, now=now), now, LA_POLICY)

    assert (verdict.action, verdict.eligible_at) == (Action.SKIP, utc("2026-11-04T02:00:00Z"))
    at_closing = evaluate(idle_chat(15, now=now), utc("2026-11-04T02:00:00Z"), LA_POLICY)
    assert at_closing.action is Action.CLOSE


def test_row21_prediction_before_the_shorter_threshold_is_that_threshold():
    now = utc("2026-11-04T06:00:00Z")  # 22:00 PST, idle 5m: the 10m after-hours threshold is 5m away

    verdict = evaluate(idle_chat(5, now=now), now, LA_POLICY)

    assert verdict.eligible_at == now + minutes(5)


def test_row26_same_decision_whatever_the_machine_clock_says():
    # The rules take time only from their argument: nothing in the core reads a clock.
    first = evaluate(idle_chat(45), NOW, DEFAULT)
    again = evaluate(idle_chat(45), NOW, DEFAULT)

    assert first == again
    for module in (rules_module, plan_module, schedule_module):
        source = inspect.getsource(module)
        assert ".now(" not in source and "time.time" not in source and "utcnow" not in source


def test_the_core_never_imports_an_adapter():
    for module in (rules_module, plan_module, schedule_module):
        tree = ast.parse(inspect.getsource(module))
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert not {
            m for m in imported if m.split(".")[1:2] in (["genesys"], ["emulator"], ["ledger"], ["config"])
        }
        assert "pydantic" not in imported


# ------------------------------------------------------------------------------------------ re-check


def test_row10_a_message_between_decision_and_action_cancels():
    decided = idle_chat(45)
    fresh = replace(decided, activities=(*decided.activities, Activity(NOW, "customer", Role.CUSTOMER)))

    assert changed_since(decided, fresh) == "new message from the customer"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda c: with_participant(c, "agent", state="disconnected"), "agent participant state changed"),
        (
            lambda c: replace(
                c, participants=(*c.participants, agent("alerting", id="agent-2").participant(NOW))
            ),
            "agent participant added",
        ),
        (lambda c: with_participant(c, "customer", attributes={"reaper.exempt": "true"}), "became exempt"),
        (lambda c: with_participant(c, "customer", attributes={"crm.case": "42"}), "attributes changed"),
        (lambda c: replace(c, inactivity_timeout=NOW + minutes(5)), "inactivity timer"),
    ],
)
def test_changes_that_cancel(change, why):
    decided = idle_chat(45)

    assert why in (changed_since(decided, change(decided)) or "")


def test_wrapup_applied_meanwhile_cancels():
    decided = acw_chat(15)
    fresh = with_participant(decided, "agent", wrapup=Wrapup("agent-code"))

    assert changed_since(decided, fresh) == "agent wrap-up applied"


def test_the_reapers_own_texts_and_annotations_are_not_changes():
    decided = idle_chat(45)
    fresh = with_participant(
        idle_chat(45, closing_text=0),
        "customer",
        attributes={"reaper.rule": "idle", "reaper.reason": "x", "reaper.closedAt": NOW.isoformat()},
    )

    assert changed_since(decided, fresh) is None
    assert changed_since(decided, decided) is None


def test_times_are_aware_utc_in_verdicts():
    verdict = evaluate(idle_chat(2), NOW, DEFAULT)

    assert verdict.eligible_at is not None and verdict.eligible_at.tzinfo is not None
    assert verdict.eligible_at.astimezone(UTC) == datetime(2026, 11, 21, 10, 28, tzinfo=UTC)
    assert timedelta(0) < verdict.eligible_at - NOW
