"""The credentials, from an injectable environment mapping (tests never touch os.environ): those of
`GENESYSCLOUD_*`, or those each `[orgs.NAME]` table names."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
)

from session_reaper.config.errors import CredentialsError
from session_reaper.redaction import remember_secret

if TYPE_CHECKING:
    from session_reaper.config.orgs import OrgSettings
    from session_reaper.config.settings import Settings

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


# --------------------------------------------------------------------------------- organizations


@dataclass(frozen=True)
class Organization:
    """An organization ready to be reached: its name (None: the only one, of `GENESYSCLOUD_*`), its
    credentials and its whole policy."""

    name: str | None
    credentials: Credentials
    settings: Settings


def org_credentials(org: OrgSettings, environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials an `[orgs.NAME]` table names; a missing variable names the org, key and line."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for key, variable in (("client_id_env", org.client_id_env), ("client_secret_env", org.client_secret_env)):
        value = env.get(variable, "").strip()
        if not value:
            raise CredentialsError(f"{org.located(key)}: the environment variable {variable} is not set")
        values[key] = value
    secret = values["client_secret_env"]
    remember_secret(secret)  # the logs' redactor knows only GENESYSCLOUD_*'s by name
    return Credentials(
        client_id=values["client_id_env"],
        client_secret=SecretStr(secret),
        region=org.region,
        api_url=org.api_url,
        login_url=org.login_url,
    )


def organizations(
    settings: Settings, environ: Mapping[str, str] | None = None, *, only: Sequence[str] | None = None
) -> list[Organization]:
    """Every organization (or those in `only`) with its credentials, all read before any request."""
    if not settings.orgs:
        if only:
            settings.org(only[0])  # raises: no organizations are configured
        return [Organization(None, Credentials.from_env(environ), settings)]
    chosen = [settings.org(name) for name in only] if only else list(settings.orgs)
    found: list[Organization] = []
    clients: dict[str, OrgSettings] = {}
    for org in chosen:
        credentials = org_credentials(org, environ)
        other = clients.setdefault(credentials.client_id, org)
        if other is not org:
            raise CredentialsError(
                f"{org.located('client_id_env')}: {org.client_id_env} holds the same client id as "
                f"[orgs.{other.name}]'s {other.client_id_env}: each organization has its own OAuth client"
            )
        found.append(Organization(org.name, credentials, org.settings))
    return found
