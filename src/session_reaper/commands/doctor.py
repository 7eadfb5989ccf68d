"""`session-reaper doctor`: is everything the configured behaviour needs really there?

Each check ends with ✓ (there), ✗ (missing; with a one-line fix), ⚠ (worth knowing, never fatal) or –
(not needed by this configuration). In order: the policy file, the audit ledger (opened, and a write
proved in a transaction rolled back), the credentials in the environment, region and hosts, a token, the
organization behind it (``GET /api/v2/tokens/me``), every permission the configured rules need, and the
queues whose own message inactivity timer is off.

Permissions are judged from the platform's real answers, never guessed from a role's name: each
operation the reaper uses is called once on a conversation that cannot exist (a random UUID). The
platform checks the permission before it looks the conversation up, so ``403`` means the permission
is missing and ``404`` (or any other refusal about the request itself) means it is there. Nothing is
changed anywhere: there is nothing to change. Reads are probed the same way; discovery with an
analytics query over the last minute, one conversation a page.

Exit codes: 0 everything needed is there; 2 configuration (policy file, ledger URL, ``GENESYSCLOUD_*``
variables, region); 3 authentication or a needed permission; 1 the platform (or the ledger's
database) could not be asked: unreachable, 5xx.

``python -m session_reaper.commands.doctor --write-docs`` regenerates README.md's configuration reference
(from ``config.reference_markdown()``) and docs/permissions.md (from ``CAPABILITIES``);
``--check-docs`` says whether they are current.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.markup import escape

from session_reaper.config import (
    ENV_ACCESS_TOKEN,
    ENV_API_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REGION,
    ConfigError,
    Credentials,
    CredentialsError,
    Settings,
    load_settings,
    reference_markdown,
)
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.capabilities import (
    CAPABILITIES,
    Capability,
    known_permissions,
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
from session_reaper.genesys.regions import REGIONS, Endpoints, resolve

# A doctor answers in seconds: a wrong host or a struggling platform is reported, not waited out.
_RETRY = RetryPolicy(max_attempts=3, max_transport_attempts=2, backoff_cap=2.0, max_retry_after=10.0)

ROLE_NAME = "session-reaper"
MAX_QUEUES_LISTED = 25  # one ⚠ line each; the rest in one line (every one of them in --json)


# ------------------------------------------------------------------------------------------ checks


class Status(Enum):
    OK = "ok"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


_MARK = {
    Status.OK: "[green]✓[/]",
    Status.FAIL: "[bold red]✗[/]",
    Status.WARN: "[yellow]⚠[/]",
    Status.SKIP: "[dim]–[/]",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"check": self.name, "status": self.status.value, "detail": self.detail}
        if self.fix:
            data["fix"] = self.fix
        return data


@dataclass
class Diagnosis:
    checks: list[Check] = field(default_factory=list)
    exit_code: int = EXIT_OK
    queues_without_timer: list[dict[str, str]] = field(default_factory=list)

    def add(self, check: Check, *, exit_code: int | None = None) -> Check:
        self.checks.append(check)
        if exit_code is not None and check.status is Status.FAIL:
            self.fail(exit_code)
        return check

    def fail(self, exit_code: int) -> None:
        # Configuration beats authentication beats "could not ask": say the most fundamental problem.
        order = {EXIT_OK: 0, EXIT_ACTION_FAILED: 1, EXIT_AUTH: 2, EXIT_USAGE: 3}
        if order[exit_code] > order[self.exit_code]:
            self.exit_code = exit_code


def _grant(permissions: Sequence[str]) -> str:
    if not permissions:
        return "grant the OAuth client's role the permission the platform names in its 403"
    labels = " or ".join(f"'{permission_label(p)}' ({p})" for p in permissions)
    return (
        f"grant the role {labels} to the OAuth client (Admin > Roles / Permissions, then the client's Roles)"
    )


# Hosts the forums suggest that are not Genesys Cloud at all.
_WRONG_HOSTS = {
    "mynicecxone.com": "NICE CXone's, another vendor's platform",
    "mygen.com": "made up; Genesys Cloud has no such domain",
}
_GENESYS_SUFFIXES = tuple(sorted({d for d in REGIONS.values()} | {"pure.cloud", "us-gov-pure.cloud"}))


def _host_check(endpoints: Endpoints, credentials: Credentials) -> Check:
    host = urlsplit(endpoints.api_base).hostname or ""
    login_host = urlsplit(endpoints.login_base).hostname or ""
    where = f"API {endpoints.api_base}, login {endpoints.login_base}"
    source = f"{ENV_API_URL}" if credentials.api_url else f"{ENV_REGION}={credentials.region or 'us-east-1'}"
    for checked in (host, login_host):
        for wrong, why in _WRONG_HOSTS.items():
            if checked == wrong or checked.endswith("." + wrong):
                return Check(
                    "region and hosts",
                    Status.FAIL,
                    f"{checked} is {why} ({source})",
                    f"set {ENV_REGION} to your organization's region (e.g. us-east-1, eu-west-1) "
                    f"and unset {ENV_API_URL}",
                )
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    genesys = any(host == s or host.endswith("." + s) for s in _GENESYS_SUFFIXES)
    if not (loopback or genesys):
        return Check(
            "region and hosts",
            Status.WARN,
            f"{where} ({source}): not a Genesys Cloud domain; fine for a gateway",
            f"unless a gateway forwards to Genesys Cloud, unset {ENV_API_URL} and set {ENV_REGION}",
        )
    note = " (loopback: the emulator?)" if loopback else ""
    return Check("region and hosts", Status.OK, f"{where} ({source}){note}")


def _ledger_check(url: str) -> tuple[Check, int | None]:
    """Whether the audit ledger opens and takes a write (in a transaction rolled back: no change)."""
    from session_reaper.ledger import LedgerUnavailable, LedgerUrlError, migrate
    from session_reaper.ledger.opening import probe

    fix_url = 'set [sweep] ledger = "sqlite:///session-reaper.db" or "postgresql://user@host/db"'
    try:
        found = probe(url)
    except LedgerUrlError as exc:
        return Check("ledger", Status.FAIL, str(exc), fix_url), EXIT_USAGE
    except LedgerUnavailable as exc:
        fix = "check the database is reachable and the user may connect (PGPASSWORD for PostgreSQL)"
        if exc.unreachable:
            return Check("ledger", Status.FAIL, str(exc), fix), EXIT_ACTION_FAILED
        return Check("ledger", Status.FAIL, str(exc), fix_url if "sqlite" in exc.ledger else fix), EXIT_USAGE
    shown = found.shown
    if found.in_memory:
        return Check("ledger", Status.WARN, f"{shown}: in memory, nothing is kept", fix_url), None
    if not found.exists:
        return Check(
            "ledger", Status.OK, f"{shown}: created at the first sweep (its directory is writable)"
        ), None
    if found.revision is None:
        return Check(
            "ledger", Status.OK, f"{shown}: reachable and writable; the schema is created at the first sweep"
        ), None
    if found.revision == migrate.head():
        return Check(
            "ledger", Status.OK, f"{shown}: schema revision {found.revision} (current), writable"
        ), None
    known = {rev.revision for rev in migrate.script_directory().walk_revisions()}
    if found.revision not in known:
        return (
            Check(
                "ledger",
                Status.FAIL,
                f"{shown}: schema revision {found.revision} is newer than this session-reaper knows",
                "upgrade session-reaper",
            ),
            EXIT_USAGE,
        )
    return Check(
        "ledger", Status.OK, f"{shown}: schema revision {found.revision}, upgraded at the first sweep"
    ), None


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


async def _platform(
    settings: Settings, credentials: Credentials, endpoints: Endpoints, diagnosis: Diagnosis
) -> None:
    secret = credentials.client_secret.get_secret_value()
    token = credentials.access_token.get_secret_value() if credentials.access_token else None
    try:
        async with GenesysApi.connect(
            endpoints,
            client_id=credentials.client_id or None,
            client_secret=secret or None,
            access_token=token,
            requests_per_minute=settings.sweep.requests_per_minute,
            timeout=15.0,
            retry=_RETRY,
        ) as api:
            how = "the access token in " + ENV_ACCESS_TOKEN if token else "client credentials grant"
            diagnosis.add(Check("token", Status.OK, f"accepted ({how}) by {endpoints.login_base}"))
            await _organization(api, diagnosis)
            if diagnosis.exit_code != EXIT_OK:
                return
            await _permissions(api, settings, diagnosis)
    except AuthenticationFailed as exc:
        diagnosis.add(
            Check(
                "token",
                Status.FAIL,
                f"refused: {exc}",
                f"check {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}: an OAuth client with the Client Credentials "
                f"grant, in the organization of {ENV_REGION}",
            ),
            exit_code=EXIT_AUTH,
        )
    except TransportError as exc:
        diagnosis.add(
            Check(
                "token",
                Status.FAIL,
                f"no answer from {endpoints.login_base}: {exc}",
                f"check {ENV_REGION} / {ENV_API_URL}, DNS, proxy and outbound HTTPS",
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


async def _organization(api: GenesysApi, diagnosis: Diagnosis) -> None:
    try:
        me = await api.token_info()
    except AuthenticationFailed as exc:
        diagnosis.add(
            Check("organization", Status.FAIL, f"token refused: {exc}", f"check {ENV_CLIENT_ID}"),
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


async def _permissions(api: GenesysApi, settings: Settings, diagnosis: Diagnosis) -> None:
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
                Check(name, Status.FAIL, f"token refused: {error}", f"check {ENV_CLIENT_ID}"),
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
    ledger, code = _ledger_check(settings.sweep.ledger)
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
    host = diagnosis.add(_host_check(endpoints, credentials), exit_code=EXIT_USAGE)
    if host.status is Status.FAIL:
        return diagnosis
    asyncio.run(_platform(settings, credentials, endpoints, diagnosis))
    return diagnosis


def render(console: Console, diagnosis: Diagnosis) -> None:
    for check in diagnosis.checks:
        console.print(f"{_MARK[check.status]} [bold]{escape(check.name)}[/]: {escape(check.detail)}")
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            console.print(f"    [dim]fix:[/] {escape(check.fix)}")
    verdict = {
        EXIT_OK: "[green]Everything the configured rules need is there.[/]",
        EXIT_ACTION_FAILED: "[bold red]The platform could not be asked; nothing was judged.[/]",
        EXIT_USAGE: "[bold red]Configuration problem: fix it first.[/]",
        EXIT_AUTH: "[bold red]Authentication or permissions missing: see the fixes above.[/]",
    }[diagnosis.exit_code]
    console.print(verdict)


def to_json(diagnosis: Diagnosis) -> dict[str, Any]:
    return {
        "checks": [check.to_json() for check in diagnosis.checks],
        "queuesWithoutTimer": list(diagnosis.queues_without_timer),
        "exitCode": diagnosis.exit_code,
    }


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


# ---------------------------------------------------------------------------- docs kept in sync


def operation_text(capability: Capability) -> str:
    """``PATCH /api/v2/conversations/messages/{conversationId}/participants/{participantId}``."""
    path = (
        capability.path.replace("{cid}", "{conversationId}")
        .replace("{pid}", "{participantId}")
        .replace("{commid}", "{communicationId}")
    )
    return f"{capability.method} {path}"


def permissions_markdown() -> str:
    """docs/permissions.md, generated from ``CAPABILITIES`` so that it cannot drift from the doctor."""
    rows = []
    for capability in CAPABILITIES:
        if capability.permissions:
            allowed = "<br>or ".join(f"`{p}`<br>{permission_label(p)}" for p in capability.permissions)
        else:
            allowed = "none listed by our sources; probed anyway"
        rows.append(
            f"| {capability.title} | `{operation_text(capability)}` | {allowed} | {capability.when} |"
        )
    permission_rows = [f"| `{p}` | {permission_label(p)} |" for p in known_permissions()]
    out = [
        "# Permissions",
        "",
        "<!-- Generated from src/session_reaper/genesys/capabilities.py (CAPABILITIES) by",
        "     `doctor.permissions_markdown()`;",
        "     do not edit. Regenerate: .venv/bin/python -m session_reaper.commands.doctor --write-docs -->",
        "",
        "A client-credentials OAuth client has no user: it is authorized by the **roles** granted to it,",
        "not by OAuth scopes (`webchat:write`, `conversation:write` and the like authorize nothing here).",
        "session-reaper needs one role with the permissions below.",
        "",
        "## Create the role and the OAuth client",
        "",
        f"1. **Admin > Roles / Permissions > Add role**, named e.g. `{ROLE_NAME}`. On its *Permission* tab,",
        "   add every permission of the first table (search by the label; the name is what a 403 says).",
        "2. **Admin > Integrations > OAuth > Add client** (*IT and Integrations* in newer menus): grant type",
        f"   **Client Credentials**. On its *Roles* tab, assign `{ROLE_NAME}` with the division(s) that hold",
        "   the queues in scope (Home, or every division).",
        "3. Save, copy the client id and secret into `GENESYSCLOUD_OAUTHCLIENT_ID` and",
        "   `GENESYSCLOUD_OAUTHCLIENT_SECRET`, and run `session-reaper doctor`.",
        "",
        "| permission | label in the admin UI |",
        "|---|---|",
        *permission_rows,
        "",
        "## What each operation needs, and when",
        "",
        "Where several permissions are listed, any one of them allows the operation. The source of each",
        "is in docs/platform-notes.md; operations for which no source lists a permission are modelled (in",
        "the emulator) as needing only a valid token. The doctor probes them anyway and names whatever",
        "permission a real 403 asks for.",
        "",
        "| operation | call | permission | needed when |",
        "|---|---|---|---|",
        *rows,
        "",
        "## How `doctor` judges a permission",
        "",
        "From the platform's own answers, never from the role's name. Each operation is called once on a",
        "conversation id that cannot exist (a random UUID), with a well-formed body. The platform checks",
        "the permission before it looks the conversation up, so:",
        "",
        "- `403 missing.permissions` = the permission is missing (the body names it);",
        "- `404 not.found` (or `400`/`409` about the request itself) = the permission is there;",
        "- discovery is an analytics query over the last minute, one conversation a page;",
        "- the queue check lists queues (`GET /api/v2/routing/queues`) and reads",
        "  `mediaSettings.message.enableInactivityTimeout` of each queue in scope.",
        "",
        "Nothing is changed: there is no conversation to change. `doctor` exits 0 when everything the",
        "configuration needs is there, 3 when a needed permission is missing or the credentials are",
        "refused, 2 on a configuration error (policy file, `GENESYSCLOUD_*` variables, region), 1 when the",
        "platform could not be asked. A missing queue permission is a warning only.",
        "",
        "An applying `sweep` or `serve` proves the same way, before its first write, each write its",
        "configuration needs (no teardown probe with `allow_teardown = false`, no wrap-up probe without",
        "`wrapup_code`, ...): five requests with the defaults, once per process (`serve`: again after a",
        "403 or every 15 minutes), none in a dry run. A missing one stops it with exit 3, naming the",
        "permission, before any guest is written to.",
        "",
    ]
    return "\n".join(out)


README = Path(__file__).resolve().parents[3] / "README.md"
PERMISSIONS_DOC = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def readme_block(text: str) -> str | None:
    """What README.md holds between the markers (without the marker lines); None = no markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip("\n")


