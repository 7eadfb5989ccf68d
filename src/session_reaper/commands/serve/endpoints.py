"""The HTTP side of `serve`: /healthz, /readyz and /metrics on a socket bound before anything starts."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_reaper.commands.console.api import ConsoleApi
from session_reaper.commands.console.auth import Auth
from session_reaper.commands.console.pages import Pages
from session_reaper.commands.serve.service import Service


def create_app(
    service: Service, sweeps: asyncio.Task[None] | None = None, environ: Mapping[str, str] | None = None
) -> Starlette:
    """The probes, the metrics and the supervisor console (its tokens from `environ`)."""
    console = ConsoleApi(service, Auth.from_env(os.environ if environ is None else environ))

    async def healthz(_: Request) -> Response:
        alive = sweeps is None or not sweeps.done() or service.stopping.is_set()
        return JSONResponse(
            {"status": "ok" if alive else "sweep loop ended"}, status_code=200 if alive else 503
        )

    async def readyz(_: Request) -> Response:
        checks = await service.readiness()
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks, **service.readiness_details()}
        return JSONResponse(body, 200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(service.metrics.exposition(), media_type=service.metrics.content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *console.routes(),
            *Pages(console).routes(),
        ]
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def loopback(host: str) -> bool:
    """Only this machine can reach a socket bound there (a name other than localhost may be anything)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
