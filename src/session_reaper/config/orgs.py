"""Many organizations: the `[orgs.NAME]` tables, each an OAuth client, a host and its own policy.

An organization names the environment variables that hold its credentials (never the secrets), where
its platform is (`region`, or `api_url` with an optional `login_url`), its client's request budget,
and any `[sweep]`, `[rules.*]`, `[close]` or `[schedule]` key as an override of the top-level policy
(`[orgs.acme.rules.idle] after = "20m"`). An override merges key by key into the top-level table;
what it does not name keeps the top-level value. Two `[sweep]` keys are one per process, not per
organization (`GLOBAL_SWEEP_KEYS`): the ledger, shared by all organizations, and the request budget,
which is the organization's own `requests_per_minute`.

Each organization's tables are validated in full, with the top-level values merged in, by the very
models of the top-level tables: an override is held to the same rules as the key it overrides. A
problem only the whole document shows (a global key overridden, a client shared by two organizations,
an organization with no host) is handed to pydantic as an invalid value carrying its own words
(`Misplaced`), so that it is reported like every other problem: the file, the line, the org and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, RootModel, StrictInt, StrictStr, field_validator

from session_reaper.config.tables import (
    CloseConfig,
    RulesConfig,
    ScheduleConfig,
    SweepConfig,
    _Table,
)

if TYPE_CHECKING:
    from session_reaper.config.settings import Settings

ORG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
ORG_NAME_HINT = "letters, digits, '-' and '_', starting with a letter, at most 64"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OVERRIDABLE = ("sweep", "rules", "close", "schedule")
GLOBAL_SWEEP_KEYS: Mapping[str, str] = {
    "ledger": "one ledger for every organization: set it in [sweep]",
    "org_lease": "one lease period for every organization: set it in [sweep]",
    "journal_retention": "one journal for every organization: set it in [sweep]",
    "mode": "one mode for the whole service: set it in [sweep]",
    "requests_per_minute": "an organization's request budget is [orgs.{org}] requests_per_minute",
}
_URL = re.compile(r"https?://[^/\s]+")


class Misplaced:
    """Stands for a value refused for a reason only the whole document shows: no model accepts it
    (it is no string, number or table), and the error message is its `reason`."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return self.reason


def _org_name(value: object) -> object:
    if isinstance(value, str) and not ORG_NAME.fullmatch(value):
        raise ValueError(f"not a simple name for an organization ({ORG_NAME_HINT})")
    return value


OrgName = Annotated[str, BeforeValidator(_org_name)]


def _env_name(value: object) -> object:
    if isinstance(value, str) and not ENV_NAME.fullmatch(value):
        # never the value itself: a secret pasted here instead of a variable's name must not be echoed
        raise ValueError("not the name of an environment variable (letters, digits and '_')")
    return value


EnvName = Annotated[StrictStr, BeforeValidator(_env_name)]


