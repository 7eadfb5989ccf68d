"""Settings: policy from a TOML file, credentials from the environment, both validated up front.

A bad file must fail before a single request is sent, with a message that says where:
``session-reaper.toml:7: [rules.idle] after: bad duration 'abc' (use e.g. 30m, 2h, 90s)``.
tomllib gives no line numbers for keys, so the line is found by scanning the file's text for the
table header and the key (``_locate``).

The settings are pydantic models (one per TOML table, unknown keys forbidden, TOML types taken
strictly: ``apply = "yes"`` is an error, not a truthy string). The rules and the plan never see them:
``Settings.policy()`` and ``Settings.close_settings()`` hand over plain frozen dataclasses.
Credentials are read from an injectable environment mapping, so tests never touch ``os.environ``.
"""

from __future__ import annotations

import json
import os
import re
import string
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from session_reaper.core.plan import CloseSettings
from session_reaper.core.rules import RULE_ORDER, RULES, Policy, RulePolicy
from session_reaper.core.schedule import (
    DURATION_HINT,
    BusinessHours,
    Schedule,
    format_duration,
    parse_duration,
    zone,
)
from session_reaper.errors import EXIT_USAGE, ReaperError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "ConfigError",
    "Credentials",
    "CredentialsError",
    "Settings",
    "format_duration",
    "load_settings",
    "parse_duration",
]

CONFIG_ENV = "SESSION_REAPER_CONFIG"
MAX_DURATION = timedelta(days=36500)  # a century: any longer threshold means "never"
DEFAULT_FILE = "session-reaper.toml"


class ConfigError(ReaperError):
    """A configuration problem; the message names the file, the line and the key (never a secret)."""

    exit_code = EXIT_USAGE


class CredentialsError(ConfigError):
    """A credential is missing or malformed; the message names the variable, never its value."""


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

    @field_validator("channels")
    @classmethod
    def _lower_case_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)

    @field_validator("interval", "lookback", "verify_timeout", "request_timeout")
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


class Settings(_Table):
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    close: CloseConfig = Field(default_factory=CloseConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file these settings were read from; None = built-in defaults."""
        return self._source

    def with_apply(self, apply: bool) -> Settings:
        """`--apply` on the command line wins over `[sweep] apply`."""
        changed = self.model_copy(update={"sweep": self.sweep.model_copy(update={"apply": apply})})
        changed._source = self._source
        return changed

    def policy(self) -> Policy:
        sweep = self.sweep
        return Policy(
            channels=frozenset(sweep.channels),
            queue_include=frozenset(sweep.queues.include),
            queue_exclude=frozenset(sweep.queues.exclude),
            exempt_attribute=sweep.exempt_attribute,
            respect_platform_timer=sweep.respect_platform_timer,
            rules={
                name: RulePolicy(rule.after, enabled=rule.enabled, after_hours=rule.after_hours)
                for name, rule in self.rules.items()
            },
            warn_before=self.close.warn_before,
            allow_teardown=self.close.allow_teardown,
            wrapup_code=self.close.wrapup_code,
            schedule=self.schedule.schedule(),
        )

    def close_settings(self) -> CloseSettings:
        close = self.close
        return CloseSettings(
            warn_before=close.warn_before,
            warning_text=close.warning_text,
            closing_text=close.closing_text,
            wrapup_code=close.wrapup_code,
            wrapup_notes=close.wrapup_notes,
            annotate=close.annotate,
            allow_teardown=close.allow_teardown,
        )


# ------------------------------------------------------------------------------------------ loading


def _config_path(path: Path | None, environ: Mapping[str, str], cwd: Path) -> tuple[Path | None, bool]:
    """(file to read, whether it was named explicitly); an explicitly named file must exist."""
    if path is not None:
        return path, True
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named), True
    default = cwd / DEFAULT_FILE
    return (default, False) if default.is_file() else (None, False)


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """`--config FILE`, else `$SESSION_REAPER_CONFIG`, else `./session-reaper.toml` if present, else defaults.

    `cwd` is where `./session-reaper.toml` is looked for (default: the working directory).
    """
    env = os.environ if environ is None else environ
    found, explicit = _config_path(path, env, cwd or Path.cwd())
    if found is None:
        return Settings()
    shown = str(path) if path is not None else str(found) if explicit else DEFAULT_FILE
    try:
        text = found.read_text(encoding="utf-8")
    except FileNotFoundError:
        via = "" if path is not None else f" (named by ${CONFIG_ENV})"
        raise ConfigError(f"{shown}: no such file{via}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.__class__.__name__}") from None
    settings = parse_settings(text, shown)
    settings._source = found
    return settings


_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def parse_settings(text: str, filename: str = DEFAULT_FILE) -> Settings:
    """Settings from TOML text; every problem is a ConfigError naming `filename`, the line and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"at line (\d+)", message)
        line = found.group(1) if found else str(max(1, len(text.rstrip("\n").split("\n"))))
        raise ConfigError(f"{filename}:{line}: TOML syntax error: {_AT_LINE.sub('', message)}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            (_describe(error, text, data, filename) for error in exc.errors()), key=lambda p: p[0]
        )
        raise ConfigError("\n".join(message for _, message in problems)) from None


