"""A vendor-neutral snapshot of one messaging conversation, as the rules see it.

The platform adapter (``genesys.mapping``) builds these from API answers; the rules and the plan read
them and nothing else. Nothing here knows about HTTP, JSON or a particular platform, so a second
platform is a second adapter that fills the same shapes.

All datetimes are timezone-aware UTC and come from the platform's clock, never the machine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """What a participant is in the conversation, in the domain's words."""

    CUSTOMER = "customer"  # the guest on the web messenger
    AGENT = "agent"  # a person handling the interaction
    QUEUE = "queue"  # the ACD participant while the conversation waits for an agent
    FLOW = "flow"  # an inbound message flow or a bot
    OTHER = "other"  # anything else (external, user, ...): never counted as a person nor a system


class ActivityKind(StrEnum):
    MESSAGE = "message"  # someone wrote: it resets every idle clock
    REAPER_WARNING = "reaper-warning"  # the reaper's own warning: never resets a clock
    REAPER_CLOSING = "reaper-closing"  # the reaper's own closing text: never resets a clock


# Participant states in which a participant has left the conversation for good.
ENDED_STATES = frozenset({"disconnected", "terminated"})
# A leg neither connected nor parked nor ended is on its way in, not there yet: an offer nobody has
# accepted (alerting, offering), a connection being set up (contacting, dialing). Nobody is there to
# be idle.
PARKED_STATE = "parked"  # an agent set the conversation aside on purpose, waiting for the guest


@dataclass(frozen=True, slots=True)
class Activity:
    """One message on the conversation's timeline."""

    at: datetime
    participant_id: str
    role: Role
    kind: ActivityKind = ActivityKind.MESSAGE
    message_id: str | None = None

    @property
    def by_reaper(self) -> bool:
        return self.kind is not ActivityKind.MESSAGE


@dataclass(frozen=True, slots=True)
class Wrapup:
    code: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    role: Role
    state: str  # the platform's state, lower case: connected, alerting, disconnected, ...
    purpose: str = ""  # the platform's own word (customer, agent, acd, workflow, ...), for explanations
    name: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    communication_id: str | None = None  # needed to send a message or apply a wrap-up
    started_at: datetime | None = None
    connected_at: datetime | None = None  # when the leg connected (an agent accepted the offer)
    ended_at: datetime | None = None
    parked_at: datetime | None = None  # the latest park (the platform's parkTime)
    resumed_at: datetime | None = None  # the latest resume after a park (resumeTime)
    disconnect_type: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    wrapup_required: bool = False
    wrapup: Wrapup | None = None
    acw_started_at: datetime | None = None  # after-call work began
    acw_ended_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def parked(self) -> bool:
        return self.state == PARKED_STATE

    @property
    def active(self) -> bool:
        """Still part of the conversation (connected, alerting, offering, parked, ...)."""
        return not self.ended

    @property
    def in_after_call_work(self) -> bool:
        """Left the conversation but still owes a wrap-up that nobody has applied."""
        return (
            self.role is Role.AGENT
            and self.ended
            and self.wrapup_required
            and self.wrapup is None
            and self.acw_ended_at is None
        )


_DAWN = datetime.min.replace(tzinfo=UTC)


def _leg_start(p: Participant) -> datetime:
    return p.connected_at or p.started_at or _DAWN


def _leg_end(p: Participant) -> datetime:
    return p.ended_at or _DAWN


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    channel: str  # message type: webmessaging, sms, whatsapp, ... ("" when not a message conversation)
    media: str  # "message" for message conversations; voice, chat, email, ... are never touched
    participants: tuple[Participant, ...]
    activities: tuple[Activity, ...] = ()  # sorted by time, oldest first
    started_at: datetime | None = None
    ended_at: datetime | None = None
    inactivity_timeout: datetime | None = None  # the platform's own timer, when its queue enables it

    @property
    def queue_ids(self) -> frozenset[str]:
        return frozenset(p.queue_id for p in self.participants if p.queue_id)

    def with_role(self, role: Role) -> tuple[Participant, ...]:
        return tuple(p for p in self.participants if p.role is role)

    def participant(self, participant_id: str) -> Participant | None:
        return next((p for p in self.participants if p.id == participant_id), None)

    @property
    def customer(self) -> Participant | None:
        """The guest. A guest who came back has several customer legs (the old one disconnected), in
        an order the platform does not document: the connected leg is the guest, whatever the order;
        else a leg still on its way; else the one that ended last."""
        customers = self.with_role(Role.CUSTOMER)
        for live in ([p for p in customers if p.connected], [p for p in customers if p.active]):
            if live:
                return max(live, key=_leg_start)
        ended = [p for p in customers if p.ended]
        if not ended:
            return None
        return max(ended, key=lambda p: (_leg_end(p), _leg_start(p)))

    @property
    def last_activity(self) -> Activity | None:
        """The latest message from a person or a bot; the reaper's own texts never count."""
        return next((a for a in reversed(self.activities) if not a.by_reaper), None)

    @property
    def last_warning(self) -> Activity | None:
        return next(
            (a for a in reversed(self.activities) if a.kind is ActivityKind.REAPER_WARNING),
            None,
        )

    @property
    def ended(self) -> bool:
        """Every participant has left and no agent still owes a wrap-up."""
        return all(p.ended for p in self.participants) and not any(
            p.in_after_call_work for p in self.participants
        )


# What the engine learns about a conversation before reading it, and what it keeps between reads.


@dataclass(frozen=True, slots=True)
class DiscoveryScope:
    """Which conversations discovery looks for: channels, queues, and how far back they may have started."""

    channels: tuple[str, ...]
    queue_include: tuple[str, ...]
    queue_exclude: tuple[str, ...]
    lookback: timedelta


@dataclass(frozen=True, slots=True)
class DiscoveredConversation:
    conversation_id: str
    started_at: datetime | None
    queue_ids: frozenset[str]
    message_types: frozenset[str]
    # Who is in the conversation and which of their segments have ended, as analytics sees it. Every
    # change that can make a rule act sooner (a guest leaving, an agent joining or leaving) changes
    # it; messages do not, and need not: they only push every rule's clock later.
    participants_fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduledRead:
    """Not to be read before `until`; valid for the conversation that started at `conversation_start`."""

    until: datetime
    conversation_start: datetime | None = None
    participants_fingerprint: str | None = None  # valid while the participants look like this


@dataclass(frozen=True, slots=True)
class PendingStep:
    """A step whose intent was journalled but whose outcome never was (the process died between)."""

    step_id: int
    decision_id: int
    sweep_id: int
    owner: str
    conversation_id: str
    kind: str
    participant_id: str | None
    intent_at: datetime
    # wall time until which its request may still be on its way (None: no attempt was marked sent)
    in_flight_until: datetime | None = None


# What the journal says to an attempt of a step's request (`step_attempt`): "sending" (send now),
# "not-held" (another owner holds the lease: nothing changed), "settled" (another look settled the step).
StepAttempt = Literal["sending", "not-held", "settled"]


@dataclass(frozen=True, slots=True)
class JournalledSteps:
    """What the journal holds of one conversation's steps when an act takes its lease, in one read.

    `open`: intents without an outcome (a dead reaper's, or one left open on purpose), to settle first;
    `in_place`: (kind, participant id) of the steps whose effect is in place since the closing cycle
    began (an act resumed skips them); `finished`: the decisions ("close", "wrapup", ...) of the acts
    journalled as done that put some of them there."""

    open: tuple[PendingStep, ...] = ()
    in_place: frozenset[tuple[str, str | None]] = frozenset()
    finished: frozenset[str] = frozenset()
