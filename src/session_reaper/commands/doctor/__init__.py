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
from session_reaper.commands.doctor.verdicts import Check, Diagnosis, Status
from session_reaper.config import (
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    ConfigError,
    Credentials,
    CredentialsError,
    load_settings,
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


def diagnose(config: Path | None, environ: Mapping[str, str] | None = None) -> Diagnosis:
    """Run every check; never raises for a problem it can describe."""
    env = os.environ if environ is None else environ
    diagnosis = Diagnosis()
    try:
        settings = load_settings(config, environ=env)
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
    diagnosis.add(Check("config", Status.OK, f"{where} ({mode})"))
    ledger, code = ledger_check(settings.sweep.ledger)
    diagnosis.add(ledger, exit_code=code)
    try:
        credentials = Credentials.from_env(env)
    except CredentialsError as exc:
        diagnosis.add(
            Check(
                "credentials",
                Status.FAIL,
                str(exc),
                f"export {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and {ENV_REGION}",
            ),
            exit_code=EXIT_USAGE,
        )
        return diagnosis
    if credentials.access_token is not None:
        who = f"a ready access token from {ENV_ACCESS_TOKEN} (not shown)"
    else:
        who = f"client {credentials.client_id} from {ENV_CLIENT_ID}; secret set (not shown)"
    diagnosis.add(Check("credentials", Status.OK, who))
    try:
        endpoints = resolve(credentials.region, credentials.api_url, credentials.login_url)
    except ValueError as exc:
        diagnosis.add(
            Check(
                "region and hosts", Status.FAIL, str(exc), f"set {ENV_REGION} to e.g. us-east-1 or eu-west-1"
            ),
            exit_code=EXIT_USAGE,
        )
        return diagnosis
    host = diagnosis.add(host_check(endpoints, credentials), exit_code=EXIT_USAGE)
    if host.status is Status.FAIL:
        return diagnosis
    asyncio.run(platform_checks(settings, credentials, endpoints, diagnosis))
    return diagnosis


def run(
    config: Path | None,
    console: Console,
    environ: Mapping[str, str] | None = None,
    *,
    as_json: bool = False,
) -> int:
    """Diagnose, print (a ✓/✗ list, or one JSON object), and return the exit code."""
    diagnosis = diagnose(config, environ)
    if as_json:
        print(json.dumps(to_json(diagnosis), ensure_ascii=False), flush=True)
    else:
        render(console, diagnosis)
    return diagnosis.exit_code
