"""The checks that ask the platform: a token, the organization behind it, each permission, queues' timers.

Permissions are judged from real answers on a conversation that cannot exist (see the package's docstring).
"""

from __future__ import annotations

from collections.abc import Sequence

from session_reaper.commands.doctor.notifications import notifications_check
from session_reaper.commands.doctor.verdicts import Check, Diagnosis, Names, Status
from session_reaper.config import (
    ENV_ACCESS_TOKEN,
    Credentials,
    Settings,
)
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.capabilities import (
    CAPABILITIES,
    probe,
)
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    GenesysError,
    PermissionMissing,
    TransportError,
    permission_label,
)
from session_reaper.genesys.http import RetryPolicy
from session_reaper.genesys.regions import Endpoints

# A doctor answers in seconds: a wrong host or a struggling platform is reported, not waited out.
_PROBE_TIMEOUT = 15.0  # seconds
_RETRY = RetryPolicy(max_attempts=3, max_transport_attempts=2, backoff_cap=2.0, max_retry_after=10.0)

MAX_QUEUES_LISTED = 25  # one ⚠ line each; the rest in one line (every one of them in --json)


def _grant(permissions: Sequence[str]) -> str:
    if not permissions:
        return "grant the OAuth client's role the permission the platform names in its 403"
    labels = " or ".join(f"'{permission_label(p)}' ({p})" for p in permissions)
    return (
        f"grant the role {labels} to the OAuth client (Admin > Roles / Permissions, then the client's Roles)"
    )


async def _queues(api: GenesysApi, settings: Settings, diagnosis: Diagnosis) -> None:
    include = set(settings.sweep.queues.include)
    exclude = set(settings.sweep.queues.exclude)
    on: list[str] = []
    off: list[dict[str, str]] = []
    try:
        async for queue in api.list_queues():
            queue_id = str(queue.get("id", ""))
            if (include and queue_id not in include) or queue_id in exclude:
                continue
            name = str(queue.get("name") or queue_id)
            message = ((queue.get("mediaSettings") or {}).get("message")) or {}
            if message.get("enableInactivityTimeout"):
                timeout = (message.get("inactivityTimeoutSettings") or {}).get("timeoutSeconds")
                on.append(f"{name}" + (f" ({timeout}s)" if timeout else ""))
            else:
                off.append({"id": queue_id, "name": name})
    except GenesysError as exc:
        diagnosis.add(Check("queue inactivity timers", Status.WARN, f"could not list the queues: {exc}"))
        return
    diagnosis.queues_without_timer = off
    total = len(on) + len(off)
    scope = " in scope" if include or exclude else ""
    if not total:
        diagnosis.add(Check("queue inactivity timers", Status.OK, f"no queues{scope}"))
        return
    summary = f"platform timer on in {len(on)} of {total} queue(s){scope}"
    if on:
        summary += ": " + ", ".join(on)
    if not off:
        diagnosis.add(Check("queue inactivity timers", Status.OK, summary))
        return
    diagnosis.add(Check("queue inactivity timers", Status.OK if on else Status.WARN, summary))
    for queue in off[:MAX_QUEUES_LISTED]:
        diagnosis.add(
            Check(
                f"queue {queue['name']}",
                Status.WARN,
                f"platform inactivity timer off (queue id {queue['id']}): only session-reaper ends "
                "its idle conversations",
                "optional: turn on the queue's message inactivity timeout (Admin > Queues > Message) "
                "to let the platform end idle conversations too",
            )
        )
    if len(off) > MAX_QUEUES_LISTED:
        more = len(off) - MAX_QUEUES_LISTED
        diagnosis.add(
            Check("more queues", Status.WARN, f"{more} more with the timer off (all of them: doctor --json)")
        )


