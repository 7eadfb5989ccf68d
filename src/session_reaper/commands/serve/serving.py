"""The wiring around a `serve` loop, with or without organizations: uvicorn on the bound socket, and
SIGTERM/SIGINT stopping the loop — gracefully on the first signal, at once on a second."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from starlette.applications import Starlette

from session_reaper.commands.serve.service import log


class Stoppable(Protocol):
    """What a signal stops: the service, or the shard of organizations."""

    stopping: asyncio.Event

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Serving:
    """The HTTP server's task, and what says the loop was asked to stop (a signal or the console)."""

    server: asyncio.Task[None]
    stop_requested: asyncio.Task[bool]
    forced: asyncio.Future[None]  # a second signal: stop now, without waiting for the steps in flight

    async def until_first_ends(self, work: asyncio.Task[None]) -> None:
        """Wait until `work` ends, the HTTP server stops, or a stop is asked for — whichever is first."""
        await asyncio.wait({work, self.server, self.stop_requested}, return_when=asyncio.FIRST_COMPLETED)


@contextlib.asynccontextmanager
async def serving(app: Starlette, sock: socket.socket, stoppable: Stoppable) -> AsyncIterator[Serving]:
    """Serve `app` on `sock` and let signals stop `stoppable`; on leaving, the handlers are put back and
    the server is stopped and awaited."""
    loop = asyncio.get_running_loop()
    server = SignalFreeServer(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
    )
    http = loop.create_task(server.serve(sockets=[sock]), name="http")
    signals = _Signals(loop, stoppable)
    stop_requested = loop.create_task(stoppable.stopping.wait(), name="stop-requested")
    try:
        yield Serving(http, stop_requested, signals.forced)
    finally:
        stop_requested.cancel()
        signals.restore()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await http


class SignalFreeServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Signals:
    """First SIGTERM/SIGINT: stop gracefully. Second: stop now."""

    def __init__(self, loop: asyncio.AbstractEventLoop, service: Stoppable) -> None:
        self._loop = loop
        self._service = service
        self.forced: asyncio.Future[None] = loop.create_future()
        self._signals = (signal.SIGTERM, signal.SIGINT)
        for sig in self._signals:
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: signal.Signals) -> None:
        if self._service.stopping.is_set():
            log.warning("second signal: stopping now", signal=sig.name)
            if not self.forced.done():
                self.forced.set_result(None)
            return
        log.info("signal received", signal=sig.name)
        self._service.stop()

    def restore(self) -> None:
        for sig in self._signals:
            self._loop.remove_signal_handler(sig)
