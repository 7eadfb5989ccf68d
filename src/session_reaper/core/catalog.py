"""The rule catalog: each rule's state predicate, its clock and its defaults, narrowest action first.

Pure, like the rest of the core. A rule looks at a snapshot and says whether its situation holds
(`Match`), since when its clock runs, and whom it would act on; whether it may act now is
``rules._decide``'s business (thresholds, business hours, warnings). Every list of rules (the order of
decision, the defaults, the config model, the reference docs) derives from ``RULES``.

A rule's `after` counts from the moment its condition began to hold: idle from the later of the last
message and the moment the guest and the agents connected (or resumed a parked chat); parked from the
park; customer-left from the guest leaving; queue-abandoned and flow-stuck from the guest's silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from session_reaper.core.model import Conversation, Participant, Role

if TYPE_CHECKING:
    from session_reaper.core.rules import Policy


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
    approval: bool = False  # in apply mode its decisions wait for an operator (`pending`)

    @property
    def shortest(self) -> timedelta:
        """The smallest threshold that can ever apply: the safe one to predict with."""
        return self.after if self.after_hours is None else min(self.after, self.after_hours)


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


def _attached_agents(conversation: Conversation) -> tuple[Participant, ...]:
    """Every agent leg still in the conversation, the ones a text can go through first: connected,
    then parked, then offered (alerting, ...). Ending the conversation for good ends all of them."""
    agents = _active(conversation, Role.AGENT)
    return (
        *(p for p in agents if p.connected),
        *(p for p in agents if p.parked),
        *(p for p in agents if not p.connected and not p.parked),
    )


def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def silence_since(conversation: Conversation) -> datetime | None:
    """When the last person or bot wrote; without any message, when the conversation began."""
    last = conversation.last_activity
    if last is not None:
        return last.at
    starts = [p.started_at for p in conversation.participants if p.started_at is not None]
    return conversation.started_at or (min(starts) if starts else None)


def _here_since(participant: Participant) -> datetime | None:
    """When the leg connected (an agent accepted the offer, or resumed a parked chat); None when the
    platform does not say (then the last message alone is the clock)."""
    return _latest(participant.connected_at, participant.resumed_at)


def _connected_customer(conversation: Conversation) -> Participant | None:
    customer = conversation.customer
    return customer if customer is not None and customer.connected else None


def _guest_silence(conversation: Conversation, customer: Participant) -> datetime | None:
    # A guest who came back on a new leg is there since that leg connected, even before writing.
    return _latest(silence_since(conversation), _here_since(customer))


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
    # `customer` is a leg still there whenever one is: a guest who came back is not gone.
    customer = conversation.customer
    agents = _attached_agents(conversation)
    if customer is None or not customer.ended or not agents:
        return None
    last = conversation.last_activity
    # The condition holds since the guest left with an agent attached: an agent who joined later
    # (or a message written later) starts the clock there.
    since = _latest(
        customer.ended_at, last.at if last else None, customer.started_at, *(_here_since(p) for p in agents)
    )
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
    # Idle needs a person on both sides: a connected guest and a connected agent. An agent who
    # parked the conversation waits on purpose (rule `parked`); one only offered it is not there yet.
    customer = _connected_customer(conversation)
    agents = _attached_agents(conversation)
    present = [p for p in agents if p.connected]
    if customer is None or not present or any(p.parked for p in agents):
        return None
    # Idle since the later of the last message and the moment the last of them arrived: an agent
    # who accepted a minute ago after a long silent wait in queue has been idle for a minute. An
    # offer still pending (a transfer in progress) was someone's doing when it was made.
    offered = [p for p in agents if not p.connected]
    since = _latest(
        _guest_silence(conversation, customer),
        *(_here_since(p) for p in present),
        *(p.started_at for p in offered),
    )
    if since is None:
        return None
    # Only agents still in the conversation, every one of them: a close that leaves one behind
    # (a conference, a transfer being offered) has not ended anything.
    return Match(
        "idle",
        Action.CLOSE,
        since,
        tuple(p.id for p in agents),
        "no message for {elapsed} (threshold {threshold})",
        "last message {elapsed} ago (idle after {threshold})",
    )


def parked(conversation: Conversation, policy: Policy) -> Match | None:
    customer = _connected_customer(conversation)
    agents = _attached_agents(conversation)
    holding = [p for p in agents if p.parked]
    if customer is None or not holding:
        return None
    # Parked since the latest park (a message after it means the chat was picked up meanwhile).
    since = _latest(_guest_silence(conversation, customer), *(p.parked_at or _here_since(p) for p in holding))
    if since is None:
        return None
    return Match(
        "parked",
        Action.CLOSE,
        since,
        tuple(p.id for p in agents),
        "parked by the agent, no message for {elapsed} (threshold {threshold})",
        "parked, last message {elapsed} ago (parked after {threshold})",
    )


def _waiting_for_an_agent(conversation: Conversation) -> bool:
    """In queue (an acd leg) or being offered to an agent who has not accepted yet; no agent there."""
    agents = _active(conversation, Role.AGENT)
    if any(p.connected or p.parked for p in agents):
        return False
    return bool(_active(conversation, Role.QUEUE)) or bool(agents)  # every agent left is on its way


def queue_abandoned(conversation: Conversation, policy: Policy) -> Match | None:
    customer = _connected_customer(conversation)
    if customer is None or not _waiting_for_an_agent(conversation):
        return None
    # The guest's silence, wherever they waited: an offer to an agent is not activity of theirs.
    since = _guest_silence(conversation, customer)
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
    customer = _connected_customer(conversation)
    if customer is None or not _active(conversation, Role.FLOW):
        return None
    if _active(conversation, Role.AGENT) or _active(conversation, Role.QUEUE):
        return None
    since = _guest_silence(conversation, customer)
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
    # A parked agent is there on purpose: customer-left or parked speaks for that conversation.
    if any(p.connected or p.parked for p in people):
        return None
    last = conversation.last_activity
    ends = [p.ended_at for p in conversation.participants if p.ended and p.ended_at is not None]
    since = _latest(last.at if last else None, max(ends) if ends else None) or silence_since(conversation)
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


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the catalog: every list of rules (config, docs, the order of decision) is this one."""

    check: Callable[[Conversation, Policy], Match | None]
    default: RulePolicy
    situation: str  # what it looks for, in the reference documentation


