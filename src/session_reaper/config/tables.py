"""The settings models, one per TOML table: keys, types, defaults and descriptions, defined once.

The rules' names, defaults and descriptions come from the core's catalog (`core.rules.RULES`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from session_reaper.core.rules import RULE_ORDER, RULES
from session_reaper.core.schedule import (
    DURATION_HINT,
    BusinessHours,
    Schedule,
    format_duration,
    parse_duration,
    zone,
)

CONFIG_ENV = "SESSION_REAPER_CONFIG"
MAX_DURATION = timedelta(days=36500)  # a century: any longer threshold means "never"
DEFAULT_FILE = "session-reaper.toml"
# `[sweep] retry_backoff`: its waits grow to this many times it. At most 15 s, so that the longest
# wait (4 min) stays below the 5 min a `Retry-After` may ask before the request fails instead.
RETRY_BACKOFF_GROWTH = 16
RETRY_BACKOFF_LEAST = timedelta(milliseconds=10)
RETRY_BACKOFF_MOST = timedelta(seconds=15)


# ------------------------------------------------------------------------------------------- values


def _duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'expected a duration string such as "30m", got {value!r} ({DURATION_HINT})')
    try:
        parsed = parse_duration(value)
    except OverflowError:
        parsed = MAX_DURATION * 2
    if parsed > MAX_DURATION:
        # beyond it, `now - after` overflows the calendar when a rule is decided
        raise ValueError(f"at most {format_duration(MAX_DURATION)}, got {value!r}")
    return parsed


def _optional_duration(value: object) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # "" = unset
    return _duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
OptionalDuration = Annotated[timedelta | None, BeforeValidator(_optional_duration)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ------------------------------------------------------------------------------------------- tables


class QueuesConfig(_Table):
    include: tuple[StrictStr, ...] = Field(default=(), description="queue ids in scope; empty = every queue")
    exclude: tuple[StrictStr, ...] = Field(default=(), description="queue ids never touched")


class SweepConfig(_Table):
    apply: StrictBool = Field(
        default=False, description="dry run unless true here or `--apply` on the command line"
    )
    interval: Duration = Field(default=timedelta(minutes=1), description="time between sweeps, for `serve`")
    channels: tuple[StrictStr, ...] = Field(
        default=("webmessaging",),
        description="message types in scope (webmessaging, sms, whatsapp, open, ...)",
    )
    queues: QueuesConfig = Field(
        default_factory=QueuesConfig, description="queue ids: `{ include = [...], exclude = [...] }`"
    )
    exempt_attribute: StrictStr = Field(
        default="reaper.exempt",
        description='participant attribute; value "true" on any participant = never touched',
    )
    respect_platform_timer: StrictBool = Field(
        default=True, description="a conversation with a future `inactivityTimeout` is left to the platform"
    )
    max_closes: StrictInt = Field(
        default=200, ge=0, description="closes per sweep; the rest is reported as deferred"
    )
    max_teardowns: StrictInt = Field(default=20, ge=0, description="teardowns per sweep")
    concurrency: StrictInt = Field(default=8, ge=1, description="conversations handled at once")
    requests_per_minute: StrictInt = Field(
        default=300, ge=1, description="the OAuth client's platform limit; pacing stays just below it"
    )
    ledger: StrictStr = Field(
        default="sqlite:///session-reaper.db",
        description="audit journal: `sqlite:///FILE` or `postgresql://...`",
    )
    lookback: Duration = Field(
        default=timedelta(days=180),
        description="discovery reaches zombies this old (windows of <= 31 days, probed)",
    )
    verify_timeout: Duration = Field(
        default=timedelta(seconds=30), description="bounded wait for an end to show when verifying a close"
    )
    request_timeout: Duration = Field(
        default=timedelta(seconds=30),
        description="one platform request without an answer by then counts as a timeout (retried)",
    )
    retry_backoff: Duration = Field(
        default=timedelta(milliseconds=500),
        description="the wait before the first retry of a 5xx or an unanswered request, doubled each retry"
        f" up to {RETRY_BACKOFF_GROWTH} times it (each wait jittered down to half); a 429 waits its"
        " `Retry-After`",
    )
    mode: Literal["poll", "events"] = Field(
        default="poll",
        description='`serve`: "poll" sweeps every `interval`; "events" listens to the Notifications API '
        "and sweeps every `[events] reconcile_interval`",
    )
    journal_retention: Duration = Field(
        default=timedelta(days=7),
        description="`serve`: journal rows that changed nothing (skip, defer, dry run) go once older"
        " than this (looked at every platform hour); what acted is kept for good",
    )
    org_lease: Duration = Field(
        default=timedelta(seconds=30),
        description="with [orgs], `serve`: a replica's hold on an org, renewed every third of it;"
        " a dead replica's orgs go to the others once it ran out",
    )

    @field_validator("channels")
    @classmethod
    def _lower_case_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)

    @field_validator("interval", "lookback", "verify_timeout", "request_timeout", "org_lease")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"must be more than 0 ({DURATION_HINT})")
        return value

    @field_validator("retry_backoff")
    @classmethod
    def _a_sensible_backoff(cls, value: timedelta) -> timedelta:
        if not RETRY_BACKOFF_LEAST <= value <= RETRY_BACKOFF_MOST:
            least, most = format_duration(RETRY_BACKOFF_LEAST), format_duration(RETRY_BACKOFF_MOST)
            got = format_duration(value)
            raise ValueError(f"must be from {least} to {most}, got {got} (use e.g. 500ms, 2s)")
        return value

    @field_validator("journal_retention")
    @classmethod
    def _an_hour_at_least(cls, value: timedelta) -> timedelta:
        # the passes of the last hour are what `report` and the console show as "now"
        if value < timedelta(hours=1):
            raise ValueError(f"must be at least 1h ({DURATION_HINT})")
        return value


class EventsConfig(_Table):
    reconcile_interval: Duration = Field(
        default=timedelta(minutes=10),
        description="events mode: the analytics sweep for what events cannot show (flows, bots, gaps)",
    )
    heartbeat_timeout: Duration = Field(
        default=timedelta(minutes=1),
        description="events mode: a socket with no frame (heartbeat, event, pong) for this long is dead",
    )
    clock_sync: Duration = Field(
        default=timedelta(seconds=30),
        description="events mode: a cheap request (the channel check) this often keeps the platform clock",
    )
    ready_after_down: Duration = Field(
        default=timedelta(minutes=2),
        description="events mode: /readyz fails once the socket has been down longer than this",
    )

    @field_validator("reconcile_interval", "heartbeat_timeout", "clock_sync", "ready_after_down")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"must be more than 0 ({DURATION_HINT})")
        return value


class RuleConfig(_Table):
    enabled: StrictBool = Field(default=True, description="false: the rule never acts")
    after: Duration = Field(description="how long the rule's condition must hold")
    after_hours: OptionalDuration = Field(
        default=None,
        description='another threshold outside business hours ([schedule]); "" = same as `after`',
    )
    approval: StrictBool = Field(
        default=False,
        description="true: in apply mode its decisions wait as `pending` until an operator approves"
        " them in the console (`[console] approval_ttl`)",
    )


# What each rule looks for and its defaults: from the rule catalog, the one list of rules.
RULE_DESCRIPTIONS: Mapping[str, str] = {name: rule.situation for name, rule in RULES.items()}
RULE_DEFAULTS: Mapping[str, timedelta] = {name: rule.default.after for name, rule in RULES.items()}
RULE_ENABLED: Mapping[str, bool] = {name: rule.default.enabled for name, rule in RULES.items()}


def _rule(name: str) -> Any:
    return Field(
        default_factory=lambda: RuleConfig(after=RULE_DEFAULTS[name], enabled=RULE_ENABLED[name]),
        alias=name,
        description=RULE_DESCRIPTIONS[name],
    )


class RulesConfig(_Table):
    idle: RuleConfig = _rule("idle")
    customer_left: RuleConfig = _rule("customer-left")
    queue_abandoned: RuleConfig = _rule("queue-abandoned")
    flow_stuck: RuleConfig = _rule("flow-stuck")
    orphaned: RuleConfig = _rule("orphaned")
    acw_stuck: RuleConfig = _rule("acw-stuck")
    parked: RuleConfig = _rule("parked")

    @model_validator(mode="before")
    @classmethod
    def _default_after(cls, data: Any) -> Any:
        # `[rules.idle] enabled = false` alone must keep idle's own default threshold, and
        # `[rules.parked] after = "4h"` alone keeps parked's own default: disabled.
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for name, table in data.items():
            if name in RULE_DEFAULTS and isinstance(table, dict):
                filled[name] = {"after": RULE_DEFAULTS[name], "enabled": RULE_ENABLED[name], **table}
        return filled

    def get(self, name: str) -> RuleConfig:
        """The settings of a rule by its TOML name ("customer-left")."""
        value: RuleConfig = getattr(self, name.replace("-", "_"))
        return value

    def items(self) -> tuple[tuple[str, RuleConfig], ...]:
        return tuple((name, self.get(name)) for name in RULE_ORDER)


def _check_notes(value: str) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    if fields - {"rule"}:
        raise ValueError(f"unknown placeholder {{{sorted(fields - {'rule'})[0]}}} (only {{rule}} is known)")
    return value


class CloseConfig(_Table):
    warn_before: Duration = Field(
        default=timedelta(0),
        description="> 0: first send `warning_text`, close only if still silent after this",
    )
    warning_text: StrictStr = Field(
        default="Are you still there? This chat will close soon if we don't hear from you.",
        description="sent through the agent's communication before closing (when `warn_before` > 0)",
    )
    closing_text: StrictStr = Field(
        default="This chat was closed because it was inactive. Send a new message any time to start again.",
        description='sent before an agent is disconnected; "" = none',
    )
    wrapup_code: StrictStr = Field(
        default="", description="wrap-up code id for `acw-stuck`; empty = leave wrap-up to the agent/platform"
    )
    wrapup_notes: StrictStr = Field(
        default="Closed by session-reaper: {rule}",
        description="wrap-up notes; `{rule}` is replaced by the rule",
    )
    annotate: StrictBool = Field(
        default=True,
        description="write `reaper.rule` / `reaper.reason` / `reaper.closedAt` on the customer participant",
    )
    allow_teardown: StrictBool = Field(
        default=True, description="rule `orphaned` may use `POST /api/v2/conversations/{id}/disconnect`"
    )

    @field_validator("wrapup_notes")
    @classmethod
    def _notes_format(cls, value: str) -> str:
        try:
            return _check_notes(value)
        except (ValueError, IndexError) as exc:
            raise ValueError(str(exc) if isinstance(exc, ValueError) else "bad placeholder") from None

    @field_validator("wrapup_code")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class ScheduleConfig(_Table):
    timezone: StrictStr = Field(default="UTC", description="IANA name, e.g. America/Los_Angeles")
    business_hours: StrictStr = Field(
        default="mon-fri 08:00-18:00",
        description='in that zone, DST-safe; several windows: "mon-fri 08:00-18:00, sat 10:00-14:00"; '
        '"" = always business hours',
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        BusinessHours.parse(value)
        return value

    def schedule(self) -> Schedule:
        return Schedule.parse(self.timezone, self.business_hours)


class ConsoleConfig(_Table):
    approval_ttl: Duration = Field(
        default=timedelta(hours=1),
        description="a pending decision (a rule with `approval = true`) not approved by then expires",
    )

    @field_validator("approval_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"must be more than 0 ({DURATION_HINT})")
        return value
