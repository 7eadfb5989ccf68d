"""Wire a command's pieces together: settings -> an organization's credentials -> platform API -> ledger.

Commands stay thin: they call `open_runtime`, get an API and a ledger that are ready to use, and
turn the few meaningful failures into exit codes.

With `[orgs.NAME]` tables each organization gets a runtime of its own: its own token, its own pacer
at its `requests_per_minute`, its merged policy, and its own view of the one ledger of the process
(`Ledger.for_org`: its rows carry the org; its read schedule, discovery windows and recovery are its
own). Nothing but the ledger's connections is shared, so one organization's refused credentials or
outage is that organization's alone. Without `[orgs]` the runtime is exactly the one of
`GENESYSCLOUD_*`, its rows without an org.

With `keep_counts` (serve), the platform's count of the runtime's OAuth client is read from the ledger
before its first request and kept there while it runs (commands/platform_counts.py): a restart or a
replica on the same client starts paced on what the others saw.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from session_reaper.commands.platform_counts import CountKeeper, client_key, load_known_count
from session_reaper.config import (
    RETRY_BACKOFF_GROWTH,
    ConfigError,
    Credentials,
    Organization,
    Settings,
    SweepConfig,
)
from session_reaper.engine.off_loop import journalled
from session_reaper.errors import EXIT_ACTION_FAILED as EXIT_ACTION_FAILED
from session_reaper.errors import EXIT_AUTH as EXIT_AUTH
from session_reaper.errors import EXIT_OK as EXIT_OK
from session_reaper.errors import EXIT_USAGE as EXIT_USAGE
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.attempts import ResponseEvent
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import Endpoints, resolve
from session_reaper.genesys.retries import RetryPolicy
from session_reaper.ledger import Ledger


@dataclass
class Runtime:
    settings: Settings  # the organization's whole policy (its overrides merged)
    api: GenesysApi
    ledger: Ledger  # the organization's view of the process's ledger
    platform: GenesysPlatform  # the engine's port over `api`: one write proof for the process
    org: str | None = None  # None: the one organization of GENESYSCLOUD_*


def endpoints(credentials: Credentials) -> Endpoints:
    """Where an organization's platform is; an unknown region is a usage error (exit 2)."""
    return resolve(credentials.region, credentials.api_url, credentials.login_url)


def retry_policy(sweep: SweepConfig) -> RetryPolicy:
    """How an organization's platform requests are repeated: `[sweep] retry_backoff` is the first
    wait on a 5xx or no answer, doubled up to RETRY_BACKOFF_GROWTH times it (0.5 s -> 8 s by default)."""
    first = sweep.retry_backoff.total_seconds()
    return RetryPolicy(backoff_base=first, backoff_cap=first * RETRY_BACKOFF_GROWTH)


def organizations(
    settings: Settings, environ: Mapping[str, str] | None = None, *, only: Sequence[str] | None = None
) -> list[Organization]:
    """The organizations a command works on, every credential read and every host resolved first:
    a variable not set, a client shared, a region unknown stop the command before any request."""
    found = settings.organizations(os.environ if environ is None else environ, only=only)
    for organization in found:
        try:
            endpoints(organization.credentials)
        except ValueError as exc:
            if organization.name is None:
                raise
            raise ConfigError(f"[orgs.{organization.name}] region: {exc}") from None
    return found


def _one(settings: Settings, environ: Mapping[str, str], org: str | Organization | None) -> Organization:
    if isinstance(org, Organization):
        return org
    found = organizations(settings, environ, only=[org] if org is not None else None)
    if len(found) > 1:
        names = ", ".join(str(o.name) for o in found)
        raise ConfigError(f"several organizations are configured ({names}): name one (--org NAME)")
    return found[0]


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    org: str | Organization | None = None,
    ledger: Ledger | None = None,
    on_response: Callable[[ResponseEvent], None] | None = None,
    keep_counts: bool = False,
) -> AsyncIterator[Runtime]:
    """One organization's authenticated platform API and its view of an open ledger; closed on exit.

    `org`: an organization (`organizations(...)`) or its name; None = the only one (GENESYSCLOUD_*).
    `ledger`: a ledger shared by every organization of the process (else one is opened and closed).
    Bad credentials raise AuthenticationFailed before any work starts; `on_response` sees every
    platform answer (metrics). `keep_counts`: the platform's count of the client is shared through the
    ledger (a fixed access token names no client: nothing is shared).
    """
    env = os.environ if environ is None else environ
    organization = _one(settings, env, org)
    own = organization.settings
    credentials = organization.credentials
    where = endpoints(credentials)
    own_ledger = ledger is None
    shared = ledger if ledger is not None else Ledger.open(own.sweep.ledger)
    journal = shared.for_org(organization.name) if organization.name is not None else shared
    keeper: CountKeeper | None = None
    try:
        known = None
        if keep_counts and credentials.client_id and not credentials.access_token:
            client = client_key(where.api_base, credentials.client_id)
            known = await load_known_count(shared.platform_counts, client, concurrency=own.sweep.concurrency)
            keeper = CountKeeper(shared.platform_counts, client)
        async with GenesysApi.connect(
            where,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret.get_secret_value(),
            requests_per_minute=own.sweep.requests_per_minute,
            timeout=own.sweep.request_timeout.total_seconds(),
            retry=retry_policy(own.sweep),
            access_token=credentials.access_token.get_secret_value() if credentials.access_token else None,
            on_response=on_response,
            on_count=keeper.observe if keeper is not None else None,
            known_count=known,
        ) as api:
            yield Runtime(own, api, journal, GenesysPlatform(api), organization.name)
    finally:
        try:
            if keeper is not None:
                await keeper.aclose()  # its last save, while the ledger is still open
        finally:
            try:
                if journal is not shared:
                    # flushes its decisions (the connections stay the shared ledger's); off the loop and
                    # in turn, as the other orgs' loops may be calling the shared ledger meanwhile
                    await journalled(journal.close)
            finally:
                if own_ledger:
                    shared.close()
