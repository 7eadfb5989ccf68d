"""What the admin API accepts: validated shapes for conversations, clients, queues, faults and triggers.

Validation lives here so that a bad admin body gets a 400 that names the field, whether it arrives
over HTTP or from in-process code (the demo and the traffic generator build the same dicts).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genesys_emulator import assumptions as A
from genesys_emulator.clock import parse_iso

PARTICIPANT_STATES = frozenset(
    {
        "alerting",
        "dialing",
        "contacting",
        "offering",
        "connected",
        "disconnected",
        "terminated",
        "converting",
        "uploading",
        "transmitting",
        "parked",
        "none",
    }
)
ENDED_STATES = frozenset({"disconnected", "terminated"})
# A leg in these states has not connected yet: an offer (alerting, offering) or a connection being made.
NOT_YET_CONNECTED = frozenset({"alerting", "offering", "contacting", "dialing", "none"})
DISCONNECT_TYPES = frozenset(
    {
        "endpoint",
        "client",
        "system",
        "transfer",
        "transfer.conference",
        "transfer.consult",
        "transfer.forward",
        "transfer.noanswer",
        "transfer.notavailable",
        "transport.failure",
        "error",
        "peer",
        "other",
        "spam",
        "inactivity",
        "session.expired",
        "takeover",
    }
)
MESSAGE_TYPES = frozenset(
    {
        "webmessaging",
        "open",
        "sms",
        "whatsapp",
        "facebook",
        "instagram",
        "apple",
        "line",
        "telegram",
        "twitter",
        "kakao",
        "unknown",
    }
)
MEDIA_TYPES = frozenset({"message", "voice", "chat", "email"})
PURPOSES = frozenset({"customer", "agent", "acd", "workflow", "botflow", "user", "external"})

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)


def parse_duration(text: str | float | int) -> timedelta:
    """`45m`, `2h`, `90s`, `1h30m`, `3d`, or a number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"a duration is a number of seconds or a text such as 45m, not {text!r}")
    if isinstance(text, int | float):
        if not 0 <= text <= A.MAX_ADMIN_DURATION_SECONDS:  # also refuses NaN
            raise ValueError(f"a duration is 0 to {A.MAX_ADMIN_DURATION_SECONDS} seconds, not {text}")
        return timedelta(seconds=text)
    found = _DURATION.match(text.strip())
    if not text.strip() or not found:
        raise ValueError(f"bad duration {text!r} (use e.g. 45m, 2h, 90s, 1h30m)")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in found.groups())
    total = days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total > A.MAX_ADMIN_DURATION_SECONDS:
        raise ValueError(f"a duration is at most a century, not {text!r}")
    return timedelta(seconds=total)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


def _ago(value: Any) -> Any:
    # before pydantic's coercion, so that `true` is not read as 1 second; other types fail its own check
    if isinstance(value, str | int | float):
        parse_duration(value)
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"a duration is a number of seconds or a text such as 45m, not {value!r}")
    return value


class MessageSpec(_Strict):
    ago: str | float | None = None
    at: str | None = None
    text: str | None = None

    _ago_type = field_validator("ago", mode="before")(_no_bool)

    @model_validator(mode="after")
    def _one_time(self) -> MessageSpec:
        if (self.ago is None) == (self.at is None):
            raise ValueError("a message needs exactly one of 'ago' (e.g. \"45m\") or 'at' (ISO time)")
        try:
            if self.ago is not None:
                parse_duration(self.ago)
        except ValueError as exc:
            raise ValueError(f"ago: {exc}") from None
        try:
            if self.at is not None:
                parse_iso(self.at)
        except ValueError as exc:
            raise ValueError(f"at: {exc}") from None
        return self

    def moment(self, now: datetime) -> datetime:
        return parse_iso(self.at) if self.at is not None else now - parse_duration(self.ago or 0)


class WrapupSpec(_Strict):
    code: str
    notes: str | None = None
    name: str | None = None


