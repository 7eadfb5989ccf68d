"""The emulated organization's things: conversations, their participants and messages, queues.

Plain data; the state machine that changes them lives in `state.World`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from genesys_emulator import assumptions as A
from genesys_emulator.errors import not_found
from genesys_emulator.spec import ENDED_STATES

if TYPE_CHECKING:
    from genesys_emulator.views import AnalyticsRecord

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class Written:
    """One message as the platform lists it; the text is kept for the admin API only."""

    id: str
    at: datetime
    status: str
    text: str | None = None


@dataclass(slots=True)
class Leg:
    """A participant with its one communication (messaging has exactly one per participant)."""

    id: str
    purpose: str
    state: str
    start: datetime
    communication_id: str
    name: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    connected: datetime | None = None
    end: datetime | None = None
    disconnect_type: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    wrapup_required: bool = False
    wrapup_timeout_ms: int | None = None
    wrapup: dict[str, Any] | None = None
    acw_start: datetime | None = None
    acw_end: datetime | None = None
    park: datetime | None = None  # parkTime: the latest park
    resume: datetime | None = None  # resumeTime: the latest resume after a park
    messages: list[Written] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state not in ENDED_STATES

    @property
    def in_acw(self) -> bool:
        return self.acw_start is not None and self.acw_end is None

    @property
    def direction(self) -> str:
        return "inbound"


@dataclass(slots=True)
class Snapshot:
    at: datetime
    media: bytes
    generic: bytes
    analytics: AnalyticsRecord


@dataclass(slots=True)
class Conversation:
    id: str
    media: str  # message, voice, chat, email
    message_type: str
    start: datetime
    legs: list[Leg]
    end: datetime | None = None
    inactivity_timeout: datetime | None = None
    inactivity_seconds: float | None = None  # how far each message pushes the timer
    inactivity_action: str = "DISCONNECT"
    version: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    history: list[Snapshot] = field(default_factory=list)
    propagation_delay: timedelta | None = None  # None: the world's
    organization: str = A.DEFAULT_ORGANIZATION

    def leg(self, participant_id: str) -> Leg:
        for leg in self.legs:
            if leg.id == participant_id:
                return leg
        raise not_found("participant")

    def leg_by_communication(self, communication_id: str) -> Leg:
        for leg in self.legs:
            if leg.communication_id == communication_id:
                return leg
        raise not_found("communication")

    @property
    def ended(self) -> bool:
        return self.end is not None


@dataclass(slots=True)
class Queue:
    id: str
    name: str
    inactivity_seconds: int | None = None
    action_type: str = "DISCONNECT"
    flow_id: str | None = None
    created: datetime = EPOCH


def new_id() -> str:
    return str(uuid.uuid4())
