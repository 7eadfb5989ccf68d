"""`serve` when `[orgs.NAME]` tables are configured: one shared ledger, the org leases, a loop per org.

The HTTP side is the same as without orgs: the probes, the metrics and the supervisor console, the
console over the organizations this replica holds (each conversation and pending decision names its
org; acts go through that org's own loop). `/readyz` answers 200 while the ledger answers and the
replica is not stopping — one organization's bad credentials or outage does not make the replica
unready (the others are being swept) — and names each organization's state under `orgs`: "ok", its
problem in one line, "swept by another replica", "not held". `/metrics` carries the `org` label.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_reaper.commands.console.api import ConsoleApi
from session_reaper.commands.console.auth import Auth
from session_reaper.commands.console.pages import Pages
from session_reaper.commands.console.targets import ConsoleTarget, Targets
from session_reaper.commands.runtime import EXIT_ACTION_FAILED, EXIT_OK, Runtime, open_runtime
from session_reaper.commands.serve.org_loop import RuntimeOpener
from session_reaper.commands.serve.service import _check, log
from session_reaper.commands.serve.serving import serving
from session_reaper.commands.serve.shard import DEFAULT_ORG_LEASE, OrgSpec, Shard
from session_reaper.config import Organization, Settings
from session_reaper.engine.off_loop import read_of
from session_reaper.genesys.attempts import ResponseEvent
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics, OrgMetrics


def opener(org: Organization) -> RuntimeOpener:
    """How one organization's loop opens its runtime: its own client, token and pacer."""

    @contextlib.asynccontextmanager
    async def open_org(ledger: Ledger, metrics: OrgMetrics) -> AsyncIterator[Runtime]:
        def count(event: ResponseEvent) -> None:
            metrics.observe_request(event.method, event.status if event.status is not None else "error")

        async with open_runtime(
            org.settings, org=org, ledger=ledger, on_response=count, keep_counts=True
        ) as runtime:
            yield runtime

    return open_org


def org_specs(orgs: Sequence[Organization]) -> list[OrgSpec]:
    return [OrgSpec(org.name or "default", org.settings, opener(org)) for org in orgs]


def create_app(
    shard: Shard, task: asyncio.Task[None], ledger: Ledger, environ: Mapping[str, str] | None = None
) -> Starlette:
    console = ConsoleApi(
        Targets.held(lambda: held_services(shard), ledger),
        Auth.from_env(os.environ if environ is None else environ),
    )

    async def healthz(_: Request) -> Response:
        alive = not task.done() or shard.stopping.is_set()
        return JSONResponse({"status": "ok" if alive else "org loop ended"}, 200 if alive else 503)

    async def readyz(_: Request) -> Response:
        checks = {
            "ledger": shard.ledger_problem or await _check(read_of(ledger, Ledger.schema_revision)),
            "shutdown": "stopping" if shard.stopping.is_set() else "ok",
        }
        ready = all(value == "ok" for value in checks.values())
        body = {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "orgs": await shard.readiness(),
        }
        return JSONResponse(body, 200 if ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(shard.metrics.exposition(), media_type=shard.metrics.content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *console.routes(),
            *Pages(console).routes(),
        ]
    )


def held_services(shard: Shard) -> dict[str, ConsoleTarget]:
    """The loops of the organizations held now that are sweeping (one starting or retrying has none)."""
    return {name: loop.service for name, loop in sorted(shard.loops.items()) if loop.service is not None}


async def serve_orgs(
    settings: Settings,
    orgs: Sequence[Organization],
    sock: socket.socket,
    *,
    host: str,
    port: int,
    grace: float,
    apply: bool,
    lease: timedelta = DEFAULT_ORG_LEASE,
) -> int:
    """Run this replica's share of the organizations until stopped; returns the exit code."""
    metrics = Metrics(orgs=True)
    ledger = await asyncio.to_thread(Ledger.open, settings.sweep.ledger)
    try:
        shard = Shard(org_specs(orgs), ledger, metrics, apply=apply, lease=lease)
        task = asyncio.get_running_loop().create_task(shard.run(), name="org-leases")
        code = EXIT_OK
        async with serving(create_app(shard, task, ledger), sock, shard) as running:
            log.info(
                "serving",
                url=f"http://{host}:{port}",
                apply=apply,
                orgs=sorted(shard.orgs),
                owner=shard.owner,
                org_lease=lease.total_seconds(),
                ledger=ledger.describe(),
            )
            await running.until_first_ends(task)
            if task.done():
                task.result()  # a bug: raised
            if not shard.stopping.is_set():
                log.error("the HTTP server stopped unexpectedly")
                code = EXIT_ACTION_FAILED
            shard.stop()
            await task  # the tick under way ends (it claims nothing more), no other begins
            if not await shard.drain(grace):
                log.warning("stopped before the steps in flight finished: the next holder resolves them")
                code = EXIT_ACTION_FAILED
        log.info("stopped", exit_code=code)
        return code
    finally:
        ledger.close()
