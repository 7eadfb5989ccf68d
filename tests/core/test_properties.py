"""Invariants of the rules over arbitrary snapshots and policies (hypothesis).

- a message newer than every threshold never leads to a close or a teardown;
- an exempt or out-of-scope conversation is never acted on;
- eligible_at is a lower bound: evaluating the same snapshot at any time before it never acts;
- a verdict that acts comes with the threshold it used, and the silence really is that long;
- plans only touch participants that are there, and never tear down when that is not allowed.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_reaper.core.model import Activity, ActivityKind, Conversation, Participant, Role, Wrapup
from session_reaper.core.plan import CloseSettings, StepKind, plan
from session_reaper.core.rules import RULE_ORDER, Action, Policy, RulePolicy, changed_since, evaluate
from session_reaper.core.schedule import Schedule

NOW = datetime(2026, 11, 4, 6, 0, tzinfo=UTC)  # just after a DST change in Los Angeles
ACTING = {Action.CLOSE, Action.WARN, Action.TEARDOWN, Action.WRAPUP}
ENDING = {Action.CLOSE, Action.TEARDOWN}
STATES = (
    "connected",
    "connected",
    "alerting",
    "offering",
    "contacting",
    "dialing",
    "disconnected",
    "disconnected",
    "terminated",
    "parked",
)
PURPOSES = {
    Role.CUSTOMER: "customer",
    Role.AGENT: "agent",
    Role.QUEUE: "acd",
    Role.FLOW: "workflow",
    Role.OTHER: "external",
}

# Kept small so the suite stays fast; search harder with e.g. CORE_PROPERTY_EXAMPLES=5000.
EXAMPLES = int(os.environ.get("CORE_PROPERTY_EXAMPLES", "100"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

minutes_ago = st.integers(min_value=0, max_value=6 * 60).map(lambda m: NOW - timedelta(minutes=m))
maybe_ago = st.none() | minutes_ago
threshold = st.integers(min_value=1, max_value=120).map(lambda m: timedelta(minutes=m))


@st.composite
def participants(draw: st.DrawFn, index: int, role: Role) -> Participant:
    state = draw(st.sampled_from(STATES))
    ended = state in ("disconnected", "terminated")
    return Participant(
        id=f"{role.value}-{index}",
        role=role,
        state=state,
        purpose=PURPOSES[role],
        queue_id=draw(st.sampled_from([None, "q1", "q2"])) if role is Role.QUEUE else None,
        communication_id=draw(st.sampled_from([None, f"comm-{index}", f"comm-{index}"])),
        started_at=draw(maybe_ago),
        ended_at=draw(maybe_ago) if ended else None,
        attributes=draw(st.sampled_from([{}, {}, {"crm": "1"}, {"reaper.exempt": "false"}])),
        wrapup_required=role is Role.AGENT and draw(st.booleans()),
        wrapup=draw(st.sampled_from([None, None, Wrapup("agent-code")])) if role is Role.AGENT else None,
        acw_started_at=draw(maybe_ago) if role is Role.AGENT and ended else None,
        # Legs that waited (in queue, offered) before connecting; parks and resumes at any time.
        connected_at=draw(maybe_ago)
        if state not in ("alerting", "offering", "contacting", "dialing")
        else None,
        parked_at=draw(maybe_ago) if state == "parked" or draw(st.booleans()) else None,
        resumed_at=draw(maybe_ago) if state != "parked" and draw(st.booleans()) else None,
    )


@st.composite
def conversations(draw: st.DrawFn) -> Conversation:
    roles = draw(
        st.lists(
            st.sampled_from([Role.CUSTOMER, Role.AGENT, Role.AGENT, Role.QUEUE, Role.FLOW, Role.OTHER]),
            min_size=0,
            max_size=6,
        )
    )
    people = tuple(draw(participants(i, role)) for i, role in enumerate(roles))
    activities: list[Activity] = []
    if people:
        for _ in range(draw(st.integers(0, 5))):
            who = draw(st.sampled_from(people))
            kind = draw(st.sampled_from([ActivityKind.MESSAGE, ActivityKind.MESSAGE, *ActivityKind]))
            activities.append(Activity(draw(minutes_ago), who.id, who.role, kind))
    activities.sort(key=lambda a: a.at)
    timer = draw(st.none() | st.integers(-60, 60).map(lambda m: NOW + timedelta(minutes=m)))
    return Conversation(
        id="c",
        channel=draw(st.sampled_from(["webmessaging", "webmessaging", "sms", ""])),
        media=draw(st.sampled_from(["message", "message", "message", "voice", "email"])),
        participants=people,
        activities=tuple(activities),
        started_at=draw(maybe_ago),
        inactivity_timeout=timer,
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    rules = {
        name: RulePolicy(
            draw(threshold), enabled=draw(st.booleans()), after_hours=draw(st.none() | threshold)
        )
        for name in RULE_ORDER
    }
    schedule = draw(
        st.sampled_from(
            [
                None,
                Schedule.parse("America/Los_Angeles", "mon-fri 08:00-18:00"),
                Schedule.parse("Europe/Berlin", "mon-sat 09:00-17:00, sun 22:00-02:00"),
            ]
        )
    )
    return Policy(
        channels=draw(st.sampled_from([frozenset({"webmessaging"}), frozenset({"webmessaging", "sms"})])),
        queue_exclude=draw(st.sampled_from([frozenset(), frozenset({"q2"})])),
        respect_platform_timer=draw(st.booleans()),
        rules=rules,
        warn_before=draw(st.sampled_from([timedelta(0), timedelta(minutes=2)])),
        allow_teardown=draw(st.booleans()),
        wrapup_code=draw(st.sampled_from(["", "code"])),
        schedule=schedule,
    )


def shortest_threshold(policy: Policy) -> timedelta:
    return min(policy.rule(name).shortest for name in RULE_ORDER)


@PROPERTY
@given(conversations(), policies(), st.data())
def test_a_recent_message_never_leads_to_a_close_or_teardown(conversation, policy, data):
    if not conversation.participants:
        return
    who = data.draw(st.sampled_from(conversation.participants))
    recent = data.draw(st.integers(0, int(shortest_threshold(policy).total_seconds()) - 1))
    message = Activity(NOW - timedelta(seconds=recent), who.id, who.role)
    fresh = replace(conversation, activities=(*conversation.activities, message))

    assert evaluate(fresh, NOW, policy).action not in ENDING


@PROPERTY
@given(conversations(), policies())
def test_closing_verdicts_carry_a_threshold_the_silence_has_reached(conversation, policy):
    verdict = evaluate(conversation, NOW, policy)

    if verdict.action in ENDING:
        assert verdict.threshold is not None and verdict.rule is not None
        last = conversation.last_activity
        assert last is None or NOW - last.at >= verdict.threshold
    if verdict.action is Action.WRAPUP:
        # Every agent wrapped up has been in after-call work for the whole threshold: notes are safe.
        assert verdict.threshold is not None and verdict.targets
        for target in verdict.targets:
            agent = conversation.participant(target)
            assert agent is not None and agent.in_after_call_work
            began = agent.acw_started_at or agent.ended_at
            assert began is not None and NOW - began >= verdict.threshold


@PROPERTY
@given(conversations(), policies())
def test_a_close_for_presence_has_had_everyone_there_for_the_whole_threshold(conversation, policy):
    """idle and parked count from the latest arrival: a connect, a resume, a park, a guest's new leg."""
    verdict = evaluate(conversation, NOW, policy)
    if verdict.action is not Action.CLOSE or verdict.rule not in ("idle", "parked"):
        return
    assert verdict.threshold is not None
    customer = conversation.customer
    assert customer is not None and customer.connected
    assert not any(p.role is Role.AGENT and p.parked for p in conversation.participants) or (
        verdict.rule == "parked"
    )
    for p in (customer, *(conversation.participant(t) for t in verdict.targets)):
        assert p is not None
        for began in (p.connected_at, p.resumed_at, p.parked_at if p.parked else None):
            assert began is None or NOW - began >= verdict.threshold, (p, verdict)


