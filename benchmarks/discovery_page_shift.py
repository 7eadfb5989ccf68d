"""Does paging the analytics answer by page number skip conversations when some already listed end meanwhile?

Probe E (docs/reliability.md) found conversations no reconciliation read in two virtual days, with no entry in
the read schedule: discovery did not list them. Discovery pages `conversationEnd notExists` ordered by
`conversationStart` by page number; each page is answered on the world as it is then, so every conversation
on an earlier page that ends meanwhile (the reaper's own closes, guests leaving) shifts the later ones one
place forward, and one of them is never listed. Here, in process on the emulator's world: 500 open chats,
paged 100 at a time with the reaper's own query, ten of each page ended before the next page is asked for.

Then the same world, the same ends, paged by the reaper's own `discover` (last page first, since the fix):
none never listed.

    .venv/bin/python -m benchmarks.discovery_page_shift
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from genesys_emulator import analytics
from genesys_emulator.state import World
from session_reaper.genesys.discovery import build_query, discover

CHATS, ENDED_PER_PAGE = 500, 10


def fresh_world() -> tuple[World, list[str]]:
    w = World()
    ids = []
    for i in range(CHATS):
        c = w.create_conversation(
            {
                "messageType": "webmessaging",
                "queueId": "queue-support",
                "participants": [
                    {"purpose": "customer", "state": "connected", "messages": [{"ago": f"{60 - i // 10}m"}]},
                    {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{61 - i // 10}m"}]},
                ],
            }
        )
        ids.append(c.id)
    return w, ids


def forwards(w: World) -> set[str]:
    """Page by page number, first to last, as discovery did before the fix."""
    now = w.clock.now()
    seen: list[str] = []
    page = 1
    while True:
        body = build_query(
            now - timedelta(days=1), now + timedelta(minutes=1), channels=["webmessaging"], page=page
        )
        with w.lock:
            answer = json.loads(analytics.run(w, body))
        got = [c["conversationId"] for c in answer.get("conversations", [])]
        if not got:
            return set(seen)
        seen.extend(got)
        end_some(w, got)
        page += 1


def end_some(w: World, page: list[str]) -> None:
    # meanwhile, ten conversations already listed end (closed by the reaper, or the guests leave)
    for cid in page[:ENDED_PER_PAGE]:
        with w.lock:
            if cid in w.open_ids:
                w.disconnect_conversation(cid)


class Moving:
    """The reaper's querier on the emulator's world, ten of each page ended after it is answered."""

    def __init__(self, w: World) -> None:
        self.w = w

    async def query_conversation_details(self, query: Any, *, attempts: int | None = None) -> Any:
        with self.w.lock:
            answer = json.loads(analytics.run(self.w, query))
        if query["paging"]["pageSize"] > 1:
            end_some(self.w, [c["conversationId"] for c in answer.get("conversations", [])])
        return answer


async def by_discover(w: World) -> set[str]:
    found = discover(Moving(w), channels=["webmessaging"], lookback=timedelta(days=1), now=w.clock.now())
    return {f.conversation_id async for f in found}


for name, listing in (
    ("forwards (before)", forwards),
    ("discover (now)", lambda w: asyncio.run(by_discover(w))),
):
    w, ids = fresh_world()
    seen = listing(w)
    print(f"{name}: open at start {len(ids)}, listed {len(seen)}, never listed {len(set(ids) - seen)}")
