"""`session-reaper doctor`: is everything the configured behaviour needs really there?

Each check ends with ✓ (there), ✗ (missing; with a one-line fix), ⚠ (worth knowing, never fatal) or –
(not needed by this configuration). In order: the policy file, the audit ledger (opened, and a write
proved in a transaction rolled back), the credentials in the environment, region and hosts, a token, the
organization behind it (``GET /api/v2/tokens/me``), every permission the configured rules need, the
queues whose own message inactivity timer is off, and in events mode whether a notification channel
can be created and which queue topics the platform rejects (``notifications``).

Permissions are judged from the platform's real answers, never guessed from a role's name: each
operation the reaper uses is called once on a conversation that cannot exist (a random UUID). The
platform checks the permission before it looks the conversation up, so ``403`` means the permission
is missing and ``404`` (or any other refusal about the request itself) means it is there. Nothing is
changed anywhere: there is nothing to change. Reads are probed the same way; discovery with an
analytics query over the last minute, one conversation a page.

With `[orgs.NAME]` tables the file and the ledger are checked once, then every organization (or the
one `--org` names) in a section of its own: its credentials (the variables its table names), hosts,
token, organization, permissions and queues; one organization's problem is its section's, and the
exit code is the worst of them.

Exit codes: 0 everything needed is there; 2 configuration (policy file, ledger URL, ``GENESYSCLOUD_*``
variables, region); 3 authentication or a needed permission; 1 the platform (or the ledger's
database) could not be asked: unreachable, 5xx.

docs/permissions.md is generated from the same ``CAPABILITIES`` (``python -m tools.docs --write-docs``).

The package: ``verdicts`` (a check, a diagnosis), ``local_checks`` (what needs no platform: the
ledger, the hosts), ``probes`` (what asks the platform), ``output`` (the ✓/✗ list and --json); this
module runs them in order.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from session_reaper.commands.doctor.local_checks import host_check, ledger_check
from session_reaper.commands.doctor.output import render, to_json
from session_reaper.commands.doctor.probes import MAX_QUEUES_LISTED, platform_checks
from session_reaper.commands.doctor.verdicts import Check, Diagnosis, Names, Status
from session_reaper.config import (
    ENV_ACCESS_TOKEN,
    ENV_REGION,
    ConfigError,
    Credentials,
    CredentialsError,
    OrgSettings,
    Settings,
    load_settings,
    org_credentials,
)
from session_reaper.errors import EXIT_USAGE
from session_reaper.genesys.capabilities import CAPABILITIES, known_permissions
from session_reaper.genesys.errors import permission_label
from session_reaper.genesys.regions import resolve

__all__ = [
    "CAPABILITIES",
    "MAX_QUEUES_LISTED",
    "Check",
    "Diagnosis",
    "Status",
    "diagnose",
    "known_permissions",
    "permission_label",
    "render",
    "run",
    "to_json",
]


def diagnose(
    config: Path | None, environ: Mapping[str, str] | None = None, *, org: str | None = None
) -> Diagnosis:
    """Run every check; never raises for a problem it can describe.

    With `[orgs]`: the file and the ledger once, then a section per organization (or `org` alone).
    """
    env = os.environ if environ is None else environ
    diagnosis = Diagnosis()
    try:
        settings = load_settings(config, environ=env)
        chosen = [settings.org(org)] if org is not None else list(settings.orgs)
    except ConfigError as exc:
        diagnosis.add(
            Check(
                "config", Status.FAIL, str(exc), "fix the file at the line named (see README: configuration)"
            ),
            exit_code=EXIT_USAGE,
        )
        return diagnosis
    where = str(settings.source) if settings.source else "no file: the built-in defaults"
    mode = "apply" if settings.sweep.apply else "dry run unless --apply"
    if settings.orgs:
        mode += f"; organizations {', '.join(o.name for o in settings.orgs)}"
    diagnosis.add(Check("config", Status.OK, f"{where} ({mode})"))
    ledger, code = ledger_check(settings.sweep.ledger)
    diagnosis.add(ledger, exit_code=code)
    if not settings.orgs:
        _organization(settings, env, diagnosis)
        return diagnosis
    clients: dict[str, str] = {}
    for one in chosen:
        section = Diagnosis(org=one.name)
        _organization(one.settings, env, section, one, clients)
        diagnosis.sections.append(section)
        diagnosis.fail(section.exit_code)
    return diagnosis


def _organization(
    settings: Settings,
    env: Mapping[str, str],
    diagnosis: Diagnosis,
    org: OrgSettings | None = None,
    clients: dict[str, str] | None = None,
) -> None:
    """Credentials, hosts and what the platform says, for the one organization or one of `[orgs]`."""
    names = Names.of_org(org) if org is not None else Names()
    try:
        credentials = org_credentials(org, env) if org is not None else Credentials.from_env(env)
    except CredentialsError as exc:
        diagnosis.add(
            Check(
                "credentials",
                Status.FAIL,
                str(exc),
                f"export {names.client_id}, {names.client_secret}"
                + (f" and {ENV_REGION}" if org is None else ""),
            ),
            exit_code=EXIT_USAGE,
        )
        return
    if org is not None and clients is not None:
        other = clients.setdefault(credentials.client_id, org.name)
        if other != org.name:
            diagnosis.add(
                Check(
                    "credentials",
                    Status.FAIL,
                    f"{org.client_id_env} holds the client id of org {other}",
                    "give each organization its own OAuth client",
                ),
                exit_code=EXIT_USAGE,
            )
            return
    if credentials.access_token is not None:
        who = f"a ready access token from {ENV_ACCESS_TOKEN} (not shown)"
    else:
        who = f"client {credentials.client_id} from {names.client_id}; secret set (not shown)"
    diagnosis.add(Check("credentials", Status.OK, who))
    try:
        endpoints = resolve(credentials.region, credentials.api_url, credentials.login_url)
    except ValueError as exc:
        diagnosis.add(
            Check(
                "region and hosts",
                Status.FAIL,
                str(exc),
                f"set {names.region} to e.g. us-east-1 or eu-west-1",
            ),
            exit_code=EXIT_USAGE,
        )
        return
    host = diagnosis.add(host_check(endpoints, credentials, names), exit_code=EXIT_USAGE)
    if host.status is Status.FAIL:
        return
    asyncio.run(platform_checks(settings, credentials, endpoints, diagnosis, names))


def run(
    config: Path | None,
    console: Console,
    environ: Mapping[str, str] | None = None,
    *,
    as_json: bool = False,
    org: str | None = None,
) -> int:
    """Diagnose, print (a ✓/✗ list, or one JSON object), and return the exit code."""
    diagnosis = diagnose(config, environ, org=org)
    if as_json:
        print(json.dumps(to_json(diagnosis), ensure_ascii=False), flush=True)
    else:
        render(console, diagnosis)
    return diagnosis.exit_code