def with_reference(text: str) -> str:
    """README text with the block between the markers replaced by ``reference_markdown()``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {START} ... {END} markers")
    return text[: start + len(START)] + "\n" + reference_markdown().strip("\n") + "\n" + text[end:]


def stale_docs(readme: Path = README, permissions_doc: Path = PERMISSIONS_DOC) -> list[str]:
    """The generated documents that differ from the code (empty = all current)."""
    stale = []
    if readme_block(readme.read_text(encoding="utf-8")) != reference_markdown().strip("\n"):
        stale.append(str(readme))
    if not permissions_doc.is_file() or permissions_doc.read_text(encoding="utf-8") != permissions_markdown():
        stale.append(str(permissions_doc))
    return stale


def write_docs(readme: Path = README, permissions_doc: Path = PERMISSIONS_DOC) -> list[str]:
    """Regenerate README.md's configuration reference and docs/permissions.md; the files changed."""
    changed = []
    text = readme.read_text(encoding="utf-8")
    updated = with_reference(text)
    if updated != text:
        readme.write_text(updated, encoding="utf-8")
        changed.append(str(readme))
    generated = permissions_markdown()
    if not permissions_doc.is_file() or permissions_doc.read_text(encoding="utf-8") != generated:
        permissions_doc.write_text(generated, encoding="utf-8")
        changed.append(str(permissions_doc))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``--write-docs``: regenerate the generated docs; ``--check-docs``: exit 1 when one is stale."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--write-docs"]:
        try:
            changed = write_docs()
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for path in changed:
            print(f"regenerated {path}")
        return 0
    if args == ["--check-docs"]:
        stale = stale_docs()
        for path in stale:
            print(f"{path} is stale: run .venv/bin/python -m session_reaper.commands.doctor --write-docs")
        return 1 if stale else 0
    print("usage: python -m session_reaper.commands.doctor --write-docs | --check-docs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
