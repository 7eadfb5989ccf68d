"""One exception hierarchy for everything that can go wrong when talking to the platform.

Callers catch the few meaningful kinds (``PermissionMissing``, ``AuthenticationFailed``, ``NotFound``,
``Conflict``) and treat the rest as ``GenesysError``. Every error carries what the platform said (its
message, code and contextId, which support needs to trace a request) and which call failed, but never
a credential: messages come from the platform's error body, and the transport scrubs the client
secret and bearer tokens out of them before an error is built (see ``http.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from session_reaper.engine.ports import AlreadyDone, Gone, PlatformError, Refused
from session_reaper.errors import EXIT_AUTH


class GenesysError(PlatformError):
    """A platform call failed. ``status`` is None when no HTTP answer came back at all."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        context_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.context_id = context_id
        self.method = method
        self.path = path

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part)
        text = f"{head}: {self.message}" if head else self.message
        where = " ".join(part for part in (self.method, self.path) if part)
        extras = [where] if where else []
        if self.context_id:
            extras.append(f"contextId {self.context_id}")
        return f"{text} ({', '.join(extras)})" if extras else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r}, "
            f"context_id={self.context_id!r}, method={self.method!r}, path={self.path!r})"
        )


class BadRequest(GenesysError):
    """400: the platform rejected the request as malformed. Never retried."""


class AuthenticationFailed(GenesysError, Refused):
    """The credentials are wrong (token endpoint refused them) or a renewed token was refused again."""

    exit_code = EXIT_AUTH


class PermissionMissing(GenesysError, Refused):
    """403: the OAuth client's roles lack a permission. ``permissions`` names what the platform asked for."""

    exit_code = EXIT_AUTH

    def __init__(self, message: str, *, permissions: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.permissions: tuple[str, ...] = tuple(permissions)

    def __str__(self) -> str:
        base = super().__str__()
        if not self.permissions:
            return base
        named = ", ".join(f"{p} ({permission_label(p)})" for p in self.permissions)
        return f"{base}; missing permission: {named}"


class NotFound(GenesysError, Gone):
    """404: the conversation (or queue, ...) does not exist, or no longer does."""


class Conflict(GenesysError, AlreadyDone):
    """The target is already in another state: 409, or 400 ``conversation.participant.not.connected``.

    For a disconnect this means "already done": verify the conversation rather than fail.
    """


class RateLimited(GenesysError):
    """429 and the bounded retries ran out."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(GenesysError):
    """5xx and the bounded retries ran out."""


class TransportError(GenesysError):
    """No answer: connection refused, reset or timed out, and the bounded retries ran out."""


class MalformedResponse(GenesysError):
    """A 2xx answer the reaper cannot read: not JSON, a missing or mistyped field, a state it does not
    know, or more entries than any real conversation has. Nothing is done on what could not be read."""


# The platform's code for a PATCH on a participant who already left ([MODEL] in PLATFORM.md).
ALREADY_DISCONNECTED_CODES = frozenset({"conversation.participant.not.connected"})

# A permission as the platform spells it: domain:entity:action, e.g. conversation:communication:disconnect.
_PERMISSION = re.compile(r"\b[a-zA-Z][\w-]*:[a-zA-Z*][\w-]*:[a-zA-Z*][\w-]*\b")


def permission_label(permission: str) -> str:
    """The label the admin UI shows, named in a 403's message and by `doctor` alike.

    ``analytics:conversationDetail:view`` -> ``Analytics > Conversation Detail > View``.
    """
    parts = []
    for part in permission.split(":"):
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", part)
        parts.append(words[:1].upper() + words[1:])
    return " > ".join(parts)


def parse_error_body(content: bytes | str | None) -> Mapping[str, Any]:
    """The platform's ``ErrorBody`` (or an OAuth error) as a mapping; {} when it is not JSON."""
    if not content:
        return {}
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, Mapping) else {}


def missing_permissions(body: Mapping[str, Any]) -> tuple[str, ...]:
    """Every permission a 403 body names, from ``messageParams`` first, then from the message texts."""
    found: list[str] = []
    params = body.get("messageParams")
    candidates: list[str] = []
    if isinstance(params, Mapping):
        for value in params.values():
            if isinstance(value, str):
                candidates.append(value)
            elif isinstance(value, list | tuple):
                candidates.extend(str(v) for v in value)
    for key in ("message", "messageWithParams"):
        text = body.get(key)
        if isinstance(text, str):
            candidates.append(text)
    for details in body.get("details") or ():
        if isinstance(details, Mapping):
            candidates.extend(str(v) for v in details.values() if isinstance(v, str))
    for text in candidates:
        for match in _PERMISSION.findall(text):
            if match not in found:
                found.append(match)
    return tuple(found)


def error_for_response(
    status: int,
    body: Mapping[str, Any],
    *,
    method: str,
    path: str,
    context_id: str | None = None,
    retry_after: float | None = None,
) -> GenesysError:
    """Map one failed platform answer to the exception a caller can act on."""
    code = _text(body.get("code")) or _text(body.get("error"))
    message = (
        _text(body.get("message"))
        or _text(body.get("error_description"))
        or _text(body.get("description"))
        or f"HTTP {status}"
    )
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "context_id": _text(body.get("contextId")) or context_id,
        "method": method,
        "path": path,
    }
    if status == 400 and code in ALREADY_DISCONNECTED_CODES:
        return Conflict(message, **common)
    if status == 400:
        return BadRequest(message, **common)
    if status == 401:
        return AuthenticationFailed(message, **common)
    if status == 403:
        return PermissionMissing(message, permissions=missing_permissions(body), **common)
    if status == 404:
        return NotFound(message, **common)
    if status == 409:
        return Conflict(message, **common)
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **common)
    if status >= 500:
        return ServerError(message, **common)
    return GenesysError(message, **common)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
