"""OAuth clients, bearer tokens, permissions and the per-client rate limit."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from genesys_emulator import assumptions as A
from genesys_emulator.clock import VirtualClock
from genesys_emulator.errors import PlatformError

DEFAULT_CLIENT_ID = "emulator"
DEFAULT_CLIENT_SECRET = "emulator-secret"


@dataclass(slots=True)
class Client:
    client_id: str
    secret: str
    permissions: frozenset[str]
    rate_limit: int
    token_ttl: int
    name: str
    organization: str = A.DEFAULT_ORGANIZATION
    recent: deque[float] = field(default_factory=deque)  # monotonic stamps within the window

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions


class LoginError(Exception):
    """What the login service answers to a bad client or request (RFC 6749 shape, not the API's)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


class Registry:
    def __init__(
        self, clock: VirtualClock, default_rate_limit: int = 300, *, rate_on_virtual_clock: bool = False
    ) -> None:
        self.clock = clock
        self.default_rate_limit = default_rate_limit
        # Real time by default: that is what a rate-limited client lives by. On the virtual clock, a
        # driver that steps time (benchmarks over a virtual day) gets N requests per virtual minute.
        self.rate_on_virtual_clock = rate_on_virtual_clock
        # The client's seconds per second of the count's clock, for what it is told to wait (the
        # reset and a 429's Retry-After). A driver that steps the virtual clock N times faster than real
        # time sets 1/N: a client sleeps on its own clock, and "60 s until the count falls" said in
        # virtual seconds would hold it back for N virtual minutes.
        self.wait_scale = 1.0
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, tuple[Client, datetime]] = {}
        self.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, ["*"], default_rate_limit, 86400)

    def add_client(
        self,
        client_id: str,
        secret: str,
        permissions: list[str],
        rate_limit: int | None = None,
        token_ttl: int = 86400,
        name: str | None = None,
        organization: str = A.DEFAULT_ORGANIZATION,
    ) -> Client:
        client = Client(
            client_id,
            secret,
            frozenset(permissions),
            rate_limit or self.default_rate_limit,
            token_ttl,
            name or client_id,
            organization,
        )
        self.clients[client_id] = client
        # a re-registered client starts over: its old tokens stop working
        self.tokens = {t: (c, exp) for t, (c, exp) in self.tokens.items() if c.client_id != client_id}
        return client

    def basic_client_id(self, authorization: str | None) -> str | None:
        """The client id an HTTP Basic header claims, for the request log (even when the secret is wrong)."""
        decoded = _basic(authorization)
        return decoded[0] if decoded else None

    def issue(self, authorization: str | None, grant_type: str | None) -> tuple[Client, str, int]:
        decoded = _basic(authorization)
        if decoded is None:
            raise LoginError(
                401, "invalid_client", "client authentication failed: HTTP Basic credentials required"
            )
        client = self.clients.get(decoded[0])
        if client is None or not secrets.compare_digest(client.secret, decoded[1]):
            raise LoginError(401, "invalid_client", "client not found or bad client secret")
        if grant_type != "client_credentials":
            raise LoginError(400, "unsupported_grant_type", f"unsupported grant_type {grant_type!r}")
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        if len(self.tokens) > 10_000:  # forget expired tokens now and then: every run of a client asks anew
            self.tokens = {t: (c, exp) for t, (c, exp) in self.tokens.items() if exp > now}
        self.tokens[token] = (client, now + timedelta(seconds=client.token_ttl))
        return client, token, client.token_ttl

    def client_for(self, authorization: str | None) -> tuple[Client | None, str | None]:
        """(client, None) for a valid bearer token; (client or None, why) otherwise."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None, "No authentication bearer token specified in authorization header."
        found = self.tokens.get(authorization[7:].strip())
        if found is None:
            return None, "Invalid login credentials."
        client, expires = found
        if self.clock.now() >= expires:
            return client, "Authentication token has expired."
        return client, None

    def take(self, client: Client) -> None:
        """Count one request against the client's limit; raise 429 with Retry-After when over it."""
        now = self.clock.now().timestamp() if self.rate_on_virtual_clock else time.monotonic()
        recent = client.recent
        while recent and recent[0] <= now - A.RATE_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= client.rate_limit:
            wait = max(1, math.ceil(recent[0] + A.RATE_WINDOW_SECONDS - now)) * self._scale()
            raise PlatformError(
                429,
                "too.many.requests",
                f"Rate limit exceeded the maximum. [{client.rate_limit} requests/min]",
                {"limit": str(client.rate_limit)},
                retry_after=wait,
            )
        recent.append(now)

    def rate_headers(self, client: Client) -> dict[str, str]:
        """The client's own count, as the platform reports it on every answer (see assumptions)."""
        now = self.clock.now().timestamp() if self.rate_on_virtual_clock else time.monotonic()
        recent = client.recent
        while recent and recent[0] <= now - A.RATE_WINDOW_SECONDS:
            recent.popleft()
        # Until the count next falls: when the oldest counted request leaves the window.
        reset = math.ceil(recent[0] + A.RATE_WINDOW_SECONDS - now) if recent else A.RATE_WINDOW_SECONDS
        scale = self._scale()
        # whole seconds, as the platform sends them; a scaled wait needs the fraction (a virtual minute
        # may be half a second of the client's)
        said = str(max(1, int(reset))) if scale == 1.0 else f"{max(1, int(reset)) * scale:.3f}"
        return {
            A.RATE_HEADER_ALLOWED: str(client.rate_limit),
            A.RATE_HEADER_COUNT: str(len(recent)),
            A.RATE_HEADER_RESET: said,
        }

    def _scale(self) -> float:
        return self.wait_scale if self.rate_on_virtual_clock else 1.0


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None