async def platform_checks(
    settings: Settings,
    credentials: Credentials,
    endpoints: Endpoints,
    diagnosis: Diagnosis,
    names: Names | None = None,
) -> None:
    names = names or Names()
    secret = credentials.client_secret.get_secret_value()
    token = credentials.access_token.get_secret_value() if credentials.access_token else None
    try:
        async with GenesysApi.connect(
            endpoints,
            client_id=credentials.client_id or None,
            client_secret=secret or None,
            access_token=token,
            requests_per_minute=settings.sweep.requests_per_minute,
            # no more patient than the sweep will be (a platform slower than `request_timeout` is the
            # finding), and no longer than 15 s a probe however patient the sweep is
            timeout=min(_PROBE_TIMEOUT, settings.sweep.request_timeout.total_seconds()),
            retry=_RETRY,
        ) as api:
            how = "the access token in " + ENV_ACCESS_TOKEN if token else "client credentials grant"
            diagnosis.add(Check("token", Status.OK, f"accepted ({how}) by {endpoints.login_base}"))
            await _organization(api, diagnosis, names)
            if diagnosis.exit_code != EXIT_OK:
                return
            await _permissions(api, settings, diagnosis, names)
            await notifications_check(api, settings, diagnosis)
    except AuthenticationFailed as exc:
        diagnosis.add(
            Check(
                "token",
                Status.FAIL,
                f"refused: {exc}",
                f"check {names.client_id} and {names.client_secret}: an OAuth client with the Client "
                f"Credentials grant, in the organization of {names.region}",
            ),
            exit_code=EXIT_AUTH,
        )
    except TransportError as exc:
        diagnosis.add(
            Check(
                "token",
                Status.FAIL,
                f"no answer from {endpoints.login_base}: {exc}",
                f"check {names.region} / {names.api_url}, DNS, proxy and outbound HTTPS",
            ),
            exit_code=EXIT_ACTION_FAILED,
        )
    except GenesysError as exc:
        diagnosis.add(
            Check(
                "token", Status.FAIL, f"the platform failed: {exc}", "try again; if it persists, check status"
            ),
            exit_code=EXIT_ACTION_FAILED,
        )


async def _organization(api: GenesysApi, diagnosis: Diagnosis, names: Names) -> None:
    try:
        me = await api.token_info()
    except AuthenticationFailed as exc:
        diagnosis.add(
            Check("organization", Status.FAIL, f"token refused: {exc}", f"check {names.client_id}"),
            exit_code=EXIT_AUTH,
        )
        return
    except GenesysError as exc:
        diagnosis.add(
            Check("organization", Status.FAIL, f"GET /api/v2/tokens/me failed: {exc}", "try again"),
            exit_code=EXIT_ACTION_FAILED if not isinstance(exc, PermissionMissing) else EXIT_AUTH,
        )
        return
    org = me.get("organization") or {}
    client = me.get("OAuthClient") or me.get("oAuthClient") or {}
    detail = f"{org.get('name', '?')} ({org.get('id', '?')})"
    if client:
        detail += f"; OAuth client {client.get('name') or client.get('id')!s}"
        grant = client.get("authorizedGrantType")
        if grant:
            detail += f", grant {grant}"
    diagnosis.add(Check("organization", Status.OK, detail))


async def _permissions(api: GenesysApi, settings: Settings, diagnosis: Diagnosis, names: Names) -> None:
    queues_allowed = False
    for capability in CAPABILITIES:
        why = capability.needed(settings)
        result, error = await probe(api, capability, settings)
        asked = error.permissions if isinstance(error, PermissionMissing) and error.permissions else ()
        permissions = asked or capability.permissions
        named = (
            " or ".join(f"{p} ({permission_label(p)})" for p in permissions)
            or "no permission listed by the sources"
        )
        name = f"permission: {capability.title}"
        if capability.key == "queues":
            queues_allowed = result == "present"
        if result == "auth":
            diagnosis.add(
                Check(name, Status.FAIL, f"token refused: {error}", f"check {names.client_id}"),
                exit_code=EXIT_AUTH,
            )
            return
        if why is None:
            state = {"present": "allowed", "missing": "not allowed", "unknown": "unknown"}[result]
            diagnosis.add(Check(name, Status.SKIP, f"not needed by this configuration ({state}; {named})"))
            continue
        if result == "present":
            diagnosis.add(Check(name, Status.OK, f"{named} — needed: {why}"))
        elif result == "missing":
            status = Status.WARN if capability.warning_only else Status.FAIL
            diagnosis.add(
                Check(
                    name,
                    status,
                    f"missing {'one of ' if len(permissions) > 1 else ''}{named} — needed: {why}",
                    _grant(permissions),
                ),
                exit_code=EXIT_AUTH,
            )
        else:
            status = Status.WARN if capability.warning_only else Status.FAIL
            diagnosis.add(
                Check(
                    name, status, f"could not tell: {error}", "run doctor again; the platform did not answer"
                ),
                exit_code=EXIT_ACTION_FAILED,
            )
    if queues_allowed:
        await _queues(api, settings, diagnosis)
    else:
        diagnosis.add(
            Check(
                "queue inactivity timers",
                Status.WARN,
                "not checked: the client may not read queues",
                _grant(("routing:queue:view",)),
            )
        )
