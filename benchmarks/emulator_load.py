"""Load benchmark of the emulator: reads and analytics pages per second with 10,000 conversations.

The emulator runs as its own process (`session-reaper emulator`, one uvicorn worker) and this script
drives it from another over keep-alive loopback connections with a minimal HTTP/1.1 client, so the
figures measure the emulator rather than an HTTP library. Writes the "Emulator" section of
docs/benchmarks.md.

    .venv/bin/python benchmarks/emulator_load.py [--conversations 10000] [--seconds 10] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import re
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from genesys_emulator import analytics
from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.state import World

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
QUERY = "/api/v2/analytics/conversations/details/query"
TARGET_GETS, TARGET_PAGES = 1500, 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "session_reaper.commands.cli", "emulator", "--port", str(port)]
    command += ["--seed", "none", "--rate-limit", "100000000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/emulator/v1/clock", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the emulator did not start")


def specs(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """A realistic mix: mostly unended message conversations over a week, some ended, some not messaging."""
    rng = random.Random(seed)
    queues = [f"queue-{n}" for n in range(8)]
    out = []
    for _ in range(count):
        silent = rng.uniform(1, 7 * 24 * 60)
        customer: dict[str, Any] = {"purpose": "customer", "messages": [{"ago": f"{silent:.1f}m"}]}
        agent: dict[str, Any] = {
            "purpose": "agent",
            "wrapupRequired": True,
            "messages": [{"ago": f"{silent + 1:.1f}m"}],
        }
        roll = rng.random()
        if roll < 0.2:  # ended
            for leg in (customer, agent):
                leg.update(state="disconnected", endedAgo=f"{max(silent - 5, 0.5):.1f}m")
            agent["wrapup"] = {"code": "code-resolved"}
        acd = {
            "purpose": "acd",
            "state": "disconnected",
            "startedAgo": f"{silent + 3:.1f}m",
            "endedAgo": f"{silent + 2:.1f}m",
        }
        spec: dict[str, Any] = {"queueId": rng.choice(queues), "participants": [customer, acd, agent]}
        if roll > 0.95:
            spec["mediaType"] = rng.choice(["voice", "email", "chat"])
        else:
            spec["messageType"] = rng.choices(["webmessaging", "sms", "whatsapp"], [0.8, 0.1, 0.1])[0]
        out.append(spec)
    return out


@dataclass
class Run:
    name: str
    requests: int
    seconds: float
    errors: int
    server_cpu: float  # CPU seconds the emulator process used

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.server_cpu / max(self.requests, 1)


async def _connection(port: int, requests: list[bytes], stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    try:
        while time.monotonic() < stop:
            writer.write(requests[index % len(requests)])
            index += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
    finally:
        writer.close()


def _client(port: int, requests: list[bytes], seconds: float, connections: int) -> tuple[int, int, float]:
    """One load process: `connections` keep-alive connections on one event loop."""
    counts = [0, 0]

    async def main() -> float:
        started = time.monotonic()
        await asyncio.gather(
            *(_connection(port, requests, started + seconds, counts) for _ in range(connections))
        )
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    return counts[0], counts[1], elapsed


def measure(
    name: str,
    port: int,
    requests: list[bytes],
    seconds: float,
    server: psutil.Process,
    connections: int,
    processes: int,
) -> Run:
    """Several client processes, so that the client's own Python cost does not cap the figure."""
    cpu_before = sum(server.cpu_times()[:2])
    if processes == 1:
        results = [_client(port, requests, seconds, connections)]
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            share = [
                (port, requests[i::processes] or requests, seconds, connections) for i in range(processes)
            ]
            results = pool.starmap(_client, share)
    cpu = sum(server.cpu_times()[:2]) - cpu_before  # includes the pool's start-up: an upper bound
    elapsed = sum(r[2] for r in results) / len(results)
    return Run(name, sum(r[0] for r in results), elapsed, sum(r[1] for r in results), cpu)


def pages_under_change(batch: list[dict[str, Any]], query: dict[str, Any], seconds: float) -> Run:
    """In-process, no HTTP: a customer message, then a page, again and again: every page misses the cache."""
    world = World()
    for spec in batch:
        world.create_conversation(spec)
    open_ids = list(world.open_ids)
    body = {**query, "paging": {"pageSize": 100, "pageNumber": 1}}
    with world.lock:
        analytics.run(world, body)  # the one-time cost of building the index
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        world.admin_message(open_ids[count % len(open_ids)], "customer", None)
        with world.lock:
            analytics.run(world, body)
        count += 1
    elapsed = time.perf_counter() - started
    return Run("analytics page right after a change (in-process, no HTTP)", count, elapsed, 0, elapsed)


def raw(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    system = f"{platform.system()} {platform.release()}"
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} logical CPUs, {memory:.1f} GiB RAM; {system}; Python {python}"


