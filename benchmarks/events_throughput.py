"""How many events one core of the reaper handles, and its memory with 50,000 open conversations pictured.

A separate process plays the platform's socket: a real WebSocket server on loopback (`websockets`) that
sends frames built by the emulator itself (`genesys_emulator.events.conversation_frames`) from
conversations the emulator's world holds — web messaging chats with a guest, the queue's ended acd leg
and an agent, a few messages each — first one frame per conversation (they enter the picture), then
rounds of changes (a new message in each, in turn, so that every frame is news). The reaper's process
runs its real event path and nothing else: `GenesysEvents` keeps the socket (`genesys/socket.listen`),
each frame becomes a signal (`event_mapping.to_signal`: JSON, the SDK's body mapped to the core's
`Conversation`), the platform clock is moved to the change's time, and the `Watch` takes it in
(`Picture.observe`: the rules' `evaluate`, the timer armed at eligible_at) and counts it in the
service's metrics (`serve`'s hooks: events by topic, event lag). One asyncio thread: one core.

    .venv/bin/python -m benchmarks.events_throughput            # 50,000 conversations, 150,000 events
    .venv/bin/python -m benchmarks.events_throughput --smoke    # 500 conversations; writes nothing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from benchmarks.common import load_average, machine, machine_line

SECTION = "## Events throughput"
TOPIC_QUEUES = ("queue-support", "queue-sales", "queue-vip")
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------- the platform's side


def build_frames(conversations: int, rounds: int, seed: int) -> tuple[list[str], int]:
    """Frames as the emulator sends them: each conversation once, then `rounds` changes of each."""
    import random

    from benchmarks.common import stepped
    from genesys_emulator import events
    from genesys_emulator.server import build_world
    from genesys_emulator.targets import WorldTarget

    rng = random.Random(seed)
    world = stepped(build_world(10**9, "none", 0.0, 0.0))
    world.clock.set(START)  # type: ignore[attr-defined]
    target = WorldTarget(world)
    ids = []
    for n in range(conversations):
        cid = f"{n:08d}-0000-4000-8000-{rng.getrandbits(48):012x}"
        gap = rng.uniform(5, 600)
        target.create(
            {
                "id": cid,
                "messageType": "webmessaging",
                "queueId": TOPIC_QUEUES[n % len(TOPIC_QUEUES)],
                "participants": [
                    {
                        "purpose": "customer",
                        "name": "Guest",
                        "messages": [{"ago": f"{gap + 90:.0f}s"}, {"ago": f"{gap + 30:.0f}s"}],
                    },
                    {"purpose": "acd", "state": "disconnected", "startedAgo": "900s", "endedAgo": "870s"},
                    {"purpose": "agent", "wrapupRequired": True, "messages": [{"ago": f"{gap:.0f}s"}]},
                ],
            }
        )
        ids.append(cid)
    frames = []
    for cid in ids:
        conv = world.conversations[cid]
        frames.extend(frame for _, frame in events.conversation_frames(conv, events.queue_topics(conv)))
    for _ in range(rounds):
        target.advance(1.0)
        for cid in ids:
            sender = "customer" if rng.random() < 0.5 else "agent"
            target.message(cid, sender, "…")
            conv = world.conversations[cid]
            frames.extend(frame for _, frame in events.conversation_frames(conv, events.queue_topics(conv)))
    return frames, sum(len(f) for f in frames)


def serve_frames(conversations: int, rounds: int, seed: int, ready: Any, port_out: Any) -> None:
    """The child process: build the frames, then send them all to the first socket that connects."""
    from websockets.asyncio.server import serve

    frames, size = build_frames(conversations, rounds, seed)

    async def handler(socket: Any) -> None:
        for frame in frames:
            await socket.send(frame)
        await socket.wait_closed()  # keep it open: the reaper closes when it has counted them all

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            port_out.send((port, len(frames), size))
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


# ---------------------------------------------------------------------------------- the reaper's side


class Counting:
    """`serve`'s metrics hooks, plus a count of the events handled to know when the stream is done."""

    def __init__(self, status: Any, expected: int, picture_size: int, watch: Any) -> None:
        self.status, self.expected, self.picture_size, self.watch = status, expected, picture_size, watch
        self.handled = 0
        self.first: tuple[float, float] | None = None
        self.entered: tuple[float, float, float] | None = None  # picture full: wall, cpu, RSS MiB
        self.done = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.status, name)

    def event(self, topic: str, lag: float | None) -> None:
        self.status.event(topic, lag)
        self.handled += 1
        if self.first is None:
            self.first = (time.perf_counter(), time.process_time())
        if self.handled == self.picture_size and self.entered is None:
            self.entered = (time.perf_counter(), time.process_time(), rss_mib())
        if self.handled >= self.expected:
            self.done.set()


def rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def consume(uri: str, expected: int, conversations: int) -> dict[str, Any]:
    from session_reaper.commands.serve.listening import _Status
    from session_reaper.config import Settings
    from session_reaper.engine.watch import Watch
    from session_reaper.genesys.api import GenesysApi
    from session_reaper.genesys.events import GenesysEvents, _Channel
    from session_reaper.genesys.http import PlatformHttp
    from session_reaper.genesys.port import GenesysPlatform
    from session_reaper.genesys.regions import resolve
    from session_reaper.ledger import Ledger
    from session_reaper.telemetry.logs import configure as configure_logs
    from session_reaper.telemetry.metrics import Metrics

    configure_logs(json=False, level="warning")
    rss_before = rss_mib()
    settings = Settings.model_validate({"sweep": {"mode": "events", "ledger": "sqlite:///:memory:"}})
    http = PlatformHttp(resolve("us-east-1", "http://127.0.0.1:9", None), access_token="benchmark")
    api = GenesysApi(http)
    api.clock.observe(format_datetime(START, usegmt=True))  # as the subscribe requests' Date would
    events = GenesysEvents(api, heartbeat_timeout=60.0, clock_sync=10**6)
    events._channels = [_Channel(("v2.routing.queues.q.conversations.messages",), "bench", uri, gone=False)]
    watch = Watch(GenesysPlatform(api), Ledger.open("sqlite:///:memory:"), events, settings, apply=True)
    # as `run` does
    await watch.engine.own.load(api.clock.now() - settings.sweep.lookback - timedelta(days=1))
    counting = Counting(_Status(Metrics(), events, watch, 120.0), expected, conversations, watch)
    watch.hooks = counting
    listener = asyncio.create_task(watch._listen())  # the watch's own loop over the socket's signals
    done = asyncio.create_task(counting.done.wait())
    await asyncio.wait({listener, done}, return_when=asyncio.FIRST_COMPLETED)
    if listener.done():
        listener.result()  # the listen loop ended early: show why
    wall1, cpu1 = time.perf_counter(), time.process_time()
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    await events.aclose()
    assert counting.first is not None and counting.entered is not None
    wall0, cpu0 = counting.first
    entered_wall, entered_cpu, entered_rss = counting.entered
    changes = counting.handled - conversations
    return {
        "eventsHandled": counting.handled,
        "pictured": len(watch.picture),
        "timersArmed": watch.picture.armed,
        "wallSeconds": round(wall1 - wall0, 2),
        "cpuSeconds": round(cpu1 - cpu0, 2),
        "eventsPerSecond": round(counting.handled / (wall1 - wall0)),
        "eventsPerCpuSecond": round(counting.handled / max(1e-9, cpu1 - cpu0)),
        "changesPerSecond": round(changes / max(1e-9, wall1 - entered_wall)) if changes else None,
        "changesPerCpuSecond": round(changes / max(1e-9, cpu1 - entered_cpu)) if changes else None,
        "rssBeforeMiB": rss_before,
        "rssWithPictureMiB": entered_rss,
        "peakRssMiB": rss_mib(),
    }


# ------------------------------------------------------------------------------------------- report


