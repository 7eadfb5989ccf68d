"""The commands that run until stopped or until their story ends: `serve`, `emulator`, `demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from session_reaper.commands.cli.app import ConfigOption, command, fail, failed, out
from session_reaper.commands.serve import DEFAULT_GRACE, DEFAULT_HOST, DEFAULT_PORT
from session_reaper.errors import EXIT_USAGE


@command()
def demo(
    html_file: Path = typer.Option(
        Path("session-reaper-demo.html"), "--html", metavar="FILE", help="Where to write the HTML report."
    ),
    seed: int = typer.Option(
        7, "--seed", metavar="N", help="Seed of the emulated contact center and of its traffic."
    ),
    quick: bool = typer.Option(False, "--quick", help="A two-hour day in fewer steps (for tests)."),
    console: bool = typer.Option(
        False,
        "--console",
        help="Then keep serve and the supervisor console running on the emulated center (Ctrl-C stops).",
    ),
    port: int = typer.Option(
        DEFAULT_PORT, "--port", metavar="PORT", help="With --console: the console's port on 127.0.0.1."
    ),
) -> None:
    """No set-up: an emulated contact center, a dry run, an applied sweep, a working day, an HTML report."""
    from session_reaper.commands.demo import DemoOptions, run_demo
    from session_reaper.commands.exits import HANDLED

    options = DemoOptions(html=html_file, seed=seed, quick=quick, console=console, console_port=port)
    try:
        code = run_demo(out, options)
    except HANDLED as exc:
        raise failed(exc) from None
    raise typer.Exit(code)


@command()
def emulator(
    host: str = typer.Option("127.0.0.1", metavar="HOST", help="Interface to bind; loopback by default."),
    port: int = typer.Option(
        8089, metavar="PORT", help="TCP port; 0 picks a free one (the banner names it)."
    ),
    rate_limit: int = typer.Option(
        300, "--rate-limit", metavar="N", help="Requests per minute per OAuth client."
    ),
    seed: str = typer.Option(
        "demo",
        metavar="demo|none",
        help="'demo' fills the world with realistic traffic; 'none' starts empty.",
    ),
    analytics_lag: float = typer.Option(
        0.0, "--analytics-lag", metavar="SECONDS", help="Seconds before analytics sees a change."
    ),
) -> None:
    """Run the Genesys Cloud platform emulator (platform API + /emulator/v1 admin API)."""
    from genesys_emulator.server import CannotListen, serve

    if seed not in ("demo", "none"):
        raise fail(EXIT_USAGE, f"--seed: unknown seed {seed!r}: use demo or none")
    try:
        serve(host=host, port=port, rate_limit=rate_limit, seed=seed, analytics_lag=analytics_lag)
    except CannotListen as exc:
        raise fail(EXIT_USAGE, f"--host/--port: {exc}") from None


@command()
def serve(
    host: str = typer.Option(
        DEFAULT_HOST,
        metavar="HOST",
        help="Interface for /healthz, /readyz, /metrics; loopback by default (0.0.0.0 in a container).",
    ),
    port: int = typer.Option(
        DEFAULT_PORT, metavar="PORT", help="TCP port for /healthz, /readyz and /metrics."
    ),
    apply: bool = typer.Option(False, "--apply", help="Act. Without it (and without apply=true): dry runs."),
    config: Path | None = ConfigOption,
    grace: float = typer.Option(
        DEFAULT_GRACE,
        "--grace",
        metavar="SECONDS",
        help="Seconds the steps in flight get to finish on SIGTERM/SIGINT.",
    ),
    log_format: str = typer.Option(
        "json", "--log-format", metavar="json|console", help="json (one object per line) or console."
    ),
    log_level: str = typer.Option(
        "info", "--log-level", metavar="debug|info|warning|error", help="debug, info, warning or error."
    ),
) -> None:
    """Sweep every sweep.interval with /healthz, /readyz and /metrics; stop cleanly on SIGTERM/SIGINT."""
    import asyncio

    from session_reaper.commands.exits import exit_for
    from session_reaper.commands.serve.lifecycle import serve as run_service
    from session_reaper.config import ConfigError, load_settings
    from session_reaper.telemetry import logs

    if log_format not in ("json", "console"):
        raise typer.BadParameter("use json or console", param_hint="--log-format")
    try:
        logs.configure(json=log_format == "json", level=log_level)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        logs.get_logger(component="service").error("cannot start: configuration", problem=str(exc))
        raise typer.Exit(exit_for(exc)[0]) from None
    if apply:
        settings = settings.with_apply(True)
    raise typer.Exit(asyncio.run(run_service(settings, host=host, port=port, grace=grace)))
