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
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from genesys_emulator.errors import PlatformError
from genesys_emulator.server import EmulatorServer, build_world
from genesys_emulator.state import World
from genesys_emulator.traffic import DEMO_QUEUES, TrafficGenerator, WorldTarget, seed_demo
from session_reaper.commands.report import figures as report
from session_reaper.commands.report import html as report_html
from session_reaper.commands.runtime import EXIT_ACTION_FAILED, EXIT_OK, Runtime, open_runtime
from session_reaper.config import Settings
from session_reaper.core.model import Conversation, DiscoveredConversation
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import RULE_ORDER
from session_reaper.core.schedule import format_span
from session_reaper.engine.reconcile import Reconciled
from session_reaper.engine.recording import idle_seconds
from session_reaper.engine.sweep import NotBefore, Sweep, SweepResult
from session_reaper.errors import EXIT_USAGE, ReaperError
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.ledger import Ledger

PLATFORM_RATE_LIMIT = 300  # requests per minute per OAuth client on the real platform
DEMO_RATE_LIMIT = 100_000  # raised for the demo, on the emulator and in the reaper's pacing alike
ANALYTICS_LAG = 1.0  # seconds before analytics sees a change (virtual seconds; the clock runs at real speed)
# Seconds before reads see a write. The reaper verifies every close by reading until the end shows, so a
# delay of ~1 s makes each close wait about 1.75 s (polls at 0, 0.25, 0.75, 1.75 s): a few hundred closes
# would take the demo well past a minute. The scenario tests exercise the delay; the demo runs without it.
PROPAGATION_DELAY = 0.0
STALE_AFTER = timedelta(minutes=30)  # "stale": not ended, nobody wrote for this long (the idle default)
WRAPUP_CODE = "code-follow-up"  # the emulator's "Follow-up needed": what acw-stuck applies in the demo
DEMO_CLIENT = ("emulator", "emulator-secret")  # the emulator's default OAuth client
ACTIONS = ("close", "teardown", "wrapup", "warn")
TABLE_ROWS = 25
DEMO_TITLE = "session-reaper demo: a working day in the emulator"
# The demo's journal is thrown away at the end: SQLite in memory (on a disk, every journal entry would
# wait for its fsync, as it must in production, and the demo would take seconds longer).
DEMO_LEDGER = "sqlite:///:memory:"

_QUEUE_NAMES = {queue_id: name for queue_id, name, *_ in DEMO_QUEUES}


@dataclass(frozen=True, slots=True)
class DemoOptions:
    html: Path = Path("session-reaper-demo.html")
    seed: int = 7
    quick: bool = False  # a short day: for tests
    ledger: str = DEMO_LEDGER  # a file (sqlite:///day.db) keeps the day for `report` (scripts/report-day)
    arrivals_per_hour: float = 60.0

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=20 if self.quick else 10)

    @property
    def day(self) -> timedelta:
        """From 08:00: a full working day, or two hours for --quick."""
        return timedelta(hours=2 if self.quick else 10)


# ------------------------------------------------------------------------------------------- worlds


def day_start(today: datetime | None = None) -> datetime:
    """08:00 UTC of the latest weekday: the demo's virtual morning (only the date comes from this machine)."""
    moment = (today or datetime.now(UTC)).astimezone(UTC)
    while moment.weekday() >= 5:  # Saturday, Sunday: the Friday before
        moment -= timedelta(days=1)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


def traffic_seed(seed: int) -> int:
    """The generator's own seed: another random stream than the organization's, or their ids would collide."""
    return seed + 1_000_003


