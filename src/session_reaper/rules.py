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

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from session_reaper.model import Conversation, Participant, Role
from session_reaper.schedule import Schedule, format_duration, format_elapsed

# The participant attributes the reaper writes itself (see plan.annotate): they never cancel an action.
ANNOTATION_KEYS = ("reaper.rule", "reaper.reason", "reaper.closedAt")


class Action(StrEnum):
    """What to do with a conversation; the values are the JSON ``decision``."""

    CLOSE = "close"
    WARN = "warn"
    TEARDOWN = "teardown"
    WRAPUP = "wrapup"
    SKIP = "skip"
    DEFER = "defer"


@dataclass(frozen=True, slots=True)
class RulePolicy:
    after: timedelta
    enabled: bool = True
    after_hours: timedelta | None = None  # another threshold outside business hours

    @property
    def shortest(self) -> timedelta:
        """The smallest threshold that can ever apply: the safe one to predict with."""
        return self.after if self.after_hours is None else min(self.after, self.after_hours)


# The rules, narrowest action first: this order is the tie-break when several could act.
RULE_ORDER = ("acw-stuck", "customer-left", "idle", "queue-abandoned", "flow-stuck", "orphaned")

DEFAULT_RULES: Mapping[str, RulePolicy] = MappingProxyType(
    {
        "idle": RulePolicy(timedelta(minutes=30)),
        "customer-left": RulePolicy(timedelta(minutes=5)),
        "queue-abandoned": RulePolicy(timedelta(minutes=20)),
        "flow-stuck": RulePolicy(timedelta(minutes=60)),
        "orphaned": RulePolicy(timedelta(minutes=15)),
        "acw-stuck": RulePolicy(timedelta(minutes=10)),
    }
)


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


def _is_exempt(participant: Participant, attribute: str) -> bool:
    return participant.attributes.get(attribute, "").strip().lower() == "true"


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
    exempt = next((p for p in conversation.participants if _is_exempt(p, policy.exempt_attribute)), None)
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


# ----------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Match:
    """A rule whose state predicate holds; whether it may act depends on its clock and threshold."""

    rule: str
    action: Action
    since: datetime  # when the rule's clock started
    targets: tuple[str, ...]
    eligible: str  # reason when eligible; {elapsed} and {threshold} are filled in
    pending: str  # reason while waiting; {elapsed} and {threshold} are filled in
    blocked: str | None = None  # the policy forbids this rule's action: it never acts
    target_clocks: Mapping[str, datetime] | None = None  # a clock per target, when each has its own


def _agents(conversation: Conversation) -> tuple[Participant, ...]:
    return conversation.with_role(Role.AGENT)


def _active(conversation: Conversation, role: Role) -> tuple[Participant, ...]:
    return tuple(p for p in conversation.with_role(role) if p.active)


def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _silence_since(conversation: Conversation) -> datetime | None:
    """When the last person or bot wrote; without any message, when the conversation began."""
    last = conversation.last_activity
    if last is not None:
        return last.at
    starts = [p.started_at for p in conversation.participants if p.started_at is not None]
    return conversation.started_at or (min(starts) if starts else None)


def _customer_connected(conversation: Conversation) -> bool:
    customer = conversation.customer
    return customer is not None and customer.connected


def _acw_clock(agent: Participant) -> datetime | None:
    return agent.acw_started_at or agent.ended_at


def acw_stuck(conversation: Conversation, policy: Policy) -> Match | None:
    # The `after` counted from the start of each agent's own after-call work is what protects their
    # notes: the reaper's own disconnect is never followed straight away by a wrap-up.
    in_acw = [p for p in _agents(conversation) if p.in_after_call_work and _acw_clock(p) is not None]
    if not in_acw:
        return None
    reachable = [p for p in in_acw if p.communication_id]
    blocked = None
    if not policy.wrapup_code:
        blocked = "after-call work open; no wrapup_code configured"
    elif not reachable:
        blocked = "after-call work open; no communication to apply a wrap-up to"
    chosen = reachable or in_acw
    clocks = {p.id: t for p in chosen if (t := _acw_clock(p)) is not None}
    return Match(
        "acw-stuck",
        Action.WRAPUP,
        min(clocks.values()),
        tuple(clocks),
        "agent in after-call work for {elapsed} without wrap-up (threshold {threshold})",
        "agent in after-call work for {elapsed} (acw-stuck after {threshold})",
        blocked,
        MappingProxyType(clocks),
    )


