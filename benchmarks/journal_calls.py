"""Journal calls per close: how many ledger round trips the engine makes for each conversation it ends.

Each journal call is a transaction on its own connection, run in a worker thread (engine/off_loop.py);
in the events soak at 120x the journal's threads were 43 % of serve's samples (docs/reliability.md, run
W). This counts, through the real engine, every call `journalled` and `read_of` hand to the ledger while
one applied sweep closes a backlog of idle chats on the emulator: by call, per close, and the sweep's
wall and CPU time. The ledger is PostgreSQL when `--postgres` (or $SESSION_REAPER_TEST_POSTGRES_URL) is
given, else SQLite on disk.

    .venv/bin/python -m benchmarks.journal_calls [--chats 300] [--postgres URL] [--json FILE] [--write-docs]

With --write-docs both back ends are measured (SQLite on disk, then PostgreSQL) and the "Journal calls
per close" section of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import load_average, machine, machine_line
from benchmarks.compare import product_commit, update_results, write_section
from benchmarks.scale import LIFTED, free_port, start_emulator
from genesys_emulator.client import EmulatorAdmin
from session_reaper.commands.runtime import open_runtime
from session_reaper.config import Settings
from session_reaper.engine import off_loop
from session_reaper.engine.sweep import NotBefore, Sweep
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.telemetry.logs import configure as configure_logs

SECTION = "## Journal calls per close"
ENVIRON = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
    "GENESYSCLOUD_REGION": "us-east-1",
}


def idle_chat(n: int) -> dict[str, Any]:
    """Both sides connected, silent for 50 minutes: the idle rule closes it (text, disconnect, verify)."""
    return {
        "id": f"bench-{n:05d}-{uuid.uuid4().hex[:6]}",
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            {"purpose": "customer", "state": "connected", "attributes": {}, "messages": [{"ago": "50m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "60m", "endedAgo": "55m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": "51m"}]},
        ],
    }


class Counter:
    """Wraps off_loop._submit: every journal call the engine makes passes through it."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self._submit = off_loop._submit

    def __enter__(self) -> Counter:
        def counting(lock: Any, call: Any, /, *args: Any, **kwargs: Any) -> Any:
            self.calls[getattr(call, "__name__", repr(call))] += 1
            return self._submit(lock, call, *args, **kwargs)

        off_loop._submit = counting  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        off_loop._submit = self._submit  # type: ignore[assignment]


async def measure(base_url: str, ledger: str, chats: int) -> dict[str, Any]:
    settings = Settings.model_validate(
        {
            "sweep": {
                "ledger": ledger,
                "requests_per_minute": LIFTED,
                "concurrency": 8,
                "max_closes": chats,
                "max_teardowns": chats,
            }
        }
    )
    async with open_runtime(settings, environ={**ENVIRON, "GENESYSCLOUD_API_URL": base_url}) as rt:
        requests0 = rt.api.stats.total
        cpu0, wall0 = time.process_time(), time.monotonic()
        with Counter() as counter:
            result = await Sweep(
                GenesysPlatform(rt.api), rt.ledger, settings, apply=True, not_before=NotBefore()
            ).run()
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        closed = result.summary.closed
        total = sum(counter.calls.values())
        return {
            "chats": chats,
            "closed": closed,
            "journalCalls": total,
            "journalCallsPerClose": round(total / max(1, closed), 2),
            "byCall": dict(counter.calls.most_common()),
            "apiRequests": rt.api.stats.total - requests0,
            "wallSeconds": round(wall, 2),
            "cpuSeconds": round(cpu, 2),
            "cpuMsPerClose": round(1000 * cpu / max(1, closed), 2),
        }