# ----------------------------------------------------------------------------------- error messages

_HEADER = re.compile(r"^\s*\[\[?(?P<name>[^\]]+)\]\]?\s*(?:#.*)?$")
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_KEY = re.compile(rf"^\s*(?P<key>{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_KEY_PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')


def _split_key(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _KEY_PART.findall(dotted))


def _key_lines(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line number, full key path) of every table header and key in the file, roughly but enough."""
    found: list[tuple[int, tuple[str, ...]]] = []
    table: tuple[str, ...] = ()
    in_multiline = False
    # TOML ends lines at \n only: str.splitlines() would also split at \x85 or \u2028 and miscount
    for number, line in enumerate(text.split("\n"), start=1):
        quotes = line.count('"""') + line.count("'''")
        if in_multiline:
            in_multiline = quotes % 2 == 0
            continue
        if header := _HEADER.match(line):
            table = _split_key(header["name"])
            found.append((number, table))
        elif key := _KEY.match(line):
            found.append((number, table + _split_key(key["key"])))
        in_multiline = quotes % 2 == 1
    return found


def _locate(text: str, loc: tuple[str, ...], *, whole_table: bool = False) -> int | None:
    """The line that defines `loc` (or its nearest enclosing table)."""
    entries = _key_lines(text)
    if whole_table:
        # An unknown table: point at the first setting in it, the thing the user meant to configure.
        inside = next((n for n, path in entries if len(path) > len(loc) and path[: len(loc)] == loc), None)
        if inside is not None:
            return inside
    best, best_length = None, -1
    for number, path in entries:
        if loc[: len(path)] == path and len(path) > best_length:
            best, best_length = number, len(path)
    return best


_TABLES = ("sweep", "rules", "close", "schedule")
_MODELS: Mapping[str, type[BaseModel]] = {
    "sweep": SweepConfig,
    "close": CloseConfig,
    "schedule": ScheduleConfig,
    "sweep.queues": QueuesConfig,
}


def _known_keys(table: str) -> str:
    if table.startswith("rules."):
        return ", ".join(RuleConfig.model_fields)
    model = _MODELS.get(table)
    return ", ".join(model.model_fields) if model else ""


def _lookup(data: Mapping[str, Any], loc: tuple[str, ...]) -> Any:
    value: Any = data
    for part in loc:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _problem(error: ErrorDetails) -> str:
    kind, given = error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {given!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {given!r}"
    if kind == "string_type":
        return f"expected a string, got {given!r}"
    if kind in ("tuple_type", "list_type"):
        return f'expected a list such as ["a", "b"], got {given!r}'
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a table, got {given!r}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {given!r}"
    return str(error["msg"])


def _shown(part: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (a key " " must not read as nothing)."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", part):
        return part
    # unicode stays readable; what is not printable (line separators included) is escaped: one line
    quoted = json.dumps(part, ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


def _describe(error: ErrorDetails, text: str, data: Mapping[str, Any], filename: str) -> tuple[int, str]:
    loc = tuple(str(part) for part in error["loc"] if isinstance(part, str))
    depth = 2 if loc[:1] == ("rules",) else 1
    unknown = error["type"] == "extra_forbidden"
    given = _lookup(data, loc)
    whole_table = unknown and isinstance(given, Mapping) and len(loc) <= depth
    line = _locate(text, loc, whole_table=whole_table) or 1
    if whole_table:
        first_key = next(iter(given), None) if isinstance(given, Mapping) else None
        where = f"[{'.'.join(map(_shown, loc))}]" + (f" {_shown(str(first_key))}" if first_key else "")
        if loc[:1] == ("rules",):
            what = f"unknown rule {loc[-1]!r} (rules: {', '.join(RULE_ORDER)})"
        else:
            what = f"unknown table (tables: {', '.join(_TABLES)})"
        return line, f"{filename}:{line}: {where}: {what}"
    if len(loc) <= 1:
        # A key outside every table.
        what = "unknown key (settings belong in a table: [sweep], [rules.<name>], [close], [schedule])"
        return (
            line,
            f"{filename}:{line}: {'.'.join(map(_shown, loc))}: {what if unknown else _problem(error)}",
        )
    table, key = ".".join(map(_shown, loc[:depth])), ".".join(map(_shown, loc[depth:]))
    if unknown:
        container = ".".join(loc[:-1])
        known = _known_keys(container)
        what = "unknown key" + (f" (known: {known})" if known else "")
    else:
        what = _problem(error)
    return line, f"{filename}:{line}: [{table}] {key}: {what}"


# ---------------------------------------------------------------------------------------- credentials


ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
ENV_REGION = "GENESYSCLOUD_REGION"
ENV_API_URL = "GENESYSCLOUD_API_URL"
ENV_LOGIN_URL = "GENESYSCLOUD_LOGIN_URL"
ENV_ACCESS_TOKEN = "GENESYSCLOUD_ACCESS_TOKEN"


class Credentials(BaseModel):
    """How to reach and authenticate to the platform, named as the platform's own tools name them.

    Secrets are SecretStr: their repr and str are masked, so they cannot leak into a log by accident.
    """

    model_config = ConfigDict(frozen=True)

    ENV_NAMES: ClassVar[tuple[str, ...]] = (
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
        ENV_REGION,
        ENV_API_URL,
        ENV_LOGIN_URL,
        ENV_ACCESS_TOKEN,
    )

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    region: str | None = None  # a region name (us-east-1) or a domain (mypurecloud.ie)
    api_url: str | None = None  # a full base URL (emulator, gateway); wins over the region
    login_url: str | None = None  # OAuth base URL; default: the api_url, else login.{domain}
    access_token: SecretStr | None = None  # a ready token instead of client credentials

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        token = get(ENV_ACCESS_TOKEN)
        client_id, secret = get(ENV_CLIENT_ID), get(ENV_CLIENT_SECRET)
        if token is None:
            for name, value in ((ENV_CLIENT_ID, client_id), (ENV_CLIENT_SECRET, secret)):
                if value is None:
                    raise CredentialsError(
                        f"{name} is not set: the OAuth client-credentials client to use "
                        f"({ENV_CLIENT_ID}, {ENV_CLIENT_SECRET}, {ENV_REGION})"
                    )
        region, api_url, login_url = get(ENV_REGION), get(ENV_API_URL), get(ENV_LOGIN_URL)
        if region is None and api_url is None:
            raise CredentialsError(
                f"{ENV_REGION} is not set (e.g. us-east-1, or a domain such as mypurecloud.ie; "
                f"or {ENV_API_URL} with a full base URL)"
            )
        for name, url in ((ENV_API_URL, api_url), (ENV_LOGIN_URL, login_url)):
            if url is not None and not re.match(r"https?://[^/\s]+", url):
                raise CredentialsError(f"{name} must be a URL such as https://api.mypurecloud.com")
        return cls(
            client_id=client_id or "",
            client_secret=SecretStr(secret or ""),
            region=region,
            api_url=api_url.rstrip("/") if api_url else None,
            login_url=login_url.rstrip("/") if login_url else None,
            access_token=SecretStr(token) if token else None,
        )