def customer_left(conversation: Conversation, policy: Policy) -> Match | None:
    customer = conversation.customer
    agents = _active(conversation, Role.AGENT)
    if customer is None or not customer.ended or not agents:
        return None
    last = conversation.last_activity
    since = _latest(customer.ended_at, last.at if last else None, customer.started_at)
    if since is None:
        return None
    who = "agent still connected" if len(agents) == 1 else f"{len(agents)} agents still connected"
    # The clock restarts on a message written after the customer left; say which clock it is.
    if last is not None and customer.ended_at is not None and last.at > customer.ended_at:
        what = "last message {elapsed} ago, after the customer left"
    else:
        what = "customer left {elapsed} ago"
    return Match(
        "customer-left",
        Action.CLOSE,
        since,
        tuple(p.id for p in agents),
        what + "; " + who + " (threshold {threshold})",
        what + " (customer-left after {threshold})",
    )


def idle(conversation: Conversation, policy: Policy) -> Match | None:
    agents = _active(conversation, Role.AGENT)
    if not _customer_connected(conversation) or not agents:
        return None
    since = _silence_since(conversation)
    if since is None:
        return None
    # Only agents still in the conversation: one transferred away and gone is never a target.
    return Match(
        "idle",
        Action.CLOSE,
        since,
        tuple(p.id for p in agents),
        "no message for {elapsed} (threshold {threshold})",
        "last message {elapsed} ago (idle after {threshold})",
    )


def queue_abandoned(conversation: Conversation, policy: Policy) -> Match | None:
    if not _customer_connected(conversation) or _active(conversation, Role.AGENT):
        return None
    if not _active(conversation, Role.QUEUE):
        return None
    since = _silence_since(conversation)
    if since is None:
        return None
    return Match(
        "queue-abandoned",
        Action.CLOSE,
        since,
        (),
        "waiting in queue with no agent; silent for {elapsed} (threshold {threshold})",
        "waiting in queue, last message {elapsed} ago (queue-abandoned after {threshold})",
    )


def flow_stuck(conversation: Conversation, policy: Policy) -> Match | None:
    if not _customer_connected(conversation) or not _active(conversation, Role.FLOW):
        return None
    if _active(conversation, Role.AGENT) or _active(conversation, Role.QUEUE):
        return None
    since = _silence_since(conversation)
    if since is None:
        return None
    return Match(
        "flow-stuck",
        Action.CLOSE,
        since,
        (),
        "still in a message flow; silent for {elapsed} (threshold {threshold})",
        "in a message flow, last message {elapsed} ago (flow-stuck after {threshold})",
    )


def orphaned(conversation: Conversation, policy: Policy) -> Match | None:
    if not any(p.active for p in conversation.participants):
        return None  # every participant ended: at most after-call work is open, which is acw-stuck's
    people = (*conversation.with_role(Role.CUSTOMER), *_agents(conversation))
    if any(p.connected for p in people):
        return None
    last = conversation.last_activity
    ends = [p.ended_at for p in conversation.participants if p.ended and p.ended_at is not None]
    since = _latest(last.at if last else None, max(ends) if ends else None) or _silence_since(conversation)
    if since is None:
        return None
    return Match(
        "orphaned",
        Action.TEARDOWN,
        since,
        (),
        "no customer or agent connected, yet not ended, for {elapsed} (threshold {threshold})",
        "no customer or agent connected for {elapsed} (orphaned after {threshold})",
        None if policy.allow_teardown else "teardown not allowed",
    )


