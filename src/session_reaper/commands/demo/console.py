"""`demo --console`: after the working day, `serve` and its console go on running on the emulated center.

The same `serve` as in production (its sweep loop, its probes, the console and its JSON API, its
Ctrl-C handling), on the demo's emulator and the demo's ledger, so the console's history shows the
day just played. Traffic goes on: every `TICK` seconds the traffic generator plays `TICK * SPEED`
seconds of guests and agents, so conversations keep arriving, going quiet and becoming eligible while
a person watches. One rule waits for approval (`APPROVAL_RULE`), so that the console has decisions
to approve. The tokens are `SESSION_REAPER_CONSOLE_TOKEN` / `..._VIEWER_TOKEN` when set, else new
random ones, printed with the URL (on loopback, for the person who started the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from session_reaper.commands.console.auth import OPERATOR_TOKEN_ENV, VIEWER_TOKEN_ENV
from session_reaper.commands.demo.recording import credentials, demo_settings
from session_reaper.commands.runtime import open_runtime
from session_reaper.commands.serve import DEFAULT_GRACE
from session_reaper.commands.serve.lifecycle import _serve
from session_reaper.config import Settings
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from genesys_emulator.traffic import TrafficGenerator

TICK = 2.0  # real seconds between two steps of traffic
SPEED = 10.0  # the emulated center lives this many seconds per real second (its clock runs on meanwhile)
INTERVAL = "5s"  # the sweep interval of the demo's `serve`
APPROVAL_RULE = "idle"  # the most common situation: its closes wait for an operator in the console


def console_settings(ledger_url: str) -> Settings:
    """The demo's settings, applying, sweeping every few seconds, with one rule waiting for approval."""
    return demo_settings(
        ledger_url, sweep={"apply": True, "interval": INTERVAL}, rules={APPROVAL_RULE: {"approval": True}}
    )


def console_tokens(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The operator's and the viewer's tokens (the environment's, else new ones), and what to print.

    A generated token is printed: nobody else knows it. One from the environment is not: it is
    a secret someone already has, and the terminal's scroll-back is no place for it.
    """
    tokens: dict[str, str] = {}
    shown: dict[str, str] = {}
    for variable in (OPERATOR_TOKEN_ENV, VIEWER_TOKEN_ENV):
        given = environ.get(variable)
        tokens[variable] = given or secrets.token_urlsafe(18)
        shown[variable] = f"(from ${variable})" if given else tokens[variable]
    return tokens, shown


async def _traffic(traffic: TrafficGenerator) -> None:
    """Guests and agents go on while the console runs (the world's lock keeps each step whole)."""
    while True:
        await asyncio.sleep(TICK)
        traffic.step(TICK * (SPEED - 1))  # the world's own clock supplies the other TICK seconds


async def keep_serving(
    console: Console,
    *,
    base_url: str,
    ledger: Ledger,
    ledger_url: str,
    traffic: TrafficGenerator,
    sock: socket.socket,
    host: str,
    port: int,
) -> int:
    """`serve --apply` with the console on `sock` (bound to `host:port`) until Ctrl-C; serve's exit code."""
    tokens, shown = console_tokens(os.environ)
    settings = console_settings(ledger_url)
    url = f"http://{host}:{port}/console"
    console.rule("[bold]5. The console")
    console.print(
        f"The console runs at [bold]{url}[/] (serve --apply, a sweep every {INTERVAL}; traffic goes on at "
        f"{SPEED:g}× speed; {APPROVAL_RULE} closes wait for approval).\n"
        f"  operator token (read and act): [bold]{escape(shown[OPERATOR_TOKEN_ENV])}[/]\n"
        f"  viewer token (read only):      [bold]{escape(shown[VIEWER_TOKEN_ENV])}[/]\n"
        "Press Ctrl-C to stop.",
        markup=True,
        highlight=False,
    )
    moving = asyncio.create_task(_traffic(traffic), name="demo-traffic")
    try:
        async with open_runtime(settings, environ=credentials(base_url), ledger=ledger) as runtime:
            code = await _serve(
                runtime, Metrics(), sock, host=host, port=port, grace=DEFAULT_GRACE, environ=tokens
            )
        console.print("The console stopped.")
        return code
    finally:
        moving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await moving
