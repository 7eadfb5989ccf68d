"""Shared fixtures: one emulator per pytest(-xdist) worker, reset before every test that uses it.

`emulator` is an `EmulatorAdmin` (the admin API) with `.base_url` and `.platform`, an `httpx.Client`
already authenticated as the default client (`emulator` / `emulator-secret`), for judging the
platform's state through the platform API itself.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import httpx
import pytest

from session_reaper.emulator.client import EmulatorAdmin
from session_reaper.emulator.server import EmulatorServer

DEFAULT_CLIENT = ("emulator", "emulator-secret")


class BearerToken(httpx.Auth):
    """Client credentials: a token fetched up front (see `renew`), fetched again once after a 401."""

    def __init__(self, base_url: str, client_id: str, secret: str) -> None:
        self.base_url, self.client_id, self.secret = base_url, client_id, secret
        self.token = ""

    def renew(self) -> None:
        answer = httpx.post(
            f"{self.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.secret),
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:  # the virtual clock outran the token
            self.renew()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def platform_client(
    base_url: str, client_id: str = DEFAULT_CLIENT[0], secret: str = DEFAULT_CLIENT[1]
) -> httpx.Client:
    """An `httpx.Client` on the platform API, authenticated as an OAuth client of the emulator."""
    auth = BearerToken(base_url, client_id, secret)
    auth.renew()
    return httpx.Client(base_url=base_url, auth=auth, timeout=30)


class Emulator(EmulatorAdmin):
    """The admin API plus an authenticated platform client, bound to one running emulator."""

    def __init__(self, server: EmulatorServer) -> None:
        super().__init__(server.base_url)
        self.server = server
        self.platform = platform_client(server.base_url)

    def fresh(self) -> Emulator:
        """A new token (so that it outlives the test's clock moves), then an empty world and log."""
        auth = self.platform.auth
        assert isinstance(auth, BearerToken)
        auth.renew()
        self.reset()
        return self


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    # The default client's limit is raised far above the platform's 300/min: its sliding window would
    # otherwise carry over from test to test. Tests of the limit add a client of their own.
    with EmulatorServer(rate_limit=100_000) as server:
        yield server


@pytest.fixture(scope="session")
def _emulator_session(emulator_server: EmulatorServer) -> Iterator[Emulator]:
    emulator = Emulator(emulator_server)
    yield emulator
    emulator.platform.close()
    emulator.close()


@pytest.fixture
def emulator(_emulator_session: Emulator) -> Emulator:
    """A reset world: no conversations, queues, faults, triggers or logged requests; clients stay."""
    return _emulator_session.fresh()
