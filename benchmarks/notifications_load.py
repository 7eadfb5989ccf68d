"""Load benchmark of the emulator's Notifications side: events per second out of one socket, and reads
per second while events flow.

The emulator runs as its own process (one uvicorn worker). One channel subscribes to the queues of
`--conversations` open conversations, each with an inactivity timer due within six virtual minutes;
a real WebSocket client (the `websockets` library) listens. Then:

- burst: the virtual clock jumps past every timer; every conversation ends at once, and the figure
  is events received / wall seconds from the jump to the last event (the pump applies the timers,
  serializes each conversation once and fans it out; the client parses every frame);
- reads under events: GET media views over keep-alive connections (emulator_load's client) while
  another process keeps creating conversations on those queues in batches (one event each).

    .venv/bin/python -m benchmarks.notifications_load [--conversations 5000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import psutil
import websockets

from benchmarks.emulator_load import free_port, machine, measure, raw, start_emulator
from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.clock import iso

QUEUES = [f"queue-{n}" for n in range(8)]


def topic(queue: str) -> str:
    return f"v2.routing.queues.{queue}.conversations.messages"


def timed_specs(count: int, now: Any, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "queueId": rng.choice(QUEUES),
            "inactivityTimeout": iso(now + timedelta(seconds=rng.uniform(300, 360))),
            "participants": [
                {"purpose": "customer", "messages": [{"ago": "2m"}]},
                {"purpose": "agent", "wrapupRequired": True, "messages": [{"ago": "1m"}]},
            ],
        }
        for _ in range(count)
    ]


async def burst(uri: str, admin_url: str, expected: int) -> tuple[int, float]:
    """Connect, jump the clock past every timer, count events until `expected` arrived."""
    async with websockets.connect(uri, max_queue=None, max_size=None) as ws:
        await asyncio.sleep(0.2)  # the socket is registered before the jump
        started = time.monotonic()
        await asyncio.to_thread(
            httpx.post, f"{admin_url}/emulator/v1/clock", json={"advanceSeconds": 361}, timeout=120
        )
        received, deadline = 0, started + 300
        while received < expected and time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if frame.get("topicName", "").startswith("v2.routing.queues."):
                received += 1
        return received, time.monotonic() - started


def keep_creating(admin_url: str, stop: float, counter: list[int]) -> None:
    """Conversations on the watched queues, 200 a request, until `stop`: one event each."""
    admin = EmulatorAdmin(admin_url)
    spec = {"queueId": QUEUES[0], "participants": [{"purpose": "customer"}, {"purpose": "acd"}]}
    while time.monotonic() < stop:
        admin.create_conversations([spec] * 200)
        counter[0] += 200
    admin.close()


async def drain(uri: str, stop: float, counter: list[int]) -> None:
    async with websockets.connect(uri, max_queue=None, max_size=None) as ws:
        while time.monotonic() < stop + 2:
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=1)
            except TimeoutError:
                continue
            if '"v2.routing.queues.' in str(frame)[:80]:
                counter[0] += 1


def change_cost(changes: int = 20_000) -> tuple[float, float]:
    """In-process, no HTTP: CPU per customer message without any socket, and with one watching the queue
    (the body built and serialized once, queued for the pump)."""
    from genesys_emulator.state import World

    world = World()
    spec = timed_specs(1, world.clock.now())[0] | {"queueId": QUEUES[0], "inactivityTimeout": None}
    ids = [world.create_conversation(spec).id for _ in range(2000)]

    def per_change() -> float:
        started = time.process_time()
        for i in range(changes):
            world.admin_message(ids[i % len(ids)], "customer", None)
        return 1e6 * (time.process_time() - started) / changes

    bare = per_change()
    channel = world.notifications.create("emulator", world.clock.now())
    world.notifications.subscribe(channel, [topic(QUEUES[0])], lambda _: True, world.clock.now())
    world.notifications.set_connected(channel, True)
    watched = per_change()
    return bare, watched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    bare_us, watched_us = change_cost()
    port = free_port()
    process = start_emulator(port)
    base = f"http://127.0.0.1:{port}"
    try:
        admin = EmulatorAdmin(base)
        server = psutil.Process(process.pid)
        token = httpx.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator", "emulator-secret"),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        specs = timed_specs(args.conversations, admin.now())
        ids: list[str] = []
        for first in range(0, len(specs), 500):
            ids += admin.create_conversations(specs[first : first + 500])
        channel = httpx.post(f"{base}/api/v2/notifications/channels", headers=headers).json()
        httpx.post(
            f"{base}/api/v2/notifications/channels/{channel['id']}/subscriptions",
            json=[{"id": topic(q)} for q in QUEUES],
            headers=headers,
        ).raise_for_status()

        gets = [raw("GET", f"/api/v2/conversations/messages/{cid}", token) for cid in ids]
        measure("warm-up", port, gets, 1.0, server, args.connections, 1)
        bare = measure("GET media view, no socket", port, gets, args.seconds, server, args.connections, 1)

        cpu_before = sum(server.cpu_times()[:2])
        received, seconds = asyncio.run(burst(channel["connectUri"], base, len(ids)))
        burst_cpu = sum(server.cpu_times()[:2]) - cpu_before

        quiet = measure(
            "GET media view, one socket open, no events",
            port,
            gets,
            args.seconds,
            server,
            args.connections,
            1,
        )

        created, delivered = [0], [0]
        stop = time.monotonic() + args.seconds + 0.5
        listener = threading.Thread(
            target=lambda: asyncio.run(drain(channel["connectUri"], stop, delivered)), daemon=True
        )
        listener.start()
        time.sleep(0.3)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            writer = pool.apply_async(keep_creating_counted, (base, stop))
            busy = measure(
                "GET media view while events flow", port, gets, args.seconds, server, args.connections, 1
            )
            created[0] = writer.get(timeout=120)
        listener.join(timeout=30)
        state = admin.notifications()["channels"][0]
    finally:
        process.terminate()
        process.wait(timeout=10)

    print(f"Machine: {machine()}; load average before: {load_before}")
    print(f"in-process change: {bare_us:.1f} us CPU without a socket, {watched_us:.1f} us with one watching")
    print(
        f"burst: {received} events in {seconds:.2f} s wall = {received / seconds:,.0f} events/s "
        f"(server CPU {burst_cpu:.2f} s, {1000 * burst_cpu / max(received, 1):.3f} ms/event)"
    )
    print(f"{bare.name}: {bare.rate:,.0f}/s, {bare.cpu_ms:.2f} ms CPU each, errors {bare.errors}")
    print(f"{quiet.name}: {quiet.rate:,.0f}/s, {quiet.cpu_ms:.2f} ms CPU each, errors {quiet.errors}")
    print(f"{busy.name}: {busy.rate:,.0f}/s, {busy.cpu_ms:.2f} ms CPU each, errors {busy.errors}")
    print(
        f"  meanwhile: {created[0]} conversations created, {delivered[0]} events received, "
        f"{delivered[0] / args.seconds:,.0f} events/s; channel eventsSent {state['eventsSent']}, "
        f"eventsDropped {state['eventsDropped']}"
    )


def keep_creating_counted(admin_url: str, stop: float) -> int:
    counter = [0]
    keep_creating(admin_url, stop, counter)
    return counter[0]


if __name__ == "__main__":
    main()
