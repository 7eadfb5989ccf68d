"""`serve` from start to stop: bind, connect, run the sweep loop beside the HTTP server, drain on a signal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping

from session_reaper.commands.console.auth import OPERATOR_TOKEN_ENV
from session_reaper.commands.exits import exit_for
from session_reaper.commands.runtime import (
    EXIT_ACTION_FAILED,
    EXIT_AUTH,
    EXIT_OK,
    EXIT_USAGE,
    Runtime,
    open_runtime,
    organizations,
)
from session_reaper.commands.serve import DEFAULT_GRACE
from session_reaper.commands.serve.endpoints import bind, create_app, loopback
from session_reaper.commands.serve.service import Service, StartupFailed, log
from session_reaper.commands.serve.serving import serving
from session_reaper.config import Settings
from session_reaper.errors import ReaperError
from session_reaper.genesys.attempts import ResponseEvent
from session_reaper.ledger import LedgerUnavailable
from session_reaper.telemetry.metrics import Metrics


@contextlib.asynccontextmanager
async def open_service_runtime(
    settings: Settings, metrics: Metrics, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Runtime]:
    """`runtime.open_runtime`, with every platform response counted in `metrics`.

    Connecting gets a token first: refused credentials raise AuthenticationFailed before anything runs.
    """

    def count(event: ResponseEvent) -> None:
        metrics.observe_request(event.method, event.status if event.status is not None else "error")

    async with open_runtime(settings, environ, on_response=count, keep_counts=True) as runtime:
        yield runtime


async def serve(settings: Settings, *, host: str, port: int, grace: float = DEFAULT_GRACE) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (DESIGN.md's: 0, 1, 2, 3).

    Bound beyond loopback, the console must be protected: without an operator token, no start.
    """
    if not loopback(host) and not os.environ.get(OPERATOR_TOKEN_ENV):
        log.error(
            f"cannot start: serve listens on {host}, beyond loopback, and {OPERATOR_TOKEN_ENV} is not set:"
            f" set {OPERATOR_TOKEN_ENV} to protect the console, or bind 127.0.0.1",
            host=host,
        )
        return EXIT_USAGE
    try:
        sock = bind(host, port)
    except OSError as exc:
        log.error("cannot listen", host=host, port=port, error=exc.strerror or str(exc))
        return EXIT_USAGE
    metrics = Metrics()
    try:
        if settings.orgs:  # many organizations: this replica's share of them, a loop each
            from session_reaper.commands.serve.sharded import serve_orgs

            return await serve_orgs(
                settings,
                organizations(settings),  # every org's credentials and host read, or exit 2, first
                sock,
                host=host,
                port=port,
                grace=grace,
                apply=settings.sweep.apply,
                lease=settings.sweep.org_lease,
            )
        async with open_service_runtime(settings, metrics) as runtime:
            return await _serve(runtime, metrics, sock, host=host, port=port, grace=grace)
    except ReaperError as exc:  # one line, no traceback: what an operator reads, then the code
        log.error(_why_not_started(exc), problem=str(exc))
        return exit_for(exc)[0]
    except Exception as exc:  # e.g. the ledger's database is unreachable: let the supervisor retry
        log.exception("cannot start", problem=str(exc))
        return EXIT_ACTION_FAILED
    finally:
        sock.close()


def _why_not_started(exc: ReaperError) -> str:
    if isinstance(exc, StartupFailed):
        return "cannot start"
    if isinstance(exc, LedgerUnavailable):  # a server that does not answer (1, retry) or a wrong one (2)
        return "cannot start: the ledger"
    if exc.exit_code == EXIT_AUTH:
        return "cannot start: the platform refused the credentials"
    if exc.exit_code == EXIT_USAGE:
        return "cannot start: configuration"
    return "cannot start"


async def _serve(
    runtime: Runtime,
    metrics: Metrics,
    sock: socket.socket,
    *,
    host: str,
    port: int,
    grace: float,
    environ: Mapping[str, str] | None = None,
) -> int:
    """`environ`: where the console's tokens are read (the process's environment when None)."""
    settings = runtime.settings
    apply = settings.sweep.apply
    service = Service(runtime, metrics, apply=apply)
    sweeps = asyncio.get_running_loop().create_task(service.run(), name="sweeps")
    code = EXIT_OK
    async with serving(create_app(service, sweeps, environ), sock, service) as running:
        log.info(
            "serving",
            url=f"http://{host}:{port}",
            apply=apply,
            mode=settings.sweep.mode,
            interval=settings.sweep.interval.total_seconds(),
            ledger=runtime.ledger.describe(),
        )
        await running.until_first_ends(sweeps)
        if sweeps.done():
            sweeps.result()  # StartupFailed, or a bug: raised
        else:
            if not service.stopping.is_set():
                log.error("the HTTP server stopped unexpectedly")
                code = EXIT_ACTION_FAILED
            service.stop()
            code = max(code, await _drain(sweeps, running.forced, grace))
    log.info("stopped", exit_code=code)
    return code


async def _drain(sweeps: asyncio.Task[None], forced: asyncio.Future[None], grace: float) -> int:
    """Let the pass in flight finish within `grace`; else cancel it (its open intents are recovered later)."""
    done, _ = await asyncio.wait({sweeps, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    if sweeps in done:
        if (exc := sweeps.exception()) is not None:
            raise exc
        return EXIT_OK
    sweeps.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeps
    log.warning("stopped before the steps in flight finished: the next start resolves them", grace=grace)
    return EXIT_ACTION_FAILED
