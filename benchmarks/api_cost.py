"""API requests per closed conversation, GETs and writes apart, on 1,000 seeded conversations.

The world is the demo's mix of situations (idle chats, guests gone, abandoned queues, stuck flows,
zombies, after-call work, exempt, platform timers, other channels, voice/email) drawn with several
seeds until 1,000 conversations exist. One `sweep --apply` runs in-process against the emulator with
the rate limit lifted; the emulator's own request log is the count, not the reaper's word.

    .venv/bin/python benchmarks/api_cost.py [--conversations 1000] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.server import EmulatorServer
from genesys_emulator.traffic import demo_specs
from session_reaper.commands.runtime import open_runtime
from session_reaper.config import parse_settings
from session_reaper.engine.sweep import Sweep
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.telemetry import logs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## API cost per close"


def world(count: int) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    seed = 7
    while len(specs) < count:
        specs.extend(demo_specs(seed))
        seed += 1
    return specs[:count]


def kind(request: dict[str, Any]) -> str:
    path, method = request["path"], request["method"]
    if path == "/oauth/token":
        return "token"
    if path.startswith("/api/v2/analytics/"):
        return "analytics"
    if method == "GET":
        return "GET"
    return "write"


async def sweep_once(base_url: str, ledger: str) -> dict[str, Any]:
    settings = parse_settings(
        f"[sweep]\napply = true\nrequests_per_minute = 1000000\nconcurrency = 16\nmax_closes = 100000\n"
        f'max_teardowns = 100000\nledger = "{ledger}"\n[close]\nwrapup_code = "code-follow-up"\n'
    )
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_API_URL": base_url,
    }
    async with open_runtime(settings, environ) as runtime:
        result = await Sweep(GenesysPlatform(runtime.api), runtime.ledger, settings, apply=True).run()
    return result.summary.to_json()["summary"]


def measure(count: int) -> dict[str, Any]:
    with EmulatorServer(rate_limit=10**9, seed="none") as server, tempfile.TemporaryDirectory() as tmp:
        admin = EmulatorAdmin(server.base_url)
        admin.create_conversations(world(count))
        admin.clear_requests()
        ledger = f"sqlite:///{tmp}/ledger.db"
        started = time.monotonic()
        first = asyncio.run(sweep_once(server.base_url, ledger))
        # After-call work is wrapped up on a later pass, once its own threshold has passed.
        admin.advance(11 * 60)
        second = asyncio.run(sweep_once(server.base_url, ledger))
        wall = time.monotonic() - started
        requests = admin.requests()
    by_kind = Counter(kind(r) for r in requests)
    closes = sum(s["closed"] + s["tornDown"] for s in (first, second))
    wrapups = sum(s.get("wrappedUp", 0) for s in (first, second))
    actions = closes + wrapups
    return {
        "conversations": count,
        "closed": closes,
        "wrapups": wrapups,
        "requests": dict(by_kind),
        "getsPerClose": round(by_kind["GET"] / closes, 2) if closes else None,
        "writesPerClose": round(by_kind["write"] / closes, 2) if closes else None,
        "getsPerAction": round(by_kind["GET"] / actions, 2) if actions else None,
        "writesPerAction": round(by_kind["write"] / actions, 2) if actions else None,
        "analyticsPages": by_kind["analytics"],
        "firstSweep": first,
        "secondSweep": second,
        "wallSeconds": round(wall, 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
    }


def markdown(figures: dict[str, Any]) -> str:
    requests = figures["requests"]
    return "\n".join(
        [
            SECTION,
            "",
            f"`benchmarks/api_cost.py`: {figures['conversations']} seeded conversations of mixed situations, "
            "two `sweep --apply` passes (the second 11 virtual minutes later, for after-call work), "
            f"counted in the emulator's request log. Machine: {figures['machine']}.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| conversations closed (close + teardown) | {figures['closed']} |",
            f"| wrap-ups applied (acw-stuck) | {figures['wrapups']} |",
            f"| GET requests | {requests.get('GET', 0)} |",
            f"| write requests (PATCH/POST) | {requests.get('write', 0)} |",
            f"| analytics pages | {figures['analyticsPages']} |",
            f"| token requests | {requests.get('token', 0)} |",
            f"| **GETs per closed conversation** | **{figures['getsPerClose']}** |",
            f"| **writes per closed conversation** | **{figures['writesPerClose']}** |",
            f"| GETs / writes per action (closes + wrap-ups) | {figures['getsPerAction']} / "
            f"{figures['writesPerAction']} |",
            f"| wall time, both passes | {figures['wallSeconds']} s |",
            "",
            "A close by `idle` costs: 1 GET to decide (generic view), 1 GET to re-check (media view), the "
            "annotation PATCH, the closing text POST, 1 GET re-check before the disconnect, the disconnect "
            "PATCH, and 1 GET to verify. GETs are also spent on every conversation that is read and left "
            "alone, which is why GETs per close exceed 4.",
            "",
        ]
    )


def write_docs(figures: dict[str, Any]) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = markdown(figures)
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + block + ("" if end == -1 else text[end + 1 :])
    else:
        text = text.rstrip() + "\n\n" + block
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    logs.configure(json=False, level="warning")
    figures = measure(args.conversations)
    print(json.dumps(figures, indent=2))
    if args.write_docs:
        write_docs(figures)


if __name__ == "__main__":
    main()