# The catalog, narrowest action first: this order is the tie-break when several could act.
RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "acw-stuck": Rule(
            acw_stuck,
            RulePolicy(timedelta(minutes=10)),
            "agent disconnected but in after-call work without wrap-up (needs `[close] wrapup_code`)",
        ),
        "customer-left": Rule(
            customer_left,
            RulePolicy(timedelta(minutes=5)),
            "no customer leg connected any more (the guest left), agent still attached",
        ),
        "idle": Rule(
            idle,
            RulePolicy(timedelta(minutes=30)),
            "customer and agent connected, nobody wrote for `after` since the later of the last message"
            " and the agent's connecting",
        ),
        "parked": Rule(
            parked,
            RulePolicy(timedelta(hours=72), enabled=False),
            "an agent parked the conversation (waiting for the guest on purpose), nobody wrote since;"
            " closes like idle: closing text, every agent disconnected",
        ),
        "queue-abandoned": Rule(
            queue_abandoned,
            RulePolicy(timedelta(minutes=20)),
            "waiting in queue or offered to an agent who has not accepted (no agent connected),"
            " customer silent",
        ),
        "flow-stuck": Rule(
            flow_stuck,
            RulePolicy(timedelta(minutes=60)),
            "still in an inbound message flow or bot, customer silent",
        ),
        "orphaned": Rule(
            orphaned,
            RulePolicy(timedelta(minutes=15)),
            "no connected customer and no connected person, yet not ended",
        ),
    }
)
RULE_ORDER: tuple[str, ...] = tuple(RULES)
DEFAULT_RULES: Mapping[str, RulePolicy] = MappingProxyType({name: r.default for name, r in RULES.items()})
