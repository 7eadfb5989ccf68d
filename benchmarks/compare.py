"""The reaper against the forum-style naive script, on the same seeded world and the same virtual day.

Each tool gets its own emulator world (same seed, same overnight backlog, same guests and agents through
the day) with the platform's limit of 300 requests per minute, and sweeps every minute of virtual time.
A third world with the same traffic is never swept: the baseline. The three run as three processes.

Virtual time, honestly: the platform's limit is per *minute*, so a real run would take a real day. Here
the emulator's clock stands still except when the driver moves it, and its rate limiter counts on that
clock (benchmarks.common.stepped). A tool's requests take no virtual time; it spends virtual time only
when it waits — its own pacer, a 429's Retry-After, or the next minute's sweep. Then the driver plays the
guests and agents (10-second ticks, identical in every world) up to the moment the tool waits for, and
hands back. So each tool can send 300 requests per virtual minute and no more, whatever this machine's
speed, and the traffic is the same in every world. Network latency is not modelled (it would only slow
the naive script further: it is sequential).

    .venv/bin/python -m benchmarks.compare            # the full day, writes docs and results.json
    .venv/bin/python -m benchmarks.compare --smoke    # a tiny world and a quarter of an hour, writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from benchmarks import events_report, events_world
from benchmarks.common import (
    PROTOTYPE_NOTE,
    AsyncBatonSleep,
    Baton,
    CloseLog,
    CountingTransport,
    DayOver,
    LongChats,
    Thresholds,
    WatchedHands,
    load_average,
    machine,
    machine_line,
    percentile,
    prototype_read_schedule,
    stepped,
)
from benchmarks.naive import NaiveCleanup
from genesys_emulator.server import EmulatorServer
from genesys_emulator.traffic import DEMO_QUEUES, TrafficGenerator, demo_specs
from session_reaper.commands.demo.world import stale_sessions, traffic_seed
from session_reaper.config import Settings
from session_reaper.engine.sweep import NotBefore, Sweep
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.http import PlatformHttp
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from session_reaper.telemetry.logs import configure as configure_logs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
RESULTS = ROOT / "benchmarks" / "results.json"
SECTION = "## Reaper vs naive"

PLATFORM_LIMIT = 300  # requests per minute per OAuth client
CLIENT = ("emulator", "emulator-secret")
CHANNELS = ("webmessaging",)
TICK = 10.0  # virtual seconds per traffic tick: the same in every world
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # a Friday, 08:00 UTC: the first sweep
WRAPUP_CODE = "code-follow-up"  # as the demo: acw-stuck applies it
NAIVE_THRESHOLD = timedelta(minutes=30)
TOOLS = ("reaper", "naive", "none", "events", "events-drops")
EVENTS = ("events", "events-drops")  # the reaper in events mode; the second with the socket dropped
DROPS = 10  # socket drops (the emulator's `disconnect` fault) at random in the events-drops day


def reaper_settings() -> Settings:
    return Settings.model_validate(
        {
            "sweep": {
                "ledger": "sqlite:///:memory:",
                "requests_per_minute": PLATFORM_LIMIT,
                "verify_timeout": "10s",
            },
            "close": {"wrapup_code": WRAPUP_CODE},
        }
    )


# --------------------------------------------------------------------------------------------- tools


def run_naive(baton: Baton, base_url: str, end: float, sweeps: list[dict[str, Any]]) -> None:
    cleanup = NaiveCleanup(
        base_url,
        *CLIENT,
        NAIVE_THRESHOLD,
        channels=CHANNELS,
        sleep=lambda seconds: baton.wait_until(baton.now() + seconds),
    )
    try:
        next_start = baton.now()
        while True:
            baton.wait_until(next_start)
            began = baton.now()
            if began >= end:
                return
            before = cleanup.stats.requests
            closed = cleanup.sweep()
            sweeps.append(
                {
                    "began": began,
                    "ended": baton.now(),
                    "closed": len(closed),
                    "requests": cleanup.stats.requests - before,
                }
            )
            next_start = began + 60
    finally:
        cleanup.close()


async def run_reaper_async(
    baton: Baton,
    base_url: str,
    end: float,
    sweeps: list[dict[str, Any]],
    operations: Counter[str],
    decisions: Counter[str],
) -> None:
    settings = reaper_settings()
    transport = CountingTransport()
    sleep = AsyncBatonSleep(baton, transport)
    http = PlatformHttp(
        resolve("us-east-1", base_url, None),
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        requests_per_minute=settings.sweep.requests_per_minute,
        transport=transport,
        monotonic=baton.now,
        sleep=sleep,
    )
    ledger = Ledger.open(settings.sweep.ledger)
    async with http:
        api = GenesysApi(http)
        await http.authenticate()
        not_before = NotBefore()  # kept across sweeps, as `serve` keeps it
        next_start = baton.now()
        while True:
            if baton.now() < next_start:
                await sleep(next_start - baton.now())
            began = baton.now()
            if began >= end:
                return
            result = await Sweep(
                GenesysPlatform(api), ledger, settings, apply=True, not_before=not_before
            ).run()
            if result.aborted is not None:
                raise result.aborted
            decisions.update(f"{ln.rule or '-'} {ln.decision} {ln.outcome.value}" for ln in result.lines)
            s = result.summary
            sweeps.append(
                {
                    "began": began,
                    "ended": baton.now(),
                    "closed": s.closed,
                    "tornDown": s.torn_down,
                    "wrappedUp": s.wrapped_up,
                    "cancelled": s.cancelled,
                    "failed": s.failed,
                    "deferred": s.deferred,
                    "scanned": s.scanned,
                    "requests": s.api_requests,
                }
            )
            operations.clear()
            operations.update(api.stats.by_operation)
            next_start = began + 60


def tool_thread(
    tool: str,
    baton: Baton,
    base_url: str,
    end: float,
    sweeps: list[dict[str, Any]],
    operations: Counter[str],
    decisions: Counter[str],
    watched: dict[str, Any] | None = None,
) -> None:
    try:
        if watched is not None:
            settings = events_world.events_settings(reaper_settings())
            events_world.run_watch(baton, base_url, settings, CLIENT, sweeps, watched)
        elif tool == "naive":
            run_naive(baton, base_url, end, sweeps)
        else:
            asyncio.run(run_reaper_async(baton, base_url, end, sweeps, operations, decisions))
        baton.finish()
    except DayOver:
        baton.finish()
    except BaseException as exc:  # reported by the driver
        baton.finish(exc)


# ------------------------------------------------------------------------------------------- worker


def in_scope_counts(world: Any, now: datetime) -> tuple[int, int]:
    """Unended conversations in scope, and agents among them in after-call work without a wrap-up."""
    open_count = acw = 0
    for cid in world.open_ids:
        conv = world.conversations[cid]
        if conv.media != "message" or conv.message_type not in CHANNELS:
            continue
        open_count += 1
        acw += sum(1 for leg in conv.legs if leg.purpose == "agent" and leg.in_acw)
    return open_count, acw


def worker(tool: str, args: argparse.Namespace) -> dict[str, Any]:
    wall0, cpu0 = time.monotonic(), psutil.Process().cpu_times()
    configure_logs(json=False, level="warning")
    if args.prototype and tool == "reaper":
        prototype_read_schedule()  # NOT the product: proposals measured in-process (see common.py)
    server = EmulatorServer(rate_limit=PLATFORM_LIMIT, seed="none")
    world = stepped(server.world)
    thresholds = Thresholds() if tool in ("reaper", *EVENTS) else Thresholds.single(NAIVE_THRESHOLD)
    closes = CloseLog(world, thresholds).install()
    warmup = timedelta(minutes=args.warmup)
    world.clock.set(START - warmup)
    for queue_id, name, timeout, action in DEMO_QUEUES:
        world.configure_queue(
            {"id": queue_id, "name": name, "inactivityTimeoutSeconds": timeout, "actionType": action}
        )
    for n in range(args.backlog):  # the overnight backlog: the demo's organization, several times over
        for spec in demo_specs(args.seed + n):
            world.create_conversation(spec)
    fine = tool in EVENTS  # the clock moves to the millisecond the watch asks for; traffic on the grid
    hands = events_world.GridHands(world) if fine else WatchedHands(world)
    clock = world.clock
    traffic = TrafficGenerator(hands, traffic_seed(args.seed), args.arrivals, now=clock.now())
    long_chats = LongChats(hands, args.seed + 2_000_003, args.long_chats, clock.now())

    def tick() -> None:
        traffic.step(TICK, tick=TICK)
        long_chats.step(clock.now())

    for _ in range(round(warmup.total_seconds() / TICK)):
        tick()
    start = clock.now().timestamp()
    end = start + args.hours * 3600
    created_before = len(traffic.created)
    open0, _ = in_scope_counts(world, clock.now())
    server.start()
    world.requests.clear()

    baton = Baton(lambda: clock.now().timestamp())
    sweeps: list[dict[str, Any]] = []
    operations: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    thread = None
    watched: dict[str, Any] | None = None
    drops: list[float] = []
    dropped: list[dict[str, Any]] = []
    if fine:
        hub = server._server.config.app.state.sockets
        watched = {"world": world, "hub": hub, "closes": closes}
        if tool == "events-drops":
            drops = events_world.drop_times(args.seed + 99, start, end, DROPS)
    if tool != "none":
        thread = threading.Thread(
            target=tool_thread,
            args=(tool, baton, server.base_url, end, sweeps, operations, decisions, watched),
            daemon=True,
        )
        thread.start()

    minutes: list[dict[str, Any]] = []
    by_status: Counter[int] = Counter()
    by_method: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []

    every: list[dict[str, Any]] = []  # the day's requests, for what each conversation cost

    def drain() -> None:
        while world.requests:
            entry = world.requests.popleft()
            if entry["path"] != "/oauth/token" and not entry["path"].startswith("/emulator/"):
                pending.append(entry)
                every.append({k: entry[k] for k in ("method", "path", "status")})

    def sample() -> None:
        drain()
        statuses = Counter(e["status"] for e in pending)
        by_status.update(statuses)
        by_method.update(e["method"] for e in pending)
        with world.lock:
            now = world.tick()
            open_count, acw = in_scope_counts(world, now)
        minutes.append(
            {
                "minute": round((now.timestamp() - start) / 60),
                "requests": len(pending),
                "rateLimited": statuses[429],
                "open": open_count,
                "stale": stale_sessions(world, CHANNELS),
                "acw": acw,
            }
        )
        pending.clear()

    error: str | None = None
    now = start
    while now < end:
        wake = baton.next_wake() if thread is not None else end
        if wake is None:
            if baton.error is not None:
                error = f"{type(baton.error).__name__}: {baton.error}"
            break
        target = min(max(wake, now), end)
        if fine:
            while drops and drops[0] <= now:
                drops.pop(0)
                dropped.append(
                    {"at": round(now - start, 1), "sockets": events_world.disconnect(server.base_url)}
                )
            if hands.grid.timestamp() + TICK <= target:  # type: ignore[attr-defined]
                tick()  # traffic on the shared grid, then the watch sees it at once
                now = clock.now().timestamp()
                if round(now - start) % 60 == 0:
                    sample()
            else:
                with world.lock:
                    clock.set(datetime.fromtimestamp(target, UTC))  # type: ignore[attr-defined]
                    world.tick()
                now = clock.now().timestamp()
        while not fine and now < target:
            tick()
            now = clock.now().timestamp()
            if round(now - start) % 60 == 0:
                sample()
        if now >= end:
            break
        baton.release()
    drain()
    if fine and watched is not None and "api" in watched:
        operations.update(watched["api"].stats.by_operation)
        decisions.update(watched["lines"])

    # The day is over: the tool is parked at its next wait; the world is measured as it stands.
    with world.lock:
        final_now = world.tick()
        open_end, acw_end = in_scope_counts(world, final_now)
    stale_end = stale_sessions(world, CHANNELS)
    first = [c for c in closes.first_closes() if c.at.timestamp() >= start]
    wrong = [c for c in first if c.wrong]
    first_sweep_end = sweeps[0]["ended"] if sweeps else start
    # The backlog is drained at the end of the first sweep that was not held back by the per-sweep cap.
    cap = reaper_settings().sweep.max_closes
    drained = next(
        (w["ended"] for w in sweeps if tool == "naive" or w.get("closed", 0) + w.get("tornDown", 0) < cap),
        end,
    )
    # Reaction delay in steady state: conversations whose threshold ran out after the backlog was cleared.
    right = [c for c in first if not c.wrong and c.delay is not None]
    steady = [c for c in right if (c.since + c.threshold).timestamp() >= drained]  # type: ignore[operator]
    delays = [c.delay for c in steady if c.delay is not None]
    backlog_closed = len(right) - len(steady)
    steady_429 = sum(m["rateLimited"] for m in minutes if start + m["minute"] * 60 > drained)
    closed_at = {c.conversation_id: c.at for c in closes.closes if c.ok}
    after_close = [
        (at, cid, why) for at, cid, why in hands.refusals if cid in closed_at and closed_at[cid] <= at
    ]
    requests = sum(m["requests"] for m in minutes)
    conversation_minutes = sum(m["open"] for m in minutes)
    cpu1 = psutil.Process().cpu_times()
    result = {
        "tool": tool,
        "error": error,
        "hours": args.hours,
        "arrivalsPerHour": args.arrivals,
        "conversationsAtStart": open0,
        "arrivalsDuringDay": len(traffic.created) - created_before,
        "longChatsOpened": long_chats.created,
        "longChatsWentSilent": long_chats.went_silent,
        "concurrent": {
            "min": min((m["open"] for m in minutes), default=0),
            "mean": round(conversation_minutes / max(1, len(minutes)), 1),
            "max": max((m["open"] for m in minutes), default=0),
        },
        "sweeps": len(sweeps),
        "firstSweepMinutes": round((first_sweep_end - start) / 60, 1),
        "backlogDrainedMinutes": round((drained - start) / 60, 1),
        "sweepMinutes": {
            "p50": percentile([(s["ended"] - s["began"]) / 60 for s in sweeps], 50),
            "max": max(((s["ended"] - s["began"]) / 60 for s in sweeps), default=None),
        },
        "apiRequests": requests,
        "requestsByMethod": dict(by_method),
        "requestsByStatus": {str(k): v for k, v in sorted(by_status.items())},
        "requestsByOperation": dict(operations),
        "decisions": dict(decisions.most_common()),
        "wrongCloseRecords": [
            [c.at.isoformat(), c.conversation_id, c.situation, str(c.last_person), c.exempt, c.timer]
            for c in wrong[:20]
        ],
        "conversationMinutesWatched": conversation_minutes,
        "requestsPer1000ConversationMinutes": round(1000 * requests / conversation_minutes, 2)
        if conversation_minutes
        else None,
        "closed": len(first),
        "requestsPerClosedConversation": round(requests / len(first), 2) if first else None,
        "rateLimited": sum(m["rateLimited"] for m in minutes),
        "rateLimitedSteadyState": steady_429,
        "wrongCloses": len(wrong),
        "wrongClosesBy": {
            "inUse": sum(1 for c in wrong if c.in_use),
            "exempt": sum(1 for c in wrong if c.exempt),
            "platformTimer": sum(1 for c in wrong if c.timer),
        },
        "guestOrAgentActionsRefused": len(hands.refusals),
        "refusedAfterToolClose": len(after_close),
        "refusals": [[at.isoformat(), cid, why] for at, cid, why in hands.refusals[:30]],
        "refusedCloses": [
            [c.at.isoformat(), c.conversation_id, c.kind, c.situation, str(c.since), str(c.last_person)]
            for c in closes.closes
            if c.conversation_id in {cid for _, cid, _ in after_close}
        ][:20],
        "closesBySituation": dict(Counter(c.situation for c in first)),
        "wrapupsApplied": closes.wrapups,
        "staleAtEnd": stale_end,
        "openAtEnd": open_end,
        "agentsInAcwAtEnd": acw_end,
        "reactionDelaySeconds": {
            "p50": percentile(delays, 50),
            "p95": percentile(delays, 95),
            "p99": percentile(delays, 99),
            "max": max(delays, default=None),
            "count": len(delays),
        },
        "closedFromBacklog": backlog_closed,
        "reactionDelayBySituation": {
            situation: {
                "count": len(values),
                "p50": percentile(values, 50),
                "p99": percentile(values, 99),
                "max": max(values),
            }
            for situation in sorted({c.situation for c in steady})
            for values in [[c.delay for c in steady if c.situation == situation and c.delay is not None]]
            if values
        },
        "delays": [round(d, 1) for d in delays],
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpuSeconds": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 1),
        "wallSeconds": round(time.monotonic() - wall0, 1),
        "loadAverageAtEnd": load_average(),
        "minutes": minutes,
        "sweepLog": sweeps[:5],
    }
    result.update(spending_by_conversation(every, conversation_minutes, len(first)))
    if fine and watched is not None:
        result.update(events_figures(world, watched, steady, dropped, drained, start))
    return result


def spending_by_conversation(
    every: list[dict[str, Any]], conversation_minutes: int, closed: int
) -> dict[str, Any]:
    """Requests by the conversation their path names: on those the tool wrote to, and on the rest."""
    found = events_world.spent(every)
    per, written = found["per"], found["written"]
    on_acted = sum(n for cid, n in per.items() if cid in written)
    alone = sum(n for cid, n in per.items() if cid not in written)
    return {
        "requestsOnConversationsActedOn": on_acted,
        "conversationsActedOn": len(written),
        "requestsPerConversationActedOn": round(on_acted / len(written), 2) if written else None,
        "requestsOnConversationsLeftAlone": alone,
        "conversationsLeftAloneRead": sum(1 for cid in per if cid not in written),
        "leftAlonePer1000ConversationMinutes": round(1000 * alone / conversation_minutes, 2)
        if conversation_minutes
        else None,
        "requestsNamingNoConversation": dict(found["other"].most_common(12)),
        "doubleActs": sum(v - 1 for v in found["doubles"].values()),
        "doubleActRecords": sorted(found["doubles"].items())[:20],
        "closedConversations": closed,
    }


def events_figures(
    world: Any,
    watched: dict[str, Any],
    steady: list[Any],
    dropped: list[dict[str, Any]],
    drained: float,
    start: float,
) -> dict[str, Any]:
    """The events world's own figures: delays by what showed the conversation, the socket, the watch."""
    visible = [c for c in steady if events_world.topic_visible(world, c.conversation_id)]
    rest = [c for c in steady if not events_world.topic_visible(world, c.conversation_id)]

    def spread(closes: list[Any]) -> dict[str, Any]:
        values = [c.delay for c in closes if c.delay is not None]
        return {
            "count": len(values),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "max": max(values, default=None),
            "bySituation": dict(Counter(c.situation for c in closes)),
        }

    transit, selector, watch = watched["transit"], watched["selector"], watched.get("watch")
    notifications = world.notifications
    return {
        "reactionDelayTopicVisible": spread(visible),
        "reactionDelayRest": spread(rest),
        "closedIds": sorted({c.conversation_id for c in watched["closes"].first_closes()}),
        "steadyCloses": {
            c.conversation_id: [round(c.at.timestamp(), 3), round((c.since + c.threshold).timestamp(), 3)]
            for c in steady
        },
        "socketDrops": dropped,
        "framesTakenIn": transit.frames,
        "framesLostInTransit": transit.lost,
        "handoversWhileInTransit": dict(transit.stuck),
        "eventsSentByEmulator": sum(transit.sent.values()),
        "eventsDroppedByEmulator": sum(c.events_dropped for c in notifications.channels.values()),
        "handovers": selector.handovers,
        "watchDecisions": dict(watched["lines"].most_common()),
        "pictureAtEnd": len(watch.picture) if watch is not None else None,
        "timersArmedAtEnd": watch.picture.armed if watch is not None else None,
        "steadyStateFromMinutes": round((drained - start) / 60, 1),
    }


