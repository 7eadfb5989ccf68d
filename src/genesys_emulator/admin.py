"""The `/emulator/v1` admin API (DESIGN.md's table, plus a few documented extras).

Open, never rate-limited, never logged. Bad input gets a 400 in the platform's error shape whose
message names each wrong field.

Extras beyond DESIGN.md:
- `POST /emulator/v1/conversations/batch` `{"conversations": [spec, ...]}` -> `{"ids": [...]}` (bulk loads)
- `GET /emulator/v1/conversations/{id}` -> the media view plus message texts
- `POST /emulator/v1/conversations/{id}/participants` (a participant spec) -> 201 the new participant id:
  someone joins now (an agent picks up, a flow takes over)
- `POST /emulator/v1/conversations/{id}/participants/{pid}/leave` `{"disconnectType": "endpoint"}`: someone
  leaves by itself; `transfer*` hands over without ending the conversation
- `POST /emulator/v1/conversations/{id}/participants/{pid}/wrapup` `{"code", "notes"}`: the agent applies
  its own wrap-up
- `POST /emulator/v1/conversations/{id}/participants/{pid}/state` `{"state": "connected"|"parked"}`: an
  offered agent accepts (connectedTime), a connected one parks (parkTime), a parked one resumes (resumeTime)
  (these let the traffic generator act as guests and agents without touching the request log)
- `POST /emulator/v1/queues` `{id, name, inactivityTimeoutSeconds, actionType, flowId}`;
  `GET /emulator/v1/queues`
- `GET /emulator/v1/faults`, `GET /emulator/v1/triggers`, `DELETE /emulator/v1/triggers`
- `GET /emulator/v1/openapi.json`: the OpenAPI document of every route the emulator serves (`openapi.py`)
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from genesys_emulator import openapi
from genesys_emulator.admin_common import guard as _guard
from genesys_emulator.admin_common import read_object as _object
from genesys_emulator.admin_common import reply as _reply
from genesys_emulator.admin_common import world_of as _world
from genesys_emulator.admin_notifications import router as notifications_router
from genesys_emulator.clock import iso, parse_iso
from genesys_emulator.errors import PlatformError, bad_request
from genesys_emulator.spec import ClientSpec, FaultSpec, TriggerSpec, explain

router = APIRouter(prefix="/emulator/v1", tags=["emulator admin"])


RESET_DRAIN_SECONDS = 5.0  # the longest a reset waits for platform requests being served


@router.post("/reset")
@_guard
async def reset(request: Request) -> Response:
    world = _world(request)
    # Let requests being served finish first (bounded: a fault may hold one for long), so that what
    # the last world's clients started never acts on, or shows in, the next one.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RESET_DRAIN_SECONDS
    while world.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.005)
    abandoned = world.in_flight
    world.reset()
    await request.app.state.sockets.close_all("The emulator was reset.")
    return _reply({"reset": True, "now": iso(world.clock.now()), "inFlight": abandoned})


@router.get("/clock")
@_guard
async def read_clock(request: Request) -> Response:
    world = _world(request)
    with world.lock:
        return _reply({"now": iso(world.tick())})


@router.post("/clock")
@_guard
async def move_clock(request: Request) -> Response:
    world = _world(request)
    body = await _object(request)
    unknown = set(body) - {"advanceSeconds", "set"}
    if unknown or len(body) != 1:
        raise bad_request('give exactly one of {"advanceSeconds": 600} or {"set": "2026-11-21T10:00:00Z"}')
    with world.lock:
        if "advanceSeconds" in body:
            seconds = body["advanceSeconds"]
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise bad_request(f"advanceSeconds must be a number >= 0, not {seconds!r}")
            try:
                world.clock.advance(float(seconds))
            except (ValueError, OverflowError) as exc:
                raise bad_request(f"advanceSeconds: {exc}") from None
        else:
            if not isinstance(body["set"], str):
                raise bad_request("set must be an ISO-8601 time string")
            try:
                world.clock.set(parse_iso(body["set"]))
            except ValueError as exc:
                raise bad_request(f"set: {exc}") from None
        return _reply({"now": iso(world.tick())})


@router.post("/conversations")
@_guard
async def create_conversation(request: Request) -> Response:
    world = _world(request)
    conv = world.create_conversation(await _object(request))
    with world.lock:
        return _reply(world.admin_view(conv), 201)


@router.post("/conversations/batch")
@_guard
async def create_conversations(request: Request) -> Response:
    world = _world(request)
    body = await _object(request)
    specs = body.get("conversations")
    if not isinstance(specs, list):
        raise bad_request('give {"conversations": [spec, ...]}')
    ids = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise bad_request(f"conversations[{index}]: must be an object")
        try:
            ids.append(world.create_conversation(spec).id)
        except PlatformError as error:
            raise PlatformError(
                error.status, error.code, f"conversations[{index}]: {error.message}"
            ) from None
    return _reply({"ids": ids}, 201)


@router.get("/conversations/{conversation_id}")
@_guard
async def read_conversation(request: Request) -> Response:
    world = _world(request)
    with world.lock:
        world.tick()
        return _reply(world.admin_view(world.conversation(request.path_params["conversation_id"])))


@router.post("/conversations/{conversation_id}/messages")
@_guard
async def write_message(request: Request) -> Response:
    world = _world(request)
    body = await _object(request)
    unknown = set(body) - {"from", "text"}
    if unknown:
        raise bad_request(f"unknown field(s) {sorted(unknown)}; give from and text")
    sender, text = body.get("from", "customer"), body.get("text")
    if not isinstance(sender, str) or (text is not None and not isinstance(text, str)):
        raise bad_request("from must be 'customer', 'agent' or a participant id, and text a string")
    return _reply(world.admin_message(request.path_params["conversation_id"], sender, text), 201)


@router.post("/conversations/{conversation_id}/participants")
@_guard
async def join(request: Request) -> Response:
    leg = _world(request).admin_join(request.path_params["conversation_id"], await _object(request))
    return _reply({"id": leg.id, "communicationId": leg.communication_id}, 201)


@router.post("/conversations/{conversation_id}/participants/{participant_id}/leave")
@_guard
async def leave(request: Request) -> Response:
    body = await _object(request, required=False)
    kind = body.get("disconnectType", "endpoint")
    if not isinstance(kind, str):
        raise bad_request("disconnectType must be a string such as 'endpoint' or 'transfer'")
    params = request.path_params
    _world(request).admin_leave(params["conversation_id"], params["participant_id"], kind.lower())
    return _reply({"left": params["participant_id"]})


@router.post("/conversations/{conversation_id}/participants/{participant_id}/state")
@_guard
async def change_state(request: Request) -> Response:
    body = await _object(request)
    params = request.path_params
    _world(request).admin_state(params["conversation_id"], params["participant_id"], body.get("state", ""))
    return _reply({"participantId": params["participant_id"], "state": str(body.get("state")).lower()})


@router.post("/conversations/{conversation_id}/participants/{participant_id}/wrapup")
@_guard
async def agent_wrapup(request: Request) -> Response:
    params = request.path_params
    _world(request).admin_wrapup(params["conversation_id"], params["participant_id"], await _object(request))
    return _reply({"wrappedUp": params["participant_id"]})


@router.post("/faults")
@_guard
async def add_fault(request: Request) -> Response:
    try:
        spec = FaultSpec.model_validate(await _object(request))
    except ValidationError as exc:
        raise bad_request(explain(exc)) from None
    return _reply(_world(request).faults.add_fault(spec).to_json(), 201)


@router.get("/faults")
@_guard
async def list_faults(request: Request) -> Response:
    return _reply({"faults": [f.to_json() for f in _world(request).faults.faults]})


@router.delete("/faults")
@_guard
async def clear_faults(request: Request) -> Response:
    _world(request).faults.clear_faults()
    return _reply({"faults": []})


@router.post("/triggers")
@_guard
async def add_trigger(request: Request) -> Response:
    world = _world(request)
    try:
        spec = TriggerSpec.model_validate(await _object(request))
    except ValidationError as exc:
        raise bad_request(explain(exc)) from None
    if spec.action.conversationId and spec.action.conversationId not in world.conversations:
        raise bad_request(f"action.conversationId: no conversation {spec.action.conversationId}")
    return _reply(world.faults.add_trigger(spec).to_json(), 201)


@router.get("/triggers")
@_guard
async def list_triggers(request: Request) -> Response:
    return _reply({"triggers": [t.to_json() for t in _world(request).faults.triggers]})


@router.delete("/triggers")
@_guard
async def clear_triggers(request: Request) -> Response:
    _world(request).faults.clear_triggers()
    return _reply({"triggers": []})


@router.get("/requests")
@_guard
async def list_requests(request: Request) -> Response:
    return _reply({"requests": list(_world(request).requests)})


@router.delete("/requests")
@_guard
async def clear_requests(request: Request) -> Response:
    _world(request).requests.clear()
    return _reply({"requests": []})


@router.post("/clients")
@_guard
async def add_client(request: Request) -> Response:
    world = _world(request)
    try:
        spec = ClientSpec.model_validate(await _object(request))
    except ValidationError as exc:
        raise bad_request(explain(exc)) from None
    with world.lock:
        client = world.registry.add_client(
            spec.clientId,
            spec.clientSecret,
            spec.permissions,
            spec.rateLimitPerMinute,
            spec.tokenTtlSeconds,
            spec.name,
            spec.organization,
        )
    return _reply(
        {
            "clientId": client.client_id,
            "permissions": sorted(client.permissions),
            "rateLimitPerMinute": client.rate_limit,
            "tokenTtlSeconds": client.token_ttl,
            "organization": client.organization,
        },
        201,
    )


@router.post("/queues")
@_guard
async def configure_queue(request: Request) -> Response:
    queue = _world(request).configure_queue(await _object(request))
    return _reply(_queue_json(queue.id, request), 201)


@router.get("/queues")
@_guard
async def list_queues(request: Request) -> Response:
    world = _world(request)
    return _reply({"queues": [_queue_json(q, request) for q in sorted(world.queues)]})


def _queue_json(queue_id: str, request: Request) -> dict[str, Any]:
    queue = _world(request).queues[queue_id]
    return {
        "id": queue.id,
        "name": queue.name,
        "inactivityTimeoutSeconds": queue.inactivity_seconds,
        "actionType": queue.action_type,
        "flowId": queue.flow_id,
    }


@router.get("/openapi.json")
@_guard
async def openapi_document(request: Request) -> Response:
    return _reply(document())


def document() -> dict[str, Any]:
    """The OpenAPI document of the emulator: the platform routes and this router's."""
    admin = [
        (route.path, method, route.endpoint.__name__)
        for route in (*router.routes, *notifications_router.routes)
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
    ]
    return openapi.build_document(admin)
