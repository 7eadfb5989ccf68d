"""Does paging the analytics answer by page number skip conversations when some already listed end meanwhile?

Probe E (docs/reliability.md) found conversations no reconciliation read in two virtual days, with no entry in
the read schedule: discovery did not list them. Discovery pages `conversationEnd notExists` ordered by
`conversationStart` by page number; each page is answered on the world as it is then, so every conversation
on an earlier page that ends meanwhile (the reaper's own closes, guests leaving) shifts the later ones one
place forward, and one of them is never listed. Here, in process on the emulator's world: 500 open chats,
paged 100 at a time with the reaper's own query, ten of each page ended before the next page is asked for.

    .venv/bin/python -m benchmarks.discovery_page_shift
"""

from __future__ import annotations

import json
from datetime import timedelta

from genesys_emulator import analytics
from genesys_emulator.state import World
from session_reaper.genesys.discovery import build_query

CHATS, ENDED_PER_PAGE = 500, 10

w = World()
now = w.clock.now()
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
seen = []
page = 1
while True:
    body = build_query(
        now - timedelta(days=1), now + timedelta(minutes=1), channels=["webmessaging"], page=page
    )
    with w.lock:
        answer = json.loads(analytics.run(w, body))
    got = [c["conversationId"] for c in answer.get("conversations", [])]
    if not got:
        break
    seen.extend(got)
    # meanwhile, ten conversations already listed end (closed by the reaper, or the guests leave)
    for cid in got[:ENDED_PER_PAGE]:
        with w.lock:
            w.disconnect_conversation(cid)
    page += 1
print("open at start", len(ids), "listed", len(set(seen)), "never listed", len(set(ids) - set(seen)))