def run_one(chats: int, postgres: str | None) -> dict[str, Any]:
    """One emulator, one backlog of idle chats, one applied sweep over it; the ledger on `postgres`
    (a fresh schema, dropped after) or SQLite on disk."""
    port = free_port()
    emulator = start_emulator(port)
    base_url = f"http://127.0.0.1:{port}"
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin_engine = None
    try:
        with EmulatorAdmin(base_url, timeout=120) as admin:
            admin.create_conversations([idle_chat(n) for n in range(chats)])
        with tempfile.TemporaryDirectory() as tmp:
            if postgres:
                admin_engine = create_engine(postgres)
                with admin_engine.begin() as connection:
                    connection.execute(text(f"CREATE SCHEMA {schema}"))
                scoped = {"options": f"-csearch_path={schema}"}
                ledger = make_url(postgres).update_query_dict(scoped).render_as_string(False)
            else:
                ledger = f"sqlite:///{tmp}/ledger.db"
            row = asyncio.run(measure(base_url, ledger, chats))
        row["ledger"] = "postgresql" if postgres else "sqlite"
        return row
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        if admin_engine is not None:
            with admin_engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin_engine.dispose()


def section(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    calls = sorted(
        {c for r in rows for c in r["byCall"]}, key=lambda c: -max(r["byCall"].get(c, 0) for r in rows)
    )
    lines = [
        SECTION,
        "",
        f"`benchmarks/journal_calls.py` ({meta['at']}; product code: {meta['product']}): every journal call",
        "the engine hands to the ledger (`engine/off_loop.py`: each a transaction of its own, in a worker",
        f"thread) while one applied sweep closes a backlog of {rows[0]['chats']} idle web messaging chats",
        "on the emulator (each close journals 3 steps: the annotation, the closing text, the agent's",
        "disconnect), the rate limit lifted, `concurrency = 8`.",
        "",
        "| back end | closes | journal calls / close | reaper CPU ms / close | wall s | API requests |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['ledger']} | {r['closed']} | {r['journalCallsPerClose']:.2f} | {r['cpuMsPerClose']:.1f} | "
            f"{r['wallSeconds']:.1f} | {r['apiRequests']:,} |"
        )
    lines += ["", "| call | " + " | ".join(f"{r['ledger']}, per close" for r in rows) + " |"]
    lines.append("|---|" + "---:|" * len(rows))
    for call in calls:
        cells = " | ".join(f"{r['byCall'].get(call, 0) / max(1, r['closed']):.2f}" for r in rows)
        lines.append(f"| `{call}` | {cells} |")
    lines += [
        "",
        "Per step, one round trip for the intent (the lease renewed in its transaction: `held_step_intent`),",
        "one per attempt (the lease held again and the step marked on its way: `step_attempt`) and one for",
        "the outcome (the closing text's id in the same transaction); per act, the lease's claim, the",
        "conversation's steps (open intents and those in place, one read: `conversation_steps`), the",
        "decision, and its outcome with the lease's release. Before (commit 96074a6, the same run): 27.06",
        "calls per close on PostgreSQL — the lease renewed and claimed in their own transactions, the open",
        "intents and the steps in place asked apart (the latter once per step), the mark cleared after every",
        "answer, the text's id and the release apart — and 27.5–29.5 ms of reaper CPU per close.",
        "",
        f"Machine: {meta['machine']}; load average (1, 5, 15 min) at the end: "
        f"{', '.join(map(str, meta['load']))}. The counts are exact; the times vary with the machine's load.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("SESSION_REAPER_TEST_POSTGRES_URL"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    configure_logs(json=False, level="warning")
    backends: list[str | None] = [None, args.postgres] if args.write_docs else [args.postgres]
    rows = [run_one(args.chats, backend) for backend in backends]
    output: dict[str, Any] = {"runs": rows, "machine": machine_line(machine())}
    print(json.dumps(output, indent=2))
    if args.json:
        args.json.write_text(json.dumps(output, indent=2) + "\n")
    if args.write_docs:
        meta = {
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "product": product_commit(),
            "machine": output["machine"],
            "load": load_average(),
        }
        write_section(section(rows, meta), SECTION)
        update_results({"journalCalls": output})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