def section(result: dict[str, Any], meta: dict[str, Any]) -> str:
    r = result

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    n = f"{r['conversations']:,}"
    lines = [
        ("figure", "measured", "target", ""),
        ("---", "---:", "---:", "---"),
        (
            "events handled per second (whole stream, wall clock)",
            f"{r['eventsPerSecond']:,}",
            "",
            "(a shared machine: see the load)",
        ),
        (
            "**events handled per CPU second of the reaper's process (one core)**",
            f"**{r['eventsPerCpuSecond']:,}**",
            "≥ 2,000",
            verdict(r["eventsPerCpuSecond"] >= 2000),
        ),
        (
            f"changes of pictured conversations per CPU second (after the first {n})",
            f"{r['changesPerCpuSecond'] or 0:,}",
            "",
            "",
        ),
        (
            "conversations in the picture / timers armed at the end",
            f"{r['pictured']:,} / {r['timersArmed']:,}",
            "",
            "",
        ),
        (
            f"RSS before the stream / with {n} pictured (MiB)",
            f"{r['rssBeforeMiB']:,.0f} / {r['rssWithPictureMiB']:,.0f}",
            "",
            "",
        ),
        (
            "**peak RSS of the reaper's process (MiB)**",
            f"**{r['peakRssMiB']:,.0f}**",
            "≤ 400",
            verdict(r["peakRssMiB"] <= 400),
        ),
    ]
    rows = "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    return f"""{SECTION}

`benchmarks/events_throughput.py` ({meta["at"]}; product code: {meta["product"]}): the reaper's event
path in one process (one asyncio thread: one core), fed over a real loopback WebSocket by a second
process sending frames the emulator built from its own conversations (web messaging: guest, the ended
acd leg, agent, a few messages; {r["frameBytesMean"]:,.0f} bytes a frame on average): first
{r["conversations"]:,} conversations once each (they enter the picture, each with its timer), then
{r["rounds"]} rounds of a new message in every one ({r["eventsHandled"]:,} events in all). Each frame goes
the way `serve` takes it: `genesys/socket.listen` → `event_mapping.to_signal` (JSON, the SDK body to the
core's `Conversation`) → the platform clock moved to the change → `Watch._event` (`Picture.observe`: the
rules' `evaluate`, the timer re-armed) → the service's metrics (events by topic, event lag).

Machine: {machine_line(meta["machine"])}; shared with other work, load average (1, 5, 15 min) before:
{", ".join(map(str, meta["loadBefore"]))}; after: {", ".join(map(str, meta["loadAfter"]))}. The sender
runs in its own process, on the other core when the machine lets it.

{rows}

What it does not include: the re-check reads and acts a timer starts (they are paced at 300 requests a
minute by the platform, not by the CPU: `compare.py`'s events world measures them), and the sender's
work (the platform's). RSS is the whole process's peak (`ru_maxrss`): Python, the reaper's modules,
an in-memory SQLite ledger, the socket's buffers and the picture.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2, help="changes of every conversation after the first")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--smoke", action="store_true", help="500 conversations; writes nothing")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.conversations, args.rounds, args.no_write = 500, 1, True
    meta = {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "loadBefore": load_average(),
    }
    from benchmarks.compare import RESULTS, product_commit, update_results, write_section

    meta["product"] = product_commit()
    # fork: the sender starts at once; its memory (the world, the frames) is its own from then on
    context = multiprocessing.get_context("fork")
    ready, (receive, send) = context.Event(), context.Pipe(duplex=False)
    sender = context.Process(
        target=serve_frames, args=(args.conversations, args.rounds, args.seed, ready, send), daemon=True
    )
    sender.start()
    try:
        if not receive.poll(1800):
            raise SystemExit("the sender did not start")
        port, frames, size = receive.recv()
        result = asyncio.run(consume(f"ws://127.0.0.1:{port}/channels/bench", frames, args.conversations))
    finally:
        sender.terminate()
        sender.join(10)
    meta["loadAfter"] = load_average()
    result.update(
        conversations=args.conversations,
        rounds=args.rounds,
        frames=frames,
        frameBytesMean=round(size / frames),
    )
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps({**result, "meta": meta}))
    if not args.no_write:
        write_section(section(result, meta), SECTION)
        update_results({"eventsThroughput": {**result, "meta": meta}})
        print(f"wrote docs/benchmarks.md ({SECTION}) and {RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
