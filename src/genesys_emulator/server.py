"""Running the emulator: blocking (`serve`, for the command) or in a background thread (`EmulatorServer`)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from genesys_emulator.app import create_app
from genesys_emulator.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from genesys_emulator.state import World

# The variables the platform's own tools (CLI, SDK examples, Terraform provider) read; the reaper too.
_ENV_CLIENT_ID = "GENESYSCLOUD_OAUTHCLIENT_ID"
_ENV_CLIENT_SECRET = "GENESYSCLOUD_OAUTHCLIENT_SECRET"
_ENV_API_URL = "GENESYSCLOUD_API_URL"


def build_world(
    rate_limit: int = 300, seed: str = "none", analytics_lag: float = 0.0, propagation_delay: float = 0.0
) -> World:
    world = World(rate_limit=rate_limit, analytics_lag=analytics_lag, propagation_delay=propagation_delay)
    if seed == "demo":
        from genesys_emulator.traffic import seed_demo

        seed_demo(world)
    elif seed != "none":
        raise ValueError(f"unknown seed {seed!r}: use 'demo' or 'none'")
    return world


def _config(world: World, host: str, port: int) -> uvicorn.Config:
    # one worker, no access log (the request log is the emulator's own), the Date header is ours
    return uvicorn.Config(
        create_app(world),
        host=host,
        port=port,
        workers=1,
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        lifespan="off",
    )


class CannotListen(Exception):
    """The address cannot be bound (port in use, host not local)."""


def serve(host: str, port: int, rate_limit: int, seed: str, analytics_lag: float) -> None:
    """Run the emulator until interrupted (the `session-reaper emulator` command).

    The socket is bound (and listening) before the banner is printed, so that the banner names the
    real port (also for ``--port 0``) and a client that reads it can connect at once.
    """
    world = build_world(rate_limit=rate_limit, seed=seed, analytics_lag=analytics_lag)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    bound_port = int(sock.getsockname()[1])
    print(banner(host, bound_port, seed), flush=True)
    uvicorn.Server(_config(world, host, bound_port)).run(sockets=[sock])


def banner(host: str, port: int, seed: str) -> str:
    """What the emulator says when it starts: where it is and how to point the reaper at it."""
    url = base_url(host, port)
    return "\n".join(
        [
            f"Genesys Cloud emulator on {url} (admin API under /emulator/v1; seed={seed})",
            f"Default OAuth client: id {DEFAULT_CLIENT_ID!r}, secret {DEFAULT_CLIENT_SECRET!r}"
            " (every permission). Point the reaper at it:",
            "",
            f"  export {_ENV_CLIENT_ID}={DEFAULT_CLIENT_ID}",
            f"  export {_ENV_CLIENT_SECRET}={DEFAULT_CLIENT_SECRET}",
            f"  export {_ENV_API_URL}={url}",
            "",
            "then: session-reaper doctor, session-reaper scan. Ctrl-C stops the emulator.",
        ]
    )


def base_url(host: str, port: int) -> str:
    """The URL a local client uses: a wildcard bind is reached on loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmulatorServer:
    """The emulator on a free loopback port in a background thread.

    `with EmulatorServer() as emu:` then talk to `emu.base_url`, or reach `emu.world` in-process.
    """

    def __init__(
        self,
        rate_limit: int = 300,
        seed: str = "none",
        analytics_lag: float = 0.0,
        propagation_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.world = build_world(rate_limit, seed, analytics_lag, propagation_delay)
        self.host = host
        self.port = port or _free_port(host)
        self.base_url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(_config(self.world, host, self.port))
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