# ------------------------------------------------------------------------------------------- parent


def run_workers(args: argparse.Namespace, out_dir: Path) -> dict[str, dict[str, Any]]:
    command = [sys.executable, "-m", "benchmarks.compare"]
    common = ["--hours", str(args.hours), "--arrivals", str(args.arrivals), "--backlog", str(args.backlog)]
    common += ["--warmup", str(args.warmup), "--seed", str(args.seed), "--long-chats", str(args.long_chats)]
    if args.prototype:
        common.append("--prototype")
    runs = [(tool, tool, []) for tool in TOOLS if tool in args.tools.split(",")]
    if args.with_prototype:
        runs.append(("proto", "reaper", ["--prototype"]))
    processes = {}
    for name, tool, extra in runs:
        out = out_dir / f"{name}.json"
        processes[name] = (
            subprocess.Popen([*command, "--worker", tool, "--out", str(out), *common, *extra], cwd=ROOT),
            out,
        )
    results = {}
    for tool, (process, out) in processes.items():
        if process.wait() != 0:
            raise SystemExit(f"the {tool} worker failed (exit {process.returncode})")
        results[tool] = json.loads(out.read_text())
    return results


def product_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return f"commit {done.stdout.strip()}" + (
        " plus uncommitted changes in src/" if dirty.stdout.strip() else ""
    )


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


