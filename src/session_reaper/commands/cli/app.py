"""The typer app every command registers on, the options they share, and how a failure is printed."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from session_reaper.commands.cli.conventions import ConventionalCommand, ConventionalGroup

app = typer.Typer(
    name="session-reaper",
    help="Find idle and stale Genesys Cloud web messaging sessions and end them cleanly.",
    cls=ConventionalGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
command = functools.partial(app.command, cls=ConventionalCommand)
# Piped or redirected, rich would fold tables at 80 columns and break every conversation id.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

if TYPE_CHECKING:
    from session_reaper.config import Settings

T = TypeVar("T")


def _print_version(asked: bool) -> None:
    if asked:
        from session_reaper import __version__

        print(f"session-reaper {__version__}")
        raise typer.Exit()


@app.callback()
def _everywhere(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Interactive commands log only warnings, on stderr, through the redacting pipeline `serve` uses."""
    from session_reaper.telemetry import logs

    logs.configure(json=False, level="warning")


ConfigOption = typer.Option(
    None,
    "--config",
    metavar="FILE",
    help="Policy file (TOML). Default: $SESSION_REAPER_CONFIG, else ./session-reaper.toml if present.",
    dir_okay=False,
)
FreshOption = typer.Option(
    False, "--fresh", help="Read every conversation now, whatever the saved read schedule says."
)


def fail(code: int, message: str) -> typer.Exit:
    """Print `error: message` on stderr (never read as markup) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return typer.Exit(code)


def failed(exc: BaseException) -> typer.Exit:
    """`fail` with the code and message `exits.exit_for` gives the error."""
    from session_reaper.commands.exits import exit_for

    return fail(*exit_for(exc))


def load(config: Path | None, *, apply: bool | None = None) -> Settings:
    from session_reaper.config import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise failed(exc) from None
    return settings.with_apply(True) if apply else settings


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run async work; any failure the reaper reports becomes its exit code and one clear line."""
    from session_reaper.commands.exits import HANDLED

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except HANDLED as exc:
        raise failed(exc) from None