class OrgConfig(_Table):
    """One organization: `[orgs.NAME]`. Its policy tables hold the top-level values merged with its own."""

    client_id_env: EnvName = Field(description="the environment variable that holds the OAuth client id")
    client_secret_env: EnvName = Field(
        description="the environment variable that holds its secret (the secret never goes in the file)"
    )
    region: StrictStr | None = Field(
        default=None, description="region (`eu-west-1`) or domain (`mypurecloud.ie`); or `api_url`"
    )
    api_url: StrictStr | None = Field(
        default=None, description="a full API base URL (emulator, gateway); wins over `region`"
    )
    login_url: StrictStr | None = Field(
        default=None, description="OAuth base URL; default: `api_url` when set, else login.DOMAIN"
    )
    requests_per_minute: StrictInt | None = Field(
        default=None,
        ge=1,
        description="this client's platform limit; pacing stays just below it (default: [sweep]'s)",
    )
    sweep: SweepConfig = Field(default_factory=SweepConfig, description="overrides of [sweep] keys")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="overrides of [rules.*] keys")
    close: CloseConfig = Field(default_factory=CloseConfig, description="overrides of [close] keys")
    schedule: ScheduleConfig = Field(
        default_factory=ScheduleConfig, description="overrides of [schedule] keys"
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty: the organization's region (e.g. eu-west-1) or domain, or api_url")
        return value.strip() if value is not None else None

    @field_validator("api_url", "login_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _URL.match(value):
            raise ValueError("must be a URL such as https://api.mypurecloud.com")
        return value.rstrip("/")


OWN_KEYS = tuple(name for name in OrgConfig.model_fields if name not in OVERRIDABLE)


class OrgTables(RootModel[dict[OrgName, OrgConfig]]):
    """Every `[orgs.NAME]` table, by name."""


@dataclass(frozen=True)
class OrgSettings:
    """One organization as the commands use it: how to reach it and its whole policy (`settings`).

    `settings` is the top-level policy with this organization's overrides merged, its request budget
    in `settings.sweep.requests_per_minute`: an engine over it needs no idea of organizations.
    `where` gives "file:line" of the keys read later (the credential variables), for their errors.
    """

    name: str
    client_id_env: str
    client_secret_env: str
    region: str | None
    api_url: str | None
    login_url: str | None
    requests_per_minute: int
    settings: Settings
    where: Mapping[str, str] = field(default_factory=dict, compare=False)

    def located(self, key: str) -> str:
        """`file:line: [orgs.NAME] key` (without the file when the settings came from no file)."""
        at = self.where.get(key)
        return f"{at + ': ' if at else ''}[orgs.{self.name}] {key}"


# ------------------------------------------------------------------------------------------ merging


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return override


def merged_orgs(orgs: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """The raw `[orgs]` table with the top-level tables merged into each organization's overrides.

    Nothing is validated here; what is wrong is marked (`Misplaced`) for the models to refuse.
    """
    merged: dict[str, Any] = {}
    first_of_client: dict[str, str] = {}
    for name, org in orgs.items():
        if not isinstance(org, Mapping):
            merged[name] = org
            continue
        table = dict(org)
        for part in OVERRIDABLE:
            base = top.get(part, {})
            if part in table:
                table[part] = _deep_merge(base if isinstance(base, Mapping) else {}, table[part])
            elif isinstance(base, Mapping):
                table[part] = dict(base)
        sweep, own = table.get("sweep"), org.get("sweep")
        if isinstance(sweep, Mapping):
            sweep = {k: v for k, v in sweep.items() if k not in GLOBAL_SWEEP_KEYS}  # the top's: not merged
            for key, why in GLOBAL_SWEEP_KEYS.items():
                if isinstance(own, Mapping) and key in own:
                    sweep[key] = Misplaced(why.format(org=name))
            table["sweep"] = sweep
        client = org.get("client_id_env")
        if isinstance(client, str):
            if client in first_of_client:
                table["client_id_env"] = Misplaced(
                    f"{client} is already the client of [orgs.{first_of_client[client]}]: "
                    "each organization has its own OAuth client"
                )
            else:
                first_of_client[client] = name
        if org.get("region") is None and org.get("api_url") is None:
            table["region"] = Misplaced("required: the organization's region, or api_url")
        merged[name] = table
    return merged


def inherited(loc: tuple[str, ...], orgs: Mapping[str, Any]) -> bool:
    """True for a problem of an organization's policy table in a key it does not override itself.

    Such a problem is the top-level key's, merged in, and is reported there once.
    """
    if len(loc) < 3 or loc[1] not in OVERRIDABLE:
        return False
    value: Any = orgs
    for part in loc:
        if not isinstance(value, Mapping) or part not in value:
            return True
        value = value[part]
    return False


def build_orgs(
    tables: OrgTables, top: Settings, where: Mapping[str, Mapping[str, str]]
) -> tuple[OrgSettings, ...]:
    """Each organization with its whole policy; `where` = per org, key -> "file:line"."""
    from session_reaper.config.settings import Settings

    built = []
    for name, org in tables.root.items():
        budget = org.requests_per_minute or top.sweep.requests_per_minute
        sweep = org.sweep.model_copy(update={"ledger": top.sweep.ledger, "requests_per_minute": budget})
        own = Settings(sweep=sweep, rules=org.rules, close=org.close, schedule=org.schedule)
        own._source = top.source
        built.append(
            OrgSettings(
                name=name,
                client_id_env=org.client_id_env,
                client_secret_env=org.client_secret_env,
                region=org.region,
                api_url=org.api_url,
                login_url=org.login_url,
                requests_per_minute=budget,
                settings=own,
                where=dict(where.get(name, {})),
            )
        )
    return tuple(built)
