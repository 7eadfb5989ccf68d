"""What every admin route shares: the world it acts on, JSON in and out, errors as the platform's."""

from __future__ import annotations

import functools
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from genesys_emulator.errors import PlatformError, bad_request, error_bytes
from genesys_emulator.state import World


def world_of(request: Request) -> World:
    world: World = request.app.state.world
    return world


def reply(value: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(value, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def failed(error: PlatformError) -> Response:
    return Response(
        error_bytes(error.status, error.code, error.message, error.params),
        error.status,
        media_type="application/json",
    )


async def read_body(request: Request, *, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("a JSON body is required")
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from None


async def read_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    body = await read_body(request, required=required)
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def guard(handler: Any) -> Any:
    """Turn a PlatformError raised by an admin handler into its error response."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except PlatformError as error:
            return failed(error)

    return run
