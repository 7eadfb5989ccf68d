"""The read schedule: a conversation left unread until `reread_at` can never be acted on late.

Whatever participant leaves in the meantime (the guest, an agent, the queue, a bot) and whenever,
no rule may become able to act before `reread_at` — reading it then is never too late.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from session_reaper.core.model import Activity, Conversation, Participant, Role
from session_reaper.core.rules import RULE_ORDER, Action, Policy, RulePolicy, evaluate, reread_at
from tests.core.test_properties import ACTING, NOW, PROPERTY, conversations, policies


def _leaves(participant: Participant, at, wrapup_required: bool) -> Participant:
    return replace(
        participant,
        state="disconnected",
        ended_at=at,
        wrapup_required=wrapup_required and participant.role is Role.AGENT,
        acw_started_at=at if wrapup_required and participant.role is Role.AGENT else None,
    )


@PROPERTY
@given(
    conversations(),
    policies(),
    st.data(),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.booleans(),
)
def test_no_rule_can_act_before_reread_at_whoever_leaves(conversation, policy, data, when, probe, acw):
    verdict = evaluate(conversation, NOW, policy)
    until = reread_at(conversation, NOW, policy, verdict)
    if until is None or until <= NOW or verdict.action is Action.DEFER:
        return
    active = [p for p in conversation.participants if p.active]
    if not active:
        return
    leaving = data.draw(st.sampled_from(active))
    left_at = NOW + (until - NOW) * when
    changed = replace(
        conversation,
        participants=tuple(
            _leaves(p, left_at, acw) if p is leaving else p for p in conversation.participants
        ),
    )
    at = min(left_at + (until - left_at) * probe, until - timedelta(microseconds=1))

    assert evaluate(changed, max(at, left_at), policy).action not in ACTING


@st.composite
def live_chats(draw: st.DrawFn) -> Conversation:
    """In-scope chats with people still in them: where a departure matters most."""
    silent = timedelta(minutes=draw(st.integers(0, 90)))
    roles = [
        Role.CUSTOMER,
        *draw(st.lists(st.sampled_from([Role.AGENT, Role.QUEUE, Role.FLOW]), min_size=1, max_size=3)),
    ]
    people = tuple(
        Participant(f"{role.value}-{i}", role, "connected", purpose=role.value, communication_id=f"comm-{i}")
        for i, role in enumerate(roles)
    )
    writer = draw(st.sampled_from(people))
    return Conversation(
        "c", "webmessaging", "message", people, (Activity(NOW - silent, writer.id, writer.role),)
    )


@st.composite
def thresholds(draw: st.DrawFn) -> Policy:
    rules = {name: RulePolicy(timedelta(minutes=draw(st.integers(1, 60)))) for name in RULE_ORDER}
    return Policy(rules=rules, wrapup_code="code")


@PROPERTY
@given(
    live_chats(),
    thresholds(),
    st.data(),
    st.floats(0, 1, exclude_max=True),
    st.floats(0, 1, exclude_max=True),
)
def test_a_departure_from_a_live_chat_is_never_read_too_late(conversation, policy, data, when, probe):
    verdict = evaluate(conversation, NOW, policy)
    until = reread_at(conversation, NOW, policy, verdict)
    if until is None or until <= NOW:
        return
    leaving = data.draw(st.sampled_from(conversation.participants))
    left_at = NOW + (until - NOW) * when
    changed = replace(
        conversation,
        participants=tuple(
            _leaves(p, left_at, True) if p is leaving else p for p in conversation.participants
        ),
    )
    at = min(left_at + (until - left_at) * probe, until - timedelta(microseconds=1))

    assert evaluate(changed, max(at, left_at), policy).action not in ACTING


def _moves(participant: Participant, at) -> Participant:
    """The participant's own change of presence at `at`: an offer accepted, a park, a resume."""
    if participant.parked:
        return replace(participant, state="connected", resumed_at=at)
    if participant.connected:
        return replace(participant, state="parked", parked_at=at)
    return replace(participant, state="connected", connected_at=at)


@PROPERTY
@given(
    conversations(),
    policies(),
    st.data(),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_an_accept_a_park_or_a_resume_is_never_read_too_late(conversation, policy, data, when, probe):
    verdict = evaluate(conversation, NOW, policy)
    until = reread_at(conversation, NOW, policy, verdict)
    if until is None or until <= NOW or verdict.action is Action.DEFER:
        return
    live = [p for p in conversation.participants if p.active and p.role in (Role.AGENT, Role.CUSTOMER)]
    if not live:
        return
    moving = data.draw(st.sampled_from(live))
    moved_at = NOW + (until - NOW) * when
    changed = replace(
        conversation,
        participants=tuple(_moves(p, moved_at) if p is moving else p for p in conversation.participants),
    )
    at = min(moved_at + (until - moved_at) * probe, until - timedelta(microseconds=1))

    assert evaluate(changed, max(at, moved_at), policy).action not in ACTING
