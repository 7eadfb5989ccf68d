"""The `session-reaper` command: parse, call, print. Work happens in the modules it calls."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from session_reaper.commands.cli_help import ConventionalCommand, ConventionalGroup
from session_reaper.commands.runtime import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE

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
    from session_reaper.engine.selection import Selection

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


def _fail(code: int, message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return typer.Exit(code)


def _load(config: Path | None, *, apply: bool | None = None) -> Settings:
    from session_reaper.config import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    return settings.with_apply(True) if apply else settings


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run async work; map the platform's meaningful failures to exit codes and clear messages."""
    from sqlalchemy.exc import SQLAlchemyError

    from session_reaper.config import ConfigError
    from session_reaper.engine.selection import PlanError
    from session_reaper.genesys.errors import AuthenticationFailed, GenesysError, PermissionMissing
    from session_reaper.genesys.regions import UnknownRegion
    from session_reaper.ledger import LedgerUnavailable, LedgerUrlError, LedgerVersionError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except (ConfigError, UnknownRegion, LedgerUrlError, LedgerVersionError, PlanError) as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    except LedgerUnavailable as exc:  # a server that does not answer may come back: 1, else fix it: 2
        raise _fail(EXIT_ACTION_FAILED if exc.unreachable else EXIT_USAGE, str(exc)) from None
    except SQLAlchemyError as exc:
        # The driver's text may quote the URL; say what failed, not how to log in.
        reason = type(getattr(exc, "orig", None) or exc).__name__
        raise _fail(
            EXIT_ACTION_FAILED, f"the ledger database could not be used ({reason}): check sweep.ledger"
        ) from None
    except (AuthenticationFailed, PermissionMissing) as exc:
        raise _fail(EXIT_AUTH, str(exc)) from None
    except GenesysError as exc:
        raise _fail(EXIT_ACTION_FAILED, str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(130, "interrupted") from None


@command()
def sweep(
    apply: bool = typer.Option(False, "--apply", help="Act. Without it (and without apply=true): a dry run."),
    json_lines: bool = typer.Option(
        False, "--json", help="Print JSON Lines: one per conversation, then a summary (a plan for --plan)."
    ),
    fresh: bool = FreshOption,
    only: list[str] | None = typer.Option(
        None,
        "--only",
        metavar="ID",
        help="Only this conversation, read directly by id (repeat for more); nothing else is touched.",
    ),
    plan_file: Path | None = typer.Option(
        None,
        "--plan",
        metavar="FILE",
        dir_okay=False,
        help="Carry out the close/warn/teardown/wrapup lines of an earlier `sweep --json` dry run, each"
        " re-decided first: a line that no longer holds is cancelled.",
    ),
    plan_max_age: str = typer.Option(
        "1h",
        "--plan-max-age",
        metavar="DURATION",
        help="Refuse a --plan older than this, on the platform's clock.",
    ),
    config: Path | None = ConfigOption,
) -> None:
    """One pass: discover, decide, act (or show what would be done)."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.core.results import json_line
    from session_reaper.engine.sweep import Sweep

    settings = _load(config, apply=apply)
    max_age = _duration("--plan-max-age", plan_max_age)
    selection = _selection(only, plan_file, fresh=fresh, dry_run=not settings.sweep.apply)

    def show(line):  # type: ignore[no-untyped-def]
        if json_lines:
            print(json_line(line.to_json()), flush=True)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            if selection.plan is not None:  # before anything is sent, recovery included
                selection.plan.check_age(rt.api.clock.now(), max_age)
            reaper = Sweep(
                rt.platform,
                rt.ledger,
                settings,
                apply=settings.sweep.apply,
                on_line=show,
                selection=selection,
            )
            return await reaper.run()

    result = _run(work)
    if json_lines:
        print(json_line(result.summary.to_json()), flush=True)
    else:
        render.sweep_table(out, result.lines, apply=settings.sweep.apply)
        render.summary(out, result.summary)
    if result.aborted is not None:
        raise _fail(EXIT_AUTH, str(result.aborted))
    if result.unfinished is not None:
        raise _fail(EXIT_ACTION_FAILED, f"the pass could not finish: {result.unfinished}")
    raise typer.Exit(EXIT_ACTION_FAILED if result.summary.failed else EXIT_OK)


def _duration(flag: str, text: str) -> timedelta:
    from session_reaper.core.schedule import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _fail(EXIT_USAGE, f"{flag}: {exc}") from None


def _selection(only: list[str] | None, plan_file: Path | None, *, fresh: bool, dry_run: bool) -> Selection:
    from session_reaper.engine.selection import PlanError, Selection, load_plan

    ids = [i.strip() for i in only] if only else None
    if ids is not None and not all(ids):
        raise _fail(EXIT_USAGE, "--only: an empty conversation id")
    try:
        plan = load_plan(plan_file) if plan_file is not None else None
    except PlanError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    return Selection(only=tuple(ids) if ids else None, plan=plan, fresh=fresh, list_unread=dry_run)


@command()
def scan(fresh: bool = FreshOption, config: Path | None = ConfigOption) -> None:
    """Dry run: a table of every conversation in scope with its verdict and why."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.engine.selection import Selection
    from session_reaper.engine.sweep import Sweep

    settings = _load(config).with_apply(False)
    selection = Selection(fresh=fresh, list_unread=True)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            with render.progress(err) as tick:
                reaper = Sweep(
                    rt.platform, rt.ledger, settings, apply=False, on_conversation=tick, selection=selection
                )
                return await reaper.run()

    result = _run(work)
    render.sweep_table(out, result.lines, apply=False)
    render.summary(out, result.summary)
    if result.aborted is not None:
        raise _fail(EXIT_AUTH, str(result.aborted))
    if result.unfinished is not None:
        raise _fail(EXIT_ACTION_FAILED, f"the pass could not finish: {result.unfinished}")


@command()
def explain(
    conversation_id: str = typer.Argument(..., metavar="ID", help="The conversation to explain."),
    config: Path | None = ConfigOption,
) -> None:
    """Participants, roles, activity timeline, the rule that applies and what would be done."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.core.plan import plan
    from session_reaper.core.rules import evaluate
    from session_reaper.engine.sweep import Sweep
    from session_reaper.genesys.errors import NotFound

    settings = _load(config)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            reader = Sweep(rt.platform, rt.ledger, settings, apply=False)
            try:
                conversation = await reader.read(conversation_id)
            except NotFound:
                return None
            now = rt.api.clock.now()
            verdict = evaluate(conversation, now, settings.policy())
            return conversation, now, verdict, plan(conversation, verdict, settings.close_settings())

    found = _run(work)
    if found is None:
        raise _fail(EXIT_USAGE, f"conversation {conversation_id} not found")
    conversation, now, verdict, steps = found
    render.explanation(out, conversation, now, verdict, steps)


@command()
def report(
    since: str = typer.Option(
        "7d", "--since", metavar="DURATION", help="How far back to look: a duration such as 7d, 24h, 90m."
    ),
    html_file: str | None = typer.Option(
        None, "--html", metavar="FILE", help="Also write a self-contained HTML report with charts to FILE."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    config: Path | None = ConfigOption,
) -> None:
    """From the ledger: closes by rule, queue and hour, failures with their last error, requests per close."""
    import json
    from datetime import UTC, datetime
    from pathlib import Path

    from rich.console import Console

    from session_reaper.commands.report import figures as reporting
    from session_reaper.commands.report import html as report_html
    from session_reaper.commands.report import terminal as report_terminal
    from session_reaper.config import ConfigError, load_settings

    stdout = Console(highlight=False, soft_wrap=True)
    stderr = Console(stderr=True, highlight=False, soft_wrap=True)

    def fail(code: int, message: str) -> typer.Exit:
        stderr.print("[bold red]error:[/] ", markup=True, end="")
        stderr.print(message, markup=False)
        return typer.Exit(code)

    try:
        period = reporting.parse_since(since)
    except ValueError as exc:
        raise fail(2, f"--since: {exc}") from None
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise fail(2, str(exc)) from None
    now = datetime.now(UTC)
    try:
        data = reporting.load(settings.sweep.ledger, now - period, now)
    except reporting.ReportError as exc:
        raise fail(exc.code, str(exc)) from None
    if data.empty:
        notice = f"Nothing recorded yet: the ledger holds no sweep in the last {since}."
        (stderr if as_json else stdout).print(notice, markup=False)
    if as_json:
        print(json.dumps(reporting.to_json(data), ensure_ascii=False), flush=True)
    elif not data.empty:
        report_terminal.render_terminal(stdout, data)
    if html_file is not None:
        try:
            report_html.write_html(Path(html_file), data)
        except OSError as exc:
            raise fail(2, f"cannot write {html_file}: {exc.strerror or exc}") from None
        (stderr if as_json else stdout).print(f"Wrote {html_file}", markup=False)


@command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the list."),
    config: Path | None = ConfigOption,
) -> None:
    """Check config, region, token, organization, every permission the rules need, queues' own timers."""
    from session_reaper.commands.doctor import run

    raise typer.Exit(run(config, out, as_json=as_json))


@command()
def demo(
    html_file: Path = typer.Option(
        Path("session-reaper-demo.html"), "--html", metavar="FILE", help="Where to write the HTML report."
    ),
    seed: int = typer.Option(
        7, "--seed", metavar="N", help="Seed of the emulated contact center and of its traffic."
    ),
    quick: bool = typer.Option(False, "--quick", help="A two-hour day in fewer steps (for tests)."),
) -> None:
    """No set-up: an emulated contact center, a dry run, an applied sweep, a working day, an HTML report."""
    from session_reaper.commands.demo import DemoError, DemoOptions, run_demo

    try:
        code = run_demo(out, DemoOptions(html=html_file, seed=seed, quick=quick))
    except DemoError as exc:
        raise _fail(EXIT_USAGE, str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(130, "interrupted") from None
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
        raise _fail(EXIT_USAGE, f"--seed: unknown seed {seed!r}: use demo or none")
    try:
        serve(host=host, port=port, rate_limit=rate_limit, seed=seed, analytics_lag=analytics_lag)
    except CannotListen as exc:
        raise _fail(EXIT_USAGE, f"--host/--port: {exc}") from None


@command()
def serve(
    host: str = typer.Option(
        "127.0.0.1",
        metavar="HOST",
        help="Interface for /healthz, /readyz, /metrics; loopback by default (0.0.0.0 in a container).",
    ),
    port: int = typer.Option(9464, metavar="PORT", help="TCP port for /healthz, /readyz and /metrics."),
    apply: bool = typer.Option(False, "--apply", help="Act. Without it (and without apply=true): dry runs."),
    config: Path | None = ConfigOption,
    grace: float = typer.Option(
        25.0,
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

    from session_reaper.commands.serve import serve as run_service
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
        raise typer.Exit(2) from None
    if apply:
        settings = settings.with_apply(True)
    raise typer.Exit(asyncio.run(run_service(settings, host=host, port=port, grace=grace)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
