"""The platform operations the reaper uses, the permissions each needs, and how to prove one.

One catalog (``CAPABILITIES``) for `doctor` (which reports every one), docs/permissions.md (generated
from it) and an applying sweep, which proves the write permissions its configuration needs before
its first write (``WriteProof``): a guest must never read "This chat was closed…" from a reaper that
cannot then close the chat.

A permission is judged from the platform's real answer, never guessed: the operation is sent once on
a conversation that cannot exist. ``403`` = missing; ``404`` (or another refusal about the request
itself) = present.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from session_reaper.config import Settings
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.discovery import build_query
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    GenesysError,
    NotFound,
    PermissionMissing,
)


@dataclass(frozen=True)
class Capability:
    """One platform operation the reaper uses, the permissions that allow it, and when it is needed.

    ``permissions``: any one of them allows the operation (what the platform's 403 names), as in
    docs/platform-notes.md. Empty = no source lists one; the operation is probed all the same, and a
    403 names what the platform asks for.
    """

    key: str
    title: str
    method: str
    path: str  # with {cid}, {pid}, {commid}: filled with random UUIDs for the probe
    permissions: tuple[str, ...]
    body: Callable[[Settings], Any] | None
    needed: Callable[[Settings], str | None]  # why it is needed by this configuration; None = not needed
    when: str  # when the configuration needs it, for docs/permissions.md
    warning_only: bool = False  # missing = ⚠, never a failure
    idempotent: bool = True


def _always(reason: str) -> Callable[[Settings], str | None]:
    return lambda settings: reason


def _enabled(settings: Settings, *rules: str) -> list[str]:
    return [name for name in rules if settings.rules.get(name).enabled]


def _rules(names: Sequence[str]) -> str:
    return ("rules " if len(names) > 1 else "rule ") + ", ".join(names)


def _needs_participant_disconnect(settings: Settings) -> str | None:
    rules = _enabled(settings, "idle", "customer-left")
    return f"{_rules(rules)} disconnect the agent" if rules else None


def _needs_conversation_disconnect(settings: Settings) -> str | None:
    rules = _enabled(settings, "queue-abandoned", "flow-stuck")
    if rules:
        return f"{_rules(rules)} disconnect the conversation"
    escalating = _enabled(settings, "idle", "customer-left")
    return "a participant disconnect that does not end the conversation escalates" if escalating else None


def _needs_teardown(settings: Settings) -> str | None:
    if not settings.close.allow_teardown:
        return None
    return "[close] allow_teardown = true (rule orphaned, last escalation)"


def _needs_annotate(settings: Settings) -> str | None:
    return "[close] annotate = true" if settings.close.annotate else None


def _needs_send(settings: Settings) -> str | None:
    reasons = []
    if settings.close.closing_text:
        reasons.append("[close] closing_text is set")
    if settings.close.warn_before > timedelta(0):
        reasons.append("[close] warn_before > 0")
    return " and ".join(reasons) or None


def _needs_wrapup(settings: Settings) -> str | None:
    if not settings.close.wrapup_code:
        return None
    if not settings.rules.get("acw-stuck").enabled:
        return None
    return "[close] wrapup_code is set (rule acw-stuck)"


_MESSAGES = "/api/v2/conversations/messages/{cid}"

CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        key="discover",
        title="find unended message conversations (analytics query)",
        method="POST",
        path="/api/v2/analytics/conversations/details/query",
        permissions=("analytics:conversationDetail:view",),
        body=None,  # built from the platform's clock at probe time
        needed=_always("every sweep discovers conversations"),
        when="always",
    ),
    Capability(
        key="read",
        title="read a conversation (participants, communications, wrap-up)",
        method="GET",
        path="/api/v2/conversations/{cid}",
        permissions=("conversation:communication:view",),
        body=None,
        needed=_always("every decision reads the conversation"),
        when="always",
    ),
    Capability(
        key="recheck",
        title="re-read a message conversation just before acting",
        method="GET",
        path=_MESSAGES,
        permissions=(),
        body=None,
        needed=_always("every action re-reads the conversation first"),
        when="always",
    ),
    Capability(
        key="disconnect-participant",
        title="disconnect a participant (the idle or lingering agent)",
        method="PATCH",
        path=_MESSAGES + "/participants/{pid}",
        permissions=("conversation:communication:disconnect",),
        body=lambda settings: {"state": "disconnected"},
        needed=_needs_participant_disconnect,
        when="rules idle or customer-left enabled (the default)",
    ),
    Capability(
        key="disconnect-conversation",
        title="disconnect a whole conversation",
        method="PATCH",
        path=_MESSAGES,
        permissions=("conversation:communication:disconnect", "conversation:message:park"),
        body=lambda settings: {"state": "disconnected"},
        needed=_needs_conversation_disconnect,
        when="rules queue-abandoned or flow-stuck enabled (the default); to escalate an agent disconnect",
    ),
    Capability(
        key="teardown",
        title="tear a conversation down (last resort)",
        method="POST",
        path="/api/v2/conversations/{cid}/disconnect",
        permissions=("conversation:communication:disconnect",),
        body=None,
        needed=_needs_teardown,
        when="`[close] allow_teardown = true` (the default)",
    ),
    Capability(
        key="annotate",
        title="write participant attributes (reaper.rule, reaper.reason, reaper.closedAt)",
        method="PATCH",
        path=_MESSAGES + "/participants/{pid}/attributes",
        permissions=(),
        body=lambda settings: {"attributes": {"reaper.doctor": "probe"}},
        needed=_needs_annotate,
        when="`[close] annotate = true` (the default)",
    ),
    Capability(
        key="send-message",
        title="send the warning and closing texts to the guest",
        method="POST",
        path=_MESSAGES + "/communications/{commid}/messages",
        permissions=("conversation:message:create", "conversation:webmessaging:create"),
        body=lambda settings: {"textBody": "session-reaper doctor probe"},
        needed=_needs_send,
        when="`[close] closing_text` not empty (the default) or `warn_before` > 0",
        idempotent=False,
    ),
    Capability(
        key="wrapup",
        title="apply a wrap-up code for an agent left in after-call work",
        method="POST",
        path=_MESSAGES + "/participants/{pid}/communications/{commid}/wrapup",
        permissions=(),
        body=lambda settings: {"code": settings.close.wrapup_code or str(uuid.uuid4())},
        needed=_needs_wrapup,
        when="`[close] wrapup_code` set (default: empty) and rule acw-stuck enabled",
    ),
    Capability(
        key="queues",
        title="read queues (which have the platform's own inactivity timer)",
        method="GET",
        path="/api/v2/routing/queues",
        permissions=("routing:queue:view",),
        body=None,
        needed=_always("doctor lists queues whose inactivity timer is off"),
        when="optional: `doctor` lists queues whose own inactivity timer is off (missing = a warning)",
        warning_only=True,
    ),
)


def known_permissions() -> tuple[str, ...]:
    """Every permission the doctor knows, in the order of the capabilities that need them."""
    found: list[str] = []
    for capability in CAPABILITIES:
        for permission in capability.permissions:
            if permission not in found:
                found.append(permission)
    return tuple(found)


async def probe(
    api: GenesysApi, capability: Capability, settings: Settings, *, caller: str = "doctor"
) -> tuple[str, GenesysError | None]:
    """("present" | "missing" | "auth" | "unknown", the error that decided it).

    The operation is called once on ids that cannot exist (random UUIDs): the platform checks the
    permission before it looks the conversation up, so nothing is ever changed.
    """
    ids = {"cid": str(uuid.uuid4()), "pid": str(uuid.uuid4()), "commid": str(uuid.uuid4())}
    path = capability.path.format(**ids)
    params: Mapping[str, str | int] | None = None
    if capability.key == "discover":
        now = api.clock.now()
        body: Any = build_query(
            now - timedelta(minutes=1),
            now,
            channels=list(settings.sweep.channels) or ["webmessaging"],
            page_size=1,
        )
    elif capability.key == "queues":
        body, params = None, {"pageSize": 1, "pageNumber": 1}
    else:
        body = capability.body(settings) if capability.body else None
    try:
        await api.http.request(
            capability.method,
            path,
            operation=f"{caller}:{capability.key}",
            json=body,
            params=params,
            idempotent=capability.idempotent,
        )
    except PermissionMissing as exc:
        return "missing", exc
    except AuthenticationFailed as exc:
        return "auth", exc
    except (NotFound, BadRequest, Conflict) as exc:
        # The platform got past the permission check and judged the request (a random id): allowed.
        return "present", exc
    except GenesysError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
            return "present", exc
        return "unknown", exc
    return "present", None


WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# `serve` proves again at most this often (and after any 403): a role can change under a running service.
PROOF_MAX_AGE = timedelta(minutes=15)


def needed_writes(settings: Settings) -> tuple[Capability, ...]:
    """The write operations this configuration can send (discovery is a POST that only reads)."""
    return tuple(
        c for c in CAPABILITIES if c.method in WRITE_METHODS and c.key != "discover" and c.needed(settings)
    )


@dataclass
class WriteProof:
    """Whether the write permissions the configuration needs have been proven, and when.

    Kept for the life of a process (a one-shot sweep proves once; `serve` shares one across passes
    and proves again after ``max_age`` or after a write was refused with 403).
    """

    max_age: timedelta = PROOF_MAX_AGE
    probes_sent: int = 0
    _proven_at: float | None = None
    _clock: Callable[[], float] = time.monotonic
    _lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None  # bound to the loop that proves

    def forget(self) -> None:
        """A write was refused: the next write must be preceded by a new proof."""
        self._proven_at = None

    def fresh(self) -> bool:
        at = self._proven_at
        return at is not None and self._clock() - at < self.max_age.total_seconds()

    async def prove(self, api: GenesysApi, settings: Settings) -> None:
        """Return once every needed write is allowed. A missing one raises ``PermissionMissing``
        naming every missing permission; a probe the platform did not judge (5xx, no answer) raises
        its ``GenesysError``: nothing is written on an unproven permission."""
        if self.fresh():
            return
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:  # concurrent workers wait for one proof instead of sending their own
            if self.fresh():
                return
            missing: list[tuple[Capability, PermissionMissing]] = []
            for capability in needed_writes(settings):
                self.probes_sent += 1
                result, error = await probe(api, capability, settings, caller="preflight")
                if result == "auth" and error is not None:
                    raise error
                if result == "missing" and isinstance(error, PermissionMissing):
                    missing.append((capability, error))
                elif result == "unknown" and error is not None:
                    raise error
            if missing:
                raise _missing(missing, settings)
            self._proven_at = self._clock()


def _missing(
    missing: Sequence[tuple[Capability, PermissionMissing]], settings: Settings
) -> PermissionMissing:
    """One error naming every missing permission, and what each is needed for."""
    permissions: list[str] = []
    needs = []
    for capability, error in missing:
        permissions.extend(p for p in error.permissions or capability.permissions if p not in permissions)
        needs.append(f"{capability.title} (needed: {capability.needed(settings)})")
    first = missing[0][1]
    return PermissionMissing(
        "nothing was written: the OAuth client may not " + "; nor ".join(needs),
        permissions=permissions,
        status=first.status,
        code=first.code,
    )