class ParticipantSpec(_Strict):
    id: str | None = None
    purpose: str
    state: str = "connected"
    name: str | None = None
    userId: str | None = None
    queueId: str | None = None
    disconnectType: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    messages: list[MessageSpec] = Field(default_factory=list)
    wrapupRequired: bool = False
    wrapupTimeoutMs: int | None = Field(default=None, ge=0)
    wrapup: WrapupSpec | None = None
    startedAgo: str | float | None = None
    endedAgo: str | float | None = None
    acwStartedAgo: str | float | None = None
    # When the leg connected (an agent accepted the offer), if later than its start: a chat that
    # waited in queue (acd, or the agent alerting) before someone picked it up.
    connectedAgo: str | float | None = None
    parkedAgo: str | float | None = None  # state parked: since when (parkTime); default its connecting
    resumedAgo: str | float | None = None  # parked earlier (parkedAgo), resumed since (resumeTime)

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        if value.lower() not in PURPOSES:
            raise ValueError(f"unknown purpose {value!r}; one of {sorted(PURPOSES)}")
        return value.lower()

    @field_validator("state")
    @classmethod
    def _state(cls, value: str) -> str:
        if value.lower() not in PARTICIPANT_STATES:
            raise ValueError(f"unknown state {value!r}; one of {sorted(PARTICIPANT_STATES)}")
        return value.lower()

    @field_validator("disconnectType")
    @classmethod
    def _disconnect_type(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in DISCONNECT_TYPES:
            raise ValueError(f"unknown disconnectType {value!r}; one of {sorted(DISCONNECT_TYPES)}")
        return value.lower() if value else None

    _durations = field_validator(
        "startedAgo", "endedAgo", "acwStartedAgo", "connectedAgo", "parkedAgo", "resumedAgo", mode="before"
    )(_ago)

    @model_validator(mode="after")
    def _consistent(self) -> ParticipantSpec:
        if self.endedAgo is not None and self.state not in ENDED_STATES:
            raise ValueError(f"endedAgo given but state is {self.state!r} (use disconnected)")
        if self.acwStartedAgo is not None and (self.purpose != "agent" or self.state not in ENDED_STATES):
            raise ValueError("acwStartedAgo is only for a disconnected agent")
        if self.connectedAgo is not None and self.state in NOT_YET_CONNECTED:
            raise ValueError(f"connectedAgo given but state is {self.state!r}: that leg has not connected")
        if self.resumedAgo is not None and (self.parkedAgo is None or self.state == "parked"):
            raise ValueError("resumedAgo needs parkedAgo and a state other than 'parked'")
        if self.parkedAgo is not None and self.state != "parked" and self.resumedAgo is None:
            raise ValueError(f"parkedAgo given but state is {self.state!r} (use parked, or give resumedAgo)")
        return self


class ConversationSpec(_Strict):
    id: str | None = None
    mediaType: str = "message"
    messageType: str = "webmessaging"
    queueId: str | None = None
    inactivityTimeout: str | None = None
    startedAgo: str | float | None = None
    # this conversation's changes show on reads only after so many (virtual) seconds, None = the
    # emulator's `propagation_delay` (assumptions.py, Reads): a platform slow to apply one close

    propagationDelaySeconds: float | None = Field(default=None, ge=0, le=86_400)
    # the organization it belongs to: only that organization's clients see it (assumptions.py)
    organization: str = Field(default=A.DEFAULT_ORGANIZATION, min_length=1, max_length=200)
    participants: list[ParticipantSpec] = Field(min_length=1)

    @field_validator("mediaType")
    @classmethod
    def _media(cls, value: str) -> str:
        if value.lower() not in MEDIA_TYPES:
            raise ValueError(f"unknown mediaType {value!r}; one of {sorted(MEDIA_TYPES)}")
        return value.lower()

    @field_validator("messageType")
    @classmethod
    def _message_type(cls, value: str) -> str:
        if value.lower() not in MESSAGE_TYPES:
            raise ValueError(f"unknown messageType {value!r}; one of {sorted(MESSAGE_TYPES)}")
        return value.lower()

    @field_validator("inactivityTimeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        if value is not None:
            parse_iso(value)
        return value

    _durations = field_validator("startedAgo", mode="before")(_ago)


class ClientSpec(_Strict):
    clientId: str = Field(min_length=1)
    clientSecret: str = Field(min_length=1)
    permissions: list[str] = Field(default_factory=lambda: ["*"])
    rateLimitPerMinute: int = Field(default=300, ge=1)
    tokenTtlSeconds: int = Field(default=86400, ge=1)
    name: str | None = None
    organization: str = Field(default=A.DEFAULT_ORGANIZATION, min_length=1, max_length=200)


class QueueSpec(_Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    inactivityTimeoutSeconds: int | None = Field(default=None, ge=1)
    actionType: Literal["DISCONNECT", "SEND_TO_ARCHITECT_FLOW"] = "DISCONNECT"
    flowId: str | None = None

    @field_validator("actionType", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad path regex {value!r}: {exc}") from None
    return value


class FaultSpec(_Strict):
    method: str | None = None  # any method when absent
    path: str = ".*"
    status: int | None = Field(default=None, ge=100, le=599)  # None: only latency
    retryAfter: float | None = Field(default=None, ge=0)
    times: int | None = Field(default=None, ge=1)  # None: until cleared
    latencyMs: int = Field(default=0, ge=0, le=120_000)
    code: str | None = None
    message: str | None = None
    # spoil the body of a matching 2xx answer (emulator/corrupt.py); with `status`, the status wins
    corrupt: Literal["truncate", "drop-field", "wrong-type", "unknown-enum", "huge-array"] | None = None
    # only this OAuth client's requests (one organization's platform failing); None: every client's
    clientId: str | None = Field(default=None, min_length=1)

    _path = field_validator("path")(_regex)

    @model_validator(mode="after")
    def _does_something(self) -> FaultSpec:
        if self.status is None and not self.latencyMs and self.corrupt is None:
            raise ValueError("a fault needs a 'status', a 'latencyMs' or a 'corrupt'")
        return self


class TriggerAction(_Strict):
    type: Literal["message", "advance", "disconnect", "state", "join"]
    conversationId: str | None = None
    from_: str = Field(default="customer", alias="from")
    text: str | None = None
    participantId: str | None = None
    seconds: float | None = Field(default=None, ge=0, le=A.MAX_ADMIN_DURATION_SECONDS)
    state: str | None = None  # "state": the participant accepts (connected), parks or resumes
    participant: dict[str, Any] | None = None  # "join": a participant spec, as the join route takes

    @model_validator(mode="after")
    def _complete(self) -> TriggerAction:
        if self.type != "advance" and not self.conversationId:
            raise ValueError(f"a {self.type!r} action needs a conversationId")
        if self.type in ("disconnect", "state") and not self.participantId:
            raise ValueError(f"a {self.type!r} action needs a participantId")
        if self.type == "state" and self.state not in STATE_CHANGES:
            raise ValueError(f"a 'state' action needs a state, one of {sorted(STATE_CHANGES)}")
        if self.type == "join" and self.participant is None:
            raise ValueError("a 'join' action needs a participant")
        if self.type == "advance" and self.seconds is None:
            raise ValueError("an 'advance' action needs seconds")
        return self


# The states the admin API can move a live participant to: connected (an offer accepted, a parked
# chat resumed) and parked.
STATE_CHANGES = frozenset({"connected", "parked"})


class TriggerSpec(_Strict):
    method: str | None = None
    path: str = ".*"
    times: int | None = Field(default=1, ge=1)
    action: TriggerAction
    clientId: str | None = Field(default=None, min_length=1)  # only this client's requests fire it

    _path = field_validator("path")(_regex)


def explain(error: ValidationError) -> str:
    """One line per problem, each naming where it is: what a person fixing the body needs."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
