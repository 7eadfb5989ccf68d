"""The emulator's ASGI app: the platform's routes, and every cross-cutting behaviour around them.

Each platform request goes, in order, through: injected faults and triggers, the bearer token (401),
the client's rate limit (429), its permissions (403), the lazily applied timers, the operation itself,
and the request log. Handlers are plain Starlette endpoints on pre-rendered bytes: the emulator has to
serve well over a thousand reads a second on one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from session_reaper.emulator import platform
from session_reaper.emulator.admin import router as admin_router
from session_reaper.emulator.auth import Client, LoginError
from session_reaper.emulator.clock import VirtualClock, iso
from session_reaper.emulator.errors import PlatformError, error_bytes, missing_permissions
from session_reaper.emulator.state import World

JSON = "application/json"
Operation = Callable[[World, Request, Client, bytes], Response]


def json_response(payload: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(payload, status_code=status, media_type=JSON, headers=headers)


def error_response(error: PlatformError) -> Response:
    headers = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after is not None else None
    return json_response(
        error_bytes(error.status, error.code, error.message, error.params), error.status, headers
    )


def _log(world: World, method: str, path: str, status: int, client_id: str | None) -> None:
    # never the body: message texts and secrets stay out of the log
    world.requests.append(
        {
            "at": iso(world.clock.now()),
            "method": method,
            "path": path,
            "status": status,
            "clientId": client_id,
        }
    )


class DateHeader:
    """Every response carries a `Date` from the virtual clock (uvicorn's own is switched off)."""

    def __init__(self, app: ASGIApp, clock: VirtualClock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"date", self.clock.http_date().encode())]
            await send(message)

        await self.app(scope, receive, send_dated)


def _run_action(world: World, action: dict[str, Any]) -> None:
    kind = action["type"]
    if kind == "message":
        world.admin_message(action["conversationId"], action.get("from", "customer"), action.get("text"))
    elif kind == "advance":
        world.clock.advance(float(action["seconds"]))
    elif kind == "disconnect":
        with world.lock:
            world.disconnect_participant(action["conversationId"], action["participantId"])


def endpoint(operation: Operation, *permissions: str) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an operation with faults, triggers, auth, rate limit, permissions, timers and logging."""

    async def handle(request: Request) -> Response:
        world: World = request.app.state.world
        method = request.method
        path = request.scope["path"]
        client, why = world.registry.client_for(request.headers.get("authorization"))
        try:
            if world.faults:
                await _faults_and_triggers(world, method, path)
            if client is None or why is not None:
                raise PlatformError(401, "bad.credentials", why or "Invalid login credentials.")
            body = await request.body() if method in ("POST", "PATCH", "PUT") else b""
            with world.lock:
                world.registry.take(client)
                if permissions and not any(client.allows(p) for p in permissions):
                    raise missing_permissions(permissions)
                world.tick()
                response = operation(world, request, client, body)
        except PlatformError as error:
            response = error_response(error)
        if client is not None and why is None:
            # every answer to a known client carries its count, 429s and injected faults included
            with world.lock:
                response.headers.update(world.registry.rate_headers(client))
        _log(world, method, path, response.status_code, client.client_id if client else None)
        return response

    return handle


async def _faults_and_triggers(world: World, method: str, path: str) -> None:
    for action in world.faults.take_triggers(method, path):
        # a trigger whose action no longer applies (the conversation ended) does nothing
        with contextlib.suppress(PlatformError):
            _run_action(world, action)
    fault = world.faults.take_fault(method, path)
    if fault is None:
        return
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.status is not None:
        code = fault.code or _FAULT_CODES.get(fault.status, "fault.injected")
        message = fault.message or f"Injected fault: {fault.status} {code}"
        raise PlatformError(fault.status, code, message, retry_after=fault.retry_after)


_FAULT_CODES = {
    400: "bad.request",
    401: "bad.credentials",
    403: "missing.permissions",
    404: "not.found",
    409: "conflict",
    429: "too.many.requests",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}


async def oauth_token(request: Request) -> Response:
    world: World = request.app.state.world
    authorization = request.headers.get("authorization")
    client_id = world.registry.basic_client_id(authorization)
    # the form is parsed here: python-multipart is not a dependency, and this form has one field
    form = parse_qs((await request.body()).decode("latin-1"))
    grant_type = form["grant_type"][0] if form.get("grant_type") else None
    try:
        if world.faults:
            await _faults_and_triggers(world, "POST", "/oauth/token")
        with world.lock:
            _, token, ttl = world.registry.issue(authorization, grant_type)
        payload = json.dumps({"access_token": token, "token_type": "bearer", "expires_in": ttl}).encode()
        response = json_response(payload)
    except LoginError as error:
        body = {
            "error": error.error,
            "description": error.description,
            "error_description": error.description,
        }
        response = json_response(json.dumps(body).encode(), error.status)
    except PlatformError as error:
        response = error_response(error)
    _log(world, "POST", "/oauth/token", response.status_code, client_id)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 for an unknown route, 405 for a wrong method: in the platform's error shape, and logged."""
    assert isinstance(exc, StarletteHTTPException)
    world: World = request.app.state.world
    if exc.status_code == 405:
        error = PlatformError(
            405, "method.not.allowed", f"HTTP {request.method} is not supported by this resource."
        )
    elif exc.status_code == 404:
        error = PlatformError(404, "not.found", f"No resource at {request.url.path}.")
    else:
        error = PlatformError(exc.status_code, "bad.request", str(exc.detail))
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    if not request.url.path.startswith("/emulator/"):
        client, _ = world.registry.client_for(request.headers.get("authorization"))
        _log(
            world,
            request.method,
            request.url.path,
            response.status_code,
            client.client_id if client else None,
        )
    return response


async def _crash(request: Request, exc: Exception) -> Response:
    # served outside DateHeader (by Starlette's outermost middleware), so it dates itself
    response = error_response(
        PlatformError(500, "internal.server.error", f"The emulator failed: {type(exc).__name__}")
    )
    response.headers["Date"] = request.app.state.world.clock.http_date()
    return response


def create_app(world: World) -> FastAPI:
    app = FastAPI(
        title="Genesys Cloud emulator (session-reaper)",
        docs_url="/emulator/docs",
        openapi_url="/emulator/openapi.json",
        redoc_url=None,
    )
    app.state.world = world
    app.add_route("/oauth/token", oauth_token, methods=["POST"])
    for path, method, operation, permissions in platform.ROUTES:
        app.add_route(path, endpoint(operation, *permissions), methods=[method])
    app.include_router(admin_router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _crash)
    app.add_middleware(DateHeader, clock=world.clock)
    return app
