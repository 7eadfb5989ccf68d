"""docs/permissions.md, generated from the capabilities doctor probes, so that it cannot drift from them."""

from __future__ import annotations

from session_reaper.genesys.capabilities import CAPABILITIES, Capability, known_permissions
from session_reaper.genesys.errors import permission_label

ROLE_NAME = "session-reaper"  # the role the guide has an administrator create


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
        "     `tools.permissions.permissions_markdown()`;",
        "     do not edit. Regenerate: .venv/bin/python -m tools.docs --write-docs -->",
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
