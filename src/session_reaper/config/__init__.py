"""Settings: policy from a TOML file, credentials from the environment, both validated up front.

A bad file must fail before a single request is sent, with a message that says where:
``session-reaper.toml:7: [rules.idle] after: bad duration 'abc' (use e.g. 30m, 2h, 90s)``.
tomllib gives no line numbers for keys, so the line is found by scanning the file's text for the
table header and the key (``_locate``).

The settings are pydantic models (one per TOML table, unknown keys forbidden, TOML types taken
strictly: ``apply = "yes"`` is an error, not a truthy string). The rules and the plan never see them:
``Settings.policy()`` and ``Settings.close_settings()`` hand over plain frozen dataclasses.
Credentials are read from an injectable environment mapping, so tests never touch ``os.environ``.

The package: `tables` (the models), `settings` (`Settings`), `orgs` (the `[orgs.NAME]` tables and
their merged policies), `loading` (file -> Settings, the error messages), `credentials` (the
environment, per organization), `errors`. This module is its public face: import from `session_reaper.config`.
"""

from __future__ import annotations

from session_reaper.config.credentials import (
    ENV_ACCESS_TOKEN,
    ENV_API_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_LOGIN_URL,
    ENV_REGION,
    Credentials,
    Organization,
    org_credentials,
    organizations,
)
from session_reaper.config.errors import ConfigError, CredentialsError
from session_reaper.config.loading import load_settings, parse_settings
from session_reaper.config.orgs import GLOBAL_SWEEP_KEYS, ORG_NAME, OVERRIDABLE, OrgConfig, OrgSettings
from session_reaper.config.settings import Settings
from session_reaper.config.tables import (
    CONFIG_ENV,
    DEFAULT_FILE,
    MAX_DURATION,
    RETRY_BACKOFF_GROWTH,
    RULE_DEFAULTS,
    RULE_DESCRIPTIONS,
    RULE_ENABLED,
    CloseConfig,
    ConsoleConfig,
    Duration,
    EventsConfig,
    OptionalDuration,
    QueuesConfig,
    RuleConfig,
    RulesConfig,
    ScheduleConfig,
    SweepConfig,
)
from session_reaper.core.schedule import format_duration, parse_duration

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "ENV_ACCESS_TOKEN",
    "ENV_API_URL",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_LOGIN_URL",
    "ENV_REGION",
    "GLOBAL_SWEEP_KEYS",
    "MAX_DURATION",
    "ORG_NAME",
    "OVERRIDABLE",
    "RETRY_BACKOFF_GROWTH",
    "RULE_DEFAULTS",
    "RULE_DESCRIPTIONS",
    "RULE_ENABLED",
    "CloseConfig",
    "ConfigError",
    "ConsoleConfig",
    "Credentials",
    "CredentialsError",
    "Duration",
    "EventsConfig",
    "OptionalDuration",
    "OrgConfig",
    "OrgSettings",
    "Organization",
    "QueuesConfig",
    "RuleConfig",
    "RulesConfig",
    "ScheduleConfig",
    "Settings",
    "SweepConfig",
    "format_duration",
    "load_settings",
    "org_credentials",
    "organizations",
    "parse_duration",
    "parse_settings",
]
