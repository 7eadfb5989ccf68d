"""`session-reaper demo`: a contact center in a box, a dry run, an applied sweep and a working day.

No configuration and no network: the platform emulator runs in a background thread on loopback, the
reaper runs in-process against it over HTTP exactly as it would against Genesys Cloud (same settings
model, same runtime, same `Sweep`), and the virtual clock carries the organization through a day.

1. The emulator is seeded with a realistic organization (`emulator.traffic.seed_demo`): several queues,
   a few hundred conversations — healthy chats, guests gone silent, agents lingering, transfers, bots,
   zombies, after-call work, exempt conversations, queues with the platform's own timer, other channels.
2. Dry run: one `Sweep(apply=False)` with a progress bar; a table of what would be closed and why.
3. Apply: one `Sweep(apply=True)` clears the backlog.
4. A working day: the virtual clock moves from 08:00 to 18:00 in steps; each step the traffic generator
   plays new guests and agents, then the reaper sweeps (one `NotBefore` across sweeps, as `serve` keeps).
   "Without the reaper" is a second emulator world fed the same seeded traffic and never swept.
5. A summary table, and `session-reaper-demo.html` from the report module with the demo's own charts.
6. With `--console`: `serve --apply` and the supervisor console keep running on the emulated center,
   traffic going on, until Ctrl-C (`demo/console.py`).
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from genesys_emulator.server import EmulatorServer, build_world
from genesys_emulator.traffic import DEMO_QUEUES, TrafficGenerator, WorldTarget, seed_demo
from session_reaper.commands.demo.console import keep_serving
from session_reaper.commands.demo.events import events_act
from session_reaper.commands.demo.recording import (
    Day,
    DayPoint,
    SweepRecord,
    credentials,
    demo_settings,
    run_sweep,
    sync_clock,
)
from session_reaper.commands.demo.tables import applied_table, dry_run_tables, summary_table
from session_reaper.commands.demo.world import (
    ANALYTICS_LAG,
    DEMO_LEDGER,
    DEMO_RATE_LIMIT,
    PLATFORM_RATE_LIMIT,
    PROPAGATION_DELAY,
    WRAPUP_CODE,
    GuestsAndAgents,
    day_start,
    not_in_scope,
    stale_sessions,
    traffic_seed,
)
from session_reaper.commands.report import html as report_html
from session_reaper.commands.report.collect import collect
from session_reaper.commands.report.figures import ReportData
from session_reaper.commands.runtime import EXIT_ACTION_FAILED, EXIT_OK, Runtime, open_runtime
from session_reaper.commands.serve import DEFAULT_HOST, DEFAULT_PORT
from session_reaper.commands.serve.endpoints import bind
from session_reaper.commands.terminal import progress_bar
from session_reaper.core.schedule import format_span
from session_reaper.engine.sweep import NotBefore
from session_reaper.errors import EXIT_USAGE, ReaperError
from session_reaper.ledger import Ledger

__all__ = ["DemoError", "DemoOptions", "run_demo"]
DEMO_TITLE = "session-reaper demo: a working day in the emulator"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    html: Path = Path("session-reaper-demo.html")
    seed: int = 7
    quick: bool = False  # a short day: for tests
    ledger: str = DEMO_LEDGER  # a file (sqlite:///day.db) keeps the day for `report` (scripts/report-day)
    arrivals_per_hour: float = 60.0
    console: bool = False  # then keep `serve` and its console running on the emulated center (Ctrl-C)
    console_port: int = DEFAULT_PORT

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=20 if self.quick else 10)

    @property
    def day(self) -> timedelta:
        """From 08:00: a full working day, or two hours for --quick."""
        return timedelta(hours=2 if self.quick else 10)


# ---------------------------------------------------------------------------------------------- run


class Demo:
    def __init__(
        self,
        console: Console,
        server: EmulatorServer,
        options: DemoOptions,
        *,
        started: float,
        listening: socket.socket | None = None,
    ) -> None:
        self.started = started  # monotonic time the demo began, for its wall time
        self.listening = listening  # with --console: the console's socket, bound before the day
        self.console = console
        self.server = server
        self.options = options
        self.settings = demo_settings(options.ledger)
        self.channels = self.settings.sweep.channels
        self.start = day_start()
        self.world = server.world
        self.shadow = build_world(seed="none")  # the same organization and traffic, never swept
        for world in (self.world, self.shadow):
            world.clock.set(self.start)
            seed_demo(world, options.seed)
        self.hands = GuestsAndAgents(self.world)
        seed = traffic_seed(options.seed)
        self.traffic = TrafficGenerator(self.hands, seed, options.arrivals_per_hour, now=self.start)
        self.shadow_traffic = TrafficGenerator(
            WorldTarget(self.shadow), seed, options.arrivals_per_hour, now=self.start
        )

    def introduce(self) -> None:
        with self.world.lock:
            conversations, unended = len(self.world.conversations), len(self.world.open_ids)
        self.console.print(
            f"[bold]An emulated contact center[/] at {self.start:%Y-%m-%d %H:%M} UTC (virtual clock): "
            f"{len(DEMO_QUEUES)} queues, {conversations} conversations, {unended} not ended, of which "
            f"{not_in_scope(self.world, self.channels)} are other channels or media (never touched: "
            f"the scope is {', '.join(self.channels)})."
        )
        self.console.print(
            f"[dim]Emulator on {self.server.base_url}. Its rate limit is raised to {DEMO_RATE_LIMIT:,} "
            f"requests/min for a fast demo: the platform's real limit is {PLATFORM_RATE_LIMIT}/min per OAuth "
            f"client. Analytics lag {ANALYTICS_LAG:g} s, read propagation delay {PROPAGATION_DELAY:g} s. "
            f"Policy: the built-in defaults, plus wrapup_code = {WRAPUP_CODE!r} so that acw-stuck acts; "
            + (
                "the ledger is SQLite in memory.[/]"
                if self.options.ledger == DEMO_LEDGER
                else "the ledger is kept.[/]"
            )
        )

    async def dry_run(self, rt: Runtime) -> SweepRecord:
        self.console.rule("[bold]1. Dry run")
        in_scope = len(self.world.open_ids) - not_in_scope(self.world, self.channels)
        with progress_bar(self.console, "reading conversations", detail=True) as bar:
            task = bar.add_task("scan", total=in_scope, detail="")
            dry = await run_sweep(rt, self.settings, apply=False, on_conversation=lambda: bar.advance(task))
            bar.update(task, completed=len(dry.lines), total=len(dry.lines))
        dry_run_tables(self.console, dry)
        self.console.print(
            f"The dry run read {len(dry.lines)} conversations with {dry.result.summary.api_requests} API "
            "requests and wrote nothing."
        )
        return dry

    async def apply(self, rt: Runtime, not_before: NotBefore) -> SweepRecord:
        self.console.rule("[bold]2. Apply")
        backlog = await run_sweep(rt, self.settings, apply=True, not_before=not_before)
        applied_table(self.console, backlog)
        return backlog

    def _point(self, record: SweepRecord) -> DayPoint:
        return DayPoint(
            self.traffic.now,
            len(record.done()),
            record.result.summary.api_requests,
            stale_sessions(self.world, self.channels),
            stale_sessions(self.shadow, self.channels),
        )

    async def working_day(self, rt: Runtime, day: Day, not_before: NotBefore) -> None:
        options = self.options
        count = round(options.day / options.step)
        self.console.rule(
            f"[bold]3. A working day: {self.start:%H:%M} → {self.start + options.day:%H:%M} (virtual), "
            f"a sweep every {format_span(options.step)}"
        )
        day.points.append(self._point(day.backlog))
        with progress_bar(self.console, "virtual time", detail=True) as bar:
            task = bar.add_task("day", total=count, detail="")
            for _ in range(count):
                self.traffic.step(options.step.total_seconds())
                self.shadow_traffic.step(options.step.total_seconds())
                sync_clock(rt, self.world.clock.now())
                record = await run_sweep(rt, self.settings, apply=True, not_before=not_before)
                point = self._point(record)
                day.points.append(point)
                acted = sum(p.acted for p in day.steps)
                bar.update(
                    task,
                    advance=1,
                    detail=f"{point.at:%H:%M}  acted on {acted}  stale: {point.stale_with} with the "
                    f"reaper, {point.stale_without} without",
                )
        last = day.points[-1]
        self.console.print(
            f"{len(self.traffic.created)} new conversations arrived during the day. At {last.at:%H:%M}, "
            f"{last.stale_with} stale sessions are open with the reaper, {last.stale_without} without it."
        )
        requests = sum(p.api_requests for p in day.steps)
        busiest = max((p.api_requests for p in day.steps), default=0)
        minutes = options.day.total_seconds() / 60
        self.console.print(
            f"The day's {count} sweeps made {requests} API requests ({requests / minutes:.1f} per minute of "
            f"the day on average); the busiest made {busiest}, which at the real {PLATFORM_RATE_LIMIT}/min "
            f"would take {busiest / PLATFORM_RATE_LIMIT * 60:.0f} s."
        )

    async def run(self) -> int:
        self.introduce()
        ledger = Ledger.open(self.settings.sweep.ledger)
        try:
            environ = credentials(self.server.base_url)
            async with open_runtime(self.settings, environ=environ, ledger=ledger) as rt:
                await self.dry_run(rt)
                not_before = NotBefore()  # kept across the applied sweeps, as `serve` keeps it
                backlog = await self.apply(rt, not_before)
                day = Day(self.start, self.options.step, backlog)
                await self.working_day(rt, day, not_before)
            # Every figure from here on is the ledger's: the summary, the page, `report` on this ledger.
            whole = collect(ledger, day.start, day.end)
            during = collect(ledger, day.after_backlog, day.end)
            self.console.rule("[bold]Summary")
            summary_table(
                self.console,
                day,
                whole,
                during,
                wall_seconds=time.monotonic() - self.started,
                refused=len(self.hands.refused),
            )
            self.write_report(whole)
            code = EXIT_ACTION_FAILED if whole.failures else EXIT_OK
            shown = await events_act(
                self.console, self.world, self.server.base_url, ledger, self.options.ledger
            )
            if shown.closed_after is None:
                code = EXIT_ACTION_FAILED
            if self.listening is not None:  # the ledger stays open: the console's history is this day's
                return await keep_serving(
                    self.console,
                    base_url=self.server.base_url,
                    ledger=ledger,
                    ledger_url=self.options.ledger,
                    traffic=self.traffic,
                    sock=self.listening,
                    host=DEFAULT_HOST,
                    port=self.options.console_port,
                )
            return code
        finally:
            ledger.close()

    def write_report(self, whole: ReportData) -> None:
        try:
            report_html.write_html(
                self.options.html, whole, "session-reaper demo: a working day in the emulator"
            )
        except OSError as exc:
            raise DemoError(f"cannot write {self.options.html}: {exc.strerror or exc}") from None
        self.console.print(f"Wrote [bold]{self.options.html}[/]: a self-contained HTML report with charts.")


class DemoError(ReaperError):
    """The demo cannot run or finish as asked (e.g. the report cannot be written there)."""

    exit_code = EXIT_USAGE


def run_demo(console: Console, options: DemoOptions) -> int:
    """The whole demo; returns the exit code (1 when an action failed). Raises DemoError."""
    started = time.monotonic()
    folder = options.html.parent
    if not folder.is_dir():  # say so now, not after the whole day
        raise DemoError(f"--html {options.html}: no such directory {folder}")
    listening = None
    if options.console:  # the console's port is taken now, not found taken after the whole day
        try:
            listening = bind(DEFAULT_HOST, options.console_port)
        except OSError as exc:
            raise DemoError(
                f"--port {options.console_port}: cannot listen on {DEFAULT_HOST}: {exc.strerror or exc}"
            ) from None
    try:
        with EmulatorServer(
            rate_limit=DEMO_RATE_LIMIT,
            seed="none",
            analytics_lag=ANALYTICS_LAG,
            propagation_delay=PROPAGATION_DELAY,
        ) as server:
            demo = Demo(console, server, options, started=started, listening=listening)
            return asyncio.run(demo.run())
    finally:
        if listening is not None:
            listening.close()
