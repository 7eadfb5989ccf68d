"""The admin API of the Notifications side: its channels, the heartbeat, and faults on the sockets.

- `GET /emulator/v1/notifications` -> `{"heartbeatSeconds", "sendQueueLimit", "channels": [{"id", "clientId",
  "expires", "connected", "topics", "eventsSent", "eventsDropped"}], "faults": [...]}`
- `POST /emulator/v1/notifications/settings` `{"heartbeatSeconds": 0.5, "sendQueueLimit": 10000}` (either;
  until a reset): heartbeats every that many wall seconds; frames a socket may have waiting before it is
  closed as too slow (new sockets)
- `POST /emulator/v1/notifications/faults` `{"type", "channelId"?, "clientId"?, "times"?, "delaySeconds"?,
  "closeAfterSeconds"?}`: `disconnect` and `socket_closing` act on the matching open sockets now; `silence`
  stands until cleared, `drop` and `delay` for the next `times` events. Answers `{"fault", "sockets"}`
  (how many open sockets it matched now).
- `DELETE /emulator/v1/notifications/faults` clears the standing ones.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from genesys_emulator.admin_common import guard, read_object, reply, world_of
from genesys_emulator.errors import bad_request
from genesys_emulator.notifications import DEFAULT_CLOSE_AFTER_SECONDS
from genesys_emulator.sockets import SocketHub

router = APIRouter(prefix="/emulator/v1", tags=["emulator admin"])


def _hub(request: Request) -> SocketHub:
    hub: SocketHub = request.app.state.sockets
    return hub


@router.get("/notifications")
@guard
async def read_notifications(request: Request) -> Response:
    world = world_of(request)
    with world.lock:
        world.notifications.purge(world.clock.now())
        return reply(world.notifications.to_json())


@router.post("/notifications/settings")
@guard
async def notification_settings(request: Request) -> Response:
    world = world_of(request)
    body = await read_object(request)
    unknown = set(body) - {"heartbeatSeconds", "sendQueueLimit"}
    if unknown or not body:
        raise bad_request(f"unknown field(s) {sorted(unknown)}; give heartbeatSeconds and/or sendQueueLimit")
    seconds = body.get("heartbeatSeconds")
    if seconds is not None and (
        not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0.05 <= seconds <= 3600
    ):
        raise bad_request(f"heartbeatSeconds must be a number from 0.05 to 3600, not {seconds!r}")
    limit = body.get("sendQueueLimit")
    if limit is not None and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1_000_000
    ):
        raise bad_request(f"sendQueueLimit must be an integer from 1 to 1000000, not {limit!r}")
    with world.lock:
        if seconds is not None:
            world.notifications.heartbeat_seconds = float(seconds)
        if limit is not None:
            world.notifications.send_queue_limit = limit
        settings = {
            "heartbeatSeconds": world.notifications.heartbeat_seconds,
            "sendQueueLimit": world.notifications.send_queue_limit,
        }
    return reply(settings)


@router.post("/notifications/faults")
@guard
async def add_notification_fault(request: Request) -> Response:
    world = world_of(request)
    body = await read_object(request)
    with world.lock:
        fault = world.notifications.add_fault(body)
    hub = _hub(request)
    if fault.type == "disconnect":
        sockets = await hub.disconnect(fault.channel_id, fault.client_id)
    elif fault.type == "socket_closing":
        close_after = float(body.get("closeAfterSeconds", DEFAULT_CLOSE_AFTER_SECONDS))
        sockets = hub.socket_closing(fault.channel_id, fault.client_id, close_after)
    else:
        with world.lock:
            world.notifications.faults.append(fault)
        sockets = len(hub.matching(fault.channel_id, fault.client_id))
    return reply({"fault": fault.to_json(), "sockets": sockets}, 201)


@router.delete("/notifications/faults")
@guard
async def clear_notification_faults(request: Request) -> Response:
    world = world_of(request)
    with world.lock:
        world.notifications.faults.clear()
    return reply({"faults": []})
