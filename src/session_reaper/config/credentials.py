"""The credentials, from an injectable environment mapping (tests never touch os.environ)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
)

from session_reaper.config.errors import CredentialsError

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