class GuestsAndAgents(WorldTarget):
    """The traffic generator's hands in a world the reaper also works in.

    A guest or agent acting on a conversation the reaper (or the platform) had already ended is refused
    by the emulator; the conversation is counted and the generator carries on, so that both worlds draw
    the same random traffic. Above zero, someone found their chat closed while they were still in it.
    """

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.refused: set[str] = set()

    def _try(self, conversation_id: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except PlatformError:
            self.refused.add(conversation_id)
            return ""

    def message(self, conversation_id: str, sender: str, text: str) -> None:
        self._try(
            conversation_id, lambda: super(GuestsAndAgents, self).message(conversation_id, sender, text)
        )

    def join(self, conversation_id: str, participant: dict[str, Any]) -> str:
        joined = self._try(
            conversation_id, lambda: super(GuestsAndAgents, self).join(conversation_id, participant)
        )
        return str(joined)

    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None:
        self._try(
            conversation_id,
            lambda: super(GuestsAndAgents, self).leave(conversation_id, participant_id, disconnect_type),
        )

    def wrapup(self, conversation_id: str, participant_id: str, code: str, notes: str) -> None:
        self._try(
            conversation_id,
            lambda: super(GuestsAndAgents, self).wrapup(conversation_id, participant_id, code, notes),
        )


def stale_sessions(world: World, channels: Iterable[str]) -> int:
    """Conversations of the channels in scope, not ended, where nobody wrote for `STALE_AFTER` or more.

    Counted in the emulator's own world (in-process), the same way for both worlds; the reaper's own
    closing texts end their conversation at once, so they never keep one here.
    """
    scope = frozenset(channels)
    with world.lock:
        now = world.tick()
        count = 0
        for conversation_id in world.open_ids:
            conv = world.conversations[conversation_id]
            if conv.media != "message" or conv.message_type not in scope:
                continue
            last = max((w.at for leg in conv.legs for w in leg.messages), default=conv.start)
            if now - last >= STALE_AFTER:
                count += 1
        return count


def not_in_scope(world: World, channels: Iterable[str]) -> int:
    """Unended conversations the reaper never even reads: other media, or message channels out of scope."""
    scope = frozenset(channels)
    with world.lock:
        return sum(
            1
            for cid in world.open_ids
            if world.conversations[cid].media != "message"
            or world.conversations[cid].message_type not in scope
        )


# -------------------------------------------------------------------------------------------- sweeps


class RecordingSweep(Sweep):
    """A `Sweep` that remembers how each conversation looked when it was decided (the first read)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decided: dict[str, Conversation] = {}

    def reconciled(self, found: DiscoveredConversation, done: Reconciled) -> None:
        super().reconciled(found, done)
        if done.conversation is not None:
            self.decided.setdefault(found.conversation_id, done.conversation)


def silent_minutes(conversation: Conversation | None, now: datetime) -> float | None:
    """Minutes since the last message of a person or a bot (the reaper's own texts never count)."""
    seconds = None if conversation is None else idle_seconds(conversation, now)
    return None if seconds is None else seconds / 60


@dataclass
class SweepRecord:
    result: SweepResult
    decided: dict[str, Conversation]
    at: datetime

    @property
    def lines(self) -> list[DecisionLine]:
        return self.result.lines

    def done(self) -> list[DecisionLine]:
        return [ln for ln in self.lines if ln.outcome is Outcome.DONE and ln.decision in ACTIONS]


@dataclass
class DayPoint:
    """The emulator's worlds after a sweep: what only the demo can see (a world never swept)."""

    at: datetime  # when its sweep ran (virtual)
    acted: int  # conversations acted on by this sweep
    api_requests: int  # this sweep's (the ledger has them too; the busiest one is the demo's point)
    stale_with: int
    stale_without: int


def demo_settings(ledger_url: str) -> Settings:
    """The built-in defaults, plus what a demo needs: its own ledger, the raised limit, a wrap-up code."""
    return Settings.model_validate(
        {
            "sweep": {
                "ledger": ledger_url,
                "requests_per_minute": DEMO_RATE_LIMIT,
                "verify_timeout": "5s",
            },
            "close": {"wrapup_code": WRAPUP_CODE},
        }
    )


def credentials(base_url: str) -> dict[str, str]:
    return {
        "GENESYSCLOUD_OAUTHCLIENT_ID": DEMO_CLIENT[0],
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": DEMO_CLIENT[1],
        "GENESYSCLOUD_REGION": "us-east-1",
        "GENESYSCLOUD_API_URL": base_url,
    }


def sync_clock(rt: Runtime, platform_now: datetime) -> None:
    """After the demo moved the platform's clock, tell the reaper as a `Date` header would have."""
    rt.api.clock.observe(email.utils.format_datetime(platform_now.astimezone(UTC), usegmt=True))


async def run_sweep(
    rt: Runtime,
    settings: Settings,
    *,
    apply: bool,
    not_before: NotBefore | None = None,
    on_conversation: Callable[[], None] | None = None,
) -> SweepRecord:
    # A platform port per sweep, as each sweep of the demo proves its write permissions anew.
    sweep = RecordingSweep(
        GenesysPlatform(rt.api),
        rt.ledger,
        settings,
        apply=apply,
        not_before=not_before,
        on_conversation=on_conversation,
    )
    result = await sweep.run()
    if result.aborted is not None:
        raise result.aborted
    return SweepRecord(result, sweep.decided, rt.api.clock.now())


# ------------------------------------------------------------------------------------------ printing


def _short(conversation_id: str) -> str:
    return conversation_id[:8]


def _rule_key(rule: str | None) -> int:
    return RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER)


def _queue(line: DecisionLine) -> str:
    return _QUEUE_NAMES.get(line.queue_id or "", line.queue_id or "-")


def dry_run_tables(console: Console, record: SweepRecord) -> None:
    actionable = [ln for ln in record.lines if ln.outcome is Outcome.DRY_RUN]
    by_rule: dict[str, list[DecisionLine]] = {}
    for line in sorted(actionable, key=lambda ln: _rule_key(ln.rule)):
        by_rule.setdefault(line.rule or "-", []).append(line)

    def silence(line: DecisionLine) -> float:
        return silent_minutes(record.decided.get(line.conversation_id), record.at) or 0.0

    # A readable sample: the longest-silent conversations of every rule, at most TABLE_ROWS in all.
    per_rule = max(1, math.ceil(TABLE_ROWS / max(1, len(by_rule))))
    shown: list[DecisionLine] = []
    for lines in by_rule.values():
        shown.extend(sorted(lines, key=silence, reverse=True)[:per_rule])
    shown = shown[:TABLE_ROWS]
    table = Table(
        title="Dry run: what the reaper would do, and why (nothing was changed)", title_justify="left"
    )
    for column, style in (("id", "dim"), ("queue", ""), ("rule", "bold"), ("do", "cyan")):
        table.add_column(column, style=style, no_wrap=True)
    table.add_column("why", overflow="fold")
    for line in shown:
        table.add_row(
            _short(line.conversation_id), _queue(line), line.rule or "-", line.decision, line.reason
        )
    if len(actionable) > len(shown):
        table.add_row(
            "…", "", "", "", f"and {len(actionable) - len(shown)} more (every one is counted below)"
        )
    console.print(table)

    counts = Table(title="Would act on, by rule", title_justify="left")
    counts.add_column("rule", style="bold")
    counts.add_column("conversations", justify="right")
    counts.add_column("calls it would make (in order)", overflow="fold")
    for rule, lines in by_rule.items():
        counts.add_row(rule, str(len(lines)), " → ".join(lines[0].steps))
    counts.add_row("total", str(len(actionable)), "", style="bold")
    console.print(counts)

    left = Counter(_left_alone(ln) for ln in record.lines if ln.outcome is not Outcome.DRY_RUN)
    alone = Table(title="Left alone", title_justify="left")
    alone.add_column("why", overflow="fold")
    alone.add_column("conversations", justify="right")
    for why, n in left.most_common():
        alone.add_row(why, str(n))
    console.print(alone)


def _left_alone(line: DecisionLine) -> str:
    if line.decision == "defer" or "platform's inactivity timer" in line.reason:
        return "left to the platform's own inactivity timer"
    if line.reason.startswith("exempt"):
        return "exempt (reaper.exempt = true)"
    if line.rule is not None and line.decision == "skip":
        if "no wrapup_code" in line.reason or "not allowed" in line.reason:
            return line.reason
        return "active, or not silent for long enough yet"
    if line.outcome is Outcome.DEFERRED:
        return "deferred: per-sweep cap reached"
    return line.reason.split(" (")[0]


def applied_table(console: Console, record: SweepRecord) -> None:
    lines = [ln for ln in record.lines if ln.decision in ACTIONS]
    rules = sorted({ln.rule or "-" for ln in lines}, key=_rule_key)
    table = Table(title="Applied: what the reaper did", title_justify="left")
    table.add_column("rule", style="bold")
    for column in ("done", "cancelled", "failed"):
        table.add_column(column, justify="right")
    table.add_column("calls made, e.g. conversation", overflow="fold")
    for rule in rules:
        mine = [ln for ln in lines if (ln.rule or "-") == rule]
        outcomes = Counter(ln.outcome for ln in mine)
        example = next((ln for ln in mine if ln.outcome is Outcome.DONE), mine[0])
        table.add_row(
            rule,
            f"[green]{outcomes[Outcome.DONE]}[/]",
            str(outcomes[Outcome.CANCELLED]),
            f"[red]{outcomes[Outcome.FAILED]}[/]" if outcomes[Outcome.FAILED] else "0",
            f"{_short(example.conversation_id)}: " + " → ".join(example.steps),
        )
    console.print(table)
    summary = record.result.summary
    ended = summary.closed + summary.torn_down
    console.print(
        f"Closed {summary.closed}, tore down {summary.torn_down}, applied {summary.wrapped_up} wrap-ups"
        f" with {summary.api_requests} API requests"
        + (f" ({summary.api_requests / ended:.1f} per conversation ended)" if ended else "")
        + f", in {summary.duration_seconds:.1f} s.",
    )
    for line in lines:
        if line.outcome is Outcome.FAILED:
            console.print(f"[red]failed[/] {line.conversation_id} ({line.rule}): {line.error}")


def summary_table(
    console: Console,
    day: Day,
    whole: report.ReportData,
    during: report.ReportData,
    *,
    wall_seconds: float,
    refused: int,
) -> None:
    """The day in figures: the report's own (`report.FIGURES`, from the ledger), then what only the
    demo sees (its worlds, its wall time). `during` is the ledger's figures after the backlog sweep."""
    by_rule = Table(title="Acted on by rule", title_justify="left")
    by_rule.add_column("rule", style="bold")
    by_rule.add_column(f"backlog at {day.start:%H:%M}", justify="right")
    by_rule.add_column("during the day", justify="right")
    by_rule.add_column("total", justify="right", style="bold")
    day_counts = {rule: sum(counts.values()) for rule, counts in during.acted_by_rule}
    all_counts = {rule: sum(counts.values()) for rule, counts in whole.acted_by_rule}
    for rule in sorted(all_counts, key=_rule_key):
        total, later = all_counts[rule], day_counts.get(rule, 0)
        by_rule.add_row(rule, str(total - later), str(later), str(total))
    total, later = sum(all_counts.values()), sum(day_counts.values())
    by_rule.add_row("all rules", str(total - later), str(later), str(total), style="bold")
    console.print(by_rule)

    table = Table(title="Summary (every applied sweep)", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in whole.figures().items():
        table.add_row(report.FIGURE_LABELS[key], report.figure_text(value))
    rows = [
        ("guest/agent actions refused: chat already closed", str(refused)),
        (
            f"stale sessions at {day.end:%H:%M}: with the reaper / without",
            f"{day.points[-1].stale_with} / {day.points[-1].stale_without}" if day.points else "-",
        ),
        ("wall time", f"{wall_seconds:.1f} s"),
    ]
    for name, text in rows:
        table.add_row(name, text)
    console.print(table)


# ---------------------------------------------------------------------------------------------- run


@dataclass
class Day:
    """Everything the demo observed, for the summary and the report."""

    start: datetime
    step: timedelta
    backlog: SweepRecord
    points: list[DayPoint] = field(default_factory=list)  # the first is right after the backlog sweep

    @property
    def after_backlog(self) -> datetime:
        """A moment after the backlog sweep's last journal entry and before the day's first sweep."""
        return self.backlog.at + timedelta(milliseconds=1)

    @property
    def steps(self) -> list[DayPoint]:
        return self.points[1:]

    @property
    def end(self) -> datetime:
        return self.points[-1].at if self.points else self.start


def _progress(console: Console, what: str) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    )


class Demo:
    def __init__(
        self, console: Console, server: EmulatorServer, options: DemoOptions, *, started: float
    ) -> None:
        self.started = started  # monotonic time the demo began, for its wall time
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
        with _progress(self.console, "reading conversations") as bar:
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
        with _progress(self.console, "virtual time") as bar:
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
            whole = report.collect(ledger, day.start, day.end)
            during = report.collect(ledger, day.after_backlog, day.end)
            self.console.rule("[bold]Summary")
            summary_table(
                self.console,
                day,
                whole,
                during,
                wall_seconds=time.monotonic() - self.started,
                refused=len(self.hands.refused),
            )
        finally:
            ledger.close()
        try:
            report_html.write_html(
                self.options.html, whole, "session-reaper demo: a working day in the emulator"
            )
        except OSError as exc:
            raise DemoError(f"cannot write {self.options.html}: {exc.strerror or exc}") from None
        self.console.print(f"Wrote [bold]{self.options.html}[/]: a self-contained HTML report with charts.")
        return EXIT_ACTION_FAILED if whole.failures else EXIT_OK


class DemoError(ReaperError):
    """The demo cannot run or finish as asked (e.g. the report cannot be written there)."""

    exit_code = EXIT_USAGE


def run_demo(console: Console, options: DemoOptions) -> int:
    """The whole demo; returns the exit code (1 when an action failed). Raises DemoError."""
    started = time.monotonic()
    folder = options.html.parent
    if not folder.is_dir():  # say so now, not after the whole day
        raise DemoError(f"--html {options.html}: no such directory {folder}")
    with EmulatorServer(
        rate_limit=DEMO_RATE_LIMIT,
        seed="none",
        analytics_lag=ANALYTICS_LAG,
        propagation_delay=PROPAGATION_DELAY,
    ) as server:
        return asyncio.run(Demo(console, server, options, started=started).run())
