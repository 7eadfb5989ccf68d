"""Small builders for conversation snapshots, in the words of the scenarios ("customer wrote 45m ago").

Times are given in minutes before `now` so that a table row reads like SCENARIOS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from session_reaper.core.model import Activity, ActivityKind, Conversation, Participant, Role, Wrapup

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ROLE_OF_PURPOSE = {"customer": Role.CUSTOMER, "agent": Role.AGENT, "acd": Role.QUEUE, "workflow": Role.FLOW}


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


@dataclass(frozen=True)
class Leg:
    """A participant and the messages it wrote (minutes before now)."""

    purpose: str
    id: str
    state: str = "connected"
    wrote: tuple[float, ...] = ()
    started: float | None = 60
    ended: float | None = None
    attributes: Mapping[str, str] | None = None
    wrapup_required: bool = False
    wrapup: Wrapup | None = None
    acw_started: float | None = None
    communication_id: str | None = None
    queue_id: str | None = None
    connected: float | None = None  # the leg connected (an agent accepted), minutes ago
    parked: float | None = None  # parkTime
    resumed: float | None = None  # resumeTime

    def participant(self, now: datetime) -> Participant:
        def at(m: float | None) -> datetime | None:
            return None if m is None else now - minutes(m)

        ended = self.ended
        if ended is None and self.state in ("disconnected", "terminated"):
            ended = min(self.wrote, default=self.started or 0)  # left right after its last message
        return Participant(
            id=self.id,
            role=ROLE_OF_PURPOSE.get(self.purpose, Role.OTHER),
            state=self.state,
            purpose=self.purpose,
            queue_id=self.queue_id,
            # "" = no communication at all (None in the model); unset = a plausible id
            communication_id=(self.communication_id or None)
            if self.communication_id is not None
            else f"comm-{self.id}",
            started_at=at(self.started),
            ended_at=at(ended),
            attributes=dict(self.attributes or {}),
            wrapup_required=self.wrapup_required,
            wrapup=self.wrapup,
            acw_started_at=at(self.acw_started),
            connected_at=at(self.connected),
            parked_at=at(self.parked),
            resumed_at=at(self.resumed),
        )


def customer(state: str = "connected", *wrote: float, id: str = "customer", **extra: object) -> Leg:
    return Leg("customer", id, state, wrote or (45,), **extra)  # type: ignore[arg-type]


def agent(state: str = "connected", *wrote: float, id: str = "agent", **extra: object) -> Leg:
    return Leg("agent", id, state, wrote or (46,), **extra)  # type: ignore[arg-type]


def acd(state: str = "disconnected", *, id: str = "acd", **extra: object) -> Leg:
    extra.setdefault("ended", 50 if state == "disconnected" else None)
    extra.setdefault("queue_id", "queue-support")
    return Leg("acd", id, state, (), **extra)  # type: ignore[arg-type]


def flow(state: str = "connected", *, id: str = "flow", **extra: object) -> Leg:
    return Leg("workflow", id, state, (), **extra)  # type: ignore[arg-type]


def chat(
    *legs: Leg,
    now: datetime = NOW,
    channel: str = "webmessaging",
    media: str = "message",
    timer_in: float | None = None,
    warned: float | None = None,
    closing_text: float | None = None,
) -> Conversation:
    """A conversation as the rules see it; `warned`/`closing_text`: the reaper's own texts, minutes ago."""
    participants = tuple(leg.participant(now) for leg in legs)
    roles = {p.id: p.role for p in participants}
    activities = [
        Activity(now - minutes(m), leg.id, roles[leg.id], message_id=f"{leg.id}-{m}")
        for leg in legs
        for m in leg.wrote
    ]
    agent_id = next((p.id for p in participants if p.role is Role.AGENT), "agent")
    for m, kind in ((warned, ActivityKind.REAPER_WARNING), (closing_text, ActivityKind.REAPER_CLOSING)):
        if m is not None:
            activities.append(Activity(now - minutes(m), agent_id, Role.AGENT, kind, f"reaper-{kind}"))
    activities.sort(key=lambda a: a.at)
    return Conversation(
        id="conv-1",
        channel=channel,
        media=media,
        participants=participants,
        activities=tuple(activities),
        started_at=now - minutes(60),
        inactivity_timeout=None if timer_in is None else now + minutes(timer_in),
    )


def idle_chat(idle: float = 45, **extra: object) -> Conversation:
    """Scenario 1's shape: customer and agent connected, nobody wrote for `idle` minutes."""
    return chat(customer("connected", idle), acd(), agent("connected", idle + 1), **extra)  # type: ignore[arg-type]


def with_participant(conversation: Conversation, participant_id: str, **changes: object) -> Conversation:
    participants = tuple(
        replace(p, **changes) if p.id == participant_id else p  # type: ignore[arg-type]
        for p in conversation.participants
    )
    return replace(conversation, participants=participants)
