"""The explain view's timeline: who joined, wrote and left, in time order, from the conversation as read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from session_reaper.commands.console.live import iso
from session_reaper.commands.explaining import Explanation

_WROTE = {
    "message": "wrote",
    "reaper-warning": "the reaper's warning text",
    "reaper-closing": "the reaper's closing text",
}


def timeline(found: Explanation) -> list[dict[str, Any]]:
    """Who joined, wrote and left, in time order (never what was written: the reaper does not read it)."""
    conversation = found.conversation
    purposes = {p.id: p.purpose or p.role.value for p in conversation.participants}
    events: list[tuple[datetime, str, str, str]] = []
    for p in conversation.participants:
        moments = (
            (p.started_at, "joined"),
            (p.connected_at, "connected"),
            (p.parked_at, "parked"),
            (p.resumed_at, "resumed"),
            (p.ended_at, "left"),
        )
        for at, kind in moments:
            if at is not None:
                events.append((at, p.id, kind, f"{purposes[p.id]} {kind}"))
    for a in conversation.activities:
        who = purposes.get(a.participant_id, a.role.value)
        events.append(
            (a.at, a.participant_id, a.kind.value, f"{who}: {_WROTE.get(a.kind.value, a.kind.value)}")
        )
    events.sort(key=lambda e: e[0])
    return [
        {"at": iso(at), "participant": pid, "purpose": purposes.get(pid), "kind": kind, "text": text}
        for at, pid, kind, text in events
    ]