@PROPERTY
@given(conversations(), policies(), st.data())
def test_an_agent_who_just_arrived_is_never_closed_as_idle(conversation, policy, data):
    agents = [p for p in conversation.participants if p.role is Role.AGENT and p.active]
    if not agents:
        return
    who = data.draw(st.sampled_from(agents))
    recent = data.draw(st.integers(0, int(policy.rule("idle").shortest.total_seconds()) - 1))
    arrived = replace(who, state="connected", connected_at=NOW - timedelta(seconds=recent), parked_at=None)
    people = tuple(arrived if p is who else p for p in conversation.participants)

    verdict = evaluate(replace(conversation, participants=people), NOW, policy)

    assert not (verdict.rule == "idle" and verdict.action in ENDING)


@PROPERTY
@given(conversations(), policies(), st.data())
def test_exempt_is_never_acted_on(conversation, policy, data):
    if not conversation.participants:
        return
    marked = data.draw(st.sampled_from(conversation.participants))
    value = data.draw(st.sampled_from(["true", "TRUE", " True "]))
    people = tuple(
        replace(p, attributes={**p.attributes, policy.exempt_attribute: value}) if p is marked else p
        for p in conversation.participants
    )

    verdict = evaluate(replace(conversation, participants=people), NOW, policy)

    assert verdict.action is Action.SKIP and verdict.eligible_at is None