ROWS: list[tuple[str, Any, bool]] = [
    # (figure, value of one tool's result, shown for the never-swept world)
    ("API requests (the day)", lambda x: fmt(x["apiRequests"]), True),
    ("conversations closed", lambda x: fmt(x["closed"]), False),
    ("API requests per closed conversation", lambda x: fmt(x["requestsPerClosedConversation"], 1), False),
    ("conversation-minutes watched", lambda x: fmt(x["conversationMinutesWatched"]), True),
    (
        "**API requests per 1,000 conversation-minutes**",
        lambda x: f"**{fmt(x['requestsPer1000ConversationMinutes'], 1)}**",
        False,
    ),
    (
        "429s received (all / in steady state)",
        lambda x: f"{fmt(x['rateLimited'])} / {fmt(x['rateLimitedSteadyState'])}",
        False,
    ),
    (
        "**closed while in use, exempt, or on the platform's timer**",
        lambda x: f"**{fmt(x['wrongCloses'])}**",
        False,
    ),
    ("… of which a person wrote within the threshold", lambda x: fmt(x["wrongClosesBy"]["inUse"]), False),
    ("… exempt (`reaper.exempt`)", lambda x: fmt(x["wrongClosesBy"]["exempt"]), False),
    ("… platform inactivity timer running", lambda x: fmt(x["wrongClosesBy"]["platformTimer"]), False),
    (
        "guest/agent actions refused after a close (a guest back after the threshold)",
        lambda x: fmt(x["guestOrAgentActionsRefused"]),
        True,
    ),
    ("stale conversations open at the end (silent ≥ 30 min)", lambda x: fmt(x["staleAtEnd"]), True),
    ("agents left in after-call work at the end", lambda x: fmt(x["agentsInAcwAtEnd"]), True),
    (
        "**reaction delay past the threshold in steady state, p50 / p95 / p99 (s)**",
        lambda x: "**" + " / ".join(fmt(x["reactionDelaySeconds"][k]) for k in ("p50", "p95", "p99")) + "**",
        False,
    ),
    (
        "first sweep took / backlog drained after (virtual minutes)",
        lambda x: f"{fmt(x['firstSweepMinutes'], 0)} / {fmt(x['backlogDrainedMinutes'], 0)}",
        False,
    ),
    (
        "sweeps run / longest (virtual minutes)",
        lambda x: f"{x['sweeps']} / {fmt(x['sweepMinutes']['max'], 0)}",
        False,
    ),
    (
        "peak RSS of the process, MiB (emulator world + traffic + tool)",
        lambda x: fmt(x["peakRssMiB"], 0),
        True,
    ),
    (
        "CPU s / wall s of the process",
        lambda x: f"{fmt(x['cpuSeconds'], 0)} / {fmt(x['wallSeconds'], 0)}",
        True,
    ),
]


