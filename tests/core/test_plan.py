"""Plans: which steps, in which order, through which participant and communication."""

from __future__ import annotations

from dataclasses import replace

import pytest

from session_reaper.core.model import Wrapup
from session_reaper.core.plan import CloseSettings, Step, StepKind, annotation, escalate, plan
from session_reaper.core.rules import Action, Policy, Verdict, evaluate
from tests.helpers.snapshots import NOW, acd, agent, chat, customer, flow, idle_chat, minutes

CLOSE = CloseSettings()
POLICY = Policy()


def kinds(steps: tuple[Step, ...]) -> list[str]:
    return [s.kind.value for s in steps]


def planned(conversation, policy=POLICY, close=CLOSE):
    verdict = evaluate(conversation, NOW, policy)
    return verdict, plan(conversation, verdict, close)


def test_step_names_are_the_json_names():
    assert [k.value for k in StepKind] == [
        "warning-text",
        "annotate",
        "closing-text",
        "disconnect:agent",
        "disconnect:conversation",
        "teardown",
        "wrapup:agent",
        "verify",
    ]


def test_row1_idle_close_annotates_tells_disconnects_the_agent_and_verifies():
    _, steps = planned(idle_chat(45))

    assert kinds(steps) == ["annotate", "closing-text", "disconnect:agent", "verify"]
    annotate, text, disconnect, _ = steps
    assert annotate.participant_id == "customer"
    assert annotate.attributes == {
        "reaper.rule": "idle",
        "reaper.reason": "no message for 45m (threshold 30m)",
        "reaper.closedAt": "2026-11-21T10:00:00Z",
    }
    assert (text.participant_id, text.communication_id, text.text) == (
        "agent",
        "comm-agent",
        CLOSE.closing_text,
    )
    assert disconnect.participant_id == "agent"


def test_row4_customer_left_disconnects_every_lingering_agent():
    conversation = chat(
        customer("disconnected", 20, ended=10),
        agent("connected", 30, id="a1"),
        agent("connected", 30, id="a2"),
    )

    _, steps = planned(conversation)

    assert kinds(steps) == ["annotate", "closing-text", "disconnect:agent", "disconnect:agent", "verify"]
    assert [s.participant_id for s in steps if s.kind is StepKind.DISCONNECT_AGENT] == ["a1", "a2"]


def test_row11_only_the_connected_agent_is_disconnected():
    conversation = chat(
        customer("connected", 40),
        acd(),
        agent("disconnected", 55, id="gone", ended=50),
        agent("connected", 41, id="present"),
    )

    _, steps = planned(conversation)

    assert [s.participant_id for s in steps if s.kind is StepKind.DISCONNECT_AGENT] == ["present"]
    assert next(s for s in steps if s.kind is StepKind.CLOSING_TEXT).communication_id == "comm-present"


@pytest.mark.parametrize(
    "conversation",
    [
        pytest.param(chat(customer("connected", 40), acd("connected")), id="5 queue-abandoned"),
        pytest.param(chat(customer("connected", 90), flow("connected")), id="6 flow-stuck"),
    ],
)
def test_rows5_6_end_the_whole_conversation_in_one_call(conversation):
    _, steps = planned(conversation)

    assert kinds(steps) == ["annotate", "disconnect:conversation", "verify"]


def test_row7_orphaned_is_torn_down():
    zombie = chat(
        customer("disconnected", 25, ended=20), acd("connected"), agent("disconnected", 24, ended=20)
    )

    verdict, steps = planned(zombie)

    assert verdict.action is Action.TEARDOWN
    assert kinds(steps) == ["annotate", "teardown", "verify"]


def test_no_teardown_when_not_allowed_even_if_asked():
    zombie = chat(
        customer("disconnected", 25, ended=20), acd("connected"), agent("disconnected", 24, ended=20)
    )
    forced = Verdict("orphaned", Action.TEARDOWN, "x", None)

    assert plan(zombie, forced, replace(CLOSE, allow_teardown=False)) == ()
    assert evaluate(zombie, NOW, replace(POLICY, allow_teardown=False)).action is Action.SKIP


def test_no_annotation_when_disabled_or_without_a_customer():
    _, steps = planned(idle_chat(45), close=replace(CLOSE, annotate=False))
    zombie = chat(acd("connected", ended=None), agent("disconnected", 24, ended=20))
    _, zombie_steps = planned(zombie)

    assert "annotate" not in kinds(steps)
    assert kinds(zombie_steps) == ["teardown", "verify"]


def test_no_closing_text_when_empty_or_without_an_agent_communication():
    _, silent = planned(idle_chat(45), close=replace(CLOSE, closing_text=""))
    _, no_channel = planned(chat(customer("connected", 45), agent("connected", 46, communication_id="")))

    assert kinds(silent) == ["annotate", "disconnect:agent", "verify"]
    assert kinds(no_channel) == ["annotate", "disconnect:agent", "verify"]


def test_row20_warn_is_one_warning_text_through_the_agent():
    verdict, steps = planned(idle_chat(35), policy=replace(POLICY, warn_before=minutes(2)))

    assert verdict.action is Action.WARN
    assert steps == (
        Step(
            StepKind.WARNING_TEXT,
            participant_id="agent",
            communication_id="comm-agent",
            text=CLOSE.warning_text,
        ),
    )


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


def test_row12_wrapup_with_the_configured_code_and_notes():
    close = replace(CLOSE, wrapup_code="code-abandoned")

    _, steps = planned(acw_chat(15), policy=replace(POLICY, wrapup_code="code-abandoned"), close=close)

    assert steps == (
        Step(
            StepKind.WRAPUP_AGENT,
            participant_id="agent",
            communication_id="comm-agent",
            wrapup_code="code-abandoned",
            wrapup_notes="Closed by session-reaper: acw-stuck",
        ),
    )


def test_row13_a_wrapup_set_meanwhile_is_never_overwritten():
    verdict = Verdict("acw-stuck", Action.WRAPUP, "x", None, ("agent",))
    fresh = acw_chat(15, wrapup=Wrapup("agent-chosen", "customer will call back"))

    assert plan(fresh, verdict, replace(CLOSE, wrapup_code="code-abandoned")) == ()


def test_no_wrapup_without_a_code():
    verdict = Verdict("acw-stuck", Action.WRAPUP, "x", None, ("agent",))

    assert plan(acw_chat(15), verdict, CLOSE) == ()


@pytest.mark.parametrize("action", [Action.SKIP, Action.DEFER])
def test_nothing_to_do_is_an_empty_plan(action):
    assert plan(idle_chat(45), Verdict(None, action, "x", None), CLOSE) == ()


def test_plans_are_repeatable():
    # The executor plans again on the re-read conversation: the same verdict gives the very same steps.
    verdict = evaluate(idle_chat(45), NOW, POLICY)

    assert plan(idle_chat(45), verdict, CLOSE) == plan(idle_chat(45), verdict, CLOSE)
    assert annotation(verdict) == annotation(verdict)


def test_escalation_goes_one_level_wider_each_time():
    agent_step = Step(StepKind.DISCONNECT_AGENT, participant_id="agent")

    conversation_step = escalate(agent_step, allow_teardown=True)
    assert conversation_step == Step(StepKind.DISCONNECT_CONVERSATION)
    assert escalate(conversation_step, allow_teardown=True) == Step(StepKind.TEARDOWN)
    assert escalate(conversation_step, allow_teardown=False) is None
    assert escalate(Step(StepKind.TEARDOWN), allow_teardown=True) is None
    assert escalate(Step(StepKind.ANNOTATE), allow_teardown=True) is None
