"""Who is asking the console, and may they act: tokens, roles, login sessions and CSRF.

Two tokens from the environment: the operator's (`SESSION_REAPER_CONSOLE_TOKEN`: read and act) and
the viewer's (`SESSION_REAPER_CONSOLE_VIEWER_TOKEN`: read only), compared in constant time
(`hmac.compare_digest`). Scripts send one as `Authorization: Bearer <token>` (and may name the person
with `X-Console-User`); the page logs in with a form, which opens a server-side session held in memory
(random id -> name, role, CSRF token, expiry) named by an HttpOnly, SameSite=Strict cookie.

A bearer request carries no ambient credential, so it needs no CSRF token; a cookie does, so every
state-changing request made with one must echo the session's CSRF token (`X-CSRF-Token` header or a
`csrf_token` form field). With no token configured nothing is authenticated: every console request
gets 401 (only the login page answers, saying the console is not configured).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

OPERATOR_TOKEN_ENV = "SESSION_REAPER_CONSOLE_TOKEN"
VIEWER_TOKEN_ENV = "SESSION_REAPER_CONSOLE_VIEWER_TOKEN"
COOKIE = "session_reaper_console"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
USER_HEADER = "X-Console-User"
SESSION_TTL_SECONDS = 8 * 3600.0  # a working shift; the page logs in again after that
NAME_MAX = 80
DEFAULT_API_USER = "api"
FORM_MAX_BYTES = 16_384  # a login form is two short fields


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: Role
    csrf: str | None  # the session's CSRF token; None for a bearer request (no ambient credential)

    @property
    def may_act(self) -> bool:
        return self.role is Role.OPERATOR


@dataclass(slots=True)
class _Session:
    identity: Identity
    expires: float  # time.monotonic()


def clean_name(raw: str | None, default: str) -> str:
    """A person's name as the ledger and the report show it: printable, one line, bounded."""
    text = "".join(c for c in (raw or "") if c.isprintable()).strip()
    return text[:NAME_MAX] if text else default


def refusal(status: int, error: str, message: str) -> Response:
    return JSONResponse({"error": error, "message": message}, status_code=status)


class Auth:
    """The console's tokens and its login sessions (one process: sessions live in memory)."""

    def __init__(self, operator_token: str | None, viewer_token: str | None) -> None:
        self._tokens: tuple[tuple[bytes, Role], ...] = tuple(
            (token.encode(), role)
            for token, role in ((operator_token, Role.OPERATOR), (viewer_token, Role.VIEWER))
            if token
        )
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Auth:
        return cls(environ.get(OPERATOR_TOKEN_ENV) or None, environ.get(VIEWER_TOKEN_ENV) or None)

    @property
    def configured(self) -> bool:
        return bool(self._tokens)

    def role_of(self, token: str) -> Role | None:
        """The role a token grants; every configured token is compared, in constant time each."""
        given = token.encode()
        found: Role | None = None
        for expected, role in self._tokens:
            if hmac.compare_digest(given, expected) and found is None:
                found = role
        return found

    # -- sessions -------------------------------------------------------------------------------

    def open_session(self, name: str, role: Role) -> tuple[str, Identity]:
        session_id = secrets.token_urlsafe(32)
        identity = Identity(name, role, secrets.token_urlsafe(32))
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[session_id] = _Session(identity, now + SESSION_TTL_SECONDS)
        return session_id, identity

    def session(self, session_id: str) -> Identity | None:
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if found.expires <= time.monotonic():
                del self._sessions[session_id]
                return None
            return found.identity

    def close_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    # -- requests -------------------------------------------------------------------------------

    def identify(self, request: Request) -> Identity | Response:
        """The identity behind a request, or the 401 to answer."""
        if not self.configured:
            return refusal(
                401,
                "unauthenticated",
                f"the console is not configured: set {OPERATOR_TOKEN_ENV} (and optionally"
                f" {VIEWER_TOKEN_ENV}) for serve",
            )
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            role = self.role_of(token.strip()) if scheme.lower() == "bearer" else None
            if role is None:
                return refusal(401, "unauthenticated", "the bearer token is not a console token")
            return Identity(clean_name(request.headers.get(USER_HEADER), DEFAULT_API_USER), role, None)
        session_id = request.cookies.get(COOKIE)
        identity = self.session(session_id) if session_id else None
        if identity is None:
            return refusal(
                401, "unauthenticated", "log in at /console/login or send Authorization: Bearer <token>"
            )
        return identity

    async def authorize(self, request: Request, *, act: bool) -> Identity | Response:
        """The identity that may do this, or the 401/403 to answer (nothing has been done yet)."""
        identity = self.identify(request)
        if isinstance(identity, Response) or not act:
            return identity
        if not identity.may_act:
            return refusal(403, "forbidden", f"{identity.name} is a viewer: acting needs the operator token")
        if identity.csrf is not None:
            sent = request.headers.get(CSRF_HEADER) or await _form_field(request, CSRF_FIELD)
            if not sent or not hmac.compare_digest(sent.encode(), identity.csrf.encode()):
                return refusal(403, "csrf", f"missing or wrong {CSRF_HEADER}: reload the console page")
        return identity

    # -- the login form -------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """POST /console/login (fields `name`, `token`): a session cookie, then the console."""
        form = await _form(request)
        role = self.role_of(form.get("token", "")) if self.configured else None
        if role is None:
            failed = "not-configured" if not self.configured else "invalid"
            return RedirectResponse(f"/console/login?failed={failed}", status_code=303)
        session_id, _ = self.open_session(clean_name(form.get("name"), role.value), role)
        answer = RedirectResponse("/console", status_code=303)
        answer.set_cookie(
            COOKIE,
            session_id,
            max_age=int(SESSION_TTL_SECONDS),
            path="/",
            httponly=True,
            samesite="strict",
            secure=_https(request),
        )
        return answer

    async def logout(self, request: Request) -> Response:
        """POST /console/logout: the session ends here and now (its CSRF token is required)."""
        identity = self.identify(request)
        session_id = request.cookies.get(COOKIE)
        if isinstance(identity, Identity) and identity.csrf is not None and session_id:
            sent = request.headers.get(CSRF_HEADER) or await _form_field(request, CSRF_FIELD)
            if not sent or not hmac.compare_digest(sent.encode(), identity.csrf.encode()):
                return refusal(403, "csrf", f"missing or wrong {CSRF_HEADER}: reload the console page")
            self.close_session(session_id)
        answer = RedirectResponse("/console/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
        return answer


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (first value each); anything else reads as empty."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items() if values}


async def _form_field(request: Request, name: str) -> str | None:
    return (await _form(request)).get(name)