def write_section(text: str) -> None:
    """Replace (or add) the `## Emulator` section of docs/benchmarks.md, leaving other sections alone."""
    current = (
        DOC.read_text()
        if DOC.exists()
        else "# Benchmarks\n\nFigures measured by the scripts in `benchmarks/`.\n"
    )
    pattern = re.compile(r"^## Emulator\n.*?(?=^## |\Z)", re.S | re.M)
    section = text.rstrip() + "\n\n"
    updated = (
        pattern.sub(lambda _: section, current)
        if pattern.search(current)
        else current.rstrip() + "\n\n" + section
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(updated.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8, help="per client process")
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    load_before = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    port = free_port()
    process = start_emulator(port)
    try:
        base = f"http://127.0.0.1:{port}"
        admin = EmulatorAdmin(base)
        loaded = time.monotonic()
        ids: list[str] = []
        batch = specs(args.conversations)
        for first in range(0, len(batch), 500):
            ids += admin.create_conversations(batch[first : first + 500])
        load_seconds = time.monotonic() - loaded
        token = httpx.post(
            f"{base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator", "emulator-secret"),
        ).json()["access_token"]
        server = psutil.Process(process.pid)

        message_ids = [
            cid for cid, spec in zip(ids, batch, strict=True) if spec.get("mediaType", "message") == "message"
        ]
        random.Random(2).shuffle(message_ids)
        gets = [raw("GET", f"/api/v2/conversations/messages/{cid}", token) for cid in message_ids]

        now = admin.now()
        interval = (
            f"{(now - timedelta(days=8)).isoformat()}/{(now + timedelta(minutes=1)).isoformat()}".replace(
                "+00:00", "Z"
            )
        )
        query: dict[str, Any] = {
            "interval": interval,
            "order": "asc",
            "orderBy": "conversationStart",
            "conversationFilters": [
                {
                    "type": "and",
                    "predicates": [
                        {"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}
                    ],
                }
            ],
            "segmentFilters": [
                {
                    "type": "and",
                    "predicates": [
                        {
                            "type": "dimension",
                            "dimension": "mediaType",
                            "operator": "matches",
                            "value": "message",
                        }
                    ],
                }
            ],
        }
        indexed = time.monotonic()
        first_page = httpx.post(
            f"{base}{QUERY}",
            json={**query, "paging": {"pageSize": 100, "pageNumber": 1}},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        index_ms = 1000 * (time.monotonic() - indexed)
        hits = first_page["totalHits"]
        pages = []
        for number in range(1, -(-hits // 100) + 1):
            body = json.dumps({**query, "paging": {"pageSize": 100, "pageNumber": number}}).encode()
            pages.append(raw("POST", QUERY, token, body))

        measure("warm-up", port, gets, 1.0, server, args.connections, 1)
        get_run = measure(
            "GET /api/v2/conversations/messages/{id}",
            port,
            gets,
            args.seconds,
            server,
            args.connections,
            args.processes,
        )
        page_run = measure(
            "POST analytics details query, 100 per page",
            port,
            pages,
            args.seconds,
            server,
            args.connections,
            args.processes,
        )
        one = measure("analytics, one connection", port, pages, args.seconds / 2, server, 1, 1)
    finally:
        process.terminate()
        process.wait(timeout=10)

    changing = pages_under_change(batch, query, args.seconds / 2)
    runs = [get_run, page_run, one, changing]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    setup = " ".join(
        [
            f"`benchmarks/emulator_load.py` ({stamp}): the emulator as its own process",
            "(`session-reaper emulator`, one uvicorn worker, h11),",
            f"{args.conversations:,} conversations loaded ({hits:,} unended message conversations",
            f"in the analytics interval; loading took {load_seconds:.1f} s through the admin batch route),",
            f"driven from {args.processes} other process(es) over {args.connections} keep-alive",
            f"loopback connections each, for {args.seconds:g} s per figure. Machine: {machine()}.",
            f"Client and server share the machine; load average before the run: {load_before}.",
            "Other work on the machine makes these figures vary from run to run; the table is one run.",
        ]
    )
    notes = " ".join(
        [
            "Analytics answers come from an index per filter set: the selected conversations",
            "sorted by start, built once, then kept up to date from the world's change log (only",
            "conversations changed since the last query are tested again), so a page is a few",
            "bisections and a slice. The first query after loading builds the index",
            f"({index_ms:.0f} ms for this world). The last row is the worst case for the index:",
            "a change before every page. The emulator's CPU per request is the steadier figure",
            "on a shared machine: its inverse is what one core could serve.",
        ]
    )
    targets = {get_run.name: f"≥ {TARGET_GETS:,}", page_run.name: f"≥ {TARGET_PAGES}"}
    lines = ["## Emulator", "", textwrap.fill(setup, 105), ""]
    lines += [
        "| operation | requests/s | target | errors | emulator CPU per request |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        rate, target, cpu = f"{run.rate:,.0f}", targets.get(run.name, ""), f"{run.cpu_ms:.2f} ms"
        lines.append(f"| {run.name} | {rate} | {target} | {run.errors} | {cpu} |")
    lines += ["", textwrap.fill(notes, 105)]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    if get_run.errors or page_run.errors:
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
