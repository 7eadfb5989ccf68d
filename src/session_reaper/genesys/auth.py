"""Client-credentials tokens: how to ask for one, and a cache that renews it before it runs out.

The cache does not talk HTTP itself: the transport (``http.py``) hands it a ``fetch`` coroutine that
sends the token request with the transport's retries for 429/5xx/timeouts and its error mapping (a
refused secret is ``AuthenticationFailed`` at once, never retried). Expiry is measured on monotonic
time from when the token arrived, so neither the machine's wall clock nor the platform's virtual clock
can make a token look fresher than it is.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from session_reaper.genesys.errors import AuthenticationFailed


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """An OAuth client's id and secret. The secret never appears in a repr."""

    client_id: str
    client_secret: str = field(repr=False)

    def basic_authorization(self) -> str:
        """The ``Authorization`` header of the token request: HTTP Basic ``id:secret``."""
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


# The token request's form body [SDK api_client.get_client_credentials_token].
TOKEN_FORM: Mapping[str, str] = {"grant_type": "client_credentials"}


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float | None  # monotonic seconds; None = never known to expire (a fixed token)


def parse_token_answer(body: Mapping[str, Any], received_at: float) -> AccessToken:
    """The token endpoint's ``{access_token, token_type, expires_in}``."""
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise AuthenticationFailed("the token endpoint answered without an access_token", path="/oauth/token")
    expires_in = body.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        lifetime = None
    return AccessToken(value, received_at + lifetime if lifetime is not None else None)


def renewal_margin(lifetime: float) -> float:
    """How long before expiry to renew: a minute for day-long tokens, a tenth for short test tokens."""
    return min(60.0, max(0.5, lifetime * 0.1))


class TokenCache:
    """The current bearer token; one fetch at a time however many tasks ask at once."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]] | None,
        *,
        fixed_token: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if fetch is None and not fixed_token:
            raise ValueError("either client credentials or an access token is needed")
        self._fetch = fetch
        self._monotonic = monotonic
        self._token: AccessToken | None = AccessToken(fixed_token, None) if fixed_token else None
        self._renew_at: float | None = None
        self._lock = asyncio.Lock()
        self.renewals = 0  # tokens fetched after the first one

    @property
    def renewable(self) -> bool:
        """A fixed token (``GENESYSCLOUD_ACCESS_TOKEN``) cannot be renewed: a 401 on it is final."""
        return self._fetch is not None

    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a log or an error message."""
        return (self._token.value,) if self._token else ()

    async def token(self) -> str:
        token = self._token
        if token is not None and not self._due():
            return token.value
        async with self._lock:
            if self._token is None or self._due():
                await self._replace()
            assert self._token is not None
            return self._token.value

    async def renew(self, rejected: str) -> str:
        """A new token after the platform refused ``rejected``; shared when several tasks saw the 401."""
        if self._fetch is None:
            raise AuthenticationFailed("the access token was refused and cannot be renewed", status=401)
        async with self._lock:
            if self._token is None or self._token.value == rejected:
                await self._replace()
            assert self._token is not None
            return self._token.value

    def _due(self) -> bool:
        return self._renew_at is not None and self._monotonic() >= self._renew_at

    async def _replace(self) -> None:
        assert self._fetch is not None
        if self._token is not None:
            self.renewals += 1
        fresh = await self._fetch()
        self._token = fresh
        if fresh.expires_at is None:
            self._renew_at = None
        else:
            lifetime = max(0.0, fresh.expires_at - self._monotonic())
            self._renew_at = fresh.expires_at - renewal_margin(lifetime)
