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
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genesys_emulator import platform
from genesys_emulator.admin import router as admin_router
from genesys_emulator.admin_notifications import router as notifications_admin_router
from genesys_emulator.auth import Client, LoginError
from genesys_emulator.clock import VirtualClock, iso
from genesys_emulator.corrupt import corrupt_body
from genesys_emulator.errors import PlatformError, error_bytes, missing_permissions
from genesys_emulator.faults import Fault
from genesys_emulator.sockets import SocketHub, channel_socket
from genesys_emulator.state import World

JSON = "application/json"
Operation = Callable[[World, Request, Client, bytes], Response]
# A client gone before its request was read (killed, or timed out): a non-standard status nobody reads.
CLIENT_GONE = 499

_logger = logging.getLogger("genesys_emulator")


def json_response(payload: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(payload, status_code=status, media_type=JSON, headers=headers)


def error_response(error: PlatformError) -> Response:
    headers = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after is not None else None
    return json_response(
        error_bytes(error.status, error.code, error.message, error.params), error.status, headers
    )


def _log(world: World, method: str, path: str, status: int, client_id: str | None, body: bytes = b"") -> None:
    # never the body: message texts and secrets stay out of the log; an analytics query's interval and
    # paging hold neither, and show what discovery asked for (probes of size 1, windows, pages)
    entry: dict[str, Any] = {
        "at": iso(world.clock.now()),
        "method": method,
        "path": path,
        "status": status,
        "clientId": client_id,
    }
    if path == ANALYTICS_QUERY_PATH:
        entry.update(_query_shape(body))
    world.requests.append(entry)


ANALYTICS_QUERY_PATH = "/api/v2/analytics/conversations/details/query"


def _query_shape(body: bytes) -> dict[str, Any]:
    try:
        query = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(query, dict):
        return {}
    paging = query.get("paging")
    if not isinstance(paging, dict):
        paging = {}
    return {
        "interval": query.get("interval"),
        "pageSize": paging.get("pageSize"),
        "pageNumber": paging.get("pageNumber"),
    }


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
    elif kind == "state":
        world.admin_state(action["conversationId"], action["participantId"], action["state"])
    elif kind == "join":
        world.admin_join(action["conversationId"], action["participant"])


def endpoint(operation: Operation, *permissions: str) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an operation with faults, triggers, auth, rate limit, permissions, timers and logging."""

    async def handle(request: Request) -> Response:
        world: World = request.app.state.world
        method = request.method
        path = request.scope["path"]
        with _serving(world) as epoch:
            return await serve(world, request, method, path, epoch)

    async def serve(world: World, request: Request, method: str, path: str, epoch: int) -> Response:
        client, why = world.registry.client_for(request.headers.get("authorization"))
        body = await request.body() if method in ("POST", "PATCH", "PUT") else b""
        fault: Fault | None = None
        try:
            if world.faults:
                fault = await _faults_and_triggers(world, method, path, client.client_id if client else None)
            if client is None or why is not None:
                raise PlatformError(401, "bad.credentials", why or "Invalid login credentials.")
            with world.lock:
                world.registry.take(client)
                if permissions and not any(client.allows(p) for p in permissions):
                    raise missing_permissions(permissions)
                world.tick()
                response = operation(world, request, client, body)
        except PlatformError as error:
            response = error_response(error)
        if fault is not None and fault.corrupt and 200 <= response.status_code < 300:
            response = json_response(corrupt_body(bytes(response.body), fault.corrupt), response.status_code)
        if client is not None and why is None:
            # every answer to a known client carries its count, 429s and injected faults included
            with world.lock:
                response.headers.update(world.registry.rate_headers(client))
        if world.epoch == epoch:  # begun before a reset: another test's request, not this world's
            _log(world, method, path, response.status_code, client.client_id if client else None, body)
        return response

    return handle


async def _faults_and_triggers(world: World, method: str, path: str, client_id: str | None) -> Fault | None:
    """Run the matching triggers, then the first matching fault; returns that fault (it may still
    have an answer to corrupt). `client_id`: the client the request names, if any."""
    for action in world.faults.take_triggers(method, path, client_id):
        # a trigger whose action no longer applies (the conversation ended) does nothing
        with contextlib.suppress(PlatformError):
            _run_action(world, action)
    fault = world.faults.take_fault(method, path, client_id)
    if fault is None:
        return None
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.status is not None:
        code = fault.code or _FAULT_CODES.get(fault.status, "fault.injected")
        message = fault.message or f"Injected fault: {fault.status} {code}"
        raise PlatformError(fault.status, code, message, retry_after=fault.retry_after)
    return fault


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


@contextlib.contextmanager
def _serving(world: World) -> Iterator[int]:
    """Count a platform request as in flight (a reset waits for it); yields the world it began in."""
    world.in_flight += 1
    try:
        yield world.epoch
    finally:
        world.in_flight -= 1


async def oauth_token(request: Request) -> Response:
    world: World = request.app.state.world
    with _serving(world) as epoch:
        response = await _oauth_token(world, request)
        if world.epoch == epoch:  # begun before a reset: not this world's request
            _log(
                world,
                "POST",
                "/oauth/token",
                response.status_code,
                world.registry.basic_client_id(request.headers.get("authorization")),
            )
    return response


async def _oauth_token(world: World, request: Request) -> Response:
    authorization = request.headers.get("authorization")
    # the form is parsed here: python-multipart is not a dependency, and this form has one field
    form = parse_qs((await request.body()).decode("latin-1"))
    grant_type = form["grant_type"][0] if form.get("grant_type") else None
    try:
        if world.faults:
            await _faults_and_triggers(
                world, "POST", "/oauth/token", world.registry.basic_client_id(authorization)
            )
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


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 (a typed parameter that did not validate) as the platform's 400."""
    assert isinstance(exc, RequestValidationError)
    where = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    )
    return error_response(PlatformError(400, "bad.request", f"The request is not valid: {where}"))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """A client that went away before its request's body arrived (a reaper SIGKILLed or timing out
    mid-upload) is an ordinary event on a platform: counted and said in one line, no traceback. The
    request was never served, so it is not in the request log either."""
    world: World = request.app.state.world
    # said before it is counted: whoever waits on the count finds the line already written
    _logger.info("client went away before its request was read: %s %s", request.method, request.url.path)
    with world.lock:
        world.clients_gone += 1
    return Response(status_code=CLIENT_GONE)


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
        # FastAPI's generated document knows neither the platform routes nor any body: the emulator
        # serves its own at /emulator/v1/openapi.json (emulator/openapi.py)
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
    )
    app.state.world = world
    app.state.sockets = SocketHub(world)
    app.add_route("/oauth/token", oauth_token, methods=["POST"])
    for path, method, operation, permissions in platform.ROUTES:
        app.add_route(path, endpoint(operation, *permissions), methods=[method])
    app.add_api_websocket_route("/channels/{channel_id}", channel_socket)  # a channel's connectUri
    app.include_router(admin_router)
    app.include_router(notifications_admin_router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(ClientDisconnect, _client_gone)  # before Exception: handled, not re-raised
    app.add_exception_handler(Exception, _crash)
    app.add_middleware(DateHeader, clock=world.clock)
    return app
