"""Wire a command's pieces together: settings -> credentials -> platform API -> ledger.

Commands stay thin: they call `open_runtime`, get an API and a ledger that are ready to use, and
turn the few meaningful failures into exit codes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from session_reaper.config import Credentials, Settings
from session_reaper.errors import EXIT_ACTION_FAILED as EXIT_ACTION_FAILED
from session_reaper.errors import EXIT_AUTH as EXIT_AUTH
from session_reaper.errors import EXIT_OK as EXIT_OK
from session_reaper.errors import EXIT_USAGE as EXIT_USAGE
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.http import ResponseEvent
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger


@dataclass
class Runtime:
    settings: Settings
    api: GenesysApi
    ledger: Ledger
    platform: GenesysPlatform  # the engine's port over `api`: one write proof for the process


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    ledger: Ledger | None = None,
    on_response: Callable[[ResponseEvent], None] | None = None,
) -> AsyncIterator[Runtime]:
    """An authenticated platform API and an open ledger; both closed on exit.

    Bad credentials raise AuthenticationFailed before any work starts; `on_response` sees every
    platform answer (metrics).
    """
    env = os.environ if environ is None else environ
    credentials = Credentials.from_env(env)
    endpoints = resolve(credentials.region, credentials.api_url, credentials.login_url)
    own_ledger = ledger is None
    journal = ledger if ledger is not None else Ledger.open(settings.sweep.ledger)
    try:
        async with GenesysApi.connect(
            endpoints,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret.get_secret_value(),
            requests_per_minute=settings.sweep.requests_per_minute,
            timeout=settings.sweep.request_timeout.total_seconds(),
            access_token=credentials.access_token.get_secret_value() if credentials.access_token else None,
            on_response=on_response,
        ) as api:
            yield Runtime(settings, api, journal, GenesysPlatform(api))
    finally:
        if own_ledger:
            journal.close()