@PROPERTY
@given(conversations(), policies())
def test_out_of_scope_is_never_acted_on(conversation, policy):
    in_scope = (
        conversation.media == "message"
        and conversation.channel in policy.channels
        and not conversation.queue_ids & policy.queue_exclude
    )

    verdict = evaluate(conversation, NOW, policy)

    if not in_scope:
        assert verdict.action is Action.SKIP and verdict.eligible_at is None


@PROPERTY
@given(
    conversations(),
    policies(),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.integers(0, 3 * 24 * 60),
)
def test_eligible_at_is_a_lower_bound(conversation, policy, fraction, later_minutes):
    verdict = evaluate(conversation, NOW, policy)
    if verdict.action in ACTING:
        return
    if verdict.eligible_at is None:
        at = NOW + timedelta(minutes=later_minutes)  # "never by itself": not later either
    elif verdict.eligible_at > NOW:
        # Strictly before: timedelta rounds to microseconds, so 60 s x 0.9999999999999999 is 60 s.
        at = min(
            NOW + (verdict.eligible_at - NOW) * fraction, verdict.eligible_at - timedelta(microseconds=1)
        )
    else:
        return

    assert evaluate(conversation, at, policy).action not in ACTING


@PROPERTY
@given(conversations(), policies())
def test_plans_touch_only_what_is_there(conversation, policy):
    verdict = evaluate(conversation, NOW, policy)
    close = CloseSettings(
        warn_before=policy.warn_before, wrapup_code=policy.wrapup_code, allow_teardown=policy.allow_teardown
    )

    steps = plan(conversation, verdict, close)

    if verdict.action not in ACTING:
        assert steps == ()
    ids = {p.id for p in conversation.participants}
    for step in steps:
        assert step.participant_id is None or step.participant_id in ids
        if step.kind is StepKind.DISCONNECT_AGENT:
            target = conversation.participant(step.participant_id or "")
            assert target is not None and target.role is Role.AGENT and target.active
        if step.kind in (StepKind.WARNING_TEXT, StepKind.CLOSING_TEXT, StepKind.WRAPUP_AGENT):
            assert step.communication_id
    if not policy.allow_teardown:
        assert StepKind.TEARDOWN not in {s.kind for s in steps}
        assert verdict.action is not Action.TEARDOWN
    if verdict.action in (Action.CLOSE, Action.TEARDOWN):
        assert steps[-1].kind is StepKind.VERIFY


@PROPERTY
@given(conversations())
def test_nothing_changed_means_no_cancel(conversation):
    assert changed_since(conversation, conversation) is None


@PROPERTY
@given(conversations(), policies())
def test_a_message_after_the_decision_always_cancels(conversation, policy):
    if not conversation.participants:
        return
    who = conversation.participants[0]
    fresh = replace(conversation, activities=(*conversation.activities, Activity(NOW, who.id, who.role)))

    assert changed_since(conversation, fresh) is not None


SCHEDULES = [
    Schedule.parse("America/Los_Angeles", "mon-fri 08:00-18:00"),
    Schedule.parse("America/Los_Angeles", "sun 01:30-02:30, sun 00:00-01:15"),  # in the DST gap and overlap
    Schedule.parse("Europe/Berlin", "fri-mon 22:00-06:00"),
    Schedule.parse("Australia/Lord_Howe", "mon-sun 02:00-02:15"),  # a half-hour DST shift
]


@settings(max_examples=max(20, EXAMPLES // 4), deadline=None)
@given(
    st.sampled_from(SCHEDULES),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
)
def test_next_change_is_never_after_a_real_switch(schedule, now):
    change = schedule.next_change(now)
    assert change is not None and change > now
    state = schedule.is_business_time(now)
    probe = now
    while probe + timedelta(minutes=1) < change:
        probe += timedelta(minutes=1)
        assert schedule.is_business_time(probe) == state, (now, probe, change)
