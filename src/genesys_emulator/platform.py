"""The platform's operations (PLATFORM.md's table), each with the permissions it needs.

Permissions come from the SDK's and CLI's generated documentation where they list any; see
docs/platform-notes.md. Operations whose docs list none need only a valid token.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from genesys_emulator import analytics, notifications_api, views
from genesys_emulator import assumptions as A
from genesys_emulator.auth import Client
from genesys_emulator.errors import bad_request, missing_permissions
from genesys_emulator.state import Queue, World

JSON = "application/json"
DISCONNECT = "conversation:communication:disconnect"
ANALYTICS = "analytics:conversationDetail:view"
COMMUNICATION_VIEW = "conversation:communication:view"
QUEUE_VIEW = A.QUEUE_VIEW_PERMISSION


def _ok(payload: bytes, status: int = 200) -> Response:
    return Response(payload, status_code=status, media_type=JSON)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json(body: bytes) -> Any:
    if not body.strip():
        raise bad_request("The request body is empty; a JSON body is required.")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise bad_request(f"Unable to parse the request body as JSON: {exc}") from None


def _object(body: bytes) -> dict[str, Any]:
    value = _json(body)
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.")
    return value


def _param(request: Request, name: str) -> str:
    return str(request.path_params[name])


def tokens_me(world: World, request: Request, client: Client, body: bytes) -> Response:
    org = {"id": A.ORGANIZATION_ID, "name": A.ORGANIZATION_NAME}
    oauth_client = {
        "id": client.client_id,
        "name": client.name,
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "state": "Active",
        "organization": org,
    }
    me = {"organization": org, "homeOrganization": org, "authorizedScope": [], "OAuthClient": oauth_client}
    return _ok(_dump(me))


def details_query(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(analytics.run(world, _json(body)))


def media_view(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(world.media_view(_param(request, "cid")))


def generic_view(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(world.generic_view(_param(request, "cid")))


def disconnect_conversation(world: World, request: Request, client: Client, body: bytes) -> Response:
    payload = _object(body)
    state = payload.get("state")
    if not isinstance(state, str) or state.lower() != "disconnected":
        raise bad_request(f'Only {{"state": "disconnected"}} is supported on a conversation, not {state!r}.')
    conv = world.disconnect_conversation(_param(request, "cid"))
    return _ok(views.generic_bytes(conv))  # the answer to a write shows the truth, whatever the read delay


def patch_participant(world: World, request: Request, client: Client, body: bytes) -> Response:
    payload = _object(body)
    if payload.get("state") is not None and not client.allows(DISCONNECT):
        raise missing_permissions((DISCONNECT,))
    world.patch_participant(_param(request, "cid"), _param(request, "pid"), payload)
    return Response(status_code=202)


def patch_attributes(world: World, request: Request, client: Client, body: bytes) -> Response:
    payload = _object(body)
    attributes = payload.get("attributes")
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise bad_request("'attributes' must be an object of string values.")
    merged = world.set_attributes(_param(request, "cid"), _param(request, "pid"), attributes)
    return _ok(_dump({"attributes": merged}))


def send_message(world: World, request: Request, client: Client, body: bytes) -> Response:
    payload = _object(body)
    text = payload.get("textBody")
    if not isinstance(text, str) or not text:
        raise bad_request("'textBody' is required.")
    return _ok(_dump(world.send_message(_param(request, "cid"), _param(request, "commid"), text)), 202)


def wrapup(world: World, request: Request, client: Client, body: bytes) -> Response:
    world.apply_wrapup(
        _param(request, "cid"), _param(request, "pid"), _param(request, "commid"), _object(body)
    )
    return Response(status_code=202)


def wrapup_codes(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(_dump(world.wrapup_codes(_param(request, "cid"), _param(request, "pid"))))


def generic_wrapup_codes(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(_dump(world.wrapup_codes(_param(request, "cid"), _param(request, "pid"), any_media=True)))


def teardown(world: World, request: Request, client: Client, body: bytes) -> Response:
    world.teardown(_param(request, "cid"))
    return _ok(_dump("Conversation teardown requested."), 202)


def _queue(queue: Queue) -> dict[str, Any]:
    message: dict[str, Any] = {
        "alertingTimeoutSeconds": 30,
        "enableAutoAnswer": False,
        "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
        "enableInactivityTimeout": queue.inactivity_seconds is not None,
    }
    if queue.inactivity_seconds is not None:
        settings: dict[str, Any] = {
            "timeoutSeconds": queue.inactivity_seconds,
            "actionType": queue.action_type,
        }
        if queue.flow_id:
            settings["flowId"] = {"id": queue.flow_id, "selfUri": f"/api/v2/flows/{queue.flow_id}"}
        message["inactivityTimeoutSettings"] = settings
    return {
        "id": queue.id,
        "name": queue.name,
        "division": {
            "id": A.DIVISION_ID,
            "name": A.DIVISION_NAME,
            "selfUri": f"/api/v2/authorization/divisions/{A.DIVISION_ID}",
        },
        "memberCount": 0,
        "mediaSettings": {"message": message},
        "selfUri": f"/api/v2/routing/queues/{queue.id}",
    }


def get_queue(world: World, request: Request, client: Client, body: bytes) -> Response:
    return _ok(_dump(_queue(world.queue(_param(request, "qid")))))


def list_queues(world: World, request: Request, client: Client, body: bytes) -> Response:
    try:
        size = int(request.query_params.get("pageSize", "25"))
        number = int(request.query_params.get("pageNumber", "1"))
    except ValueError:
        raise bad_request("pageSize and pageNumber must be integers") from None
    if not 1 <= size <= 500 or number < 1:
        raise bad_request("pageSize must be between 1 and 500 and pageNumber at least 1")
    name = request.query_params.get("name")
    queues = sorted(world.queues.values(), key=lambda q: q.name.lower())
    if name:
        queues = [q for q in queues if q.name.lower().startswith(name.rstrip("*").lower())]
    page = queues[(number - 1) * size : number * size]
    listing = {
        "entities": [_queue(q) for q in page],
        "pageSize": size,
        "pageNumber": number,
        "total": len(queues),
        "pageCount": math.ceil(len(queues) / size),
        "selfUri": f"/api/v2/routing/queues?pageSize={size}&pageNumber={number}",
    }
    return _ok(_dump(listing))


_MESSAGES = "/api/v2/conversations/messages/{cid}"
_PARTICIPANT = _MESSAGES + "/participants/{pid}"
ROUTES: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("/api/v2/tokens/me", "GET", tokens_me, ()),
    ("/api/v2/analytics/conversations/details/query", "POST", details_query, (ANALYTICS,)),
    (_MESSAGES, "GET", media_view, ()),
    (_MESSAGES, "PATCH", disconnect_conversation, (DISCONNECT, "conversation:message:park")),
    (_PARTICIPANT, "PATCH", patch_participant, ()),
    (_PARTICIPANT + "/attributes", "PATCH", patch_attributes, ()),
    (_PARTICIPANT + "/wrapupcodes", "GET", wrapup_codes, ()),
    (_PARTICIPANT + "/communications/{commid}/wrapup", "POST", wrapup, ()),
    (
        _MESSAGES + "/communications/{commid}/messages",
        "POST",
        send_message,
        ("conversation:message:create", "conversation:webmessaging:create"),
    ),
    ("/api/v2/conversations/{cid}", "GET", generic_view, (COMMUNICATION_VIEW,)),
    ("/api/v2/conversations/{cid}/disconnect", "POST", teardown, (DISCONNECT,)),
    ("/api/v2/conversations/{cid}/participants/{pid}/wrapupcodes", "GET", generic_wrapup_codes, ()),
    ("/api/v2/routing/queues", "GET", list_queues, (QUEUE_VIEW,)),
    ("/api/v2/routing/queues/{qid}", "GET", get_queue, (QUEUE_VIEW,)),
]

# the Notifications API's REST side (its WebSocket is sockets.py's)
ROUTES += notifications_api.ROUTES