RULES: Mapping[str, Callable[[Conversation, Policy], Match | None]] = MappingProxyType(
    {
        "acw-stuck": acw_stuck,
        "customer-left": customer_left,
        "idle": idle,
        "queue-abandoned": queue_abandoned,
        "flow-stuck": flow_stuck,
        "orphaned": orphaned,
    }
)


# ------------------------------------------------------------------------------------------- decision


def _matches(conversation: Conversation, policy: Policy) -> list[Match]:
    found = []
    for name in RULE_ORDER:
        if not policy.rule(name).enabled:
            continue
        match = RULES[name](conversation, policy)
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


def _warning_channel(conversation: Conversation, targets: tuple[str, ...]) -> Participant | None:
    """The agent communication a warning (or closing text) can be sent through."""
    for participant_id in targets:
        p = conversation.participant(participant_id)
        if p is not None and p.role is Role.AGENT and p.active and p.communication_id:
            return p
    return None


def _warn_first(
    conversation: Conversation, now: datetime, policy: Policy, match: Match, verdict: Verdict
) -> Verdict:
    """With warn_before > 0: warn, then close only once warn_before has passed in silence."""
    if verdict.action is not Action.CLOSE or policy.warn_before <= timedelta(0):
        return verdict
    if _warning_channel(conversation, verdict.targets) is None:
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
    silence = _silence_since(conversation) or now
    bounds = [verdict.eligible_at]
    for name in RULE_ORDER:
        rule = policy.rule(name)
        if rule.enabled:
            bounds.append((silence if name in _SILENCE_CLOCKS else now) + rule.shortest)
    return max(now, min(bounds))


def evaluate(conversation: Conversation, now: datetime, policy: Policy) -> Verdict:
    """The verdict on one conversation at platform time `now`."""
    guarded = _guard(conversation, now, policy)
    if guarded is not None:
        return guarded
    return _decide(conversation, now, policy, _matches(conversation, policy))


# ------------------------------------------------------------------------------------- re-check


def _people_attributes(participant: Participant) -> dict[str, str]:
    return {k: v for k, v in participant.attributes.items() if k not in ANNOTATION_KEYS}


def changed_since(
    decided: Conversation,
    fresh: Conversation,
    *,
    exempt_attribute: str = "reaper.exempt",
    watch_platform_timer: bool = True,
) -> str | None:
    """Why the conversation re-read just before acting no longer matches the one decided on, or None.

    Anything a person (or the platform) did in between cancels the action: a new message, a
    participant joining or changing state, a wrap-up applied, an attribute set (the exempt one above
    all), the platform's own timer being set. The reaper's own texts and annotations are not changes.
    """
    # A multiset: two messages at the same instant from the same participant are still two messages.
    seen = Counter((a.at, a.participant_id, a.message_id) for a in decided.activities if not a.by_reaper)
    for activity in fresh.activities:
        if activity.by_reaper:
            continue
        key = (activity.at, activity.participant_id, activity.message_id)
        if seen[key] <= 0:
            return f"new message from the {activity.role.value}"
        seen[key] -= 1
    before = {p.id: p for p in decided.participants}
    for p in fresh.participants:
        old = before.get(p.id)
        who = p.purpose or p.role.value
        if old is None:
            return f"{who} participant added"
        if old.state != p.state:
            return f"{who} participant state changed: {old.state} -> {p.state}"
        # Compare what matters, not raw timestamps: the two platform views word after-call work differently.
        if old.wrapup != p.wrapup or old.in_after_call_work != p.in_after_call_work:
            return f"{who} wrap-up applied"
        if _is_exempt(p, exempt_attribute) and not _is_exempt(old, exempt_attribute):
            return f"{who} participant became exempt ({exempt_attribute}=true)"
        if _people_attributes(old) != _people_attributes(p):
            return f"{who} participant attributes changed"
    # Any message moves a running timer (the reaper's own closing text too): only a timer that was
    # not there at the decision means the platform has taken the conversation over.
    if watch_platform_timer and decided.inactivity_timeout is None and fresh.inactivity_timeout is not None:
        return "the platform's inactivity timer was set"
    return None
