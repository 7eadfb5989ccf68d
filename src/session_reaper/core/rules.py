"""Which conversations may be ended, and why: pure functions of (snapshot, platform time, policy).

Nothing here does I/O or reads a clock: ``now`` is the platform's time, handed in by the caller. The
same snapshot, time and policy always give the same verdict, whatever the machine's clock says.

``evaluate`` is a short pipeline:
1. guards, any of which stops every rule (not a message conversation, out of scope, exempt, already
   ended, left to the platform's own inactivity timer);
2. the rules, in order from the narrowest action to the widest, each with its own state predicate and
   its own clock; the first one eligible now decides;
3. a close is turned into a warning first when ``warn_before`` asks for one.
When nothing is eligible, the verdict is ``skip`` with ``eligible_at``, a lower bound on when it could
change, so that the sweep need not read the conversation again before then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

# The catalog of rules lives in its own module; its names are re-exported here, where callers find them.
from session_reaper.core.catalog import DEFAULT_RULES as DEFAULT_RULES
from session_reaper.core.catalog import RULE_ORDER as RULE_ORDER
from session_reaper.core.catalog import RULES as RULES
from session_reaper.core.catalog import Action as Action
from session_reaper.core.catalog import Match, silence_since
from session_reaper.core.catalog import RulePolicy as RulePolicy
from session_reaper.core.model import Conversation, Participant, Role

# The re-check lives in its own module; re-exported here, where callers have always found it.
from session_reaper.core.recheck import ANNOTATION_KEYS as ANNOTATION_KEYS
from session_reaper.core.recheck import changed_since as changed_since
from session_reaper.core.recheck import is_exempt
from session_reaper.core.schedule import Schedule, format_duration, format_elapsed


@dataclass(frozen=True, slots=True)
class Policy:
    """The pure subset of the settings the rules need (built by ``config.Settings.policy()``)."""

    channels: frozenset[str] = frozenset({"webmessaging"})
    queue_include: frozenset[str] = frozenset()  # empty = every queue
    queue_exclude: frozenset[str] = frozenset()
    exempt_attribute: str = "reaper.exempt"
    respect_platform_timer: bool = True
    rules: Mapping[str, RulePolicy] = field(default_factory=lambda: DEFAULT_RULES)
    warn_before: timedelta = timedelta(0)
    allow_teardown: bool = True
    wrapup_code: str = ""  # empty: after-call work is left to the agent or the platform
    schedule: Schedule | None = None  # business hours; None = `after` always applies

    def rule(self, name: str) -> RulePolicy:
        return self.rules.get(name) or DEFAULT_RULES[name]

    def threshold(self, name: str, now: datetime) -> tuple[timedelta, bool]:
        """The threshold in force at `now`, and whether it is the after-hours one."""
        rule = self.rule(name)
        if rule.after_hours is not None and self.schedule is not None:  # noqa: SIM102 (reads as policy)
            if not self.schedule.is_business_time(now):
                return rule.after_hours, True
        return rule.after, False


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str | None
    action: Action
    reason: str
    eligible_at: datetime | None  # skip/defer: lower bound on when it could change; None = never by itself
    targets: tuple[str, ...] = ()  # participant ids; empty = the whole conversation
    threshold: timedelta | None = None
    # The platform time of the decision; the plan writes it as reaper.closedAt.
    decided_at: datetime | None = None
    # When the deciding rule's condition began (its clock): now - since - threshold is how long past
    # the threshold the reaper acts, which the report charts.
    since: datetime | None = None

    @property
    def acts(self) -> bool:
        return self.action in (Action.CLOSE, Action.WARN, Action.TEARDOWN, Action.WRAPUP)


# ---------------------------------------------------------------------------------------------- guards


def _guard(conversation: Conversation, now: datetime, policy: Policy) -> Verdict | None:
    """A verdict when something stops every rule, else None."""

    def skip(reason: str) -> Verdict:
        return Verdict(None, Action.SKIP, reason, None, decided_at=now)

    if conversation.media != "message":
        return skip("not a message conversation")
    if conversation.channel not in policy.channels:
        return skip(f"channel {conversation.channel or 'unknown'!r} not in scope")
    queues = conversation.queue_ids
    if policy.queue_include and not queues & policy.queue_include:
        return skip("queue not in scope")
    if excluded := sorted(queues & policy.queue_exclude):
        return skip(f"queue {excluded[0]} excluded")
    exempt = next((p for p in conversation.participants if is_exempt(p, policy.exempt_attribute)), None)
    if exempt is not None:
        return skip(
            f"exempt: {exempt.purpose or exempt.role.value} participant has {policy.exempt_attribute}=true"
        )
    if conversation.ended:
        return skip("already ended")
    timer = conversation.inactivity_timeout
    if policy.respect_platform_timer and timer is not None and timer > now:
        return Verdict(
            None,
            Action.DEFER,
            f"left to the platform's inactivity timer, due in {format_elapsed(timer - now)}",
            timer,
            decided_at=now,
        )
    return None


# ------------------------------------------------------------------------------------------- decision


def _matches(conversation: Conversation, policy: Policy) -> list[Match]:
    found = []
    for name in RULE_ORDER:
        if not policy.rule(name).enabled:
            continue
        match = RULES[name].check(conversation, policy)
        if match is not None:
            found.append(match)
    return found


def _threshold_text(threshold: timedelta, after_hours: bool) -> str:
    return format_duration(threshold) + (" after hours" if after_hours else "")


def _decide(conversation: Conversation, now: datetime, policy: Policy, matches: list[Match]) -> Verdict:
    """The first rule eligible now decides; otherwise skip until the earliest any rule could act."""
    live = [m for m in matches if m.blocked is None]
    blocked = [m for m in matches if m.blocked is not None]
    for match in live:
        threshold, after_hours = policy.threshold(match.rule, now)
        elapsed = now - match.since
        if elapsed < threshold:
            continue
        reason = match.eligible.format(
            elapsed=format_elapsed(elapsed), threshold=_threshold_text(threshold, after_hours)
        )
        targets = match.targets
        if match.target_clocks is not None:
            # Only the targets whose own clock has run out (`since` is the earliest of them).
            targets = tuple(t for t in targets if now - match.target_clocks[t] >= threshold)
        verdict = Verdict(
            match.rule, match.action, reason, None, targets, threshold, decided_at=now, since=match.since
        )
        verdict = _warn_first(conversation, now, policy, match, verdict)
        if verdict.action is Action.SKIP and verdict.eligible_at is not None:
            # Waiting out a warning: the other rules' lower bounds still count, or we might read too late.
            others = [_lower_bound(m, policy, now) for m in live if m is not match]
            verdict = replace(verdict, eligible_at=min([verdict.eligible_at, *others]))
        return verdict

    if live:
        first = min(live, key=lambda m: _lower_bound(m, policy, now))
        threshold, after_hours = policy.threshold(first.rule, now)
        reason = first.pending.format(
            elapsed=format_elapsed(now - first.since), threshold=_threshold_text(threshold, after_hours)
        )
        return Verdict(
            first.rule,
            Action.SKIP,
            reason,
            _lower_bound(first, policy, now),
            threshold=threshold,
            decided_at=now,
        )
    if blocked:
        return Verdict(blocked[0].rule, Action.SKIP, blocked[0].blocked or "", None, decided_at=now)
    return Verdict(None, Action.SKIP, _nothing_to_do(conversation), None, decided_at=now)


def _lower_bound(match: Match, policy: Policy, now: datetime) -> datetime:
    """No earlier than this can `match` become eligible; never later than it really can.

    Without business hours that is simply since + after. With them, the threshold depends on when
    it is read: until the shorter threshold has passed, since + shorter; after that, the first of
    since + longer and the next switch of the schedule (which may bring in the shorter one).
    """
    rule = policy.rule(match.rule)
    shortest = match.since + rule.shortest
    if rule.after_hours is None or policy.schedule is None or shortest > now:
        return shortest
    longest = match.since + max(rule.after, rule.after_hours)
    switch = policy.schedule.next_change(now)
    return longest if switch is None else min(longest, switch)


def _nothing_to_do(conversation: Conversation) -> str:
    states = ", ".join(f"{p.purpose or p.role.value} {p.state}" for p in conversation.participants)
    return f"no rule applies ({states})" if states else "no rule applies (no participants)"


def text_channel(conversation: Conversation, targets: tuple[str, ...]) -> Participant | None:
    """The agent a warning or closing text can be sent through: one of the targets that is there
    (connected or parked) with a communication; an agent only offered the chat cannot write."""
    for participant_id in targets:
        p = conversation.participant(participant_id)
        if p is not None and p.role is Role.AGENT and (p.connected or p.parked) and p.communication_id:
            return p
    return None


def _warn_first(
    conversation: Conversation, now: datetime, policy: Policy, match: Match, verdict: Verdict
) -> Verdict:
    """With warn_before > 0: warn, then close only once warn_before has passed in silence."""
    if verdict.action is not Action.CLOSE or policy.warn_before <= timedelta(0):
        return verdict
    if text_channel(conversation, verdict.targets) is None:
        return verdict  # nobody to send a warning through: close without one
    warning = conversation.last_warning
    # A warning counts only if it was sent since the rule's clock started (i.e. after the last message).
    if warning is None or warning.at < match.since:
        return Verdict(
            match.rule,
            Action.WARN,
            f"{verdict.reason}; warning first, closing after {format_duration(policy.warn_before)} silent",
            None,
            verdict.targets,
            verdict.threshold,
            decided_at=now,
        )
    close_at = warning.at + policy.warn_before
    if now < close_at:
        return Verdict(
            match.rule,
            Action.SKIP,
            f"warned {format_elapsed(now - warning.at)} ago; closing at {close_at:%H:%M:%S}Z if still silent",
            close_at,
            threshold=verdict.threshold,
            decided_at=now,
        )
    return Verdict(
        match.rule,
        Action.CLOSE,
        f"{verdict.reason}; warned {format_elapsed(now - warning.at)} ago",
        None,
        verdict.targets,
        verdict.threshold,
        decided_at=now,
    )


# Rules whose clock is the conversation's silence: a change of state can make them apply at once to
# a silence that began long ago. The others start their clock at a change of state (the guest
# leaving, a participant ending, after-call work beginning), which can only happen from now on.
# `parked` starts at a park, a change of state. A silence clock only ever starts later than the silence
# (a leg connecting), so silence + threshold stays a lower bound.
_SILENCE_CLOCKS = frozenset({"idle", "queue-abandoned", "flow-stuck"})
UNCHANGING_REREAD = timedelta(minutes=30)


def reread_at(
    conversation: Conversation,
    now: datetime,
    policy: Policy,
    verdict: Verdict,
    *,
    changes_visible: bool = False,
) -> datetime | None:
    """Until when the conversation need not be read again; None = the next pass.

    A skip's `eligible_at` covers the rules that match the conversation as it stands; a new message
    only delays every clock. A change of participants can make another rule act sooner (a guest who
    leaves an idle chat makes `customer-left` act five minutes later). With `changes_visible` the
    caller sees such changes some other way (discovery's analytics answer) and reads at once when
    one happens, so `eligible_at` is enough; without, the wait is bounded by every enabled rule.
    """
    if verdict.action is Action.DEFER:
        return verdict.eligible_at  # every rule waits for the platform's timer; messages only move it
    if verdict.action is not Action.SKIP:
        return None
    if verdict.eligible_at is None:
        # Nothing makes it eligible by itself (exempt, out of scope, no rule applies): only a change of
        # participants can, which the caller sees. The backstop covers what analytics does not show
        # (an exemption lifted).
        return now + UNCHANGING_REREAD if changes_visible else None
    if changes_visible:
        return verdict.eligible_at
    silence = silence_since(conversation) or now
    bounds = [verdict.eligible_at]
    for name in RULE_ORDER:
        rule = policy.rule(name)
        if rule.enabled:
            bounds.append((silence if name in _SILENCE_CLOCKS else now) + rule.shortest)
    return max(now, min(bounds))


def close_now(policy: Policy) -> Policy:
    """The policy of an operator's "close now": every rule applies at once (no threshold, no warning,
    no waiting for the platform's timer, no approval). The guards still hold: an exempt, ended or
    out-of-scope conversation is not closed, nor is an action the policy forbids taken."""
    rules = {
        name: replace(policy.rule(name), after=timedelta(0), after_hours=None, enabled=True, approval=False)
        for name in RULE_ORDER
    }
    return replace(policy, rules=rules, warn_before=timedelta(0), respect_platform_timer=False, schedule=None)


def evaluate(conversation: Conversation, now: datetime, policy: Policy) -> Verdict:
    """The verdict on one conversation at platform time `now`."""
    guarded = _guard(conversation, now, policy)
    if guarded is not None:
        return guarded
    return _decide(conversation, now, policy, _matches(conversation, policy))