def table(results: dict[str, dict[str, Any]], prototype: dict[str, Any] | None = None) -> str:
    z = results["none"]
    head = "| figure | reaper | naive script | never swept |"
    rule = "|---|---:|---:|---:|"
    if prototype is not None:
        head += " reaper + proposals (prototype) |"
        rule += "---:|"
    lines = [head, rule]
    for label, value, for_none in ROWS:
        cells = [value(results["reaper"]), value(results["naive"]), value(z) if for_none else "–"]
        if prototype is not None:
            cells.append(value(prototype))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    tool_share = [
        fmt(results["reaper"]["peakRssMiB"] - z["peakRssMiB"], 0),
        fmt(results["naive"]["peakRssMiB"] - z["peakRssMiB"], 0),
        "–",
    ]
    if prototype is not None:
        tool_share.append(fmt(prototype["peakRssMiB"] - z["peakRssMiB"], 0))
    lines.insert(
        -1, "| … the tool's share (minus the never-swept process) | " + " | ".join(tool_share) + " |"
    )
    return "\n".join(lines)


def spending(result: dict[str, Any]) -> str:
    """Where the reaper's requests went: reads that ended in a skip, reads of capped candidates, closes."""
    decisions: dict[str, int] = result.get("decisions", {})
    ops: dict[str, int] = result.get("requestsByOperation", {})
    skipped = sum(v for k, v in decisions.items() if k.endswith(" skip skipped"))
    defer_timer = sum(v for k, v in decisions.items() if k.endswith(" defer deferred"))
    capped = sum(
        v
        for k, v in decisions.items()
        if k.split(" ")[1] in ("close", "teardown", "warn") and k.endswith(" deferred")
    )
    acted = sum(v for k, v in decisions.items() if k.endswith(" done"))
    pages = ops.get("postAnalyticsConversationsDetailsQuery", 0)
    total = max(1, result["apiRequests"])

    def share(n: int) -> str:
        return f"{n:,} ({n / total:.0%})"

    return (
        f"Of the reaper's {total:,} requests: {share(pages)} were analytics pages (discovery, every sweep); "
        f"{share(skipped)} were reads of conversations it then left alone (`skip`: not yet eligible, exempt, "
        f"nothing to do); {share(defer_timer)} reads ended in `defer` (the platform's timer runs); "
        f"{share(capped)} reads of eligible conversations ended `deferred` because the sweep's "
        f"`max_closes` was used up; the rest, {share(total - pages - skipped - defer_timer - capped)}, "
        f"went to the {acted:,} conversations acted on (decision read, re-check, annotation, closing text, "
        "disconnect, verification, and the later `acw-stuck` wrap-ups)."
    )


def targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    r, n = results["reaper"], results["naive"]
    p99 = r["reactionDelaySeconds"]["p99"]
    ratio = (
        r["requestsPer1000ConversationMinutes"] / n["requestsPer1000ConversationMinutes"]
        if r["requestsPer1000ConversationMinutes"] and n["requestsPer1000ConversationMinutes"]
        else None
    )

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    return [
        ("zero wrong closes", f"{r['wrongCloses']}", verdict(r["wrongCloses"] == 0)),
        (
            "zero 429s in steady state",
            f"{r['rateLimitedSteadyState']}",
            verdict(r["rateLimitedSteadyState"] == 0),
        ),
        (
            "reaction delay p99 ≤ 70 s (one sweep interval + 10 s)",
            f"{fmt(p99)} s",
            verdict(p99 is not None and p99 <= 70),
        ),
        (
            "requests per 1,000 conversation-minutes ≤ 1/5 of the naive script's",
            f"{ratio:.3f} of the naive's (1/{1 / ratio:.1f})" if ratio else "–",
            verdict(ratio is not None and ratio <= 0.2),
        ),
    ]


def plots(
    results: dict[str, dict[str, Any]], img: Path, prototype: dict[str, Any] | None = None
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    colours = {
        "reaper": "tab:green",
        "naive": "tab:red",
        "none": "tab:gray",
        "proto": "tab:blue",
        "events": "tab:purple",
        "events-drops": "tab:orange",
    }
    labels = {
        "events": "reaper, events mode",
        "events-drops": "events mode, 10 socket drops",
        "reaper": "reaper",
        "naive": "naive script",
        "none": "never swept",
        "proto": "reaper + proposals",
    }
    if prototype is not None:
        results = {**results, "proto": prototype}
    shown = [t for t in (*TOOLS, "proto") if t in results]
    if "events" in shown:  # the stale line of the events worlds hides under the reaper's: not drawn twice
        shown = [t for t in shown if t != "events-drops"]
    names = []

    def hours(series: list[dict[str, Any]]) -> list[float]:
        return [8 + m["minute"] / 60 for m in series]

    fig, ax = plt.subplots(figsize=(8, 4))
    for tool in shown:
        ax.plot(
            hours(results[tool]["minutes"]),
            [m["stale"] for m in results[tool]["minutes"]],
            label=labels[tool],
            color=colours[tool],
        )
    ax.set_xlabel("virtual hour of the day (UTC)")
    ax.set_ylabel("stale web messaging conversations\n(not ended, silent ≥ 30 min)")
    ax.set_title("Stale conversations through the day")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img / "compare-stale.png", dpi=110)
    plt.close(fig)
    names.append("compare-stale.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    for tool in [t for t in shown if t != "none"]:
        ax.plot(
            hours(results[tool]["minutes"]),
            [m["requests"] for m in results[tool]["minutes"]],
            label=labels[tool],
            color=colours[tool],
            linewidth=0.8,
        )
    ax.axhline(PLATFORM_LIMIT, color="black", linestyle="--", linewidth=0.8, label="platform limit 300/min")
    ax.set_xlabel("virtual hour of the day (UTC)")
    ax.set_ylabel("API requests per virtual minute")
    ax.set_title("API requests per minute")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img / "compare-requests.png", dpi=110)
    plt.close(fig)
    names.append("compare-requests.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    for tool in [t for t in shown if t != "none"]:
        delays = sorted(results[tool]["delays"])
        if delays:
            ax.plot(
                [d / 60 for d in delays],
                [(i + 1) / len(delays) for i in range(len(delays))],
                label=labels[tool],
                color=colours[tool],
            )
    ax.axvline(70 / 60, color="black", linestyle="--", linewidth=0.8, label="target p99: 70 s")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("reaction delay past the threshold (minutes, log scale above 1)")
    ax.set_ylabel("share of closes")
    ax.set_title("Reaction delay past the threshold (cumulative)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(img / "compare-delay.png", dpi=110)
    plt.close(fig)
    names.append("compare-delay.png")
    return names


def section(
    results: dict[str, dict[str, Any]], meta: dict[str, Any], prototype: dict[str, Any] | None = None
) -> str:
    r, n, z = results["reaper"], results["naive"], results["none"]
    if prototype is None:
        target_rows = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in targets(results))
        target_head = "| target (the reaper's side) | measured | |\n|---|---|---|"
    else:
        mine = targets({**results, "reaper": prototype})
        target_rows = "\n".join(
            f"| {a} | {b} | {c} | {pb} | {pc} |"
            for (a, b, c), (_, pb, pc) in zip(targets(results), mine, strict=True)
        )
        target_head = (
            "| target (the reaper's side) | reaper | | reaper + proposals (prototype) | |\n"
            "|---|---|---|---|---|"
        )
    proto_text = ""
    if prototype is not None:
        proto_text = (
            "\n**The last column is not the product**: the same run with the reaper patched in-process by "
            "`benchmarks/common.py: prototype_read_schedule` (`compare.py --prototype`), to measure changes "
            f"proposed to the product. {meta.get('prototypeNote', '')}. {spending(prototype)}\n"
        )
    return f"""{SECTION}

`benchmarks/compare.py` ({meta["at"]}; product code: {meta.get("product", "?")}): the reaper and
`benchmarks/naive.py` (the forum-style script: analytics query, `GET` each conversation, `PATCH` the
conversation disconnected when the last message is 30 minutes old, sleep on 429 — scoped to web
messaging like the reaper) each against its own emulator world with the platform's limit of
{PLATFORM_LIMIT} requests per minute, each sweeping every virtual minute, over the same virtual day:
{meta["hours"]:g} hours from 08:00 UTC. The worlds are identical at the start: the demo's organization
{meta["backlog"]} times over (the overnight backlog: idle chats, lingering agents, guests gone, bots,
zombies, after-call work, exempt conversations, queues with the platform's own timer, other channels)
and {meta["longChats"]:,} long-lived web messaging chats, then {meta["warmup"]:g} minutes of live
traffic before the first sweep. Through the day, the same in every world: the demo's traffic generator
plays {meta["arrivals"]:,.0f} arrivals per hour ({r["arrivalsDuringDay"]:,} in all: bots, queues,
agents, transfers, guests going silent or leaving, agents lingering, after-call work), and the
long-lived chats (a message every 5 minutes on average, guest and agent in turn, for 30 minutes to 4 hours;
15% fall silent for good, the rest are ended by the agent and wrapped up) are replaced as they end
({r["longChatsOpened"]:,} opened in all). Unended web messaging conversations in the reaper's world:
{r["concurrent"]["min"]:,}–{r["concurrent"]["max"]:,} (mean {r["concurrent"]["mean"]:,.0f}); in the
naive script's: {n["concurrent"]["min"]:,}–{n["concurrent"]["max"]:,}; never swept:
{z["concurrent"]["min"]:,}–{z["concurrent"]["max"]:,}. The reaper runs with the built-in defaults plus
`wrapup_code = "{WRAPUP_CODE}"` (so that `acw-stuck` acts) and its journal in SQLite in memory.

Machine: {machine_line(meta["machine"])}. The worlds ran as separate processes at once; load average
(1, 5, 15 min) before: {", ".join(map(str, meta["loadBefore"]))}; after:
{", ".join(map(str, meta["loadAfter"]))}.
The virtual-time figures (requests, closes, delays) do not depend on the machine's speed or load; CPU,
wall time and memory do.

{table(results, prototype)}

{spending(r)}
{proto_text}
{target_head}
{target_rows}

![stale conversations through the day](img/compare-stale.png)
![API requests per minute](img/compare-requests.png)
![reaction delay past the threshold](img/compare-delay.png)

How it is measured:
- **Virtual time.** Each emulator's clock stands still except when the driver moves it, and its rate
  limiter counts requests on that clock (`benchmarks/common.py: stepped`, with the emulator's
  `rate_on_virtual_clock`). A tool's requests take no virtual time: it spends virtual time only while it
  waits — the reaper's pacer (95% of 300/min), a 429's `Retry-After`, or the next minute's sweep. The
  driver then plays guests and agents in 10-second ticks up to that moment and hands back. So both tools
  get exactly 300 requests per virtual minute, whatever this machine's speed, and the traffic is
  identical in all three worlds.
- **Wrong close** = a close request (participant disconnect, conversation disconnect or teardown)
  served while, in the emulator's world at that instant, a customer or agent had written within the
  tool's own threshold for the situation (the naive script: 30 minutes for everything; the reaper: its
  rule's — idle 30, customer-left 5, queue-abandoned 20, flow-stuck 60, orphaned 15 minutes), or a
  participant carried `reaper.exempt = "true"`, or the platform's own inactivity timer was running.
  The tool's own texts (the reaper's closing text) never count as a message. "Guest/agent actions
  refused" is the other side of it: the simulated guests and agents trying to write, join, leave or wrap
  up in a conversation that was already closed — in these runs, guests of long-lived chats coming back
  after a silence longer than the threshold (the message gaps are random), which no tool could foresee.
- **Reaction delay** = for each conversation's first close that was not wrong, the close time minus
  (the moment the situation's clock started + the threshold). Conversations that went stale but were
  never closed are not in it; they are in "stale at the end".
- **Requests** are the emulator's request log (token requests excluded); **conversation-minutes
  watched** = the unended web messaging conversations in the tool's own world, summed over every minute
  of the day. **Steady state** starts once the overnight backlog is drained: for the reaper, at the end
  of its first sweep that was not held back by its per-sweep cap (`max_closes = 200`); for the naive
  script (no cap), at the end of its first sweep. 429s and reaction delays are counted from there.
- **Memory** is the peak RSS of each process, which also holds its emulator world and traffic generator;
  the tool's share is estimated by subtracting the never-swept process's peak (same world, no tool).
"""


def write_section(text: str, marker: str = SECTION) -> None:
    doc = DOC.read_text()
    start = doc.find(marker + "\n")
    if start == -1:
        doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        following = doc.find("\n## ", start + len(marker))
        end = len(doc) if following == -1 else following + 1
        doc = doc[:start] + text.rstrip("\n") + "\n" + ("\n" + doc[end:] if following != -1 else "")
    DOC.write_text(doc)


def update_results(key_values: dict[str, Any]) -> None:
    current = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    current.update(key_values)
    RESULTS.write_text(json.dumps(current, indent=2) + "\n")


def compact(result: dict[str, Any]) -> dict[str, Any]:
    """What results.json keeps of a worker's output: every figure, not the raw series."""
    dropped = ("minutes", "delays", "sweepLog", "refusals", "steadyCloses", "closedIds")
    return {k: v for k, v in result.items() if k not in dropped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=10.0, help="virtual hours of the day from 08:00")
    parser.add_argument("--arrivals", type=float, default=1000.0, help="new conversations per virtual hour")
    parser.add_argument("--backlog", type=int, default=6, help="copies of the demo organization at the start")
    parser.add_argument(
        "--long-chats", type=int, default=2000, help="long-lived web messaging chats kept live"
    )
    parser.add_argument(
        "--warmup", type=float, default=60.0, help="virtual minutes of traffic before the first sweep"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny world and a quarter of an hour; writes nothing"
    )
    parser.add_argument("--out-dir", type=Path, help="where the workers' JSON goes (default: a temp dir)")
    parser.add_argument("--no-write", action="store_true", help="print the table, write no docs or results")
    parser.add_argument("--from-dir", type=Path, help="use the workers' JSON already in this directory")
    parser.add_argument(
        "--prototype",
        action="store_true",
        help="patch the proposals of common.py into the reaper (not the product)",
    )
    parser.add_argument(
        "--prototype-dir", type=Path, help="the reaper.json of a --prototype run, shown beside"
    )
    parser.add_argument(
        "--with-prototype", action="store_true", help="a 4th world: the reaper with the proposals patched in"
    )
    parser.add_argument("--product", default=None, help="what product code ran (default: the git commit)")
    parser.add_argument(
        "--load-before", help="with --from-dir: the load average before the run, e.g. 2.1,3.0,3.5"
    )
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--tools", default=",".join(TOOLS), help="which worlds to run (comma-separated)")
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.hours, args.arrivals, args.backlog, args.warmup, args.no_write = 0.25, 300.0, 1, 10.0, True
        args.long_chats = 50
        if args.tools == ",".join(TOOLS):  # the day with drops is the full run's: the smoke stays short
            args.tools = "reaper,naive,none,events"
    if args.worker:
        result = worker(args.worker, args)
        args.out.write_text(json.dumps(result))
        sys.stdout.flush()
        os._exit(0)  # the tool thread is parked at its next wait: no need to wake it
    meta = {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "hours": args.hours,
        "arrivals": args.arrivals,
        "backlog": args.backlog,
        "warmup": args.warmup,
        "longChats": args.long_chats,
        "seed": args.seed,
        "machine": machine(),
        "loadBefore": load_average(),
    }
    meta["product"] = args.product or product_commit()
    if args.from_dir:
        results = {
            tool: json.loads((args.from_dir / f"{tool}.json").read_text())
            for tool in TOOLS
            if (args.from_dir / f"{tool}.json").exists()
        }
        if (args.from_dir / "proto.json").exists():
            results["proto"] = json.loads((args.from_dir / "proto.json").read_text())
        meta["loadAfter"] = results["reaper"]["loadAverageAtEnd"]
        meta["at"] = datetime.fromtimestamp((args.from_dir / "reaper.json").stat().st_mtime, UTC).strftime(
            "%Y-%m-%d %H:%M UTC"
        )
        if args.load_before:
            meta["loadBefore"] = [float(x) for x in args.load_before.split(",")]
        meta.update(results["reaper"].get("meta", {}))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out_dir = args.out_dir or Path(tmp)
            out_dir.mkdir(parents=True, exist_ok=True)
            results = run_workers(args, out_dir)
        meta["loadAfter"] = load_average()
        if args.out_dir:
            stored = json.loads((out_dir / "reaper.json").read_text())
            stored["meta"] = meta
            (out_dir / "reaper.json").write_text(json.dumps(stored))
    prototype = results.pop("proto", None)
    if args.prototype_dir:
        prototype = json.loads((args.prototype_dir / "reaper.json").read_text())
    if prototype is not None:
        meta["prototypeNote"] = PROTOTYPE_NOTE
    errors = {tool: r["error"] for tool, r in results.items() if r.get("error")}
    versus_naive = "naive" in results and "none" in results  # the section "Reaper vs naive"
    if versus_naive:
        print(table(results, prototype))
        for name, value, verdict in targets(results):
            print(f"- {name}: {value} ({verdict.strip('*')})")
    meta["endTimestamp"] = (START + timedelta(hours=args.hours)).timestamp()
    if "events" in results and "reaper" in results:
        print(events_report.table(results))
        for name, value, verdict in events_report.targets(results, meta["endTimestamp"]):
            print(f"- {name}: {value} ({verdict.replace('*', '')})")
    if errors:
        print(f"errors: {errors}", file=sys.stderr)
        return 1
    if args.no_write:
        return 0
    if versus_naive:
        plots(results, IMG, prototype)
        write_section(section(results, meta, prototype))
        extra = {"reaperWithProposals": compact(prototype)} if prototype is not None else {}
        update_results(
            {
                "reaper": compact(results["reaper"]),
                "naive": compact(results["naive"]),
                "neverSwept": compact(results["none"]),
                **extra,
                "compareMeta": meta,
            }
        )
        print(
            f"wrote {DOC.relative_to(ROOT)} ({SECTION}), {RESULTS.relative_to(ROOT)}, docs/img/compare-*.png"
        )
    if "events" in results and "reaper" in results:
        write_section(events_report.section(results, meta), events_report.SECTION)
        update_results(
            {
                "eventsCompare": {
                    "meta": meta,
                    "pollingReaper": compact(results["reaper"]),
                    **{
                        name: compact(results[tool])
                        for tool, name in (("events", "events"), ("events-drops", "eventsWithDrops"))
                        if tool in results
                    },
                }
            }
        )
        print(f"wrote {DOC.relative_to(ROOT)} ({events_report.SECTION}) and {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
